// Package modules holds the fulfillment modules: one per product type, each
// able to fulfill and to revoke one order line, answering with the small JSON
// result the original fulfillment design asked for.
package modules

import (
	"context"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// Result statuses.
const (
	StatusSuccess = contract.StatusSuccess
	StatusFailure = contract.StatusFailure
)

// Result is what a module answers for one fulfill or revoke of one line:
// {"status":"success"} or {"status":"failure","error_type":"...","message":"..."}.
// It is the contract's wire type, so the status document carries it as is.
type Result = contract.Result

// Success returns a success result carrying grant.
func Success(grant map[string]string) Result { return Result{Status: StatusSuccess, Grant: grant} }

// Request is one fulfill or revoke of one order line.
type Request struct {
	OrderNumber string     `json:"order_number"`
	User        order.User `json:"user"`
	Line        order.Line `json:"line"`
	// Grant is, on revoke, what the line's fulfill recorded in its Result.
	Grant map[string]string `json:"grant,omitempty"`
	// Prior is the learner's LMS state for the line as the module's Observe
	// found it before the line's first write (nil when the module has no
	// Observe, or for lines of orders started before observation). On
	// fulfill the grant is built from it, so it does not depend on which
	// answer of a retried write arrived; on the revoke of a line that may
	// have been written without its answer arriving (no Grant), the revoke
	// restores exactly this state.
	Prior map[string]string `json:"prior,omitempty"`
	// PriorFresh reports that Prior was read moments ago and nothing of
	// the line was written since: a fulfill may take it as the LMS's
	// current state instead of reading again (one LMS call less a line).
	PriorFresh bool `json:"prior_fresh,omitempty"`
}

// Observer is implemented by modules that write to the LMS: Observe reads,
// without writing, the learner's state that the line's fulfill may change,
// and answers it as the Grant of a success (keys of the module's choosing;
// no personal data) or as a classified failure. The workflow records it
// before the line's first write.
type Observer interface {
	Observe(ctx context.Context, req Request) Result
}

// Module fulfills and revokes the lines of one product type. Both calls must
// be idempotent: Temporal runs activities at least once, so a module is called
// again after a crash or timeout of a call that may in fact have succeeded.
type Module interface {
	Fulfill(ctx context.Context, req Request) Result
	Revoke(ctx context.Context, req Request) Result
}
