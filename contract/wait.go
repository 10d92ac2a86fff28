package contract

// UpdateWaitSettled is the order workflow's update that answers once the
// order has settled: no line is pending, fulfilling, retrying or revoking and
// no refund is revoking. Its result is a WaitSettledResult (orders started
// by earlier workers answered the status document), which carries the
// document of a settled small order; the caller reads a larger order's
// document with the status query. The handler waits without polling; a
// caller stops waiting by giving up on the update (its answer then goes
// nowhere).
const UpdateWaitSettled = "wait-settled"

// WaitSettledResult is the wait-settled update's answer: whether the order
// has settled, and its state then. It is kept small because each answer is
// written to the order's history: the status document comes along only for
// a settled order of at most WaitDocumentMaxLines lines (most orders), which
// saves the caller a status query.
type WaitSettledResult struct {
	Settled  bool            `json:"settled"`
	Status   OrderState      `json:"status"`
	Document *StatusDocument `json:"document,omitempty"`
}

// WaitDocumentMaxLines is the most lines an order may have for the
// wait-settled update to answer its status document.
const WaitDocumentMaxLines = 20

// MaxSettledWaiters bounds the wait-settled updates one order workflow holds
// at a time; more are rejected (ErrorTypeTooManyWaiters) and the caller falls
// back to reading the status.
const MaxSettledWaiters = 100

// ErrorTypeTooManyWaiters rejects a wait-settled update beyond
// MaxSettledWaiters.
const ErrorTypeTooManyWaiters ErrorType = "TooManyWaiters"

// Settled reports whether a line in state s is done moving: nothing runs for
// it until someone acts (a refund, a retry, the learner's account).
// LinePending counts as moving unless the order stopped fulfilling.
func (s LineState) Settled(stopped bool) bool {
	switch s {
	case LineFulfilling, LineRetrying, LineRevoking:
		return false
	case LinePending:
		return stopped
	}
	return true
}

// Settled reports whether an order with these lines and refunds has settled
// (see UpdateWaitSettled); stopped is set once the order no longer fulfills
// (cancelled, or closed).
func Settled(lines []LineStatus, refunds []RefundStatus, stopped bool) bool {
	for _, l := range lines {
		if !l.State.Settled(stopped) {
			return false
		}
	}
	for _, r := range refunds {
		if r.State == RefundRevoking {
			return false
		}
	}
	return true
}

// Settled reports whether the order the document shows has settled.
func (d StatusDocument) Settled() bool {
	return Settled(d.Lines, d.Refunds, d.Cancelled || d.Closed)
}
