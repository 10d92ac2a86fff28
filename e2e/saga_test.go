package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
)

// closedOrder places a one-seat order for a new learner that closes after a
// short refund window, and waits until it has closed.
func closedOrder(t *testing.T, prefix string) (user, number string) {
	t.Helper()
	user, number = newUser(t, prefix), newNumber(prefix)
	opts := testOptions
	opts.RefundWindow = 2 * time.Second
	startDirect(t, order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now(),
		Lines: []order.Line{{ID: "1", ProductType: "seat", CourseID: sandbox.DemoCourseID, Mode: "verified"}}}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, shared.Client.GetWorkflow(ctx, contract.OrderWorkflowID(number), "").Get(ctx, nil))
	return user, number
}

// Ten refunds of the same line, with different ids, sent at once after the
// order closed: one is taken, the others are answered "already refunded",
// and the learner is unenrolled once.
func TestLateRefundsOfOneLineAtOnceRunOnce(t *testing.T) {
	user, number := closedOrder(t, "LATE")
	codes := make([]int, 10)
	answers := make([]map[string]any, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
				map[string]any{"refund_id": "R" + string(rune('A'+i)), "line_ids": []string{"1"}}, &answers[i])
		}()
	}
	wg.Wait()
	accepted := 0
	for i, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
		case http.StatusConflict:
		default:
			t.Fatalf("a late refund was answered %d (%v): %v", c, answers[i], codes)
		}
	}
	require.Equal(t, 1, accepted, "exactly one refund takes the line: %v", codes)
	st := waitStatus(t, number, contract.OrderRefunded, 20*time.Second)
	require.Len(t, st.Refunds, 1)
	require.True(t, st.Closed)
	require.Equal(t, contract.LineRevoked, st.Lines[0].State)
	e := enrollment(t, user, sandbox.DemoCourseID)
	require.False(t, e.IsActive)
	require.Equal(t, 2, e.Writes, "one enrollment, one unenrollment")
	recordHistory(t, contract.LateRefundsWorkflowID(number), "late_refunds_at_once")
}

// Refund workflow IDs cannot collide: order X refunded as "refund-1" and
// order "X-refund" refunded as "1" once shared order-X-refund-refund-1.
func TestLookalikeRefundsOfTwoOrdersBothRevoke(t *testing.T) {
	base := newNumber("LOOK")
	u1, u2 := newUser(t, "look"), newUser(t, "look")
	for _, o := range []struct{ number, user string }{{base, u1}, {base + "-refund", u2}} {
		ord := sampleOrder(o.number)
		ord["user"] = map[string]any{"username": o.user}
		placeOrder(t, ord)
		waitStatus(t, o.number, contract.OrderFulfilled, 10*time.Second)
	}
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+base+"/refunds",
		map[string]any{"refund_id": "refund-1"}, nil))
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+base+"-refund/refunds",
		map[string]any{"refund_id": "1"}, nil))
	for _, o := range []struct{ number, user string }{{base, u1}, {base + "-refund", u2}} {
		st := waitRefunded(t, o.number, 20*time.Second)
		require.Equal(t, contract.LineRevoked, st.Lines[0].State, o.number)
		require.False(t, enrollment(t, o.user, sandbox.DemoCourseID).IsActive, "learner of %s left enrolled", o.number)
	}
}

// While a refund's revoke waits out an LMS outage the order reads
// "refunding", in the API and in visibility; "refunded" only once the
// learner is in fact unenrolled.
func TestOrderIsRefundingUntilTheRevokeRan(t *testing.T) {
	user, number, o := newLearnerOrder(t, "refunding", "RFG")
	placeOrder(t, o)
	waitStatus(t, number, contract.OrderFulfilled, 10*time.Second)
	setFaults(t, map[string]any{"outage_seconds": 4})
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-1"}, nil))
	st := status(t, number)
	require.Equal(t, contract.OrderRefunding, st.Status, "%+v", st)
	visible(t, `OrderStatus="refunding"`, contract.OrderWorkflowID(number))
	require.True(t, enrollment(t, user, sandbox.DemoCourseID).IsActive, "the outage holds the revoke")

	st = waitStatus(t, number, contract.OrderRefunded, 30*time.Second)
	require.False(t, enrollment(t, user, sandbox.DemoCourseID).IsActive, "refunded means unenrolled")
	require.Equal(t, contract.RefundCompleted, st.Refunds[0].State)
	visible(t, `OrderStatus="refunded"`, contract.OrderWorkflowID(number))
}

