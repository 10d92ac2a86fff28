package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

func TestSampleOrderBecomesVerifiedEnrollment(t *testing.T) {
	user, number, o := newLearnerOrder(t, "learner", "EDX")
	start := time.Now()
	placeOrder(t, o)
	st := waitStatus(t, number, contract.OrderFulfilled, 10*time.Second)
	t.Logf("fulfilled after %s", time.Since(start))
	require.Equal(t, contract.LineFulfilled, st.Lines[0].State)
	require.Equal(t, "success", st.Lines[0].Result.Status)

	e := enrollment(t, user, sandbox.DemoCourseID)
	require.Equal(t, "verified", e.Mode)
	require.True(t, e.IsActive)
	require.Equal(t, 1, e.Writes)

	id := contract.OrderWorkflowID(number)
	visible(t, fmt.Sprintf(`OrderNumber=%q AND OrderStatus="fulfilled" AND FailedLines=0`, number), id)
	visible(t, fmt.Sprintf(`CourseIds=%q AND OrderNumber=%q`, sandbox.DemoCourseID, number), id)
	recordHistory(t, id, "order_fulfilled_open")
}

func TestMixedOrderFulfillsEveryModule(t *testing.T) {
	user := newUser(t, "mixed")
	number := newNumber("MIX")
	_, entUUID := newCourse(t)
	placeOrder(t, map[string]any{
		"number": number,
		"user":   map[string]any{"username": user},
		"lines": []map[string]any{
			{"id": "seat", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "audit"},
			{"id": "upgrade", "product_type": "upgrade", "course_id": sandbox.CreditCourseID, "mode": "verified"},
			{"id": "ent", "product_type": "entitlement", "course_uuid": entUUID, "mode": "verified"},
			{"id": "gift", "product_type": "donation"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	})
	st := waitStatus(t, number, contract.OrderFulfilled, 15*time.Second)
	for _, l := range st.Lines {
		require.Equal(t, contract.LineFulfilled, l.State, l.ID)
	}
	require.Equal(t, "audit", enrollment(t, user, sandbox.DemoCourseID).Mode)
	require.Equal(t, "verified", enrollment(t, user, sandbox.CreditCourseID).Mode)
	ents := snapshot(t, user, "").Entitlements
	require.Len(t, ents, 1)
	require.Nil(t, ents[0].ExpiredAt)
}

// The anchors gave up after ~15 s (commerce-coordinator: 5 tries 3 s apart)
// and ~34 min (ecommerce: 11 tries, 2^n s backoff). Scaled 1:100 the longer
// budget is ~20 s; the LMS here is down for 25 s, and the order must end
// fulfilled with nobody touching it.
func TestLMSOutageLongerThanAnchorsBudgetsEndsFulfilled(t *testing.T) {
	user, number, o := newLearnerOrder(t, "outage", "OUT")
	setFaults(t, map[string]any{"outage_seconds": 25})
	outageStart := time.Now()
	placeOrder(t, o)

	st := waitStatus(t, number, contract.OrderFulfilling, 5*time.Second)
	require.Eventually(t, func() bool {
		st = status(t, number)
		return st.Lines[0].State == contract.LineRetrying
	}, 15*time.Second, 100*time.Millisecond, "line never shown retrying: %+v", st)
	require.NotEmpty(t, st.Lines[0].LastError)
	require.GreaterOrEqual(t, st.Lines[0].Attempts, 1)
	require.Contains(t, st.Lines[0].LastError, "ServerError")

	st = waitStatus(t, number, contract.OrderFulfilled, 60*time.Second)
	require.GreaterOrEqual(t, time.Since(outageStart), 25*time.Second, "fulfilled only after the outage")
	require.Greater(t, st.Lines[0].Attempts, 1)
	e := enrollment(t, user, sandbox.DemoCourseID)
	require.True(t, e.IsActive)
	require.Equal(t, 1, e.Writes, "retries never write twice")
	recordHistory(t, contract.OrderWorkflowID(number), "order_outage_retried")
}

func TestPermanentErrorWaitsForOperatorThenRetryFulfills(t *testing.T) {
	user := newUser(t, "perm")
	number := newNumber("PERM")
	course := fmt.Sprintf("course-v1:edX+New%d+2026", orderSeq.Add(1))
	o := sampleOrder(number)
	o["user"] = map[string]any{"username": user}
	o["lines"] = []map[string]any{
		{"id": "1", "product_type": "seat", "course_id": course, "mode": "verified"},
		{"id": "2", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "audit"},
	}
	placeOrder(t, o)
	st := waitStatus(t, number, contract.OrderFulfillmentError, 10*time.Second)
	require.Equal(t, contract.LineFailed, st.Lines[0].State)
	require.Equal(t, "failure", st.Lines[0].Result.Status)
	require.Equal(t, contract.ErrorType(lms.TypeCourseNotFound), st.Lines[0].Result.ErrorType)
	require.Equal(t, 1, st.Lines[0].Attempts, "permanent errors are not retried")
	require.Equal(t, contract.LineFulfilled, st.Lines[1].State)
	visible(t, `OrderStatus="fulfillment_error" AND FailedLines=1`, contract.OrderWorkflowID(number))

	// Nothing to retry on a line that is fine.
	require.Equal(t, http.StatusConflict, call(t, http.MethodPost, "/api/v1/orders/"+number+"/retry",
		map[string]any{"line_ids": []string{"2"}}, nil))
	// The operator fixes the cause, then retries.
	sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": course, "modes": []string{"audit", "verified"}})
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/retry", map[string]any{}, nil))
	st = waitStatus(t, number, contract.OrderFulfilled, 10*time.Second)
	require.Equal(t, 2, st.Lines[0].Attempts)
	require.Equal(t, "verified", enrollment(t, user, course).Mode)
	visible(t, `OrderStatus="fulfilled" AND FailedLines=0`, contract.OrderWorkflowID(number))
	recordHistory(t, contract.OrderWorkflowID(number), "order_failed_then_retried")
}

func TestRefundsRevokeExactlyWhatWasGranted(t *testing.T) {
	user := newUser(t, "refund")
	_, entUUID := newCourse(t)
	// The learner already audits the credit course; the order upgrades it.
	pre := newNumber("PRE")
	placeOrder(t, map[string]any{"number": pre, "user": map[string]any{"username": user},
		"lines":     []map[string]any{{"id": "1", "product_type": "seat", "course_id": sandbox.CreditCourseID, "mode": "audit"}},
		"placed_at": "2026-11-21T10:00:00Z"})
	waitStatus(t, pre, contract.OrderFulfilled, 10*time.Second)

	number := newNumber("REF")
	placeOrder(t, map[string]any{
		"number": number,
		"user":   map[string]any{"username": user},
		"lines": []map[string]any{
			{"id": "seat", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "verified"},
			{"id": "upgrade", "product_type": "upgrade", "course_id": sandbox.CreditCourseID, "mode": "verified"},
			{"id": "ent", "product_type": "entitlement", "course_uuid": entUUID, "mode": "verified"},
			{"id": "gift", "product_type": "donation"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	})
	waitStatus(t, number, contract.OrderFulfilled, 15*time.Second)
	require.Equal(t, "verified", enrollment(t, user, sandbox.CreditCourseID).Mode)

	// A partial refund first, then the rest.
	var res map[string]any
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-1", "line_ids": []string{"upgrade"}}, &res), "%v", res)
	st := waitStatus(t, number, contract.OrderPartiallyRefunded, 10*time.Second)
	require.Eventually(t, func() bool {
		st = status(t, number)
		return len(st.Refunds) == 1 && st.Refunds[0].State == contract.RefundCompleted
	}, 10*time.Second, 50*time.Millisecond)
	up := enrollment(t, user, sandbox.CreditCourseID)
	require.Equal(t, "audit", up.Mode, "an upgrade refund returns the learner to audit")
	require.True(t, up.IsActive, "an upgrade refund does not unenroll")

	// The same refund again changes nothing.
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-1", "line_ids": []string{"upgrade"}}, nil))
	// Unknown lines are rejected.
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-X", "line_ids": []string{"nope"}}, nil))

	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-2", "line_ids": []string{}}, nil))
	st = waitRefunded(t, number, 15*time.Second)
	for _, l := range st.Lines {
		require.Equal(t, contract.LineRevoked, l.State, l.ID)
	}
	seat := enrollment(t, user, sandbox.DemoCourseID)
	require.False(t, seat.IsActive, "a seat refund unenrolls")
	require.Equal(t, 2, seat.Writes, "one enroll and one unenroll, nothing more")
	require.Equal(t, "audit", enrollment(t, user, sandbox.CreditCourseID).Mode)
	ents := snapshot(t, user, "").Entitlements
	require.Len(t, ents, 1)
	require.NotNil(t, ents[0].ExpiredAt, "an entitlement refund revokes the entitlement")
	recordHistory(t, contract.OrderWorkflowID(number), "order_mixed_refunded")
	recordHistory(t, contract.RefundWorkflowID(number, "R-2"), "revoke_mixed")
}

func TestRefundRacingInFlightFulfillmentLeavesNoEnrollment(t *testing.T) {
	for i := range 3 {
		user, number, o := newLearnerOrder(t, "race", "RACE")
		// Slow LMS: the refund arrives while the enroll call is in flight.
		setFaults(t, map[string]any{"latency_ms": 700})
		placeOrder(t, o)
		time.Sleep(time.Duration(i) * 400 * time.Millisecond)
		require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
			map[string]any{"refund_id": "R-1"}, nil))
		st := waitRefunded(t, number, 20*time.Second)
		require.Contains(t, []contract.LineState{contract.LineRevoked, contract.LineRefundedUnfulfilled}, st.Lines[0].State)
		e := findEnrollment(t, user, sandbox.DemoCourseID)
		require.True(t, e == nil || !e.IsActive, "refunded line left enrolled: %+v", e)
		recordHistory(t, contract.OrderWorkflowID(number), fmt.Sprintf("order_refund_race_%d", i))
	}
}

func TestDuplicateAndMalformedSignalsChangeNothing(t *testing.T) {
	user, number, o := newLearnerOrder(t, "sig", "SIG")
	placeOrder(t, o)
	before := waitStatus(t, number, contract.OrderFulfilled, 10*time.Second)
	id := contract.OrderWorkflowID(number)
	ctx := context.Background()
	bad := []struct {
		name string
		arg  any
	}{
		{contract.SignalRefund, "garbage"},
		{contract.SignalRefund, map[string]any{"refund_id": 42}},
		{contract.SignalRefund, map[string]any{"refund_id": "R-1", "line_ids": []string{"no-such-line"}}},
		{contract.SignalRefund, map[string]any{"refund_id": "bad/id"}},
		{contract.SignalRefund, map[string]any{"refund_id": "R-1", "surprise": true}},
		{contract.SignalRetry, map[string]any{"line_ids": "1"}},
		{contract.SignalRetry, map[string]any{"line_ids": []string{"1"}}},
		{contract.SignalRetry, nil},
		{contract.SignalRetry, []int{1, 2, 3}},
	}
	for _, b := range bad {
		require.NoError(t, shared.Client.SignalWorkflow(ctx, id, "", b.name, b.arg))
	}
	// Let the worker process them, then check nothing changed and no
	// workflow task failed.
	time.Sleep(time.Second)
	after := status(t, number)
	require.Equal(t, before.Status, after.Status)
	require.Equal(t, before.Lines, after.Lines)
	require.Empty(t, after.Refunds)
	iter := shared.Client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	signals := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		require.NotEqual(t, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, ev.GetEventType(), "workflow task failed")
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			signals++
		}
	}
	require.Equal(t, len(bad), signals)

	// A valid refund signal still works, and its duplicate is a no-op.
	require.NoError(t, shared.Client.SignalWorkflow(ctx, id, "", contract.SignalRefund, contract.RefundRequest{RefundID: "S-1"}))
	require.NoError(t, shared.Client.SignalWorkflow(ctx, id, "", contract.SignalRefund, contract.RefundRequest{RefundID: "S-1"}))
	st := waitRefunded(t, number, 10*time.Second)
	require.Len(t, st.Refunds, 1)
	require.Equal(t, 2, enrollment(t, user, sandbox.DemoCourseID).Writes)
	recordHistory(t, id, "order_bad_signals_then_refund")
}

// Support sees a retrying line's live attempt count and latest error, which
// only the Temporal server knows between attempts.
func TestRetryingLineShowsLiveAttempts(t *testing.T) {
	user, number, o := newLearnerOrder(t, "live", "LIVE")
	setFaults(t, map[string]any{"error_rate": 1.0, "error_status": 502})
	placeOrder(t, o)
	var st contract.StatusDocument
	require.Eventually(t, func() bool {
		st = status(t, number)
		return st.Lines[0].State == contract.LineRetrying && st.Lines[0].Attempts >= 4
	}, 20*time.Second, 100*time.Millisecond, "attempts never shown: %+v", st)
	require.Contains(t, st.Lines[0].LastError, "ServerError")
	sandboxPost(t, "/sandbox/faults", map[string]any{})
	st = waitStatus(t, number, contract.OrderFulfilled, 20*time.Second)
	require.GreaterOrEqual(t, st.Lines[0].Attempts, 5)
	require.Equal(t, 1, enrollment(t, user, sandbox.DemoCourseID).Writes)
}
