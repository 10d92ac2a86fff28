package worker

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/metrics"
)

// metricsInterceptor counts the outcome of every line activity (fulfilled,
// failed by error_type, revoked) in the worker's business metrics, without
// the activities knowing.
type metricsInterceptor struct {
	interceptor.WorkerInterceptorBase
	m *metrics.Worker
}

func (i *metricsInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityMetrics{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, m: i.m}
}

// lineAction is the action of a line activity.
func lineAction(activityType string) (contract.Action, bool) {
	for _, a := range []contract.Action{contract.ActionFulfill, contract.ActionRevoke, contract.ActionObserve} {
		if a.Activity() == activityType {
			return a, true
		}
	}
	return "", false
}

type activityMetrics struct {
	interceptor.ActivityInboundInterceptorBase
	m *metrics.Worker
}

func (a *activityMetrics) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := a.Next.ExecuteActivity(ctx, in)
	action, ok := lineAction(activity.GetInfo(ctx).ActivityType.Name)
	if !ok {
		return out, err
	}
	productType := ""
	if len(in.Args) > 0 {
		if li, ok := in.Args[0].(activities.LineInput); ok {
			productType = li.Line.ProductType
		}
	}
	if err == nil {
		a.m.LineDone(string(action), productType)
		return out, err
	}
	errorType, retryable := "unknown", true
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		errorType, retryable = appErr.Type(), !appErr.NonRetryable()
	}
	if errorType == string(contract.ErrorTypeAwaitingAccount) {
		// A paid seat waiting for the learner's account: not a failure.
		return out, err
	}
	a.m.LineFailed(string(action), productType, errorType, retryable)
	return out, err
}
