package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// runSpec says what runItems does to its lines.
type runSpec struct {
	action contract.Action
	// observe: a fulfill first records each line's prior state through its
	// module (ActionObserve) unless the item already has one, and hands it
	// to the fulfill and to the line's outcome.
	observe observeMode
	// live: batches report each line's retry and outcome as they happen.
	live bool
	// run tags every outcome, so the order tells a stale one (an earlier
	// run of the line, from a batch that ended late) from the current.
	run int
	// childPrefix names the batch children.
	childPrefix string
	// flow is the order's flow, handed to its batches (0: none).
	flow int
	// lean: the run takes readable line activity IDs without reading
	// line-activity-ids (lean and flow runs).
	lean bool
}

// lineHooks lets the caller of runItems follow and steer each line.
type lineHooks struct {
	// queued is called as a line is queued, with the function that stops
	// it; answering false skips the line.
	queued func(id string, stop func()) bool
	// started is called as a line's first attempt begins (nil for lines
	// inside a batch child).
	started func(id string)
	// retrying is called when a line's first attempt failed transiently.
	retrying func(id string, r contract.Result, attempts int)
	// done is called once per line with its outcome.
	done func(LineOutcome)
}

// runItems runs an action over items: directly when they fit in one batch,
// else as LinesWorkflow children of at most opts.BatchSize lines each, with
// the parallel cap shared among the children. It returns when every line has
// its outcome, also when ctx is cancelled.
func runItems(ctx workflow.Context, opts contract.Options, number string, user order.User, spec runSpec,
	items []LineItem, hooks lineHooks) {
	action, observe, childPrefix := spec.action, spec.observe, spec.childPrefix
	// Waiting goes on after a cancel: each line reports how it ended.
	waitCtx, _ := workflow.NewDisconnectedContext(ctx)
	wg := workflow.NewWaitGroup(ctx)
	canceled := func(id string) LineOutcome {
		return LineOutcome{ID: id, Result: contract.Result{Status: statusCanceled}, Run: spec.run}
	}
	if len(items) <= opts.BatchSize {
		// runLine fulfills or revokes one line (its slot already taken).
		runLine := func(ctx workflow.Context, item LineItem) {
			if hooks.started != nil {
				hooks.started(item.Line.ID)
			}
			in := activities.LineInput{OrderNumber: number, User: user, Line: item.Line, Grant: item.Grant,
				Prior: item.Prior, Backoff: backoff(opts)}
			// The line shows retrying from its first transient failure,
			// in either step (the parent counts that first attempt then,
			// and the rest with the outcome).
			shown := false
			retrying := func(r contract.Result, attempts int) {
				if hooks.retrying != nil && !shown {
					shown = true
					hooks.retrying(item.Line.ID, r, attempts)
				}
			}
			// Attempts count the tries it took: the observation's
			// failed attempts and the fulfill's attempts.
			failedReads := 0
			if observe != observeNone && in.Prior == nil {
				obs := runLineAction(ctx, opts, lineStep{action: contract.ActionObserve, local: observe == observeLocal, lean: spec.lean}, in, retrying)
				if !obs.Result.OK() {
					out := LineOutcome{ID: item.Line.ID, Result: obs.Result, Attempts: obs.Attempts, Run: spec.run}
					if obs.Canceled {
						out = canceled(item.Line.ID)
						out.Attempts = obs.Attempts
					}
					hooks.done(out)
					return
				}
				failedReads = obs.Attempts - 1
				// The fulfill's first attempt may write from the
				// observation instead of reading again, if it starts
				// soon enough (activities.ObservationFreshFor).
				in.Prior, in.ObservedAt = obs.Result.Grant, obs.ObservedAt
				if in.Prior == nil {
					in.Prior = map[string]string{}
				}
			}
			run := runLineAction(ctx, opts, lineStep{action: action, lean: spec.lean}, in, retrying)
			out := LineOutcome{ID: item.Line.ID, Result: run.Result, Attempts: failedReads + run.Attempts, Prior: in.Prior, Run: spec.run}
			if run.Canceled && !run.Result.OK() {
				out = canceled(item.Line.ID)
				out.Attempts, out.Prior = failedReads+run.Attempts, in.Prior
			}
			hooks.done(out)
		}
		// Lines beyond the parallel cap wait for a slot: either each in a
		// coroutine of its own (runs that started before pooled lines), or
		// taken in turn by MaxParallelLines runners — no coroutine per
		// waiting line, which the SDK would wake on every workflow task (a
		// cost that grows with the square of a batch's lines).
		pooled := len(items) > opts.MaxParallelLines && readPooledLines(ctx)
		// Each line's context exists while it waits for a slot, so a
		// refund can stop a queued line as well as a running one.
		ctxs := make([]workflow.Context, len(items))
		taken := make([]bool, len(items))
		remaining := 0
		var stopped []int
		for i, item := range items {
			lctx, cancel := workflow.WithCancel(ctx)
			stop := cancel
			if pooled {
				// A line stopped before a runner took it ends at once.
				stop = func() {
					cancel()
					if !taken[i] {
						taken[i], remaining = true, remaining-1
						stopped = append(stopped, i)
					}
				}
			}
			if hooks.queued != nil && !hooks.queued(item.Line.ID, stop) {
				hooks.done(canceled(item.Line.ID))
				taken[i] = true
				continue
			}
			ctxs[i] = lctx
			remaining++
		}
		if pooled {
			next := 0
			take := func() int {
				for next < len(items) {
					i := next
					next++
					if !taken[i] {
						taken[i], remaining = true, remaining-1
						return i
					}
				}
				return -1
			}
			// A line's coroutine starts when it takes a slot (on its
			// own context, so a refund can stop it), and as it ends it
			// starts the next.
			running := 0
			var launch func()
			launch = func() {
				for running < opts.MaxParallelLines {
					i := take()
					if i < 0 {
						return
					}
					if ctxs[i].Err() != nil {
						hooks.done(canceled(items[i].Line.ID))
						continue
					}
					running++
					wg.Add(1)
					workflow.Go(ctxs[i], func(ctx workflow.Context) {
						defer wg.Done()
						runLine(ctx, items[i])
						running--
						launch()
					})
				}
			}
			launch()
			// Reports the lines stopped while they waited.
			wg.Add(1)
			workflow.Go(waitCtx, func(ctx workflow.Context) {
				defer wg.Done()
				for {
					_ = workflow.Await(ctx, func() bool { return len(stopped) > 0 || remaining == 0 })
					if len(stopped) == 0 {
						return
					}
					for _, i := range stopped {
						hooks.done(canceled(items[i].Line.ID))
					}
					stopped = nil
				}
			})
			wg.Wait(waitCtx)
			return
		}
		sem := workflow.NewSemaphore(ctx, int64(opts.MaxParallelLines))
		for i, item := range items {
			if ctxs[i] == nil {
				continue
			}
			wg.Add(1)
			workflow.Go(ctxs[i], func(ctx workflow.Context) {
				defer wg.Done()
				if err := sem.Acquire(ctx, 1); err != nil {
					hooks.done(canceled(item.Line.ID))
					return
				}
				defer sem.Release(1)
				runLine(ctx, item)
			})
		}
		wg.Wait(waitCtx)
		return
	}
	var chunks [][]LineItem
	for start := 0; start < len(items); start += opts.BatchSize {
		chunks = append(chunks, items[start:min(start+opts.BatchSize, len(items))])
	}
	// The order's parallel cap holds across its batches: so many children
	// at a time, each with its share of the cap.
	running := min(len(chunks), opts.MaxParallelLines)
	childOpts := opts
	childOpts.MaxParallelLines = max(1, opts.MaxParallelLines/running)
	childSem := workflow.NewSemaphore(ctx, int64(running))
	for batch, chunk := range chunks {
		childID := contract.BatchWorkflowID(childPrefix, batch)
		var run []LineItem
		for _, it := range chunk {
			stop := func() {
				// Best effort: a batch that has not started yet or has
				// ended has nothing to stop.
				workflow.SignalExternalWorkflow(ctx, childID, "", contract.SignalCancelLines, []string{it.Line.ID})
			}
			if hooks.queued == nil || hooks.queued(it.Line.ID, stop) {
				run = append(run, it)
			} else {
				hooks.done(canceled(it.Line.ID))
			}
		}
		if len(run) == 0 {
			continue
		}
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := childSem.Acquire(ctx, 1); err != nil {
				for _, it := range run {
					hooks.done(LineOutcome{ID: it.Line.ID, Result: contract.Result{Status: contract.StatusFailure,
						ErrorType: contract.ErrorTypeLineCanceled, Message: "the order was cancelled before this line ran"}, Run: spec.run})
				}
				return
			}
			defer childSem.Release(1)
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:    childID,
				TaskQueue:     workflow.GetInfo(ctx).TaskQueueName,
				StaticSummary: fmt.Sprintf("order %s · batch %d · %s %d line(s)", number, batch+1, action, len(run)),
			})
			var outs []LineOutcome
			err := workflow.ExecuteChildWorkflow(cctx, contract.WorkflowLines, LinesInput{
				OrderNumber: number, User: user, Action: action, Items: run, Options: childOpts,
				Run: spec.run, LiveReports: spec.live, Flow: spec.flow,
			}).Get(cctx, &outs)
			reported := map[string]bool{}
			if err == nil {
				for _, o := range outs {
					reported[o.ID] = true
					hooks.done(o)
				}
			}
			for _, it := range run {
				if !reported[it.Line.ID] {
					msg := "the batch reported no outcome for this line"
					if err != nil {
						msg = err.Error()
					}
					hooks.done(LineOutcome{ID: it.Line.ID, Result: contract.Result{Status: contract.StatusFailure,
						ErrorType: contract.ErrorTypeBatchFailed, Message: msg, Retryable: true}, Run: spec.run})
				}
			}
		})
	}
	wg.Wait(waitCtx)
}

// statusCanceled marks, inside the workflow only, a line action stopped by a
// refund before it succeeded.
const statusCanceled = "canceled"
