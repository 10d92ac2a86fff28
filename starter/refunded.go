package starter

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// refundedMarkerTimeout bounds a refunded marker that no worker runs (one
// that does not know the workflow type yet): it closes all the same, and
// its existence and memo, which are the record, stay.
const refundedMarkerTimeout = time.Hour

// RememberRefunded records durably that the shop refunded an order in full,
// as m says, by starting the order's refunded marker workflow
// (contract.RefundedMarkerWorkflowID) with m as its input and memo. It works
// whether or not the order's workflow exists. Temporal's workflow-ID
// uniqueness makes the record once-only, also under concurrent calls:
// created is false when the marker existed already (running or closed),
// and the first marker stays as it was.
func (s *Starter) RememberRefunded(ctx context.Context, m contract.RefundedMarker) (created bool, err error) {
	if !order.IsNumber(m.OrderNumber) {
		return false, wrap(ErrInvalidRequest, "remember refund", fmt.Errorf("%q is not an order number", m.OrderNumber))
	}
	opts := client.StartWorkflowOptions{
		ID:                                       contract.RefundedMarkerWorkflowID(m.OrderNumber),
		TaskQueue:                                s.cfg.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 refundedMarkerTimeout,
		Memo:                                     map[string]any{contract.MemoRefundedMarker: m},
		TypedSearchAttributes:                    temporal.NewSearchAttributes(contract.OrderNumberKey.ValueSet(m.OrderNumber)),
		StaticSummary:                            "order " + m.OrderNumber + " refunded by the shop",
	}
	if _, err := s.c.ExecuteWorkflow(ctx, opts, contract.WorkflowRefundedMarker, m); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return false, nil
		}
		return false, classify(err, "remember refund of order "+m.OrderNumber)
	}
	return true, nil
}

// RememberedRefund returns the order's refunded marker (see
// RememberRefunded); found is false when the shop's refund of the order was
// never recorded. It reads the marker's memo with one describe call: no
// worker is involved.
func (s *Starter) RememberedRefund(ctx context.Context, number string) (m contract.RefundedMarker, found bool, err error) {
	id := contract.RefundedMarkerWorkflowID(number)
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		if isNotFound(err) {
			return m, false, nil
		}
		return m, false, classify(err, "refunded marker of order "+number)
	}
	p, ok := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[contract.MemoRefundedMarker]
	if !ok {
		return m, false, fmt.Errorf("refunded marker of order %s: no %s memo", number, contract.MemoRefundedMarker)
	}
	if err := s.cfg.DataConverter.FromPayload(p, &m); err != nil {
		return m, false, fmt.Errorf("decode refunded marker of order %s: %w", number, err)
	}
	return m, true, nil
}
