package workflows

import (
	"fmt"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/workflow"
)

// fulfill starts fulfilling the given lines in the background.
func (w *orderRun) fulfill(ctx workflow.Context, ids []string) {
	items := make([]LineItem, 0, len(ids))
	batched := len(ids) > w.opts.BatchSize
	for _, id := range ids {
		l := w.line(id)
		// Lines of a large order run inside batch children, whose own
		// status query shows each line's progress.
		l.State = contract.LinePending
		if batched {
			l.State = contract.LineFulfilling
		}
		w.inFlight[id] = true
		// A line retried after its first write keeps the state observed
		// before it.
		items = append(items, LineItem{Line: w.orderLine(id), Prior: l.Prior})
	}
	w.seq++
	// "~" cannot appear in order numbers or refund ids: no collisions.
	prefix := fmt.Sprintf("%s~fulfill-%d", contract.OrderWorkflowID(w.in.Order.Number), w.seq)
	w.active++
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		runItems(ctx, w.opts, w.in.Order.Number, w.in.Order.User, contract.ActionFulfill, w.versions.observe, prefix, items, lineHooks{
			queued: func(id string, stop func()) bool {
				if w.line(id).RefundID != "" {
					return false
				}
				w.cancels[id] = stop
				return true
			},
			started: func(id string) {
				w.line(id).State = contract.LineFulfilling
				w.publish(ctx)
			},
			retrying: func(id string, r contract.Result, attempts int) {
				w.lineRetrying(ctx, LineOutcome{ID: id, Result: r, Attempts: attempts, Retrying: true})
			},
			done: func(out LineOutcome) { w.lineDone(ctx, out) },
		})
	})
}

// lineRetrying records that a line's first attempt failed transiently; it
// goes on retrying. A report that arrives after the line's outcome (from a
// batch) changes nothing.
func (w *orderRun) lineRetrying(ctx workflow.Context, out LineOutcome) {
	l := w.line(out.ID)
	if l == nil || !w.inFlight[out.ID] || l.State == contract.LineRetrying {
		return
	}
	res := out.Result
	l.State, l.Result, l.Attempts, l.LastError = contract.LineRetrying, &res, l.Attempts+out.Attempts, res.ErrorText()
	w.publish(ctx)
}

// lineDone records the outcome of one line's fulfillment. An outcome can
// arrive twice for a line in a batch (early, for a refund, and with the
// batch's result): only the first counts.
func (w *orderRun) lineDone(ctx workflow.Context, out LineOutcome) {
	l := w.line(out.ID)
	if l == nil || !w.inFlight[out.ID] {
		return
	}
	delete(w.inFlight, out.ID)
	delete(w.cancels, out.ID)
	if out.Prior != nil && l.Prior == nil {
		// Observed before the line's first write: a refund of a line
		// stopped mid-way restores it.
		l.Prior = out.Prior
	}
	if out.Result.Status == statusCanceled {
		if l.RefundID != "" {
			// Stopped by a refund, which decides the line's state.
			return
		}
		out.Result = contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeLineCanceled,
			Message: "fulfillment was cancelled before the line succeeded"}
	}
	res := out.Result
	l.Result = &res
	// Attempts shown while retrying are already counted.
	if l.State == contract.LineRetrying {
		l.Attempts += out.Attempts - firstRoundAttempts
	} else {
		l.Attempts += out.Attempts
	}
	switch {
	case res.OK():
		l.State, l.LastError = contract.LineFulfilled, ""
	case res.ErrorType == contract.ErrorTypeAwaitingAccount:
		l.State, l.LastError = contract.LineAwaitingAccount, res.ErrorText()
		w.awaitAccount(ctx, out.ID)
	default:
		l.State, l.LastError = contract.LineFailed, res.ErrorText()
	}
	w.publish(ctx)
}

// awaitAccount checks again, with backoff, a line whose learner has no LMS
// account yet (the module did what it could, e.g. a pre-enrollment, and the
// paid mode waits for the account), until it is done, refunded, retried by
// an operator (a retry checks at once), or the refund window ends: then it
// fails for an operator with the reason.
func (w *orderRun) awaitAccount(ctx workflow.Context, id string) {
	w.awaiting[id]++
	gen := w.awaiting[id]
	w.active++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		still := func() bool {
			l := w.line(id)
			return w.awaiting[id] == gen && l.State == contract.LineAwaitingAccount && l.RefundID == ""
		}
		wait := w.opts.AccountCheckInterval
		for still() {
			left := w.deadline.Sub(workflow.Now(ctx))
			if left <= 0 {
				l := w.line(id)
				res := contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAccountNeverCreated,
					Message: "the learner created no LMS account before the refund window ended; they are pre-enrolled " +
						"and get the course's default mode when they register; retry once they have an account, or refund",
					Grant: l.Result.Grant}
				l.State, l.Result, l.LastError = contract.LineFailed, &res, res.ErrorText()
				w.publish(ctx)
				return
			}
			if err := workflow.Sleep(ctx, min(wait, left)); err != nil {
				return
			}
			wait = min(2*wait, w.opts.MaxAccountCheck)
			if still() && workflow.Now(ctx).Before(w.deadline) {
				w.fulfill(ctx, []string{id})
				return
			}
		}
	})
}