// An order cancelled (as from the Web UI) while its line waits out an LMS
// outage: a refund signalled after the cancel still runs, a retry is
// visibly refused, and the order closes as cancelled with its document.
func TestCancelledOrderTakesRefundsAndClosesCancelled(t *testing.T) {
	user, number, o := newLearnerOrder(t, "cancel", "CXL")
	// The enrollment is written but its answer held until the LMS client
	// gives up: the line's attempt stays in flight, and the cancelled order
	// stays open until it ends, so the signals below reach a running order
	// however fast the worker is.
	setFaults(t, map[string]any{"lost_answer_rate": 1, "lost_answer_mode": "hang"})
	placeOrder(t, o)
	id := contract.OrderWorkflowID(number)
	require.Eventually(t, func() bool {
		e := findEnrollment(t, user, sandbox.DemoCourseID)
		return e != nil && e.IsActive
	}, 10*time.Second, 50*time.Millisecond)
	ctx := context.Background()
	require.NoError(t, shared.Client.CancelWorkflow(ctx, id, ""))
	require.NoError(t, shared.Client.SignalWorkflow(ctx, id, "", contract.SignalRetry, map[string]any{}))
	require.NoError(t, shared.Client.SignalWorkflow(ctx, id, "", contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"}))
	sandboxPost(t, "/sandbox/faults", map[string]any{}) // the revoke's writes are answered

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := shared.Client.GetWorkflow(wctx, id, "").Get(wctx, nil)
	require.Error(t, err, "a cancelled order closes as cancelled")
	desc, derr := shared.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, derr)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.GetWorkflowExecutionInfo().GetStatus())

	st := status(t, number)
	require.True(t, st.Cancelled)
	require.True(t, st.Closed)
	require.Len(t, st.Refunds, 1, "the refund signalled after the cancel was taken")
	require.Equal(t, contract.RefundCompleted, st.Refunds[0].State)
	require.Contains(t, []contract.LineState{contract.LineRevoked, contract.LineRefundedUnfulfilled}, st.Lines[0].State)
	require.NotEmpty(t, st.IgnoredRequests, "the retry after cancel is visibly refused")
	require.Equal(t, contract.SignalRetry, st.IgnoredRequests[0].Signal)
	e := findEnrollment(t, user, sandbox.DemoCourseID)
	require.True(t, e == nil || !e.IsActive, "refunded learner left enrolled: %+v", e)
	recordHistory(t, id, "order_cancelled_then_refund_signal")
}

