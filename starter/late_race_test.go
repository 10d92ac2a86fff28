package starter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/contract"
)

// lateClosedClient is a Temporal client whose update-with-start finds the
// order's late-refunds workflow closed, as when it closed between the
// caller's look and its request.
type lateClosedClient struct{ client.Client }

func (lateClosedClient) NewWithStartWorkflowOperation(client.StartWorkflowOptions, any, ...any) client.WithStartWorkflowOperation {
	return nil
}

func (lateClosedClient) UpdateWithStartWorkflow(context.Context, client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already finished", "", "")
}

// A late refund racing the late-refunds workflow's close is sent to look
// again (ErrClosed), not answered as an internal error.
func TestUpdateWithStartOnAClosedLateWorkflowLooksAgain(t *testing.T) {
	s := New(lateClosedClient{}, Config{})
	var res contract.RefundResult
	err := s.updateWithStart(context.Background(), "LATE-1", contract.LateRefundsInput{}, contract.UpdateRefund,
		contract.RefundRequest{RefundID: "R-1"}, &res)
	require.ErrorIs(t, err, ErrClosed)
	require.True(t, isClosedErr(err))
}
