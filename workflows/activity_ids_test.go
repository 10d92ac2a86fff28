package workflows

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
)

// A new run records the line-activity-ids version and names each round of a
// line's activity readably, so the API can match a pending attempt to its
// line.
func TestNewRunsNameLineActivitiesReadably(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if call == 1 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	var mu sync.Mutex
	var ids []string
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		if len(ids) == 0 || ids[len(ids)-1] != info.ActivityID {
			ids = append(ids, info.ActivityID)
		}
	})
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	require.NoError(t, env.GetWorkflowError())
	// The observation before the first write is a local activity: no ID.
	require.Equal(t, []string{contract.LineActivityID(contract.ActionFulfill, "1", 1), contract.LineActivityID(contract.ActionFulfill, "1", 2)}, ids)
}
