package workflows

import (
	"slices"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/workflow"
)

// needsOperator reports whether a line waits for an operator.
func (w *orderRun) needsOperator() bool {
	for _, l := range w.lines {
		if l.State == contract.LineFailed || l.State == contract.LineRevokeFailed {
			return true
		}
	}
	return false
}

func (w *orderRun) snapshot(closed bool) contract.StatusDocument {
	lines := slices.Clone(w.lines)
	if len(lines) > w.opts.BatchSize {
		// Large orders: the line's product, course and mode are in the
		// order itself; repeating them would take the document past
		// Temporal's 2 MB payload limit.
		for i := range lines {
			lines[i].ProductType, lines[i].CourseID, lines[i].Mode = "", "", ""
		}
	}
	st := contract.StatusDocument{
		OrderNumber:        w.in.Order.Number,
		Status:             contract.DeriveOrderState(w.lines, w.refunds),
		Lines:              lines,
		Refunds:            slices.Clone(w.refunds),
		Closed:             closed,
		RefundWindowEndsAt: w.deadline,
	}
	if st.Refunds == nil {
		st.Refunds = []contract.RefundStatus{}
	}
	return st
}

// publish marks the search attributes for an update; see publishNow.
func (w *orderRun) publish(workflow.Context) { w.dirty = true }

// publishNow upserts contract.StatusDocument and FailedLines when they changed, so
// support can find orders by status in visibility.
func (w *orderRun) publishNow(ctx workflow.Context) {
	status := contract.DeriveOrderState(w.lines, w.refunds)
	failed := 0
	for _, l := range w.lines {
		if l.State == contract.LineFailed || l.State == contract.LineRevokeFailed {
			failed++
		}
	}
	if status == w.published.status && failed == w.published.failed {
		return
	}
	w.published.status, w.published.failed = status, failed
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		contract.OrderStatusKey.ValueSet(string(status)), contract.FailedLinesKey.ValueSet(int64(failed))); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}
