package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
)

// A line waiting for the learner's account is checked with a doubling
// interval, from account_check_interval to max_account_check, not at the
// first interval again after every check.
func TestAwaitAccountBacksOff(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.RefundWindow = 2 * time.Hour
	opts.AccountCheckInterval, opts.MaxAccountCheck = time.Minute, 30*time.Minute
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	m.mu.Lock()
	calls := m.calls["fulfill:1"]
	m.mu.Unlock()
	t.Logf("fulfill calls in a 2h window with checks backing off 1m..30m: %d", calls)
	// 1+2+4+8+16+30+30+30 minutes < 120: about 9 calls with backoff.
	require.LessOrEqual(t, calls, 12, "checks do not back off")
}

// A batch that ends after an operator retried one of its failed lines
// reports the line's earlier outcome: the order keeps following the retry,
// and a refund of the line revokes what the retry granted.
func TestStaleBatchOutcomeTakenForRetry(t *testing.T) {
	var mu sync.Mutex
	enrolled := map[string]bool{}
	m := &fakeModule{}
	m.fulfill = func(req modules.Request, call int) contract.Result {
		switch req.Line.ID {
		case "1":
			switch {
			case call == 1:
				return contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound", Message: "no course"}
			case call < 8:
				return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
			}
			mu.Lock()
			enrolled["1"] = true
			mu.Unlock()
			return modules.Success(map[string]string{"action": "created"})
		case "2":
			if call < 4 {
				return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
			}
		}
		mu.Lock()
		enrolled[req.Line.ID] = true
		mu.Unlock()
		return modules.Success(map[string]string{"action": "created"})
	}
	m.revoke = func(req modules.Request, call int) contract.Result {
		mu.Lock()
		enrolled[req.Line.ID] = false
		mu.Unlock()
		return modules.Success(nil)
	}
	env := newEnv(t, m)
	opts := fastOpts
	opts.BatchSize = 2 // 3 lines: two batch children
	var afterRetry, afterBatch contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		st := query(t, env)
		require.Equal(t, contract.LineFailed, st.Lines[0].State, "live report of the failure")
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"1"}})
	}, 3*time.Second)
	env.RegisterDelayedCallback(func() { afterRetry = query(t, env) }, 4*time.Second)
	env.RegisterDelayedCallback(func() { afterBatch = query(t, env) }, 30*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"1"}})
	}, 31*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(3), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	m.mu.Lock()
	t.Logf("calls: %v", m.calls)
	m.mu.Unlock()
	t.Logf("after retry: line 1 %s; after batch: line 1 %s (%s); final: line 1 %s, order %s",
		afterRetry.Lines[0].State, afterBatch.Lines[0].State, afterBatch.Lines[0].LastError, final.Lines[0].State, final.Status)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("revoke calls for line 1: %d; learner enrolled in line 1 at the end: %v", m.calls["revoke:1"], enrolled["1"])
	require.False(t, enrolled["1"], "refunded learner left enrolled (order says %s)", final.Status)
}

// A refund whose failed revokes are retried line by line reads revoking
// while any of its lines still revokes, and a failed retry marks only its
// own lines.
func TestRefundCompletedWhileALineStillRevokes(t *testing.T) {
	fixed := false
	m := &fakeModule{revoke: func(req modules.Request, call int) contract.Result {
		if !fixed {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "Forbidden", Message: "embargo"}
		}
		if req.Line.ID == "1" && call < 10 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		fixed = true
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"1"}})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"2"}})
	}, 2*time.Minute+time.Second)
	var mid contract.StatusDocument
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, 2*time.Minute+30*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: fastOpts})
	require.NoError(t, env.GetWorkflowError())
	t.Logf("mid: order %s, refund %s, lines %s/%s", mid.Status, mid.Refunds[0].State, mid.Lines[0].State, mid.Lines[1].State)
	require.Equal(t, contract.LineRevoking, mid.Lines[0].State)
	require.Equal(t, contract.RefundRevoking, mid.Refunds[0].State, "refund reads completed while line 1 still revokes")
}

