package workflows

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
)

// enrollModule models an LMS: fulfill enrolls (even when the answer is an
// error, like a gateway 504 after the LMS wrote), revoke unenrolls.
type enrollModule struct {
	fakeModule
	mu       sync.Mutex
	enrolled map[string]bool
}

func (e *enrollModule) set(id string, v bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enrolled == nil {
		e.enrolled = map[string]bool{}
	}
	e.enrolled[id] = v
}
func (e *enrollModule) is(id string) bool { e.mu.Lock(); defer e.mu.Unlock(); return e.enrolled[id] }

// A signal that cannot even be decoded is dropped without blocking the next one.
func TestUndecodableSignalDoesNotBlockLaterSignals(t *testing.T) {
	m := &fakeModule{}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		// any proto message is encoded json/protobuf: not decodable into *json.RawMessage
		env.SignalWorkflow(contract.SignalRetry, &commonpb.WorkflowExecution{WorkflowId: "x"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, 2*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	t.Logf("final status %s refunds %d line %s", final.Status, len(final.Refunds), final.Lines[0].State)
	require.Equal(t, contract.OrderRefunded, final.Status, "refund signal after a corrupt retry signal was never processed")
}

// The LMS's Retry-After is honoured from the first retry on.
func TestRetryAfterIsHonouredBetweenAttempts(t *testing.T) {
	var times []time.Time
	var mu sync.Mutex
	var envNow func() time.Time
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		mu.Lock()
		times = append(times, envNow())
		mu.Unlock()
		if call <= 3 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "RateLimited", Retryable: true, RetryAfterSeconds: 60}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	envNow = env.Now
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	require.NoError(t, env.GetWorkflowError())
	for i := 1; i < len(times); i++ {
		t.Logf("gap before attempt %d: %s", i+1, times[i].Sub(times[i-1]))
	}
	require.GreaterOrEqual(t, times[1].Sub(times[0]), 60*time.Second, "attempt 2 ignored Retry-After: 60")
}

// The parallel cap holds for the whole order, across its batches.
func TestParallelCapHoldsAcrossBatches(t *testing.T) {
	var cur, peak int32
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		n := atomic.AddInt32(&cur, 1)
		for {
			p := atomic.LoadInt32(&peak)
			if n <= p || atomic.CompareAndSwapInt32(&peak, p, n) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		atomic.AddInt32(&cur, -1)
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.MaxParallelLines = 1
	opts.BatchSize = 2
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(8), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	t.Logf("peak concurrent module calls = %d with MaxParallelLines=1", peak)
	require.LessOrEqual(t, peak, int32(1))
}

// A signal delivered as continue-as-new is suggested is handled, not dropped.
func TestContinueAsNewKeepsUnreadSignals(t *testing.T) {
	m := &fakeModule{}
	env := newEnv(t, m)
	// Models one real workflow task that carries the refund signal and
	// starts with suggest_continue_as_new=true: the signal is put in the
	// channel without a task, then the flag flips and a task runs.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
	}, time.Minute+time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "expected continue-as-new, got %v", err)
	var next contract.OrderInput
	require.NoError(t, decodeCAN(can, &next))
	t.Logf("carry refunds: %d, line state %s", len(next.Carry.Refunds), next.Carry.Lines[0].State)
	require.Len(t, next.Carry.Refunds, 1, "the refund signal was lost across continue-as-new")
}

// A line refunded while retrying may have been written by the LMS: it is revoked.
func TestRefundDuringRetryRevokesUncertainLine(t *testing.T) {
	m := &enrollModule{}
	m.fakeModule.fulfill = func(req modules.Request, call int) contract.Result {
		m.set(req.Line.ID, true) // the LMS wrote
		if call <= 5 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "GatewayTimeout", Message: "504", Retryable: true}
		}
		return modules.Success(nil)
	}
	m.fakeModule.revoke = func(req modules.Request, call int) contract.Result {
		m.set(req.Line.ID, false)
		return modules.Success(nil)
	}
	env := newEnv(t, &m.fakeModule)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, 2*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	t.Logf("final %s line %s enrolled=%v", final.Status, final.Lines[0].State, m.is("1"))
	require.False(t, m.is("1"), "refunded line left enrolled")
}

