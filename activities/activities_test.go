package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

type fixedModule struct{ res modules.Result }

func (m fixedModule) Fulfill(context.Context, modules.Request) modules.Result { return m.res }
func (m fixedModule) Revoke(context.Context, modules.Request) modules.Result  { return m.res }

type source map[string]modules.Module

func (s source) Module(pt string) (modules.Module, bool) { m, ok := s[pt]; return m, ok }

func run(t *testing.T, res modules.Result, productType string) (LineOutcome, error) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	a := &Activities{Modules: source{"seat": fixedModule{res}}}
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.FulfillLine, LineInput{OrderNumber: "A-1",
		Line: order.Line{ID: "1", ProductType: productType}, Backoff: &Backoff{Initial: time.Second, Max: time.Minute}})
	var out LineOutcome
	if err == nil {
		require.NoError(t, v.Get(&out))
	}
	return out, err
}

func TestFailuresAreClassifiedForTemporal(t *testing.T) {
	out, err := run(t, modules.Success(map[string]string{"prior_mode": "audit"}), "seat")
	require.NoError(t, err)
	require.Equal(t, "audit", out.Result.Grant["prior_mode"])

	_, err = run(t, modules.Result{Status: "failure", ErrorType: "CourseNotFound", Message: "no course"}, "seat")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.True(t, appErr.NonRetryable())
	require.Equal(t, "CourseNotFound", appErr.Type())
	var details LineOutcome
	require.NoError(t, appErr.Details(&details))
	require.Equal(t, "no course", details.Result.Message)

	_, err = run(t, modules.Result{Status: "failure", ErrorType: "Throttled", Retryable: true, RetryAfterSeconds: 30}, "seat")
	require.True(t, errors.As(err, &appErr))
	require.False(t, appErr.NonRetryable())
	require.Equal(t, 30*time.Second, appErr.NextRetryDelay())

	_, err = run(t, modules.Result{Status: "failure", ErrorType: "ServerError", Retryable: true}, "seat")
	require.True(t, errors.As(err, &appErr))
	require.InDelta(t, float64(time.Second), float64(appErr.NextRetryDelay()), float64(time.Second)/5+1)

	_, err = run(t, modules.Result{Status: "weird"}, "seat")
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, "InvalidModuleResult", appErr.Type())
	require.True(t, appErr.NonRetryable())

	_, err = run(t, modules.Success(nil), "gift-card")
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, string(contract.ErrorTypeModuleNotConfigured), appErr.Type())
}

func TestBackoffGrowsToMaxWithJitter(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	require.Equal(t, 800*time.Millisecond, b.Delay(1, 0))
	require.Equal(t, 4*time.Second, b.Delay(3, 0.5))
	require.Equal(t, 10*time.Second, b.Delay(30, 0.5))
	require.Equal(t, 12*time.Second, b.Delay(30, 1))
}
