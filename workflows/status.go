package workflows

import (
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// needsOperator reports whether a line waits for an operator.
func (w *orderRun) needsOperator() bool { return slices.ContainsFunc(w.lines, w.lineNeedsOperator) }

// lineNeedsOperator reports whether line l waits for an operator: failed,
// or its revoke failed. After close only a revoke can be retried.
func (w *orderRun) lineNeedsOperator(l contract.LineStatus) bool {
	return l.State.NeedsOperator() && !(w.late && l.State == contract.LineFailed)
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
	// The current details list it too.
	w.publish(ctx)
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

// publishNow sets the current details the Web UI shows, and upserts
// OrderStatus and FailedLines when they changed, so support can find orders
// by status in visibility; in runs with the failure-search-attributes
// version, FailedCourseIds and ErrorTypes too.
func (w *orderRun) publishNow(ctx workflow.Context) {
	w.showDetails(ctx)
	status := w.publishedState()
	failed := 0
	for _, l := range w.lines {
		if l.State == contract.LineFailed || l.State == contract.LineRevokeFailed {
			failed++
		}
	}
	var courses, types []string
	if w.versions.failureAttrs {
		courses, types = w.failureAttrs()
	}
	key := failureKey(courses, types)
	if status == w.published.status && failed == w.published.failed && key == w.published.failures {
		return
	}
	w.published.status, w.published.failed, w.published.failures = status, failed, key
	updates := []temporal.SearchAttributeUpdate{contract.OrderStatusKey.ValueSet(string(status)), contract.FailedLinesKey.ValueSet(int64(failed))}
	if w.versions.failureAttrs {
		updates = append(updates, keywords(contract.FailedCourseIDsKey, courses), keywords(contract.ErrorTypesKey, types))
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}

// failureKey is what publishNow compares to tell whether FailedCourseIds or
// ErrorTypes changed.
func failureKey(courses, types []string) string {
	return strings.Join(courses, "\n") + "\x00" + strings.Join(types, "\n")
}

// failureAttrs are the sorted, distinct courses of the lines that wait for
// an operator, and the error types of those lines and of the lines being
// retried.
func (w *orderRun) failureAttrs() (courses, types []string) {
	for _, l := range w.lines {
		needs := w.lineNeedsOperator(l)
		if needs {
			c := l.CourseID
			if c == "" {
				c = w.orderLine(l.ID).CourseUUID
			}
			if c != "" && !slices.Contains(courses, c) {
				courses, _ = contract.AppendKeyword(courses, c)
			}
		}
		if needs || l.State == contract.LineRetrying {
			t := ""
			if r := w.lineFailure(l); r != nil {
				t = string(r.ErrorType)
			}
			if t != "" && !slices.Contains(types, t) {
				types, _ = contract.AppendKeyword(types, t)
			}
		}
	}
	slices.Sort(courses)
	slices.Sort(types)
	return courses, types
}

// lineFailure is the result that says why a line needs a person or is
// being retried: for a line whose revoke failed, its refund's revoke result
// (nil when the revoke workflow itself failed: the line's last error says
// why), not the fulfillment's; else the line's result.
func (w *orderRun) lineFailure(l contract.LineStatus) *contract.Result {
	if l.State != contract.LineRevokeFailed {
		return l.Result
	}
	if r := w.findRefund(l.RefundID); r != nil {
		for _, rl := range r.Lines {
			if rl.ID == l.ID {
				return rl.Result
			}
		}
	}
	return nil
}

// keywords sets a keyword list search attribute, or unsets it when empty.
func keywords(key temporal.SearchAttributeKeyKeywordList, values []string) temporal.SearchAttributeUpdate {
	if len(values) == 0 {
		return key.ValueUnset()
	}
	return key.ValueSet(values)
}
