package starter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
)

// cancelledClient: an order cancelled by an earlier version,
// which returned w.snapshot(false), err: its close is a CanceledError with
// no details. Its document is still readable by the status query.
type cancelledClient struct {
	*fakeClient
	doc contract.StatusDocument
}

func (c *cancelledClient) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	resp, err := c.fakeClient.DescribeWorkflowExecution(ctx, id, runID)
	if err == nil && id == contract.OrderWorkflowID("OLD-1") {
		resp.WorkflowExecutionInfo.Status = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}
	return resp, err
}

type cancelledRun struct{ client.WorkflowRun }

func (cancelledRun) Get(context.Context, any) error { return temporal.NewCanceledError() }

func (c *cancelledClient) GetWorkflow(ctx context.Context, id, runID string) client.WorkflowRun {
	return cancelledRun{c.fakeClient.GetWorkflow(ctx, id, runID)}
}

type encodedDoc struct {
	converter.EncodedValue
	doc contract.StatusDocument
}

func (e encodedDoc) Get(v any) error { *(v.(*contract.StatusDocument)) = e.doc; return nil }

func (c *cancelledClient) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return encodedDoc{doc: c.doc}, nil
}

func TestStatusOfOrderCancelledByEarlierVersion(t *testing.T) {
	fc := &cancelledClient{fakeClient: newFakeClient(), doc: contract.StatusDocument{OrderNumber: "OLD-1", Status: contract.OrderFulfilled}}
	fc.started["order-OLD-1"] = fakeRun{id: "order-OLD-1", runID: "r1", input: contract.OrderInput{Order: testOrder("OLD-1")}}
	s := New(fc, Config{})
	st, err := s.Status(context.Background(), "OLD-1")
	require.NoError(t, err, "status of an order cancelled by the earlier version")
	require.Equal(t, contract.OrderFulfilled, st.Status, "the document the query replays to")
	require.True(t, st.Closed)
	require.True(t, st.Cancelled)
}
