package workflows

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// fakeModule answers from a script and records calls.
type fakeModule struct {
	mu      sync.Mutex
	calls   map[string]int
	fulfill func(req modules.Request, call int) contract.Result
	revoke  func(req modules.Request, call int) contract.Result
}

func (f *fakeModule) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[key]++
	return f.calls[key]
}

func (f *fakeModule) Fulfill(_ context.Context, req modules.Request) contract.Result {
	n := f.count("fulfill:" + req.Line.ID)
	if f.fulfill != nil {
		return f.fulfill(req, n)
	}
	return modules.Success(map[string]string{"prior_mode": "audit"})
}

func (f *fakeModule) Revoke(_ context.Context, req modules.Request) contract.Result {
	n := f.count("revoke:" + req.Line.ID)
	if f.revoke != nil {
		return f.revoke(req, n)
	}
	return modules.Success(nil)
}

type fakeSource struct{ m modules.Module }

func (s fakeSource) Module(string) (modules.Module, bool) { return s.m, true }

func testOrder(n int) order.Order {
	o := order.Order{Number: "T-1", User: order.User{Username: "ada"}, PlacedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	for i := 1; i <= n; i++ {
		o.Lines = append(o.Lines, order.Line{ID: itoa(i), ProductType: order.ProductSeat, CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified"})
	}
	return o
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func newEnv(t *testing.T, m modules.Module) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(sdkworker.Options{})
	env.RegisterWorkflowWithOptions(OrderWorkflow, workflow.RegisterOptions{Name: contract.WorkflowOrder})
	env.RegisterWorkflowWithOptions(RevokeWorkflow, workflow.RegisterOptions{Name: contract.WorkflowRevoke})
	env.RegisterWorkflowWithOptions(LinesWorkflow, workflow.RegisterOptions{Name: contract.WorkflowLines})
	acts := &activities.Activities{Modules: fakeSource{m}}
	env.RegisterActivityWithOptions(acts.FulfillLine, activity.RegisterOptions{Name: contract.ActivityFulfillLine})
	env.RegisterActivityWithOptions(acts.RevokeLine, activity.RegisterOptions{Name: contract.ActivityRevokeLine})
	env.RegisterActivityWithOptions(acts.ObserveLine, activity.RegisterOptions{Name: contract.ActivityObserveLine})
	return env
}

func query(t *testing.T, env *testsuite.TestWorkflowEnvironment) contract.StatusDocument {
	t.Helper()
	v, err := env.QueryWorkflow(contract.QueryStatus)
	require.NoError(t, err)
	var st contract.StatusDocument
	require.NoError(t, v.Get(&st))
	return st
}

var fastOpts = contract.Options{RefundWindow: time.Hour, RetryHorizon: 10 * time.Minute, InitialRetryInterval: time.Second, MaxRetryInterval: 10 * time.Second}

func TestOrderFulfilledThenClosesAfterRefundWindow(t *testing.T) {
	m := &fakeModule{}
	env := newEnv(t, m)
	var mid contract.StatusDocument
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, 30*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(3), Options: fastOpts})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderFulfilled, mid.Status)
	require.False(t, mid.Closed)
	require.Equal(t, contract.OrderFulfilled, final.Status)
	require.True(t, final.Closed)
	for _, l := range final.Lines {
		require.Equal(t, contract.LineFulfilled, l.State)
		require.Equal(t, 1, l.Attempts)
	}
}

func TestTransientErrorsRetryUntilFulfilled(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if call <= 6 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Message: "LMS 503", Retryable: true}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	var during contract.StatusDocument
	env.RegisterDelayedCallback(func() { during = query(t, env) }, 5*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.LineRetrying, during.Lines[0].State)
	require.Contains(t, during.Lines[0].LastError, "ServerError")
	require.Equal(t, contract.OrderFulfilled, final.Status)
	require.Equal(t, 7, final.Lines[0].Attempts)
}

func TestPermanentErrorParksLineUntilOperatorRetry(t *testing.T) {
	fixed := false
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if !fixed {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound", Message: "No course found"}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	var failed contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		failed = query(t, env)
		fixed = true
		// Malformed and unknown-line signals are ignored.
		env.SignalWorkflow(contract.SignalRetry, map[string]any{"line_ids": 5})
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"nope"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, contract.OrderFulfillmentError, query(t, env).Status)
		env.SignalWorkflow(contract.SignalRetry, nil)
	}, 2*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderFulfillmentError, failed.Status)
	require.Equal(t, contract.LineFailed, failed.Lines[0].State)
	require.Equal(t, contract.ErrorType("CourseNotFound"), failed.Lines[0].Result.ErrorType)
	require.Equal(t, 1, failed.Lines[0].Attempts, "permanent errors are not retried")
	require.Equal(t, contract.OrderFulfilled, final.Status)
}

