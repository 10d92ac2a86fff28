package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
)

// RevokeWorkflow is the compensation of one refund: it revokes exactly the
// refunded lines that were fulfilled, each through its module, with the same
// durable retries as fulfillment. Lines that never succeeded are reported as
// refunded_unfulfilled without any LMS call.
func RevokeWorkflow(ctx workflow.Context, in contract.RevokeInput) (contract.RevokeResult, error) {
	opts := in.Options.WithDefaults()
	// A revoke of an order with a flow follows it: its line activities take
	// readable IDs without reading line-activity-ids.
	flowed, _ := flowVersions(in.Flow)
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.OrderNumberKey.ValueSet(in.OrderNumber)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
	res := contract.RevokeResult{RefundID: in.RefundID, State: contract.RefundRevoking, Lines: make([]contract.RefundLine, len(in.Lines))}
	pos := map[string]int{}
	var items []LineItem
	for i, l := range in.Lines {
		pos[l.Line.ID] = i
		res.Lines[i] = contract.RefundLine{ID: l.Line.ID, State: contract.LineRefundedUnfulfilled}
		if l.Revokes() {
			res.Lines[i].State = contract.LineRevoking
			items = append(items, LineItem{Line: l.Line, Grant: l.Grant, Prior: l.Prior})
		}
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryStatus, func() (contract.RevokeResult, error) { return res, nil },
		workflow.QueryHandlerOptions{Description: "This refund's revoke: each line's state and result. No input."}); err != nil {
		return res, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Refund %s of order %s: revokes %d line(s). Its outcome shows in the order's "+
		"`status` query; a failed revoke is retried with the order's `retry` Update (on `%s`).",
		in.RefundID, in.OrderNumber, len(items), contract.OrderWorkflowID(in.OrderNumber)))
	// Batches are named after this workflow, which may be a retry of the
	// refund with an ID of its own.
	prefix := in.RevokeWorkflowID()
	runItems(ctx, opts, in.OrderNumber, in.User, runSpec{action: contract.ActionRevoke, childPrefix: prefix, flow: in.Flow, lean: flowed.lean}, items, lineHooks{done: func(out LineOutcome) {
		i, ok := pos[out.ID]
		if !ok {
			return
		}
		r := out.Result
		res.Lines[i].Result = &r
		switch {
		case r.OK() && in.Lines[i].Uncertain && !in.Lines[i].Fulfilled && r.Grant[modules.GrantAction] == lms.ActionNone:
			// The uncertain attempt had written nothing after all.
			res.Lines[i].State = contract.LineRefundedUnfulfilled
		case r.OK():
			res.Lines[i].State = contract.LineRevoked
		default:
			res.Lines[i].State = contract.LineRevokeFailed
		}
	}})
	// Every line has its outcome: completed, or revocation_error.
	res.State = contract.RefundStateOf(res.Lines)
	return res, nil
}
