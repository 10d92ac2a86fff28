package starter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/contract"
)

// memoClient is fakeClient with the workflow types started and the memos
// of its starts in its describe answers.
type memoClient struct {
	*fakeClient
	types []any
}

func (m *memoClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	m.types = append(m.types, wf)
	return m.fakeClient.ExecuteWorkflow(ctx, opts, wf, args...)
}

func (m *memoClient) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	resp, err := m.fakeClient.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return nil, err
	}
	for _, o := range m.starts {
		if o.ID != id || o.Memo == nil {
			continue
		}
		fields := map[string]*commonpb.Payload{}
		for k, v := range o.Memo {
			p, err := m.dc.ToPayload(v)
			if err != nil {
				return nil, err
			}
			fields[k] = p
		}
		resp.WorkflowExecutionInfo.Memo = &commonpb.Memo{Fields: fields}
		break
	}
	return resp, nil
}

func TestRememberRefundedOnceAndReadItBack(t *testing.T) {
	mc := &memoClient{fakeClient: newFakeClient()}
	s := New(mc, Config{})
	ctx := context.Background()

	_, found, err := s.RememberedRefund(ctx, "W-1")
	require.NoError(t, err)
	require.False(t, found)

	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	m := contract.RefundedMarker{OrderNumber: "W-1", StoreModifiedAt: at, DeliveryID: "d-9"}
	created, err := s.RememberRefunded(ctx, m)
	require.NoError(t, err)
	require.True(t, created)
	opts := mc.starts[0]
	require.Equal(t, "order-W-1~refunded", opts.ID)
	require.Equal(t, contract.WorkflowRefundedMarker, mc.types[0])
	require.Equal(t, contract.TaskQueue, opts.TaskQueue)
	require.True(t, opts.WorkflowExecutionErrorWhenAlreadyStarted)
	require.Equal(t, m, mc.started[opts.ID].input)

	// A second refunded delivery, even a later one, keeps the first record.
	created, err = s.RememberRefunded(ctx, contract.RefundedMarker{OrderNumber: "W-1", StoreModifiedAt: at.Add(time.Hour)})
	require.NoError(t, err)
	require.False(t, created)

	got, found, err := s.RememberedRefund(ctx, "W-1")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, m, got)

	_, err = s.RememberRefunded(ctx, contract.RefundedMarker{OrderNumber: "a~b"})
	require.ErrorIs(t, err, ErrInvalidRequest)

	mc.startFn = func(string) error { return serviceerror.NewUnavailable("down") }
	_, err = s.RememberRefunded(ctx, contract.RefundedMarker{OrderNumber: "W-2"})
	require.ErrorIs(t, err, ErrUnavailable)
}
