package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
)

// RevokeWorkflow is the compensation of one refund: it revokes exactly the
// refunded lines that were fulfilled, each through its module, with the same
// durable retries as fulfillment. Lines that never succeeded are reported as
// refunded_unfulfilled without any LMS call.
func RevokeWorkflow(ctx workflow.Context, in RevokeInput) (RevokeResult, error) {
	opts := in.Options.WithDefaults()
	if err := workflow.UpsertTypedSearchAttributes(ctx, OrderNumberKey.ValueSet(in.OrderNumber)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
	res := RevokeResult{RefundID: in.RefundID, State: RefundRevoking, Lines: make([]RefundLine, len(in.Lines))}
	pos := map[string]int{}
	uncertain := map[string]bool{}
	var items []LineItem
	for i, l := range in.Lines {
		pos[l.Line.ID] = i
		uncertain[l.Line.ID] = l.Uncertain && !l.Fulfilled
		res.Lines[i] = RefundLine{ID: l.Line.ID, State: LineRefundedUnfulfilled}
		if l.Fulfilled || l.Uncertain {
			res.Lines[i].State = LineRevoking
			items = append(items, LineItem{Line: l.Line, Grant: l.Grant})
		}
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RevokeResult, error) { return res, nil }); err != nil {
		return res, err
	}
	// Batches are named after this workflow, which may be a retry of the
	// refund with an ID of its own.
	prefix := RevokeWorkflowID(in)
	runItems(ctx, opts, in.OrderNumber, in.User, actionRevoke, prefix, items, lineHooks{done: func(out LineOutcome) {
		i, ok := pos[out.ID]
		if !ok {
			return
		}
		r := out.Result
		res.Lines[i].Result = &r
		switch {
		case r.OK() && uncertain[out.ID] && r.Grant[modules.GrantAction] == lms.ActionNone:
			// The uncertain attempt had written nothing after all.
			res.Lines[i].State = LineRefundedUnfulfilled
		case r.OK():
			res.Lines[i].State = LineRevoked
		default:
			res.Lines[i].State = LineRevokeFailed
		}
	}})
	res.State = RefundCompleted
	for _, l := range res.Lines {
		if l.State == LineRevokeFailed {
			res.State = RefundRevocationError
		}
	}
	return res, nil
}
