package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/worker"
)

// The drift sweep, on the real stack: a fulfilled order whose enrollment
// was removed by hand in the LMS and a refunded order whose enrollment was
// reactivated by hand are both reported, with what to do; an untouched
// order is not; the sweep is found by its ReconcileStatus search attribute;
// and nothing it records names a learner.
func TestReconcileReportsDriftBetweenOrdersAndTheLMS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	course := sandbox.DemoCourseID
	userRemoved, removed, o1 := newLearnerOrder(t, "drift-removed", "DRIFT-R")
	userBack, back, o2 := newLearnerOrder(t, "drift-back", "DRIFT-B")
	userClean, clean, o3 := newLearnerOrder(t, "drift-clean", "DRIFT-C")
	for _, o := range []map[string]any{o1, o2, o3} {
		placeOrder(t, o)
	}
	for _, n := range []string{removed, back, clean} {
		waitStatus(t, n, contract.OrderFulfilled, 30*time.Second)
	}
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+back+"/refunds",
		map[string]any{"refund_id": "drift-refund"}, nil))
	waitStatus(t, back, contract.OrderRefunded, 30*time.Second)
	require.False(t, enrollment(t, userBack, course).IsActive, "the refund unenrolled")

	// By hand, in the LMS: one enrollment removed, one given back.
	lmsEnrollElsewhere(t, userRemoved, course, "verified", false)
	lmsEnrollElsewhere(t, userBack, course, "verified", true)

	// The sweep reads visibility: wait until it shows the three orders in
	// the states it checks.
	orders := fmt.Sprintf("%s IN ('%s', '%s', '%s')", contract.SearchAttrOrderNumber, removed, back, clean)
	require.Eventually(t, func() bool {
		resp, err := shared.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s' AND %s AND %s IN ('fulfilled', 'refunded')", contract.WorkflowOrder, orders, contract.SearchAttrOrderStatus)})
		return err == nil && resp.GetCount() == 3
	}, 20*time.Second, 100*time.Millisecond)

	id := newNumber("reconcile-e2e")
	run, err := shared.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue},
		contract.WorkflowReconcile, contract.ReconcileInput{Query: orders, PageSize: 2})
	require.NoError(t, err)
	var res contract.ReconcileResult
	require.NoError(t, run.Get(ctx, &res))
	recordHistory(t, id, "reconcile_drift")

	require.Equal(t, contract.ReconcileDrift, res.Status)
	require.Equal(t, 3, res.OrdersChecked)
	require.Equal(t, 3, res.LinesChecked)
	require.Zero(t, res.LinesUnread, "%v", res.Unread)
	require.Equal(t, 2, res.DriftCount)
	rows := map[string]contract.DriftRow{}
	for _, r := range res.Drift {
		rows[r.OrderNumber] = r
	}
	require.NotContains(t, rows, clean, "an order the LMS agrees with is not drift")
	require.Equal(t, contract.DriftAccessMissing, rows[removed].Kind)
	require.Equal(t, "1", rows[removed].LineID)
	require.Equal(t, course, rows[removed].Course)
	require.Equal(t, "inactive enrollment (verified)", rows[removed].Found)
	require.Contains(t, rows[removed].Options, "refund line 1 of order "+removed)
	require.Equal(t, contract.DriftAccessAfterRefund, rows[back].Kind)
	require.Equal(t, "active enrollment (verified)", rows[back].Found)
	require.Contains(t, rows[back].Options, "remove the access in the LMS")

	// Found by its search attributes.
	require.Eventually(t, func() bool {
		resp, err := shared.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("%s = '%s' AND %s = 2 AND WorkflowId = '%s'", contract.SearchAttrReconcileStatus, contract.ReconcileDrift,
				contract.SearchAttrDriftCount, id)})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 20*time.Second, 100*time.Millisecond)

	// Nothing the sweep recorded (inputs, activity results, details, its
	// result) names a learner.
	var history strings.Builder
	it := shared.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		history.WriteString(ev.String()) // payloads' JSON shows as text
	}
	desc, err := shared.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	history.WriteString(desc.String())
	require.Contains(t, history.String(), removed, "the check must see the sweep's records")
	for _, u := range []string{userRemoved, userBack, userClean} {
		require.NotContains(t, history.String(), u)
	}

	// The daily schedule: created once, then left as it is.
	require.NoError(t, worker.EnsureReconcileSchedule(ctx, shared.Client, worker.ReconcileSchedule{Every: time.Hour}, zap.NewNop()))
	h := shared.Client.ScheduleClient().GetHandle(ctx, contract.ReconcileScheduleID)
	t.Cleanup(func() { require.NoError(t, h.Delete(context.Background())) })
	require.NoError(t, worker.EnsureReconcileSchedule(ctx, shared.Client, worker.ReconcileSchedule{}, zap.NewNop()))
	sched, err := h.Describe(ctx)
	require.NoError(t, err)
	action, ok := sched.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	require.Equal(t, contract.WorkflowReconcile, action.Workflow)
	require.Equal(t, contract.TaskQueue, action.TaskQueue)
	require.Len(t, sched.Schedule.Spec.Intervals, 1)
	require.Equal(t, time.Hour, sched.Schedule.Spec.Intervals[0].Every, "a second start keeps the schedule's spec")
}
