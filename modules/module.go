// Package modules holds the fulfillment modules: one per product type, each
// able to fulfill and to revoke one order line, answering with the small JSON
// result the original fulfillment design asked for.
package modules

import (
	"context"

	"github.com/coursefulfill/fulfillment/order"
)

// Result statuses.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// Result is what a module answers for one fulfill or revoke of one line:
// {"status":"success"} or {"status":"failure","error_type":"...","message":"..."}.
type Result struct {
	Status    string `json:"status"`
	ErrorType string `json:"error_type,omitempty"`
	Message   string `json:"message,omitempty"`
	// Retryable marks a failure that may go away by itself (LMS down, slow,
	// throttled). Permanent failures wait for an operator.
	Retryable bool `json:"retryable,omitempty"`
	// RetryAfterSeconds is the LMS's Retry-After hint for a throttled call.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// Grant records what a fulfill did that its revoke needs to undo exactly
	// (for example "prior_mode" of an upgrade, "entitlement_uuid", "pre_enrolled").
	// It holds no secrets and no personal data.
	Grant map[string]string `json:"grant,omitempty"`
}

// Success returns a success result carrying grant.
func Success(grant map[string]string) Result { return Result{Status: StatusSuccess, Grant: grant} }

// OK reports whether the result is a success.
func (r Result) OK() bool { return r.Status == StatusSuccess }

// Request is one fulfill or revoke of one order line.
type Request struct {
	OrderNumber string     `json:"order_number"`
	User        order.User `json:"user"`
	Line        order.Line `json:"line"`
	// Grant is, on revoke, what the line's fulfill recorded in its Result.
	Grant map[string]string `json:"grant,omitempty"`
}

// Module fulfills and revokes the lines of one product type. Both calls must
// be idempotent: Temporal runs activities at least once, so a module is called
// again after a crash or timeout of a call that may in fact have succeeded.
type Module interface {
	Fulfill(ctx context.Context, req Request) Result
	Revoke(ctx context.Context, req Request) Result
}