func decodeCAN(can *workflow.ContinueAsNewError, v any) error {
	return converterDefault().FromPayloads(can.Input, v)
}

func converterDefault() converter.DataConverter { return converter.GetDefaultDataConverter() }

// Cancelling the order does not drop a refund that waits for a running attempt.
func TestCancelledOrderStillRunsAcceptedRefunds(t *testing.T) {
	m := &enrollModule{}
	env := newEnv(t, &m.fakeModule)
	m.fakeModule.fulfill = func(req modules.Request, call int) contract.Result {
		m.set(req.Line.ID, true) // the LMS writes, then the answer is lost
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
		time.Sleep(100 * time.Millisecond)
		env.CancelWorkflow()
		time.Sleep(300 * time.Millisecond)
		return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorType(lms.TypeTimeout), Retryable: true}
	}
	m.fakeModule.revoke = func(req modules.Request, call int) contract.Result {
		m.set(req.Line.ID, false)
		return modules.Success(nil)
	}
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	require.True(t, env.IsWorkflowCompleted())
	t.Logf("workflow error: %v", env.GetWorkflowError())
	time.Sleep(500 * time.Millisecond)
	m.fakeModule.mu.Lock()
	revokes := m.fakeModule.calls["revoke:1"]
	m.fakeModule.mu.Unlock()
	t.Logf("revoke calls: %d, enrolled: %v", revokes, m.is("1"))
	require.False(t, m.is("1"), "refunded line left enrolled")
}

// A cancelled batch still reports every line by id.
func TestCancelledBatchReportsEveryLine(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.MaxParallelLines = 1
	o := testOrder(3)
	var items []LineItem
	for _, l := range o.Lines {
		items = append(items, LineItem{Line: l})
	}
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 10*time.Second)
	env.ExecuteWorkflow(LinesWorkflow, LinesInput{OrderNumber: "T-1", User: o.User, Action: contract.ActionFulfill, Items: items, Options: opts})
	var outs []LineOutcome
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, env.GetWorkflowResult(&outs))
	require.Len(t, outs, 3)
	for i, o := range outs {
		require.Equal(t, o.ID, items[i].Line.ID, "cancelled batch reports an outcome without a line id")
		require.NotEqual(t, contract.StatusSuccess, o.Result.Status)
	}
}

// Lines a batch did not report are failed for an operator, never a panic.
func TestLinesMissingFromBatchResultAreFailed(t *testing.T) {
	env := newEnv(t, &fakeModule{})
	env.OnWorkflow("LinesWorkflow", mock.Anything, mock.Anything).Return(
		[]LineOutcome{{ID: "1", Result: contract.Result{Status: contract.StatusFailure}}, {}, {}}, nil).Once()
	env.OnWorkflow("LinesWorkflow", mock.Anything, mock.Anything).Return(
		[]LineOutcome{{ID: "4", Result: modules.Success(nil)}}, nil)
	opts := fastOpts
	opts.BatchSize = 3
	var mid contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		mid = query(t, env)
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "ALL"})
	}, time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(4), Options: opts})
	t.Logf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, contract.ErrorTypeBatchFailed, mid.Lines[1].Result.ErrorType, "a line the batch did not report is failed, for an operator")
	require.Equal(t, contract.LineFailed, mid.Lines[2].State)
}

// Attempts that hang past their time limit end in RetryHorizonExceeded.
func TestHungAttemptsEndInGaveUp(t *testing.T) {
	var calls int32
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		atomic.AddInt32(&calls, 1)
		time.Sleep(150 * time.Millisecond)
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	env.SetTestTimeout(30 * time.Second)
	opts := fastOpts
	opts.ActivityTimeout = 100 * time.Millisecond
	opts.RetryHorizon = 3 * time.Second
	opts.InitialRetryInterval = 100 * time.Millisecond
	opts.MaxRetryInterval = 200 * time.Millisecond
	opts.RefundWindow = time.Minute
	var st contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		st = query(t, env)
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, 30*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	t.Logf("module calls=%d, line state=%s attempts=%d err=%s", atomic.LoadInt32(&calls), st.Lines[0].State, st.Lines[0].Attempts, st.Lines[0].LastError)
	// Attempts that never answer are counted once per round: the history
	// has no trace of the others (the Web UI's pending activity shows them).
	require.Equal(t, contract.LineFailed, st.Lines[0].State)
	require.Equal(t, contract.ErrorTypeRetryHorizonExceeded, st.Lines[0].Result.ErrorType)
	require.GreaterOrEqual(t, st.Lines[0].Attempts, 2)
}

