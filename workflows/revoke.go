package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// RevokeWorkflow is the compensation of one refund: it revokes exactly the
// refunded lines that were fulfilled, each through its module, with the same
// durable retries as fulfillment. Lines that never succeeded are reported as
// refunded_unfulfilled without any LMS call.
func RevokeWorkflow(ctx workflow.Context, in RevokeInput) (RevokeResult, error) {
	opts := in.Options.WithDefaults()
	if err := workflow.UpsertTypedSearchAttributes(ctx, saOrderNumber.ValueSet(in.OrderNumber)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
	res := RevokeResult{RefundID: in.RefundID, State: RefundRevoking, Lines: make([]RefundLine, len(in.Lines))}
	pos := map[string]int{}
	var items []LineItem
	for i, l := range in.Lines {
		pos[l.Line.ID] = i
		res.Lines[i] = RefundLine{ID: l.Line.ID, State: LineRefundedUnfulfilled}
		if l.Fulfilled {
			res.Lines[i].State = LineRevoking
			items = append(items, LineItem{Line: l.Line, Grant: l.Grant})
		}
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (RevokeResult, error) { return res, nil }); err != nil {
		return res, err
	}
	prefix := fmt.Sprintf("order-%s-refund-%s", in.OrderNumber, in.RefundID)
	runItems(ctx, opts, in.OrderNumber, in.User, actionRevoke, prefix, items, nil, nil, func(out LineOutcome) {
		i := pos[out.ID]
		r := out.Result
		res.Lines[i].Result = &r
		if r.OK() {
			res.Lines[i].State = LineRevoked
		} else {
			res.Lines[i].State = LineRevokeFailed
		}
	})
	res.State = RefundCompleted
	for _, l := range res.Lines {
		if l.State == LineRevokeFailed {
			res.State = RefundRevocationError
		}
	}
	return res, nil
}