func TestRefundRevokesWithGrantAndDuplicateIsNoop(t *testing.T) {
	var grants []map[string]string
	var mu sync.Mutex
	m := &fakeModule{revoke: func(req modules.Request, call int) contract.Result {
		mu.Lock()
		grants = append(grants, req.Grant)
		mu.Unlock()
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"1"}})
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"2"}})
		env.SignalWorkflow(contract.SignalRefund, "not a refund")
	}, time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderPartiallyRefunded, final.Status)
	require.Equal(t, contract.LineRevoked, final.Lines[0].State)
	require.Equal(t, contract.LineFulfilled, final.Lines[1].State)
	require.Len(t, final.Refunds, 1)
	require.Equal(t, contract.RefundCompleted, final.Refunds[0].State)
	require.Equal(t, []map[string]string{{"prior_mode": "audit"}}, grants)
}

func TestRefundOfUnfulfilledLineRevokesNothing(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		return contract.Result{Status: contract.StatusFailure, ErrorType: "UserNotFound", Message: "no such user"}
	}}
	env := newEnv(t, m)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-9"})
	}, time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderRefunded, final.Status)
	require.Equal(t, contract.LineRefundedUnfulfilled, final.Lines[0].State)
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Zero(t, m.calls["revoke:1"])
}

func TestDecodeSignal(t *testing.T) {
	var r contract.RefundRequest
	require.NoError(t, decodeSignal(nil, &r))
	require.NoError(t, decodeSignal([]byte(`{"refund_id":"R","line_ids":["1"]}`), &r))
	require.Error(t, decodeSignal([]byte(`{"refund_id":"R","extra":1}`), &r))
	require.Error(t, decodeSignal([]byte(`{"refund_id":5}`), &r))
	require.Error(t, decodeSignal([]byte(`{} {}`), &r))
}

func TestFailedRevokeIsRetriedByOperator(t *testing.T) {
	fixed := false
	m := &fakeModule{revoke: func(req modules.Request, call int) contract.Result {
		if !fixed {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "Forbidden", Message: "embargo"}
		}
		require.Equal(t, "audit", req.Grant["prior_mode"], "the retry revokes with the grant of the fulfillment")
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	var broken contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1", LineIDs: []string{"1"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		broken = query(t, env)
		fixed = true
		env.SignalWorkflow(contract.SignalRetry, contract.RetryRequest{LineIDs: []string{"1"}})
	}, 2*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(2), Options: fastOpts})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderRevocationError, broken.Status)
	require.Equal(t, contract.LineRevokeFailed, broken.Lines[0].State)
	require.Equal(t, contract.RefundRevocationError, broken.Refunds[0].State)
	require.Equal(t, contract.OrderPartiallyRefunded, final.Status)
	require.Equal(t, contract.LineRevoked, final.Lines[0].State)
	require.Equal(t, contract.RefundCompleted, final.Refunds[0].State)
	require.Equal(t, contract.LineRevoked, final.Refunds[0].Lines[0].State)
}

func TestContinuedOrderResumesFromCarriedState(t *testing.T) {
	m := &fakeModule{}
	env := newEnv(t, m)
	o := testOrder(3)
	ok := modules.Success(map[string]string{"prior_mode": "audit"})
	failed := contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound"}
	carry := &contract.OrderCarry{
		Lines: []contract.LineStatus{
			{ID: "1", ProductType: "seat", State: contract.LineFulfilled, Result: &ok, Attempts: 1},
			{ID: "2", ProductType: "seat", State: contract.LinePending},
			{ID: "3", ProductType: "seat", State: contract.LineFailed, Result: &failed, Attempts: 1, LastError: "CourseNotFound"},
		},
		Refunds:  []contract.RefundStatus{},
		Deadline: env.Now().Add(time.Hour),
		Seq:      4,
	}
	var mid contract.StatusDocument
	env.RegisterDelayedCallback(func() {
		mid = query(t, env)
		env.SignalWorkflow(contract.SignalRetry, nil)
	}, time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: o, Options: fastOpts, Carry: carry})
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.OrderFulfillmentError, mid.Status)
	require.Equal(t, contract.LineFulfilled, mid.Lines[1].State, "the pending line ran after the restart")
	require.Equal(t, contract.OrderFulfilled, final.Status)
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Zero(t, m.calls["fulfill:1"], "a line fulfilled before continue-as-new is not run again")
	require.Equal(t, 1, m.calls["fulfill:2"])
	require.Equal(t, 1, m.calls["fulfill:3"])
	require.WithinDuration(t, carry.Deadline, final.RefundWindowEndsAt, time.Second)
}

