package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Sentinel errors. Every error the Starter returns for one of these
// conditions wraps the sentinel, so callers test with errors.Is.
var (
	// ErrNotFound: no order (or no refund workflow) with that number.
	ErrNotFound = errors.New("order not found")
	// ErrConflict: an order with the same number but different content
	// already exists.
	ErrConflict = errors.New("an order with this number and different content already exists")
	// ErrUnknownLines: a refund or retry named lines the order does not have.
	ErrUnknownLines = errors.New("unknown line")
	// ErrNothingToRetry: a retry found no failed line to retry.
	ErrNothingToRetry = errors.New("nothing to retry")
	// ErrClosed: the order workflow has closed and cannot take the request.
	ErrClosed = errors.New("order is closed")
	// ErrRejected: the order workflow rejected an update for another reason.
	ErrRejected = errors.New("request rejected by the order")
	// ErrAlreadyRefunded: a refund named a line another refund covers. It
	// is an ErrRejected too.
	ErrAlreadyRefunded = fmt.Errorf("%w: line already refunded", ErrRejected)
	// ErrInvalidRequest: the request itself is malformed (refund id, status
	// filter, page size...).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrUnavailable: Temporal could not be reached or is overloaded; the
	// caller may try again later.
	ErrUnavailable = errors.New("temporal unavailable")
)

// isNotFound reports whether err is Temporal's "no such workflow" answer.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// classify wraps err with ErrNotFound or ErrUnavailable when Temporal's
// error says so, and leaves it alone otherwise.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if isNotFound(err) {
		return wrap(ErrNotFound, what, err)
	}
	var (
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
		exhausted   *serviceerror.ResourceExhausted
		updTimeout  *client.WorkflowUpdateServiceTimeoutOrCanceledError
	)
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &exhausted) ||
		errors.As(err, &updTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return wrap(ErrUnavailable, what, err)
	}
	// A call the server side cancelled: a frontend going down cancels the
	// calls in flight (seen when the server was killed under load). When
	// the caller cancelled instead, it is gone and reads no answer.
	var canceled *serviceerror.Canceled
	if errors.As(err, &canceled) || errors.Is(err, context.Canceled) {
		return wrap(ErrUnavailable, what, err)
	}
	// Right after the search attributes are registered the frontend may not
	// know them for a few seconds (its namespace cache refreshes); a start
	// then fails with InvalidArgument. Worth a retry, not a 500.
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && strings.Contains(invalid.Error(), "no mapping defined for search attribute") {
		return wrap(ErrUnavailable, what, err)
	}
	// A query while no worker polls the task queue (the workers are
	// restarting, or reconnecting to a frontend that restarted): the
	// matching service's FailedPrecondition says so only in its text.
	var precond *serviceerror.FailedPrecondition
	if errors.As(err, &precond) && strings.Contains(precond.Error(), "no poller seen for task queue") {
		return wrap(ErrUnavailable, what, err)
	}
	return &opError{what: what, err: err}
}

// rejections maps the error types an order workflow rejects a request with
// to the starter's sentinels.
var rejections = map[contract.ErrorType]error{
	contract.ErrorTypeUnknownLines:    ErrUnknownLines,
	contract.ErrorTypeNothingToRetry:  ErrNothingToRetry,
	contract.ErrorTypeAlreadyRefunded: ErrAlreadyRefunded,
	contract.ErrorTypeBadRequest:      ErrInvalidRequest,
	contract.ErrorTypeOrderCancelled:  ErrClosed,
}

// classifyRejection maps a request the order refused to a sentinel by the
// rejection's contract.ErrorType: the type of the ApplicationError an update
// validator or handler failed with, or of a *contract.Rejection decided
// here. Anything else is classified as a Temporal error.
func classifyRejection(err error, what string) error {
	var (
		appErr *temporal.ApplicationError
		rej    *contract.Rejection
		typ    contract.ErrorType
		msg    string
	)
	switch {
	case errors.As(err, &rej):
		typ, msg = rej.Type, rej.Message
	case errors.As(err, &appErr):
		typ, msg = contract.ErrorType(appErr.Type()), appErr.Message()
	default:
		return classify(err, what)
	}
	if sentinel, ok := rejections[typ]; ok {
		return wrap(sentinel, what, errors.New(msg))
	}
	return wrap(ErrRejected, what, errors.New(msg))
}

// opError wraps a Temporal error with the operation that failed.
type opError struct {
	what string
	err  error
}

func (e *opError) Error() string { return e.what + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// sentinelError carries a sentinel and the detail behind it; errors.Is
// matches the sentinel and the detail's chain.
type sentinelError struct {
	sentinel error
	what     string
	detail   error
}

func wrap(sentinel error, what string, detail error) error {
	return &sentinelError{sentinel: sentinel, what: what, detail: detail}
}

func (e *sentinelError) Error() string {
	s := e.sentinel.Error()
	if e.what != "" {
		s = e.what + ": " + s
	}
	if e.detail != nil {
		s += ": " + e.detail.Error()
	}
	return s
}

func (e *sentinelError) Unwrap() []error {
	if e.detail == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.detail}
}

// Detail returns the human-readable reason behind a sentinel error, without
// the operation prefix: what an API puts in a problem's detail.
func Detail(err error) string {
	var se *sentinelError
	if errors.As(err, &se) && se.detail != nil {
		return se.detail.Error()
	}
	return err.Error()
}
