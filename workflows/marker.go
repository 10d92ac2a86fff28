package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// RefundedMarkerWorkflow is the durable record that a shop refunded an order
// in full (see contract.WorkflowRefundedMarker): it completes at once with
// its input. Its existence and memo are what is read.
func RefundedMarkerWorkflow(_ workflow.Context, m contract.RefundedMarker) (contract.RefundedMarker, error) {
	return m, nil
}
