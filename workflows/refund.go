package workflows

import (
	"fmt"

	"github.com/coursefulfill/fulfillment/contract"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"
)

func (w *orderRun) findRefund(id string) *contract.RefundStatus {
	for i := range w.refunds {
		if w.refunds[i].RefundID == id {
			return &w.refunds[i]
		}
	}
	return nil
}

// resolveRefund returns the lines a new refund covers. dup is true for a
// refund id already accepted. A request that cannot be honoured is a
// *contract.Rejection.
func (w *orderRun) resolveRefund(req contract.RefundRequest) (ids []string, dup bool, err error) {
	if err := contract.ValidateRefundID(req.RefundID); err != nil {
		return nil, false, err
	}
	if w.findRefund(req.RefundID) != nil {
		return nil, true, nil
	}
	ids, err = contract.SelectRefundLines(w.lines, req.LineIDs)
	return ids, false, err
}

func (w *orderRun) validateRefund(req contract.RefundRequest) error {
	_, _, err := w.resolveRefund(req)
	return asApplicationError(err)
}

func (w *orderRun) handleRefund(ctx workflow.Context, req contract.RefundRequest) (contract.RefundResult, error) {
	ids, dup, err := w.resolveRefund(req)
	if err != nil {
		return contract.RefundResult{}, asApplicationError(err)
	}
	if dup {
		return contract.RefundResult{RefundID: req.RefundID, WorkflowID: w.findRefund(req.RefundID).WorkflowID, Duplicate: true}, nil
	}
	rs := w.refund(ctx, req.RefundID, ids)
	return contract.RefundResult{RefundID: req.RefundID, WorkflowID: rs.WorkflowID}, nil
}

// refund records a refund and revokes its lines in the background: it stops
// their fulfillment, waits until no attempt is running, then runs a
// RevokeWorkflow for the lines that were fulfilled.
func (w *orderRun) refund(ctx workflow.Context, refundID string, ids []string) contract.RefundStatus {
	logger := workflow.GetLogger(ctx)
	logger.Info("refund accepted", "refund_id", refundID, "lines", len(ids))
	rs := contract.RefundStatus{RefundID: refundID, WorkflowID: w.refundWorkflowID(refundID), State: contract.RefundRevoking}
	for _, id := range ids {
		w.line(id).RefundID = refundID
		rs.Lines = append(rs.Lines, contract.RefundLine{ID: id, State: contract.LineRevoking})
		if cancel := w.cancels[id]; cancel != nil {
			cancel()
		}
	}
	w.refunds = append(w.refunds, rs)
	w.active++
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		// The revoke must run to its end even if this workflow is
		// cancelled: a refunded learner must never stay enrolled.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(ctx, func() bool {
			for _, id := range ids {
				if _, ok := w.inFlight[id]; ok {
					return false
				}
			}
			return true
		})
		in := contract.RevokeInput{OrderNumber: w.in.Order.Number, User: w.in.Order.User, RefundID: refundID, Options: w.in.Options, Flow: w.in.Flow}
		r := w.findRefund(refundID)
		for i, id := range ids {
			l := w.line(id)
			rl := contract.PlanRevoke(w.orderLine(id), *l)
			in.Lines = append(in.Lines, rl)
			if rl.Revokes() {
				l.State = contract.LineRevoking
			} else {
				l.State = contract.LineRefundedUnfulfilled
			}
			r.Lines[i].State = l.State
		}
		w.publish(ctx)
		in.WorkflowID = rs.WorkflowID
		w.runRevoke(ctx, refundID, in)
	})
	return rs
}

// runRevoke runs one RevokeWorkflow as a child and records its outcome in
// the refund and its lines.
func (w *orderRun) runRevoke(ctx workflow.Context, refundID string, in contract.RevokeInput) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        in.WorkflowID,
		TaskQueue:         workflow.GetInfo(ctx).TaskQueueName,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// A revoke workflow started directly (after a restart of this
		// order) is the same refund: reuse, never run twice.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         fmt.Sprintf("order %s · refund %s · revoke %d line(s)", w.in.Order.Number, refundID, len(in.Lines)),
	})
	var res contract.RevokeResult
	err := workflow.ExecuteChildWorkflow(cctx, contract.WorkflowRevoke, in).Get(cctx, &res)
	r := w.findRefund(refundID)
	pos := linePositions(r)
	if err != nil {
		workflow.GetLogger(ctx).Error("revoke workflow failed", "refund_id", refundID, "error", err)
		// Only this revoke's lines failed; another retry of the same
		// refund may still be revoking others.
		for _, rl := range in.Lines {
			if l := w.line(rl.Line.ID); l != nil && l.State == contract.LineRevoking {
				l.State, l.LastError = contract.LineRevokeFailed, err.Error()
				if i, ok := pos[rl.Line.ID]; ok {
					r.Lines[i].State = contract.LineRevokeFailed
				}
			}
		}
		r.State = contract.RefundStateOf(r.Lines)
		w.publish(ctx)
		return
	}
	for _, rl := range res.Lines {
		if i, ok := pos[rl.ID]; ok {
			r.Lines[i] = rl
		}
		l := w.line(rl.ID)
		l.State = rl.State
		if rl.State == contract.LineRevokeFailed && rl.Result != nil {
			l.LastError = rl.Result.ErrorText()
		}
	}
	r.State = contract.RefundStateOf(r.Lines)
	w.publish(ctx)
}

// revokeAgain retries the revoke of lines whose revoke failed, one new
// RevokeWorkflow per refund they belong to.
func (w *orderRun) revokeAgain(ctx workflow.Context, ids []string) {
	var refunds []string
	byRefund := map[string][]string{}
	for _, id := range ids {
		rid := w.line(id).RefundID
		if _, ok := byRefund[rid]; !ok {
			refunds = append(refunds, rid)
		}
		byRefund[rid] = append(byRefund[rid], id)
	}
	for _, rid := range refunds {
		in := contract.RevokeInput{OrderNumber: w.in.Order.Number, User: w.in.Order.User, RefundID: rid, Options: w.in.Options, Flow: w.in.Flow}
		r := w.findRefund(rid)
		r.State = contract.RefundRevoking
		pos := linePositions(r)
		for _, id := range byRefund[rid] {
			l := w.line(id)
			in.Lines = append(in.Lines, contract.PlanRevoke(w.orderLine(id), *l))
			l.State, l.LastError = contract.LineRevoking, ""
			if i, ok := pos[id]; ok {
				r.Lines[i].State = contract.LineRevoking
			}
		}
		w.seq++
		in.Retry = w.seq
		in.WorkflowID = contract.RevokeRetryWorkflowID(r.WorkflowID, w.seq)
		if w.late {
			// The order itself may have retried this refund's revokes
			// with the same numbers before it closed.
			in.WorkflowID = contract.RevokeRetryWorkflowID(r.WorkflowID+"~late", w.seq)
		}
		w.active++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { w.active-- }()
			ctx, _ = workflow.NewDisconnectedContext(ctx)
			w.runRevoke(ctx, rid, in)
		})
	}
	w.publish(ctx)
}

// linePositions indexes a refund's lines by id (a refund may cover
// thousands).
func linePositions(r *contract.RefundStatus) map[string]int {
	pos := make(map[string]int, len(r.Lines))
	for i, l := range r.Lines {
		pos[l.ID] = i
	}
	return pos
}