// observingModule is a fakeModule with an Observe that finds no
// enrollment; it records whether each fulfill was handed a fresh prior.
type observingModule struct {
	fakeModule
	freshMu sync.Mutex
	fresh   map[string][]bool
}

func (o *observingModule) Observe(context.Context, modules.Request) contract.Result {
	return modules.Success(map[string]string{modules.PriorExists: "false", modules.PriorActive: "false"})
}

func (o *observingModule) Fulfill(ctx context.Context, req modules.Request) contract.Result {
	o.freshMu.Lock()
	if o.fresh == nil {
		o.fresh = map[string][]bool{}
	}
	o.fresh[req.Line.ID] = append(o.fresh[req.Line.ID], req.PriorFresh)
	o.freshMu.Unlock()
	return o.fakeModule.Fulfill(ctx, req)
}

// The fulfill right after a line's observation writes from it; its
// retries, which may follow a write of their own, read again — in a small
// order and in a batch child alike.
func TestOnlyTheFulfillRightAfterTheObservationWritesFromIt(t *testing.T) {
	for _, c := range []struct{ batch, flow int }{{0, 0}, {2, 0}, {0, contract.CurrentFlow}, {2, contract.CurrentFlow}} {
		batch := c.batch
		m := &observingModule{}
		m.fulfill = func(req modules.Request, call int) contract.Result {
			if req.Line.ID == "1" && call == 1 {
				return contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Message: "LMS 503", Retryable: true}
			}
			return modules.Success(nil)
		}
		env := newEnv(t, m)
		opts := fastOpts
		opts.BatchSize = batch
		env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(4), Options: opts, Flow: c.flow})
		var final contract.StatusDocument
		require.NoError(t, env.GetWorkflowResult(&final))
		require.Equal(t, contract.OrderFulfilled, final.Status)
		require.Equal(t, map[string][]bool{"1": {true, false}, "2": {true}, "3": {true}, "4": {true}}, m.fresh, "%+v", c)
	}
}

// A worker given a flow newer than its own fails the workflow task (a
// panic the SDK turns into a task failure) rather than run the order by
// rules it does not know.
func TestFlowNewerThanTheWorkerPanics(t *testing.T) {
	require.Panics(t, func() { flowVersions(contract.CurrentFlow + 1) })
	v, ok := flowVersions(contract.CurrentFlow)
	require.True(t, ok)
	require.Equal(t, leanVersions(2), v, "flow 1 is lean-start version 2")
	_, ok = flowVersions(0)
	require.False(t, ok)
}

// The wait-settled update answers a settled small order's status document
// (the caller need not query), and only whether it settled for a larger one.
func TestWaitSettledAnswersTheDocumentOfSmallOrders(t *testing.T) {
	for _, lines := range []int{3, contract.WaitDocumentMaxLines + 1} {
		env := newEnv(t, &fakeModule{})
		var res contract.WaitSettledResult
		var updErr error
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(contract.UpdateWaitSettled, "wait-1", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(err error) { updErr = err },
				OnComplete: func(v interface{}, err error) {
					updErr = err
					if err == nil {
						res = v.(contract.WaitSettledResult)
					}
				},
			})
		}, time.Minute)
		env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(lines), Options: fastOpts, Flow: contract.CurrentFlow})
		require.NoError(t, env.GetWorkflowError())
		require.NoError(t, updErr)
		require.True(t, res.Settled)
		require.Equal(t, contract.OrderFulfilled, res.Status)
		if lines > contract.WaitDocumentMaxLines {
			require.Nil(t, res.Document, "too large to write into the history with every wait")
			continue
		}
		require.NotNil(t, res.Document)
		require.Len(t, res.Document.Lines, lines)
		require.Equal(t, contract.OrderFulfilled, res.Document.Status)
		require.True(t, res.Document.Settled())
	}
}
