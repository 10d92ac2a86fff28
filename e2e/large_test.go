package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	querypb "go.temporal.io/api/query/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// largestEvent returns the size of a workflow's largest history event (an
// upper bound of every payload in it: inputs, results, signals, updates).
func largestEvent(t *testing.T, workflowID string) (size int, what string) {
	t.Helper()
	iter := shared.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if n := proto.Size(ev); n > size {
			size, what = n, ev.GetEventType().String()
		}
	}
	return size, what
}

// queryAnswerSize is the size of the answer of a workflow's status query.
func queryAnswerSize(t *testing.T, workflowID string) int {
	t.Helper()
	resp, err := shared.Client.WorkflowService().QueryWorkflow(context.Background(), &workflowservice.QueryWorkflowRequest{
		Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID}, Query: &querypb.WorkflowQuery{QueryType: contract.QueryStatus},
	})
	require.NoError(t, err)
	return proto.Size(resp.GetQueryResult())
}

// pagedStatus reads a page of an order's status through the API.
func pagedStatus(t *testing.T, number, query string) api.OrderStatus {
	t.Helper()
	var st api.OrderStatus
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+number+query, nil, &st))
	return st
}

// A school's site licence: one order of 10,000 seats, each in a course of
// its own, fulfilled, closed, then refunded in full in five refunds. Every
// execution stays within Temporal's history limits and every payload —
// inputs, carried state, results, signals, query answers — within the
// budget; the API reads the closed order page by page.
func TestTenThousandSeatOrderRefundedInFullStaysWithinLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("the 10,000-seat order takes minutes; run without -short")
	}
	const lines = order.MaxLines
	user, number := newUser(t, "licence"), newNumber("BIG")
	prefix := strings.ReplaceAll(number, "-", "")
	o := order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now()}
	for i := range lines {
		o.Lines = append(o.Lines, order.Line{ID: fmt.Sprint(i + 1), ProductType: order.ProductSeat,
			CourseID: fmt.Sprintf("course-v1:%s+C%d+2026", prefix, i), Mode: "verified"})
	}
	var wg sync.WaitGroup
	courses := make(chan order.Line)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range courses {
				sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": l.CourseID, "modes": []string{"audit", "verified"}})
			}
		}()
	}
	for _, l := range o.Lines {
		courses <- l
	}
	close(courses)
	wg.Wait()

	opts := testOptions
	opts.MaxParallelLines = 100
	opts.RefundWindow = time.Second // closes once fulfilled: the refunds come after close
	started := time.Now()
	startDirect(t, o, opts)
	id := contract.OrderWorkflowID(number)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	require.NoError(t, shared.Client.GetWorkflow(ctx, id, "").Get(ctx, nil))
	t.Logf("10,000 seats fulfilled and the order closed in %s", time.Since(started))
	st := pagedStatus(t, number, "")
	require.True(t, st.Closed)
	require.Equal(t, contract.OrderFulfilled, st.Status)
	require.Equal(t, lines, st.LinesTotal)
	require.Equal(t, map[contract.LineState]int{contract.LineFulfilled: lines}, st.LineCounts)
	require.Len(t, st.Lines, api.DefaultLinesLimit, "a big order reads as a summary and a page")

	refunded := time.Now()
	for r := range 5 {
		ids := make([]string, 0, lines/5)
		for i := r * lines / 5; i < (r+1)*lines/5; i++ {
			ids = append(ids, o.Lines[i].ID)
		}
		require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
			map[string]any{"refund_id": fmt.Sprintf("R-%d", r), "line_ids": ids}, nil))
	}
	require.Eventually(t, func() bool {
		st = pagedStatus(t, number, "")
		return st.Status == contract.OrderRefunded
	}, 15*time.Minute, time.Second, "never refunded: %v", st.LineCounts)
	t.Logf("refunded in full after close in %s", time.Since(refunded))
	require.Equal(t, map[contract.LineState]int{contract.LineRevoked: lines}, st.LineCounts)
	page := pagedStatus(t, number, "?lines_offset=9990&lines_limit=1000")
	require.Len(t, page.Lines, 10)
	require.Equal(t, "9991", page.Lines[0].ID)
	require.Equal(t, contract.LineRevoked, page.Lines[0].State)
	for _, i := range []int{0, lines / 2, lines - 1} {
		require.False(t, enrollment(t, user, o.Lines[i].CourseID).IsActive, "line %s left enrolled", o.Lines[i].ID)
	}

	// Every execution of the order, its batches, its late refunds and their
	// revokes: history within limits, every payload within the budget.
	execs := []string{id, contract.LateRefundsWorkflowID(number)}
	for b := range lines / contract.DefaultBatchSize {
		execs = append(execs, fmt.Sprintf("%s~fulfill-1~batch-%d", id, b))
	}
	for r := range 5 {
		execs = append(execs, contract.RefundWorkflowID(number, fmt.Sprintf("R-%d", r)))
	}
	for _, e := range execs {
		events, pending := historyLength(t, e)
		require.Less(t, events, 10240, e)
		require.LessOrEqual(t, pending, 2000, e)
		size, what := largestEvent(t, e)
		require.LessOrEqual(t, size, contract.PayloadBudget, "%s: %s event of %d bytes", e, what, size)
	}
	size, what := largestEvent(t, id)
	t.Logf("order: largest event %s, %d bytes; status answer %d bytes", what, size, queryAnswerSize(t, id))
	require.LessOrEqual(t, queryAnswerSize(t, id), contract.PayloadBudget)
}
