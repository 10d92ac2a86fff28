// Package activities holds the activities the fulfillment workflows run: one
// call of one fulfillment module for one order line.
package activities

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// ModuleSource finds the fulfillment module configured for a product type.
type ModuleSource interface {
	Module(productType string) (modules.Module, bool)
}

// Activities holds the dependencies of the line activities. Register a
// *Activities with the worker; workflows refer to its methods.
type Activities struct {
	Modules ModuleSource
	Logger  *zap.Logger
	// Reconciler, when set, runs the drift sweep's activities.
	Reconciler *Reconciler
}

// LineInput is one fulfill or revoke of one line. The business key
// (order number, line id, action) is what makes the call idempotent: modules
// read the LMS state before they write.
type LineInput struct {
	OrderNumber string     `json:"order_number"`
	User        order.User `json:"user"`
	Line        order.Line `json:"line"`
	// Grant is what the fulfill recorded, for a revoke.
	Grant map[string]string `json:"grant,omitempty"`
	// Prior is the learner's state read before the line's first write (see
	// modules.Request.Prior).
	Prior map[string]string `json:"prior,omitempty"`
	// Backoff shapes the delay before the next attempt after a transient
	// failure; nil leaves it to the workflow's retry policy.
	Backoff *Backoff `json:"backoff,omitempty"`
	// AttemptOffset counts attempts made before this activity started, so
	// its backoff continues from there.
	AttemptOffset int `json:"attempt_offset,omitempty"`
	// ObservedAt is when Prior was read, set only for the fulfill that
	// directly follows the observation: its first attempt, if it starts
	// within ObservationFreshFor of that read, writes from Prior without
	// reading again (see modules.Request.PriorFresh).
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// ObservationFreshFor is how long after an observation the fulfill that
// follows it may take it as the LMS's current state. A read and the write
// after it race a change made elsewhere in any case; this bounds the window
// to about what a busy worker takes between the two, and a fulfill that
// waited longer (a worker down, a backlog) reads again.
const ObservationFreshFor = 2 * time.Second

// Backoff is exponential backoff with jitter: attempt n waits about
// Initial·2^(n-1), at most Max, give or take a fifth, so that lines failing
// together (an LMS outage) do not all come back at the same instant.
type Backoff struct {
	Initial time.Duration `json:"initial"`
	Max     time.Duration `json:"max"`
}

// Delay returns the wait after the given failed attempt (1-based); jitter
// in [0,1) picks where in the ±20% band it falls.
func (b Backoff) Delay(attempt int, jitter float64) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*jitter))
}

