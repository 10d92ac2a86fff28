package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// historyHas counts the events of a type in a workflow's history.
func historyHas(t *testing.T, workflowID string, typ enumspb.EventType) int {
	t.Helper()
	iter := shared.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if ev.GetEventType() == typ {
			n++
		}
	}
	return n
}

// A shop posts with ?wait= and gets the settled order in the answer: no
// status reads at all.
func TestWaitCreateAnswersTheSettledOrder(t *testing.T) {
	user, number, o := newLearnerOrder(t, "wait", "WAIT")
	var st api.OrderStatus
	code := call(t, http.MethodPost, "/api/v1/orders?wait=10s", o, &st)
	require.Equal(t, http.StatusOK, code, "%+v", st)
	require.Equal(t, number, st.OrderNumber)
	require.Equal(t, contract.OrderFulfilled, st.Status)
	require.Len(t, st.Lines, 1)
	require.Equal(t, contract.LineFulfilled, st.Lines[0].State)
	require.Equal(t, map[contract.LineState]int{contract.LineFulfilled: 1}, st.LineCounts)
	require.True(t, enrollment(t, user, sandbox.DemoCourseID).IsActive, "the answer follows the enrollment")

	id := contract.OrderWorkflowID(number)
	updates := historyHas(t, id, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
	require.LessOrEqual(t, updates, 1, "at most one update for the wait on the moving order")

	// The same order again with a wait: settled at once, same answer.
	var again api.OrderStatus
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders?wait=10s", o, &again))
	require.Equal(t, contract.OrderFulfilled, again.Status)
	// GET with a wait on a settled order answers at once.
	start := time.Now()
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+number+"?wait=10s", nil, &again))
	require.Equal(t, contract.OrderFulfilled, again.Status)
	require.Less(t, time.Since(start), 5*time.Second, "a settled order is not waited for")

	require.Equal(t, updates, historyHas(t, id, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED),
		"the waits on the settled order write nothing to its history")
	// An order started with a flow records no version marker (its one
	// marker is the line's observation, a local activity) and upserts only
	// what changed since its start: here, fulfilled.
	require.Equal(t, 1, historyHas(t, id, enumspb.EVENT_TYPE_MARKER_RECORDED), "the observation's marker alone")
	require.Equal(t, 1, historyHas(t, id, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES), "OrderStatus=fulfilled alone")
	visible(t, fmt.Sprintf(`OrderStatus="fulfilled" AND FailedLines=0 AND OrderNumber=%q`, number), id)
	recordHistory(t, id, "order_flow_wait_settled")
}

// A permanent failure settles the order too: the answer shows it.
func TestWaitCreateAnswersAFailedOrder(t *testing.T) {
	_, number, o := newLearnerOrder(t, "waitf", "WAITF")
	o["lines"] = []map[string]any{{"id": "1", "product_type": "seat",
		"course_id": fmt.Sprintf("course-v1:edX+Nowhere%d+2026", orderSeq.Add(1)), "mode": "verified"}}
	var st api.OrderStatus
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders?wait=10s", o, &st))
	require.Equal(t, contract.OrderFulfillmentError, st.Status)
	require.Equal(t, contract.LineFailed, st.Lines[0].State)
	require.Equal(t, contract.ErrorType(lms.TypeCourseNotFound), st.Lines[0].Result.ErrorType)
	visible(t, `OrderStatus="fulfillment_error" AND FailedLines=1`, contract.OrderWorkflowID(number))
}

// An order that does not settle within the wait answers as without one:
// 202 for the POST, the current status for the GET; a later GET with a
// wait returns as soon as it settles.
func TestWaitTimesOutThenSettles(t *testing.T) {
	_, number, o := newLearnerOrder(t, "waitt", "WAITT")
	setFaults(t, map[string]any{"outage_seconds": 4})
	var acc api.OrderAccepted
	start := time.Now()
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders?wait=1s", o, &acc))
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the API waited")
	require.Equal(t, contract.OrderWorkflowID(number), acc.WorkflowID)

	var st api.OrderStatus
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+number+"?wait=1s", nil, &st))
	require.Equal(t, contract.OrderFulfilling, st.Status, "still retrying through the outage")

	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+number+"?wait=10s", nil, &st))
		return st.Status == contract.OrderFulfilled
	}, 40*time.Second, time.Millisecond, "order never settled: %+v", st)
}

// A bad wait is a 400 problem and starts nothing; an unknown order is 404.
func TestWaitBadValues(t *testing.T) {
	_, number, o := newLearnerOrder(t, "waitb", "WAITB")
	for _, v := range []string{"forever", "-1s", "11s", "1h"} {
		var p map[string]any
		require.Equal(t, http.StatusBadRequest, call(t, http.MethodPost, "/api/v1/orders?wait="+v, o, &p), v)
		require.Equal(t, "wait", p["errors"].([]any)[0].(map[string]any)["field"])
		require.Equal(t, http.StatusBadRequest, call(t, http.MethodGet, "/api/v1/orders/"+number+"?wait="+v, nil, nil), v)
	}
	require.Equal(t, http.StatusNotFound, call(t, http.MethodGet, "/api/v1/orders/"+number, nil, nil), "nothing started")
	require.Equal(t, http.StatusNotFound, call(t, http.MethodGet, "/api/v1/orders/"+number+"?wait=2s", nil, nil))
}
