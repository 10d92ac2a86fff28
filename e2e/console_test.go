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
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/starter"
)

// What an operator reads in the Web UI comes from the server as it stores
// it: the workflow's static summary and details, its current details (the
// __temporal_workflow_metadata query), the activities' and timers'
// summaries. Then the fix of a course is followed by one bulk retry of
// every order that failed on it, found by FailedCourseIds.
func TestConsoleShowsWhyAndBulkRetryAfterFix(t *testing.T) {
	ctx := context.Background()
	dc := converter.GetDefaultDataConverter()
	course := fmt.Sprintf("course-v1:edX+Gone%d+2026", orderSeq.Add(1))
	other := fmt.Sprintf("course-v1:edX+Other%d+2026", orderSeq.Add(1))
	var users, numbers []string
	for i := range 4 {
		user, number, o := newLearnerOrder(t, "console", "CON")
		c := course
		if i == 3 {
			c = other
		}
		o["lines"] = []map[string]any{{"id": "1", "product_type": "seat", "course_id": c, "mode": "verified"}}
		placeOrder(t, o)
		users, numbers = append(users, user), append(numbers, number)
	}
	for _, n := range numbers {
		waitStatus(t, n, contract.OrderFulfillmentError, 10*time.Second)
	}
	id := contract.OrderWorkflowID(numbers[0])

	// The order's page: static summary and details.
	desc, err := shared.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	var summary, details string
	md := desc.GetExecutionConfig().GetUserMetadata()
	require.NoError(t, dc.FromPayload(md.GetSummary(), &summary))
	require.NoError(t, dc.FromPayload(md.GetDetails(), &details))
	require.Equal(t, "order "+numbers[0]+" · 1 line: seat "+course+" (verified)", summary)
	require.Contains(t, details, "| 1 | seat | "+course+" | verified |")

	// Current details: the reason and the next step.
	v, err := shared.Client.QueryWorkflow(ctx, id, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&meta))
	cur := meta.GetCurrentDetails()
	require.Contains(t, cur, "**fulfillment_error** · 1 line(s) · **1 need a person**")
	require.Contains(t, cur, "| 1 · seat · "+course+" | failed | **CourseNotFound**: ")
	require.Contains(t, cur, "create the course run in the LMS")

	// Summaries on the line's activity and the refund-window timer.
	var summaries []string
	iter := shared.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if p := ev.GetUserMetadata().GetSummary(); p != nil {
			var s string
			require.NoError(t, dc.FromPayload(p, &s))
			summaries = append(summaries, s)
		}
	}
	all := strings.Join(summaries, "\n")
	t.Log(all)
	require.Contains(t, all, "line 1 · seat · enroll in "+course+" as verified")
	require.Contains(t, all, "refund window: the order takes refunds until ")
	for _, u := range users {
		require.NotContains(t, all+details+cur, u, "no learner in what the UI shows")
	}

	// Found by the failing course and the error type.
	visible(t, fmt.Sprintf(`FailedCourseIds = %q`, course), id)
	visible(t, fmt.Sprintf(`ErrorTypes = "CourseNotFound" AND OrderNumber = %q`, numbers[0]), id)

	// A bulk retry must name its orders.
	var prob map[string]any
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/retries", map[string]any{}, &prob))
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/retries",
		map[string]any{"query": "OrderStatus = 'x') OR (true"}, &prob))
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/retries",
		map[string]any{"query": "NoSuchAttribute = 'x'"}, &prob), "%v", prob)

	// Fix the course, then retry every order that failed on it.
	sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": course, "modes": []string{"audit", "verified"}})
	require.Eventually(t, func() bool {
		n, err := shared.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: fmt.Sprintf(`FailedCourseIds = %q`, course)})
		require.NoError(t, err)
		return n.GetCount() == 3
	}, 10*time.Second, 100*time.Millisecond)
	var res starter.BulkRetryResult
	start := time.Now()
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/retries", map[string]any{"course_id": course, "per_second": 2}, &res))
	require.Equal(t, 3, res.Matched, "%+v", res)
	require.Equal(t, 3, res.Retried, "%+v", res)
	require.Zero(t, res.Failed, "%+v", res)
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "3 orders at 2 a second take a second")
	for i, n := range numbers[:3] {
		waitStatus(t, n, contract.OrderFulfilled, 10*time.Second)
		require.Equal(t, "verified", enrollment(t, users[i], course).Mode)
	}
	require.Equal(t, contract.OrderFulfillmentError, status(t, numbers[3]).Status, "an order failing on another course is left alone")
	visible(t, fmt.Sprintf(`FailedCourseIds = %q`, other), contract.OrderWorkflowID(numbers[3]))
	require.Eventually(t, func() bool {
		n, err := shared.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: fmt.Sprintf(`FailedCourseIds = %q`, course)})
		require.NoError(t, err)
		return n.GetCount() == 0
	}, 10*time.Second, 100*time.Millisecond, "fixed orders drop out of FailedCourseIds")

	// Again: nothing matches now.
	res = starter.BulkRetryResult{}
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/retries", map[string]any{"course_id": course}, &res))
	require.Zero(t, res.Matched, "%+v", res)
	recordHistory(t, id, "order_console_failed_then_bulk_retried")
}
