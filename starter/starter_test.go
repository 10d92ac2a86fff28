package starter

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// fakeClient answers the calls the Starter makes with server-like
// semantics for one workflow ID space. Other client methods panic.
type fakeClient struct {
	client.Client
	dc      converter.DataConverter
	started map[string]fakeRun // workflow ID -> run
	starts  []client.StartWorkflowOptions
	startFn func(id string) error
	result  contract.StatusDocument
	updErr  error
}

type fakeRun struct {
	id, runID string
	input     any
	running   bool
}

func newFakeClient() *fakeClient {
	return &fakeClient{dc: converter.GetDefaultDataConverter(), started: map[string]fakeRun{}}
}

func (f *fakeClient) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, opts)
	if f.startFn != nil {
		if err := f.startFn(opts.ID); err != nil {
			return nil, err
		}
	}
	if r, ok := f.started[opts.ID]; ok {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStartedWithFirstExecutionRunId("already", "req", r.runID, r.runID)
	}
	r := fakeRun{id: opts.ID, runID: fmt.Sprintf("run-%d", len(f.starts)), input: args[0], running: true}
	f.started[opts.ID] = r
	return &fakeWorkflowRun{r: r}, nil
}

func (f *fakeClient) GetWorkflowHistory(_ context.Context, id, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	r, ok := f.started[id]
	if !ok || r.runID != runID {
		return &fakeIter{err: serviceerror.NewNotFound("no such run")}
	}
	p, err := f.dc.ToPayloads(r.input)
	if err != nil {
		panic(err)
	}
	return &fakeIter{ev: &historypb.HistoryEvent{
		EventType:  enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: p}},
	}}
}

func (f *fakeClient) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	r, ok := f.started[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	st := enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	if r.running {
		st = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: r.runID}, Status: st, FirstRunId: r.runID,
	}}, nil
}

func (f *fakeClient) GetWorkflow(_ context.Context, id, runID string) client.WorkflowRun {
	return &fakeWorkflowRun{r: fakeRun{id: id, runID: runID}, result: f.result}
}

func (f *fakeClient) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if _, ok := f.started[opts.WorkflowID]; !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &fakeUpdate{err: f.updErr}, nil
}

type fakeIter struct {
	ev   *historypb.HistoryEvent
	err  error
	done bool
}

func (it *fakeIter) HasNext() bool { return !it.done }
func (it *fakeIter) Next() (*historypb.HistoryEvent, error) {
	it.done = true
	return it.ev, it.err
}

type fakeWorkflowRun struct {
	r      fakeRun
	result contract.StatusDocument
}

func (w *fakeWorkflowRun) GetID() string    { return w.r.id }
func (w *fakeWorkflowRun) GetRunID() string { return w.r.runID }

func (w *fakeWorkflowRun) GetFirstExecutionRunID() string { return w.r.runID }
func (w *fakeWorkflowRun) Get(_ context.Context, v any) error {
	if p, ok := v.(*contract.StatusDocument); ok {
		*p = w.result
	}
	return nil
}
func (w *fakeWorkflowRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return w.Get(ctx, v)
}

type fakeUpdate struct{ err error }

func (u *fakeUpdate) WorkflowID() string { return "" }
func (u *fakeUpdate) RunID() string      { return "" }
func (u *fakeUpdate) UpdateID() string   { return "" }
func (u *fakeUpdate) Get(_ context.Context, v any) error {
	if u.err != nil {
		return u.err
	}
	if p, ok := v.(*contract.RefundResult); ok {
		p.RefundID = "r"
	}
	return nil
}

