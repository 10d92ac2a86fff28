package workflows

import (
	"slices"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/workflow"
)

// needsOperator reports whether a line waits for an operator.
func (w *orderRun) needsOperator() bool {
	return slices.ContainsFunc(w.lines, func(l contract.LineStatus) bool {
		// After close only a revoke can be retried.
		return l.State.NeedsOperator() && !(w.late && l.State == contract.LineFailed)
	})
}

// allRefunded reports whether every line is covered by a refund.
func (w *orderRun) allRefunded() bool {
	return !slices.ContainsFunc(w.lines, func(l contract.LineStatus) bool { return l.RefundID == "" })
}

// state is the order's state: what its lines and refunds add up to, or
// cancelled for a cancelled order that neither refunds nor failed a revoke.
func (w *orderRun) state() contract.OrderState {
	s := contract.DeriveOrderState(w.lines, w.refunds)
	if w.cancelled && (s == contract.OrderFulfilling || s == contract.OrderFulfillmentError) {
		return contract.OrderCancelled
	}
	return s
}

// ignore records a signal the order did not act on, in the log and in the
// status document (the latest contract.MaxIgnoredRequests of them).
func (w *orderRun) ignore(ctx workflow.Context, signal, refundID, reason string) {
	workflow.GetLogger(ctx).Warn("ignored signal", "signal", signal, "refund_id", refundID, "reason", reason)
	w.ignored = append(w.ignored, contract.IgnoredRequest{Signal: signal, RefundID: refundID, Reason: reason, At: workflow.Now(ctx)})
	if n := len(w.ignored) - contract.MaxIgnoredRequests; n > 0 {
		w.ignored = slices.Delete(w.ignored, 0, n)
	}
}

func (w *orderRun) snapshot(closed bool) contract.StatusDocument {
	lines := slices.Clone(w.lines)
	if len(lines) > w.opts.BatchSize {
		// Large orders: the line's product, course and mode are in the
		// order itself; repeating them costs payload for nothing.
		lines = contract.WithoutOrderFields(w.lines)
	}
	st := contract.StatusDocument{
		OrderNumber:        w.in.Order.Number,
		Status:             w.state(),
		Lines:              lines,
		Refunds:            slices.Clone(w.refunds),
		Closed:             closed || w.late,
		Cancelled:          w.cancelled,
		IgnoredRequests:    slices.Clone(w.ignored),
		RefundWindowEndsAt: w.deadline,
	}
	if st.Refunds == nil {
		st.Refunds = []contract.RefundStatus{}
	}
	return st
}

// publish marks the search attributes for an update; see publishNow.
func (w *orderRun) publish(workflow.Context) { w.dirty = true }

// publishNow upserts OrderStatus and FailedLines when they changed, so
// support can find orders by status in visibility.
func (w *orderRun) publishNow(ctx workflow.Context) {
	status := w.publishedState()
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
