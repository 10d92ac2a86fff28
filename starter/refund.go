package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Refund asks the order to refund lines (all lines when req.LineIDs is
// empty). While the order workflow runs this is its refund update; after it
// closed the starter starts the RevokeWorkflow itself from the order's final
// status, so refunds always work. A refund id seen before answers with
// Duplicate=true and starts nothing.
func (s *Starter) Refund(ctx context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error) {
	if err := contract.ValidateRefundID(req.RefundID); err != nil {
		return contract.RefundResult{}, classifyRejection(err, "refund")
	}
	running, runID, firstRunID, err := s.describe(ctx, number)
	if err != nil {
		return contract.RefundResult{}, err
	}
	if running {
		var res contract.RefundResult
		accepted, err := s.update(ctx, number, contract.UpdateRefund, req, &res)
		switch {
		case err == nil:
			if !accepted || res.RefundID == "" {
				res = contract.RefundResult{RefundID: req.RefundID, WorkflowID: contract.RefundWorkflowID(number, req.RefundID)}
			}
			return res, nil
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed):
			// The refund window ended between describe and update (or the
			// workflow is completing): wait for it to close, then refund as
			// for a closed order.
			if err := s.awaitClose(ctx, number, runID); err != nil {
				return contract.RefundResult{}, err
			}
			if running, runID, firstRunID, err = s.describe(ctx, number); err != nil {
				return contract.RefundResult{}, err
			}
			if running {
				return contract.RefundResult{}, wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is between runs; try again", number))
			}
		default:
			return contract.RefundResult{}, err
		}
	}
	return s.refundClosed(ctx, number, runID, firstRunID, req)
}

// awaitClose waits up to UpdateWait for the order's run to close, however
// it closes.
func (s *Starter) awaitClose(ctx context.Context, number, runID string) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	err := s.c.GetWorkflow(wctx, contract.OrderWorkflowID(number), runID).Get(wctx, nil)
	switch {
	case err == nil:
		return nil
	case wctx.Err() != nil:
		return wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is closing and did not close in time; try again", number))
	}
	if cerr := classify(err, "await close of order "+number); errors.Is(cerr, ErrUnavailable) {
		return cerr
	}
	// Failed, terminated or cancelled: closed all the same.
	return nil
}

// refundClosed starts the RevokeWorkflow of a refund on a closed order.
func (s *Starter) refundClosed(ctx context.Context, number, runID, firstRunID string, req contract.RefundRequest) (contract.RefundResult, error) {
	id := contract.OrderWorkflowID(number)
	res := contract.RefundResult{RefundID: req.RefundID, WorkflowID: contract.RefundWorkflowID(number, req.RefundID)}
	st, err := s.result(ctx, id, runID)
	if err != nil {
		// Closed abnormally: fall back to the status query.
		var qerr error
		if st, qerr = s.query(ctx, id, runID); qerr != nil {
			return contract.RefundResult{}, err
		}
	}
	if err := s.withLateRefunds(ctx, number, &st); err != nil {
		return contract.RefundResult{}, err
	}
	for _, r := range st.Refunds {
		if r.RefundID == req.RefundID {
			res.Duplicate = true
			if r.WorkflowID != "" {
				res.WorkflowID = r.WorkflowID
			}
			return res, nil
		}
	}
	in, err := s.input(ctx, id, firstRunID)
	if err != nil {
		return contract.RefundResult{}, err
	}
	lines, err := revokeLines(in.Order, st, req.LineIDs)
	if err != nil {
		return contract.RefundResult{}, err
	}
	rin := contract.RevokeInput{
		OrderNumber: number,
		User:        in.Order.User,
		RefundID:    req.RefundID,
		Lines:       lines,
		Options:     in.Options,
	}
	opts := client.StartWorkflowOptions{
		ID:                                       res.WorkflowID,
		TaskQueue:                                s.cfg.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(contract.OrderNumberKey.ValueSet(number)),
		StaticSummary:                            "refund " + req.RefundID + " of order " + number,
	}
	if _, err := s.c.ExecuteWorkflow(ctx, opts, contract.WorkflowRevoke, rin); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			res.Duplicate = true
			return res, nil
		}
		return contract.RefundResult{}, classify(err, "start refund "+req.RefundID+" of order "+number)
	}
	return res, nil
}

// revokeLines builds the lines of a refund on a closed order from the
// order's input (the lines themselves) and its final status (what each line
// got, including the grant a revoke must undo), by the same rules as the
// order workflow: contract.SelectRefundLines and contract.PlanRevoke.
func revokeLines(o order.Order, st contract.StatusDocument, ids []string) ([]contract.RevokeLine, error) {
	selected, err := contract.SelectRefundLines(st.Lines, ids)
	if err != nil {
		return nil, classifyRejection(err, "refund")
	}
	byID := make(map[string]order.Line, len(o.Lines))
	for _, l := range o.Lines {
		byID[l.ID] = l
	}
	status := make(map[string]contract.LineStatus, len(st.Lines))
	for _, l := range st.Lines {
		status[l.ID] = l
	}
	lines := make([]contract.RevokeLine, 0, len(selected))
	for _, id := range selected {
		lines = append(lines, contract.PlanRevoke(byID[id], status[id]))
	}
	return lines, nil
}