// LineOutcome is the module's result and the attempt that produced it. It is
// also attached as the details of a failed activity, so the workflow learns
// the module's error_type and message either way.
type LineOutcome struct {
	Result  modules.Result `json:"result"`
	Attempt int            `json:"attempt"`
	// ObservedAt is when an observation's read began (ObserveLine only).
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// FulfillLine fulfills one order line through its module.
func (a *Activities) FulfillLine(ctx context.Context, in LineInput) (LineOutcome, error) {
	return a.run(ctx, contract.ActionFulfill, in, func(m modules.Module, req modules.Request) modules.Result {
		return m.Fulfill(ctx, req)
	})
}

// ObserveLine reads, through the line's module and without writing, the
// learner's state the line's fulfill may change; the workflow records it
// before the line's first write. A module that does not write to the LMS
// (no modules.Observer) observes nothing.
func (a *Activities) ObserveLine(ctx context.Context, in LineInput) (LineOutcome, error) {
	return a.run(ctx, contract.ActionObserve, in, func(m modules.Module, req modules.Request) modules.Result {
		if o, ok := m.(modules.Observer); ok {
			return o.Observe(ctx, req)
		}
		return modules.Success(nil)
	})
}

// RevokeLine undoes the fulfillment of one order line through its module.
func (a *Activities) RevokeLine(ctx context.Context, in LineInput) (LineOutcome, error) {
	return a.run(ctx, contract.ActionRevoke, in, func(m modules.Module, req modules.Request) modules.Result {
		return m.Revoke(ctx, req)
	})
}

func (a *Activities) run(ctx context.Context, action contract.Action, in LineInput, call func(modules.Module, modules.Request) modules.Result) (LineOutcome, error) {
	info := activity.GetInfo(ctx)
	attempt := int(info.Attempt)
	log := a.logger().With(zap.String("workflow_id", info.WorkflowExecution.ID), zap.String("run_id", info.WorkflowExecution.RunID),
		zap.String("order", in.OrderNumber), zap.String("line", in.Line.ID),
		zap.String("action", string(action)), zap.String("product_type", in.Line.ProductType), zap.Int("attempt", attempt))
	m, ok := a.Modules.Module(in.Line.ProductType)
	if !ok {
		out := LineOutcome{Attempt: attempt, Result: modules.Result{
			Status:    modules.StatusFailure,
			ErrorType: contract.ErrorTypeModuleNotConfigured,
			Message:   fmt.Sprintf("no fulfillment module is configured for product type %q", in.Line.ProductType),
		}}
		log.Error("line failed", zap.String("error_type", string(out.Result.ErrorType)))
		return out, failure(out)
	}
	began := time.Now()
	req := modules.Request{OrderNumber: in.OrderNumber, User: in.User, Line: in.Line, Grant: in.Grant, Prior: in.Prior,
		PriorFresh: action == contract.ActionFulfill && in.freshPrior(attempt, began)}
	res := call(m, req)
	out := LineOutcome{Result: res, Attempt: attempt}
	if action == contract.ActionObserve {
		out.ObservedAt = began
	}
	if res.OK() {
		log.Info("line done")
		return out, nil
	}
	if res.Status != modules.StatusFailure {
		// A module answering neither success nor failure is a bug in the
		// module; park the line rather than retry it forever.
		out.Result = modules.Result{Status: modules.StatusFailure, ErrorType: contract.ErrorTypeInvalidModuleResult,
			Message: fmt.Sprintf("module answered status %q", res.Status)}
	}
	log.Warn("line attempt failed", zap.String("error_type", string(out.Result.ErrorType)), zap.Bool("retryable", out.Result.Retryable))
	err := failure(out)
	if out.Result.Retryable && out.Result.RetryAfterSeconds == 0 && in.Backoff != nil && in.Backoff.Initial > 0 {
		err = failureAfter(out, in.Backoff.Delay(in.AttemptOffset+attempt, rand.Float64()))
	}
	return out, err
}

// freshPrior reports whether this attempt of a fulfill may take in.Prior as
// the LMS's current state: the first attempt of the fulfill that follows
// the observation, begun within ObservationFreshFor of it (a clock behind
// the observing worker's by more than that counts as stale too).
func (in LineInput) freshPrior(attempt int, now time.Time) bool {
	if in.ObservedAt.IsZero() || len(in.Prior) == 0 || attempt != 1 || in.AttemptOffset != 0 {
		return false
	}
	age := now.Sub(in.ObservedAt)
	return age < ObservationFreshFor && age > -ObservationFreshFor
}

// failure turns a module failure into the activity error that tells Temporal
// whether to retry: transient failures retry (after the LMS's Retry-After if
// it gave one), permanent ones do not.
func failure(out LineOutcome) error {
	var next time.Duration
	if out.Result.Retryable && out.Result.RetryAfterSeconds > 0 {
		next = time.Duration(out.Result.RetryAfterSeconds) * time.Second
	}
	return failureAfter(out, next)
}

// failureAfter is failure with the delay before the next attempt (0 leaves
// it to the retry policy).
func failureAfter(out LineOutcome, next time.Duration) error {
	msg := out.Result.Message
	if msg == "" {
		msg = string(out.Result.ErrorType)
	}
	return temporal.NewApplicationErrorWithOptions(msg, string(out.Result.ErrorType), temporal.ApplicationErrorOptions{
		NonRetryable:   !out.Result.Retryable,
		NextRetryDelay: next,
		Details:        []any{out},
	})
}

func (a *Activities) logger() *zap.Logger {
	if a.Logger == nil {
		return zap.NewNop()
	}
	return a.Logger
}