func testOrder(number string) order.Order {
	return order.Order{
		Number: number,
		User:   order.User{Username: "learner1", Email: "l@example.com"},
		Lines: []order.Line{
			{ID: "1", ProductType: order.ProductSeat, CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified"},
			{ID: "2", ProductType: order.ProductSeat, CourseID: "course-v1:edX+Other+2026", Mode: "audit"},
		},
		PlacedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
	}
}

func TestStartOrderOnceThenDuplicateOrConflict(t *testing.T) {
	fc := newFakeClient()
	s := New(fc, Config{Options: contract.Options{MaxParallelLines: 3}})
	ctx := context.Background()
	o := testOrder("N-1")

	res, created, err := s.StartOrder(ctx, o)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, StartResult{OrderNumber: "N-1", WorkflowID: "order-N-1", RunID: "run-1"}, res)
	opts := fc.starts[0]
	require.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, opts.WorkflowIDReusePolicy)
	require.True(t, opts.WorkflowExecutionErrorWhenAlreadyStarted)
	require.Equal(t, contract.TaskQueue, opts.TaskQueue)
	require.Empty(t, opts.Memo, "no personal data in memos")
	sa := opts.TypedSearchAttributes
	num, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrOrderNumber))
	require.True(t, ok)
	require.Equal(t, "N-1", num)
	st, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrOrderStatus))
	require.True(t, ok)
	require.Equal(t, string(contract.OrderFulfilling), st)
	ids, ok := sa.GetKeywordList(temporal.NewSearchAttributeKeyKeywordList(contract.SearchAttrCourseIDs))
	require.True(t, ok)
	require.Equal(t, []string{"course-v1:edX+DemoX+Demo_Course", "course-v1:edX+Other+2026"}, ids)
	failed, ok := sa.GetInt64(temporal.NewSearchAttributeKeyInt64(contract.SearchAttrFailedLines))
	require.True(t, ok, "the order need not upsert what its start sets")
	require.Zero(t, failed)
	require.Equal(t, 4, sa.Size(), "no username or email in search attributes")
	in, ok := fc.started["order-N-1"].input.(contract.OrderInput)
	require.True(t, ok)
	require.Equal(t, 3, in.Options.MaxParallelLines)

	// Same content, lines reordered and another time zone: a duplicate.
	same := o
	same.Lines = []order.Line{o.Lines[1], o.Lines[0]}
	same.PlacedAt = o.PlacedAt.In(time.FixedZone("X", 7200))
	res, created, err = s.StartOrder(ctx, same)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "run-1", res.RunID)

	other := testOrder("N-1")
	other.User.Email = "someone-else@example.com"
	_, _, err = s.StartOrder(ctx, other)
	require.ErrorIs(t, err, ErrConflict)
	require.NotContains(t, err.Error(), "@", "no personal data in errors")

	bad := testOrder("N-2")
	bad.Lines = nil
	_, _, err = s.StartOrder(ctx, bad)
	var verr *order.ValidationError
	require.ErrorAs(t, err, &verr)

	fc.startFn = func(string) error { return serviceerror.NewUnavailable("down") }
	_, _, err = s.StartOrder(ctx, testOrder("N-3"))
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestStatusAndNotFound(t *testing.T) {
	fc := newFakeClient()
	s := New(fc, Config{})
	_, err := s.Status(context.Background(), "NOPE")
	require.ErrorIs(t, err, ErrNotFound)

	fc.started["order-C-1"] = fakeRun{id: "order-C-1", runID: "r1"}
	fc.result = contract.StatusDocument{OrderNumber: "C-1", Status: contract.OrderFulfilled, Closed: true}
	st, err := s.Status(context.Background(), "C-1")
	require.NoError(t, err)
	require.True(t, st.Closed)
}

func TestUpdateRejectionsMapToSentinels(t *testing.T) {
	fc := newFakeClient()
	s := New(fc, Config{})
	ctx := context.Background()
	_, _, err := s.StartOrder(ctx, testOrder("U-1"))
	require.NoError(t, err)

	// Rejections are classified by their type, whatever their text says.
	for typ, want := range map[contract.ErrorType]error{
		contract.ErrorTypeUnknownLines:    ErrUnknownLines,
		contract.ErrorTypeNothingToRetry:  ErrNothingToRetry,
		contract.ErrorTypeAlreadyRefunded: ErrAlreadyRefunded,
		contract.ErrorTypeBadRequest:      ErrInvalidRequest,
		"SomethingNew":                    ErrRejected,
	} {
		fc.updErr = temporal.NewApplicationError("unknown line: nothing to retry", string(typ))
		_, err := s.Retry(ctx, "U-1", contract.RetryRequest{LineIDs: []string{"7"}})
		require.ErrorIs(t, err, want, typ)
		require.Equal(t, "unknown line: nothing to retry", Detail(err))
	}
	require.ErrorIs(t, ErrAlreadyRefunded, ErrRejected, "the API answers an already refunded line as a rejection")
	fc.updErr = nil
	res, err := s.Refund(ctx, "U-1", contract.RefundRequest{RefundID: "r"})
	require.NoError(t, err)
	require.Equal(t, "r", res.RefundID)
}

func TestListRejectsUnknownStatus(t *testing.T) {
	s := New(newFakeClient(), Config{})
	_, err := s.List(context.Background(), "x' OR 1=1", 10, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
}

func TestClassify(t *testing.T) {
	require.ErrorIs(t, classify(serviceerror.NewNotFound("x"), "op"), ErrNotFound)
	require.ErrorIs(t, classify(serviceerror.NewUnavailable("x"), "op"), ErrUnavailable)
	require.ErrorIs(t, classify(serviceerror.NewInvalidArgument("Namespace default has no mapping defined for search attribute CourseIds"), "op"), ErrUnavailable)
	// A status query while the workers reconnect (seen under kill -9).
	require.ErrorIs(t, classify(serviceerror.NewFailedPrecondition("no poller seen for task queue recently, worker may be down"), "op"), ErrUnavailable)
	require.NotErrorIs(t, classify(serviceerror.NewFailedPrecondition("other"), "op"), ErrUnavailable)
	// A query cancelled by a frontend going down (seen when the server was
	// killed under load).
	require.ErrorIs(t, classify(serviceerror.NewCanceled("context canceled"), "op"), ErrUnavailable)
	require.ErrorIs(t, classify(fmt.Errorf("query: %w", context.Canceled), "op"), ErrUnavailable)
	other := errors.New("boom")
	require.ErrorIs(t, classify(other, "op"), other)
	require.NoError(t, classify(nil, "op"))
}

// ListWorkflow answers the late-refund lookup of closed orders: the fake
// holds no revoke workflows started after close.
func (f *fakeClient) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	return &workflowservice.ListWorkflowExecutionsResponse{}, nil
}