// A refund stops a line still waiting for a parallel slot.
func TestRefundStopsQueuedLine(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if req.Line.ID == "1" {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.MaxParallelLines = 1
	var mid contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-2", LineIDs: []string{"2"}})
	}, 5*time.Second)
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, 40*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: opts})
	t.Logf("line1=%s attempts=%d err=%s", mid.Lines[0].State, mid.Lines[0].Attempts, mid.Lines[0].LastError)
	t.Logf("35s after refund: line2=%s refund=%s order=%s", mid.Lines[1].State, mid.Refunds[0].State, mid.Status)
	require.NotEqual(t, contract.RefundRevoking, mid.Refunds[0].State)
}

// A refund of a line inside a batch does not wait for the rest of the batch.
func TestRefundOfBatchedLineDoesNotWaitForBatch(t *testing.T) {
	m := &enrollModule{}
	m.fakeModule.fulfill = func(req modules.Request, call int) contract.Result {
		if req.Line.ID == "1" {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
		}
		m.set(req.Line.ID, true)
		return modules.Success(nil)
	}
	m.fakeModule.revoke = func(req modules.Request, call int) contract.Result {
		m.set(req.Line.ID, false)
		return modules.Success(nil)
	}
	env := newEnv(t, &m.fakeModule)
	opts := fastOpts
	opts.BatchSize = 2
	var mid contract.StatusDocument
	var enrolledMid bool
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-2", LineIDs: []string{"2"}})
	}, 5*time.Second)
	env.RegisterDelayedCallback(func() { mid = query(t, env); enrolledMid = m.is("2") }, 40*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(4), Options: opts})
	t.Logf("line1=%s attempts=%d err=%s", mid.Lines[0].State, mid.Lines[0].Attempts, mid.Lines[0].LastError)
	t.Logf("35s after refund: line2=%s refund=%s enrolled=%v", mid.Lines[1].State, mid.Refunds[0].State, enrolledMid)
	require.False(t, enrolledMid, "refunded learner still enrolled 35s after the refund")
}

// No refund id can collide with the ids of internal child workflows.
func TestRefundIDsCannotCollideWithInternalIDs(t *testing.T) {
	fixed := false
	m := &fakeModule{revoke: func(req modules.Request, call int) contract.Result {
		if !fixed {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "Forbidden", Message: "embargo"}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"1"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		fixed = true
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"1"}})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1-retry-2", LineIDs: []string{"2"}})
	}, 3*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	for _, l := range final.Lines {
		t.Logf("line %s %s %s", l.ID, l.State, l.LastError)
	}
	require.Equal(t, contract.LineRevoked, final.Lines[1].State)
}

// The refund document tracks every line, also when the revoke workflow fails.
func TestRefundDocumentTracksEveryLine(t *testing.T) {
	fixed := false
	m := &fakeModule{
		fulfill: func(req modules.Request, call int) contract.Result {
			if req.Line.ID == "3" {
				return contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound"}
			}
			return modules.Success(nil)
		},
		revoke: func(req modules.Request, call int) contract.Result {
			if !fixed {
				return contract.Result{Status: contract.StatusFailure, ErrorType: "Forbidden", Message: "embargo"}
			}
			return modules.Success(nil)
		}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"1"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		fixed = true
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"1"}})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1-retry-2", LineIDs: []string{"2", "3"}})
	}, 3*time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"2"}})
	}, 4*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(3), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	for _, l := range final.Lines {
		t.Logf("line %s %s", l.ID, l.State)
	}
	for _, r := range final.Refunds {
		t.Logf("refund %s %s %+v", r.RefundID, r.State, r.Lines)
	}
	require.Equal(t, contract.LineRefundedUnfulfilled, final.Refunds[1].Lines[1].State, "refund document still says revoking")
}
