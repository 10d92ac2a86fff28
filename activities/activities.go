// Package activities holds the activities the fulfillment workflows run: one
// call of one fulfillment module for one order line.
package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// ErrorTypeModuleNotConfigured is the error_type of a line whose product type
// has no module on this worker.
const ErrorTypeModuleNotConfigured = "ModuleNotConfigured"

// ModuleSource finds the fulfillment module configured for a product type.
type ModuleSource interface {
	Module(productType string) (modules.Module, bool)
}

// Activities holds the dependencies of the line activities. Register a
// *Activities with the worker; workflows refer to its methods.
type Activities struct {
	Modules ModuleSource
	Logger  *zap.Logger
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
}

// LineOutcome is the module's result and the attempt that produced it. It is
// also attached as the details of a failed activity, so the workflow learns
// the module's error_type and message either way.
type LineOutcome struct {
	Result  modules.Result `json:"result"`
	Attempt int            `json:"attempt"`
}

// FulfillLine fulfills one order line through its module.
func (a *Activities) FulfillLine(ctx context.Context, in LineInput) (LineOutcome, error) {
	return a.run(ctx, "fulfill", in, func(m modules.Module, req modules.Request) modules.Result {
		return m.Fulfill(ctx, req)
	})
}

// RevokeLine undoes the fulfillment of one order line through its module.
func (a *Activities) RevokeLine(ctx context.Context, in LineInput) (LineOutcome, error) {
	return a.run(ctx, "revoke", in, func(m modules.Module, req modules.Request) modules.Result {
		return m.Revoke(ctx, req)
	})
}

func (a *Activities) run(ctx context.Context, action string, in LineInput, call func(modules.Module, modules.Request) modules.Result) (LineOutcome, error) {
	attempt := int(activity.GetInfo(ctx).Attempt)
	log := a.logger().With(zap.String("order", in.OrderNumber), zap.String("line", in.Line.ID),
		zap.String("action", action), zap.String("product_type", in.Line.ProductType), zap.Int("attempt", attempt))
	m, ok := a.Modules.Module(in.Line.ProductType)
	if !ok {
		out := LineOutcome{Attempt: attempt, Result: modules.Result{
			Status:    modules.StatusFailure,
			ErrorType: ErrorTypeModuleNotConfigured,
			Message:   fmt.Sprintf("no fulfillment module is configured for product type %q", in.Line.ProductType),
		}}
		log.Error("line failed", zap.String("error_type", out.Result.ErrorType))
		return out, failure(out)
	}
	res := call(m, modules.Request{OrderNumber: in.OrderNumber, User: in.User, Line: in.Line, Grant: in.Grant})
	out := LineOutcome{Result: res, Attempt: attempt}
	if res.OK() {
		log.Info("line done")
		return out, nil
	}
	if res.Status != modules.StatusFailure {
		// A module answering neither success nor failure is a bug in the
		// module; park the line rather than retry it forever.
		out.Result = modules.Result{Status: modules.StatusFailure, ErrorType: "InvalidModuleResult",
			Message: fmt.Sprintf("module answered status %q", res.Status)}
	}
	log.Warn("line attempt failed", zap.String("error_type", out.Result.ErrorType), zap.Bool("retryable", out.Result.Retryable))
	return out, failure(out)
}

// failure turns a module failure into the activity error that tells Temporal
// whether to retry: transient failures retry (after the LMS's Retry-After if
// it gave one), permanent ones do not.
func failure(out LineOutcome) error {
	msg := out.Result.Message
	if msg == "" {
		msg = out.Result.ErrorType
	}
	opts := temporal.ApplicationErrorOptions{
		NonRetryable: !out.Result.Retryable,
		Details:      []any{out},
	}
	if out.Result.Retryable && out.Result.RetryAfterSeconds > 0 {
		opts.NextRetryDelay = time.Duration(out.Result.RetryAfterSeconds) * time.Second
	}
	return temporal.NewApplicationErrorWithOptions(msg, out.Result.ErrorType, opts)
}

func (a *Activities) logger() *zap.Logger {
	if a.Logger == nil {
		return zap.NewNop()
	}
	return a.Logger
}
