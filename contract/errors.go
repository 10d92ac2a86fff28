package contract

import "strings"

// ErrorType classifies a failure for whoever acts on it: the error_type of a
// line's result, and the type of an ApplicationError a workflow rejects an
// update with. The LMS client's types (lms.Type*) pass through unchanged as
// the error types of module results; the values below never clash with them.
type ErrorType string

// Error types of a line's result that the fulfillment machinery itself sets
// (the modules set their own and the LMS client's).
const (
	// ErrorTypeModuleNotConfigured: no module is configured on the worker
	// for the line's product type.
	ErrorTypeModuleNotConfigured ErrorType = "ModuleNotConfigured"
	// ErrorTypeInvalidModuleResult: a module answered neither success nor
	// failure (a bug in the module); the line is parked.
	ErrorTypeInvalidModuleResult ErrorType = "InvalidModuleResult"
	// ErrorTypeAttemptTimedOut: an attempt ended without a module answer
	// (it hung past its time limit, or the worker failed it).
	ErrorTypeAttemptTimedOut ErrorType = "AttemptTimedOut"
	// ErrorTypeRetryHorizonExceeded: transient errors lasted past the retry
	// horizon; the line waits for an operator.
	ErrorTypeRetryHorizonExceeded ErrorType = "RetryHorizonExceeded"
	// ErrorTypeLineCanceled: the line was stopped before it succeeded (its
	// order or batch was cancelled); an operator's retry runs it.
	ErrorTypeLineCanceled ErrorType = "LineCanceled"
	// ErrorTypeBatchFailed: the batch that ran the line reported no outcome
	// for it.
	ErrorTypeBatchFailed ErrorType = "BatchFailed"
	// ErrorTypeAwaitingAccount: a module answer, not a failure of the line:
	// the learner has no LMS account yet; what could be done was done (the
	// Grant says what, e.g. a pre-enrollment) and the rest (a paid mode)
	// waits for the account. The order checks again with backoff.
	ErrorTypeAwaitingAccount ErrorType = "AwaitingAccount"
	// ErrorTypeAccountNeverCreated: a line waited for the learner's account
	// until the refund window ended; it needs an operator.
	ErrorTypeAccountNeverCreated ErrorType = "AccountNeverCreated"
)

// Error types recorded by earlier versions for the same conditions; running
// orders may still carry them.
const (
	legacyErrorTypeAttemptTimedOut ErrorType = "Timeout"
	legacyErrorTypeLineCanceled    ErrorType = "Canceled"
)

// Error types an order workflow rejects a retry or refund with.
const (
	// ErrorTypeUnknownLines: the request names lines the order does not have.
	ErrorTypeUnknownLines ErrorType = "UnknownLines"
	// ErrorTypeNothingToRetry: no named line is waiting for an operator.
	ErrorTypeNothingToRetry ErrorType = "NothingToRetry"
	// ErrorTypeAlreadyRefunded: a named line is covered by another refund.
	ErrorTypeAlreadyRefunded ErrorType = "AlreadyRefunded"
	// ErrorTypeBadRequest: the request itself is malformed (refund id).
	ErrorTypeBadRequest ErrorType = "BadRequest"
	// ErrorTypeOrderCancelled: the order was cancelled; it takes refunds
	// but no retries.
	ErrorTypeOrderCancelled ErrorType = "OrderCancelled"
)

// Rejection is a request the order refuses, with the type callers act on.
// Workflows hand it to their callers as an ApplicationError of that type.
type Rejection struct {
	Type    ErrorType
	Message string
}

func (r *Rejection) Error() string { return r.Message }

// reject returns a Rejection of type t about the given items.
func reject(t ErrorType, msg string, items ...string) *Rejection {
	if len(items) > 0 {
		msg += ": " + strings.Join(items, ", ")
	}
	return &Rejection{Type: t, Message: msg}
}

// UnknownLines is the rejection of a request naming lines the order does
// not have.
func UnknownLines(ids []string) *Rejection {
	return reject(ErrorTypeUnknownLines, "unknown line", ids...)
}
