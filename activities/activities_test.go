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

// The fulfill's first attempt right after the observation may write from
// it; anything later, or a retry, reads again.
func TestPriorIsFreshOnlyForTheFirstAttemptRightAfterTheObservation(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	prior := map[string]string{"prior_exists": "false"}
	in := LineInput{Prior: prior, ObservedAt: now.Add(-300 * time.Millisecond)}
	require.True(t, in.freshPrior(1, now))
	require.False(t, in.freshPrior(2, now), "a retry may follow a write of its own")
	later := in
	later.AttemptOffset = 1
	require.False(t, later.freshPrior(1, now), "a later round follows failed attempts")
	require.False(t, in.freshPrior(1, now.Add(ObservationFreshFor)), "too old")
	require.False(t, in.freshPrior(1, now.Add(-3*ObservationFreshFor)), "a clock far behind the observer's")
	unobserved := LineInput{Prior: prior}
	require.False(t, unobserved.freshPrior(1, now))
	empty := LineInput{ObservedAt: now}
	require.False(t, empty.freshPrior(1, now), "nothing observed (a module without Observe)")
}

// recordingModule answers success and keeps the request it was given.
type recordingModule struct{ got *modules.Request }

func (m recordingModule) Fulfill(_ context.Context, r modules.Request) modules.Result {
	*m.got = r
	return modules.Success(nil)
}
func (m recordingModule) Revoke(_ context.Context, r modules.Request) modules.Result {
	*m.got = r
	return modules.Success(nil)
}

func TestFulfillHandsTheModuleAFreshPriorAndObserveTimesItsRead(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	var got modules.Request
	a := &Activities{Modules: source{"seat": recordingModule{&got}}}
	env.RegisterActivity(a)
	before := time.Now()
	v, err := env.ExecuteActivity(a.ObserveLine, LineInput{OrderNumber: "A-1", Line: order.Line{ID: "1", ProductType: "seat"}})
	require.NoError(t, err)
	var obs LineOutcome
	require.NoError(t, v.Get(&obs))
	require.False(t, obs.ObservedAt.Before(before))

	in := LineInput{OrderNumber: "A-1", Line: order.Line{ID: "1", ProductType: "seat"},
		Prior: map[string]string{"prior_exists": "false"}, ObservedAt: obs.ObservedAt}
	_, err = env.ExecuteActivity(a.FulfillLine, in)
	require.NoError(t, err)
	require.True(t, got.PriorFresh)

	_, err = env.ExecuteActivity(a.RevokeLine, in)
	require.NoError(t, err)
	require.False(t, got.PriorFresh, "only a fulfill writes from an observation")
}
