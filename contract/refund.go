package contract

import (
	"slices"

	"github.com/coursefulfill/fulfillment/order"
)

// SelectRefundLines decides which lines a new refund covers, given the
// order's lines as they stand: the named ones (each once), or, when none are
// named, every line not refunded yet (possibly none: a store's full refund
// after partial ones is not an error). Naming an unknown line or one another
// refund covers is a *Rejection. The order workflow and the starter (refunds
// after close) both decide with it.
func SelectRefundLines(lines []LineStatus, ids []string) ([]string, error) {
	byID := make(map[string]*LineStatus, len(lines))
	for i := range lines {
		byID[lines[i].ID] = &lines[i]
	}
	if len(ids) == 0 {
		var all []string
		for _, l := range lines {
			if l.RefundID == "" {
				all = append(all, l.ID)
			}
		}
		return all, nil
	}
	var unknown, refunded, out []string
	for _, id := range ids {
		l, ok := byID[id]
		switch {
		case !ok:
			unknown = append(unknown, id)
		case slices.Contains(out, id):
		case l.RefundID != "":
			refunded = append(refunded, id+" (refund "+l.RefundID+")")
		default:
			out = append(out, id)
		}
	}
	if len(unknown) > 0 {
		return nil, UnknownLines(unknown)
	}
	if len(refunded) > 0 {
		return nil, reject(ErrorTypeAlreadyRefunded, "line already refunded", refunded...)
	}
	return out, nil
}

// PlanRevoke decides how a refunded line is revoked, from the line as the
// order has it and its status: a fulfilled line — or one whose result
// records a grant although it is not fulfilled, like a pre-enrollment
// waiting for the learner's account — with the grant its fulfill recorded; a line that may have been written although it did not succeed
// (see MayHaveWritten) without a grant, as uncertain, with the learner's
// state before its first write when it was recorded (the revoke restores
// it); any other line not at all. A line whose earlier revoke failed is planned as it was the first
// time. The order workflow (refunds and operator retries of failed revokes)
// and the starter (refunds after close) all plan with it.
func PlanRevoke(line order.Line, st LineStatus) RevokeLine {
	rl := RevokeLine{Line: line, Prior: st.Prior}
	// A result with a grant records something done, also when the line is
	// not fulfilled (yet): a pre-enrollment of a line waiting for the
	// learner's account, say.
	granted := st.Result != nil && (st.Result.OK() || len(st.Result.Grant) > 0)
	switch {
	case st.State == LineFulfilled || granted:
		rl.Fulfilled = true
		if st.Result != nil {
			rl.Grant = st.Result.Grant
		}
	case st.State == LineRevokeFailed:
		rl.Uncertain = true
	default:
		rl.Uncertain = MayHaveWritten(st)
	}
	return rl
}

// MayHaveWritten reports whether a line that did not succeed may still have
// changed the LMS: an attempt was cut short (stopped, timed out) or failed
// transiently, and the LMS may have written before the answer was lost.
// Such a line is revoked on refund; the module reads first, so a revoke of
// nothing writes nothing.
func MayHaveWritten(l LineStatus) bool {
	switch l.State {
	case LineFulfilling, LineRetrying:
		return true
	case LineFailed:
		if l.Result == nil {
			return false
		}
		switch l.Result.ErrorType {
		case ErrorTypeRetryHorizonExceeded, ErrorTypeLineCanceled, ErrorTypeBatchFailed, ErrorTypeAttemptTimedOut,
			legacyErrorTypeLineCanceled, legacyErrorTypeAttemptTimedOut:
			return true
		}
		return l.Result.Retryable
	}
	return false
}
