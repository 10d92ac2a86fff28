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
	w.seq++
	run := w.seq
	for _, id := range ids {
		l := w.line(id)
		// Lines of a large order run inside batch children, whose own
		// status query shows each line's progress.
		l.State = contract.LinePending
		if batched {
			l.State = contract.LineFulfilling
		}
		w.inFlight[id] = run
		// A line retried after its first write keeps the state observed
		// before it.
		items = append(items, LineItem{Line: w.orderLine(id), Prior: l.Prior})
	}
	// "~" cannot appear in order numbers or refund ids: no collisions.
	prefix := contract.FulfillmentID(w.in.Order.Number, run)
	w.active++
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		spec := runSpec{action: contract.ActionFulfill, observe: w.versions.observe, live: w.versions.liveReports, run: run, childPrefix: prefix, flow: w.in.Flow, lean: w.versions.lean}
		runItems(ctx, w.opts, w.in.Order.Number, w.in.Order.User, spec, items, lineHooks{
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
				w.lineRetrying(ctx, LineOutcome{ID: id, Result: r, Attempts: attempts, Retrying: true, Run: run})
			},
			done: func(out LineOutcome) { w.lineDone(ctx, out) },
		})
	})
}

// current reports whether an outcome belongs to its line's current run: a
// batch that ended late may report an earlier run's outcome of a line an
// operator has retried since.
func (w *orderRun) current(out LineOutcome) bool {
	run, ok := w.inFlight[out.ID]
	return ok && (out.Run == 0 || out.Run == run)
}

// lineRetrying records that a line's first attempt failed transiently; it
// goes on retrying. A report that arrives after the line's outcome (from a
// batch) changes nothing.
func (w *orderRun) lineRetrying(ctx workflow.Context, out LineOutcome) {
	l := w.line(out.ID)
	if l == nil || !w.current(out) || l.State == contract.LineRetrying {
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
	if l == nil || !w.current(out) {
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
	if !res.OK() && len(res.Grant) == 0 && l.Result != nil && len(l.Result.Grant) > 0 {
		// A failure after part of the line was done (a pre-enrollment
		// waiting for the learner's account) keeps the record of that
		// part: a refund must undo it.
		res.Grant = l.Result.Grant
	}
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
	case res.ErrorType == contract.ErrorTypeAwaitingAccount && w.versions.awaitAccount && !w.cancelled:
		l.State, l.LastError = contract.LineAwaitingAccount, res.ErrorText()
		w.awaitAccount(ctx, out.ID)
	default:
		l.State, l.LastError = contract.LineFailed, res.ErrorText()
	}
	w.publish(ctx)
}

// awaitAccount checks again, with backoff, the lines whose learner has no
// LMS account yet (the module did what it could, e.g. a pre-enrollment, and
// the paid mode waits for the account): one wait for the order's learner,
// whose interval doubles from AccountCheckInterval to MaxAccountCheck across
// checks (an operator's retry checks at once and starts it over), until
// every such line is done or refunded, or the refund window ends: then the
// lines still waiting fail for an operator with the reason.
func (w *orderRun) awaitAccount(ctx workflow.Context, id string) {
	w.awaiting[id] = true
	if w.accountWaiting {
		return
	}
	w.accountWaiting = true
	if w.accountWait == 0 {
		w.accountWait = w.opts.AccountCheckInterval
	}
	w.active++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active--; w.accountWaiting = false }()
		for {
			ids := w.stillAwaiting()
			if len(ids) == 0 {
				return
			}
			left := w.deadline.Sub(workflow.Now(ctx))
			if left <= 0 {
				for _, id := range ids {
					l := w.line(id)
					res := contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAccountNeverCreated,
						Message: "the learner created no LMS account before the refund window ended; they are pre-enrolled " +
							"and get the course's default mode when they register; retry once they have an account, or refund",
						Grant: l.Result.Grant}
					l.State, l.Result, l.LastError = contract.LineFailed, &res, res.ErrorText()
					delete(w.awaiting, id)
				}
				w.publish(ctx)
				return
			}
			check := workflow.NewTimerWithOptions(ctx, min(w.accountWait, left), workflow.TimerOptions{
				Summary: fmt.Sprintf("check again whether the learner has an LMS account (%d line(s) wait)", len(ids))})
			if err := check.Get(ctx, nil); err != nil {
				return
			}
			w.accountWait = min(2*w.accountWait, w.opts.MaxAccountCheck)
			if ids := w.stillAwaiting(); len(ids) > 0 && workflow.Now(ctx).Before(w.deadline) {
				for _, id := range ids {
					delete(w.awaiting, id)
				}
				w.fulfill(ctx, ids)
			}
			// Lines that still wait after the check come back through
			// lineDone; wait for the check's outcome before sleeping again.
			if err := workflow.Await(ctx, func() bool { return !w.checking() }); err != nil {
				return
			}
		}
	})
}

// stillAwaiting lists, in order, the lines waiting for the learner's account
// that are not refunded.
func (w *orderRun) stillAwaiting() []string {
	if w.cancelled {
		// A cancelled order checks no more.
		return nil
	}
	var ids []string
	for _, l := range w.lines {
		if w.awaiting[l.ID] && l.State == contract.LineAwaitingAccount && l.RefundID == "" {
			ids = append(ids, l.ID)
		} else {
			delete(w.awaiting, l.ID)
		}
	}
	return ids
}

// checking reports whether a line is being fulfilled.
func (w *orderRun) checking() bool { return len(w.inFlight) > 0 }