// The late-refunds workflow of a cancelled order keeps it cancelled, does
// not wait for an operator over lines a closed order cannot retry, and
// closes once its refunds ended.
func TestLateRefundsOfCancelledOrder(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if req.Line.ID == "2" {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
		}
		return modules.Success(map[string]string{"action": "created"})
	}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, time.Minute)
	o := testOrder(2)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: o, Options: fastOpts})
	err := env.GetWorkflowError()
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "%v", err)
	var closed contract.StatusDocument
	require.NoError(t, canceled.Details(&closed))
	t.Logf("cancelled order closed as %s, cancelled=%v, lines %s/%s", closed.Status, closed.Cancelled, closed.Lines[0].State, closed.Lines[1].State)

	env2 := newEnv(t, m)
	env2.RegisterWorkflow(LateRefundsWorkflow)
	var afterRefund contract.StatusDocument
	env2.RegisterDelayedCallback(func() {
		env2.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-late", LineIDs: []string{"1"}})
	}, time.Minute)
	env2.RegisterDelayedCallback(func() { afterRefund = query(t, env2) }, 10*time.Minute)
	var pastUntil *contract.StatusDocument
	env2.RegisterDelayedCallback(func() { st := query(t, env2); pastUntil = &st }, 3*time.Hour)
	env2.SetTestTimeout(5 * time.Second)
	env2.ExecuteWorkflow(LateRefundsWorkflow, contract.LateRefundsInput{Order: o, Options: fastOpts, Base: closed, Until: env2.Now().Add(time.Hour)})
	t.Logf("after a late refund of line 1: status %s, cancelled=%v; late workflow closed: %v (%v)", afterRefund.Status, afterRefund.Cancelled, env2.IsWorkflowCompleted(), env2.GetWorkflowError())
	require.Equal(t, contract.OrderCancelled, afterRefund.Status, "a cancelled, closed order reads %s", afterRefund.Status)
	require.True(t, env2.IsWorkflowCompleted(), "the late workflow closes")
	require.Nil(t, pastUntil, "the late workflow was still open past Until")
}

// Cancelling an order stops the checks of lines waiting for the learner's
// account, batched or not.
func TestCancelStopsAccountChecks(t *testing.T) {
	for _, bs := range []int{1, 500} {
		t.Run(itoa(bs), func(t *testing.T) { cancelStopsAccountChecks(t, bs) })
	}
}

func cancelStopsAccountChecks(t *testing.T, batchSize int) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.BatchSize = batchSize
	opts.RefundWindow = 2 * time.Hour
	opts.AccountCheckInterval = time.Minute
	var atCancel int
	var cancelAt time.Time
	env.RegisterDelayedCallback(func() {
		m.mu.Lock()
		atCancel = m.calls["fulfill:1"] + m.calls["fulfill:2"]
		m.mu.Unlock()
		cancelAt = env.Now()
		env.CancelWorkflow()
	}, 10*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: opts})
	m.mu.Lock()
	after := m.calls["fulfill:1"] + m.calls["fulfill:2"] - atCancel
	m.mu.Unlock()
	t.Logf("fulfill calls after cancel: %d; workflow closed %s after the cancel; error: %v", after, env.Now().Sub(cancelAt).Round(time.Second), env.GetWorkflowError())
	require.Zero(t, after, "a cancelled order went on fulfilling")
}

// concModule answers AwaitingAccount and records, per workflow type, how
// many fulfill attempts run at once.
type concModule struct {
	fakeModule
	mu2     sync.Mutex
	running int
	max     int
	byType  map[string]int
}

func (c *concModule) Fulfill(ctx context.Context, req modules.Request) contract.Result {
	c.mu2.Lock()
	c.running++
	c.max = max(c.max, c.running)
	if c.byType == nil {
		c.byType = map[string]int{}
	}
	c.byType[activity.GetInfo(ctx).WorkflowType.Name]++
	c.mu2.Unlock()
	time.Sleep(20 * time.Millisecond)
	c.mu2.Lock()
	c.running--
	c.mu2.Unlock()
	return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
}

// The account checks of a large order run as one fulfillment, in batches
// and under the parallel cap.
func TestAccountChecksBypassBatchesAndCap(t *testing.T) {
	m := &concModule{}
	env := newEnv(t, m)
	opts := fastOpts
	opts.BatchSize = 10
	opts.MaxParallelLines = 2
	opts.RefundWindow = 3 * time.Minute
	opts.AccountCheckInterval = time.Minute
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(30), Options: opts})
	m.mu2.Lock()
	defer m.mu2.Unlock()
	t.Logf("fulfill attempts by workflow type: %v; most at once: %d (max_parallel_lines 2)", m.byType, m.max)
	require.LessOrEqual(t, m.max, 2, "parallel cap exceeded")
}

// A waiting line whose later check fails permanently keeps the grant of
// what was done (the pre-enrollment): its refund undoes it.
func TestPreEnrollmentGrantSurvivesALaterFailure(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if call == 1 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
		}
		return contract.Result{Status: contract.StatusFailure, ErrorType: "ModeNotAvailable", Message: "verified is closed"}
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.AccountCheckInterval = time.Minute
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, 5*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Logf("final: order %s, line %s, revoke calls %d", final.Status, final.Lines[0].State, m.calls["revoke:1"])
	require.Equal(t, 1, m.calls["revoke:1"], "the pre-enrollment was never revoked")
}