// In an order split into batches, a line that fails permanently shows at
// once — in the order's status and in visibility — while the rest of its
// batch still runs.
func TestBatchedLineFailureShowsWhileTheBatchRuns(t *testing.T) {
	user, number := newUser(t, "batchfail"), newNumber("BFAIL")
	opts := testOptions
	opts.BatchSize, opts.MaxParallelLines = 3, 1
	setFaults(t, map[string]any{"latency_ms": 700})
	o := order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now()}
	o.Lines = append(o.Lines, order.Line{ID: "1", ProductType: "seat", CourseID: "course-v1:edX+Gone+2026", Mode: "verified"})
	for i := 2; i <= 6; i++ {
		course, _ := newCourse(t)
		o.Lines = append(o.Lines, order.Line{ID: string(rune('0' + i)), ProductType: "seat", CourseID: course, Mode: "verified"})
	}
	start := time.Now()
	startDirect(t, o, opts)
	id := contract.OrderWorkflowID(number)
	visible(t, `OrderStatus="fulfillment_error" AND FailedLines=1`, id)
	seen := time.Since(start)
	st := status(t, number)
	require.Equal(t, contract.LineFailed, st.Lines[0].State)
	require.Equal(t, contract.ErrorType("CourseNotFound"), st.Lines[0].Result.ErrorType)
	desc, err := shared.Client.DescribeWorkflowExecution(context.Background(), id+"~fulfill-1~batch-0", "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus(),
		"the failure must show while its batch still runs (seen after %s)", seen)
	t.Logf("first permanent failure visible after %s", seen)
	require.NoError(t, shared.Client.CancelWorkflow(context.Background(), id, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.Error(t, shared.Client.GetWorkflow(ctx, id, "").Get(ctx, nil), "closes as cancelled")
	recordHistory(t, id, "order_batched_live_failure_cancelled")
	recordHistory(t, id+"~fulfill-1~batch-0", "lines_batch_live_reports")
}

// A learner enrolled through another order buys the same seat while the LMS
// is down, and that duplicate is refunded while it retries: their access
// from the other order stays. (A transient failure "may have written", and
// the revoke used to unenroll them without looking whose enrollment it
// was.)
func TestRefundOfADuplicateDuringAnOutageKeepsAccessFromElsewhere(t *testing.T) {
	user, first, o := newLearnerOrder(t, "dup", "DUP")
	placeOrder(t, o)
	waitStatus(t, first, contract.OrderFulfilled, 10*time.Second)
	writes := enrollment(t, user, sandbox.DemoCourseID).Writes

	second := newNumber("DUP")
	o["number"] = second
	setFaults(t, map[string]any{"outage_seconds": 4})
	placeOrder(t, o)
	require.Eventually(t, func() bool { return status(t, second).Lines[0].State == contract.LineRetrying },
		10*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+second+"/refunds",
		map[string]any{"refund_id": "R-1"}, nil))
	st := waitRefunded(t, second, 30*time.Second)
	require.Equal(t, contract.LineRefundedUnfulfilled, st.Lines[0].State, "the duplicate wrote nothing")
	e := enrollment(t, user, sandbox.DemoCourseID)
	require.True(t, e.IsActive, "access from the other order was taken away")
	require.Equal(t, "verified", e.Mode)
	require.Equal(t, writes, e.Writes, "nothing written for the duplicate")
}

// After an order closed, a refund whose revoke fails permanently reads
// revocation_error — in the API and in visibility — and an operator's retry
// through the API runs it again. (Retry was refused on closed orders, and
// refunds after close had no status search attribute.)
func TestRevokeFailureAfterCloseIsFoundAndRetried(t *testing.T) {
	user, number := closedOrder(t, "LREV")
	setFaults(t, map[string]any{"error_rate": 1.0, "error_status": 403})
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-1"}, nil))
	st := waitStatus(t, number, contract.OrderRevocationError, 20*time.Second)
	require.Equal(t, contract.LineRevokeFailed, st.Lines[0].State)
	require.True(t, st.Closed)
	visible(t, `OrderStatus="revocation_error"`, contract.LateRefundsWorkflowID(number))
	require.True(t, enrollment(t, user, sandbox.DemoCourseID).IsActive)

	sandboxPost(t, "/sandbox/faults", map[string]any{})
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/retry", map[string]any{}, nil))
	st = waitStatus(t, number, contract.OrderRefunded, 20*time.Second)
	require.Equal(t, contract.LineRevoked, st.Lines[0].State)
	require.False(t, enrollment(t, user, sandbox.DemoCourseID).IsActive)
	visible(t, `OrderStatus="refunded"`, contract.LateRefundsWorkflowID(number))
	recordHistory(t, contract.LateRefundsWorkflowID(number), "late_refunds_revoke_retried")
}
