package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/workflows"
)

// startDirect starts an order workflow with its own options, as a second
// shop backend with another configuration would (with the current flow, as
// the starter starts orders, but without the starter's search attributes).
func startDirect(t *testing.T, o order.Order, opts contract.Options) {
	t.Helper()
	_, err := shared.Client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: contract.OrderWorkflowID(o.Number), TaskQueue: contract.TaskQueue,
	}, workflows.OrderWorkflow, contract.OrderInput{Order: o, Options: opts, Flow: contract.CurrentFlow})
	require.NoError(t, err)
}

func TestOrderClosesAfterRefundWindowAndRefundsStillWork(t *testing.T) {
	user := newUser(t, "closed")
	number := newNumber("WIN")
	opts := testOptions
	opts.RefundWindow = 3 * time.Second
	startDirect(t, order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now(),
		Lines: []order.Line{{ID: "1", ProductType: "seat", CourseID: sandbox.DemoCourseID, Mode: "verified"}}}, opts)

	run := shared.Client.GetWorkflow(context.Background(), contract.OrderWorkflowID(number), "")
	var final contract.StatusDocument
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, run.Get(ctx, &final))
	require.True(t, final.Closed)
	require.Equal(t, contract.OrderFulfilled, final.Status)

	// The API reads a closed order's final status.
	st := status(t, number)
	require.True(t, st.Closed)
	require.Equal(t, contract.OrderFulfilled, st.Status)

	// A refund after the window goes to the order's LateRefundsWorkflow,
	// which runs the revoke.
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "LATE-1"}, nil))
	var res contract.RevokeResult
	workflowResult(t, contract.RefundWorkflowID(number, "LATE-1"), &res)
	require.Equal(t, contract.RefundCompleted, res.State)
	require.False(t, enrollment(t, user, sandbox.DemoCourseID).IsActive)
	// The order's status shows the late refund.
	require.Eventually(t, func() bool {
		st = status(t, number)
		return len(st.Refunds) == 1 && st.Refunds[0].RefundID == "LATE-1"
	}, 10*time.Second, 100*time.Millisecond, "late refund not in the status: %+v", st)
	require.Equal(t, contract.OrderRefunded, st.Status)
	require.Equal(t, contract.LineRevoked, st.Lines[0].State)
	require.Equal(t, "LATE-1", st.Lines[0].RefundID)
	// A second late refund of the same line is rejected: it is refunded.
	require.Equal(t, http.StatusConflict, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "LATE-2", "line_ids": []string{"1"}}, nil))
	// And again: the same refund id is not run twice.
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "LATE-1"}, nil))
	require.Equal(t, 2, enrollment(t, user, sandbox.DemoCourseID).Writes)
	recordHistory(t, contract.OrderWorkflowID(number), "order_closed_after_window")
	recordHistory(t, contract.RefundWorkflowID(number, "LATE-1"), "revoke_after_close")
}

// A small batch size exercises the large-order path (LinesWorkflow children)
// quickly, for the replay tests as much as for itself.
func TestOrderSplitIntoBatches(t *testing.T) {
	user := newUser(t, "batch")
	number := newNumber("BATCH")
	opts := testOptions
	opts.BatchSize = 2
	o := order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now()}
	for i := range 5 {
		o.Lines = append(o.Lines, order.Line{ID: fmt.Sprint(i + 1), ProductType: order.ProductDonation})
	}
	o.Lines[0] = order.Line{ID: "1", ProductType: "seat", CourseID: sandbox.DemoCourseID, Mode: "audit"}
	startDirect(t, o, opts)
	st := waitStatus(t, number, contract.OrderFulfilled, 20*time.Second)
	require.Len(t, st.Lines, 5)
	for b := range 3 {
		_, err := shared.Client.DescribeWorkflowExecution(context.Background(), fmt.Sprintf("%s~fulfill-1~batch-%d", contract.OrderWorkflowID(number), b), "")
		require.NoError(t, err, "batch %d", b)
	}
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "ALL"}, nil))
	st = waitRefunded(t, number, 20*time.Second)
	require.False(t, enrollment(t, user, sandbox.DemoCourseID).IsActive)
	recordHistory(t, contract.OrderWorkflowID(number), "order_batched_refunded")
	recordHistory(t, contract.OrderWorkflowID(number)+"~fulfill-1~batch-0", "lines_batch")
	recordHistory(t, contract.RefundWorkflowID(number, "ALL"), "revoke_batched")
}

// historyLength counts a workflow's events and the most activities it had
// scheduled but not finished at any one time.
func historyLength(t *testing.T, workflowID string) (events, maxPending int) {
	t.Helper()
	iter := shared.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	pending := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		events++
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			pending++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
			enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
			pending--
		}
		maxPending = max(maxPending, pending)
	}
	return events, maxPending
}
