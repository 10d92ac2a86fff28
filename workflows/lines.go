package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// Defaults applied to zero Options.
const (
	DefaultMaxParallelLines     = 20
	DefaultRetryHorizon         = 24 * time.Hour
	DefaultRefundWindow         = 14 * 24 * time.Hour
	DefaultBatchSize            = 500
	DefaultActivityTimeout      = 30 * time.Second
	DefaultInitialRetryInterval = time.Second
	DefaultMaxRetryInterval     = 5 * time.Minute
)

// firstRoundAttempts is how many attempts run before a line is shown as
// retrying with its last error. One: support sees an LMS problem at once,
// even when the LMS asks (Retry-After) for a long wait before the next try.
const firstRoundAttempts = 1

// Line actions.
const (
	actionFulfill = "fulfill"
	actionRevoke  = "revoke"
)

// ErrorTypeGaveUp is the error_type of a line whose transient errors lasted
// past the retry horizon.
const ErrorTypeGaveUp = "RetryHorizonExceeded"

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.MaxParallelLines <= 0 {
		o.MaxParallelLines = DefaultMaxParallelLines
	}
	if o.RetryHorizon <= 0 {
		o.RetryHorizon = DefaultRetryHorizon
	}
	if o.RefundWindow <= 0 {
		o.RefundWindow = DefaultRefundWindow
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.ActivityTimeout <= 0 {
		o.ActivityTimeout = DefaultActivityTimeout
	}
	if o.InitialRetryInterval <= 0 {
		o.InitialRetryInterval = DefaultInitialRetryInterval
	}
	if o.MaxRetryInterval <= 0 {
		o.MaxRetryInterval = DefaultMaxRetryInterval
	}
	if o.MaxRetryInterval < o.InitialRetryInterval {
		o.MaxRetryInterval = o.InitialRetryInterval
	}
	return o
}

// lineRun is what one fulfill or revoke of one line ended with.
type lineRun struct {
	Result   modules.Result
	Attempts int
	// Canceled is true when the action was stopped before it succeeded
	// (a refund arrived for a line still being fulfilled).
	Canceled bool
}

// runLineAction runs one module action for one line until it succeeds, fails
// permanently, or its transient errors outlast the retry horizon. Retries are
// Temporal's: a first attempt, then, once the line is shown as retrying with
// that attempt's error and after the backoff (or the LMS's Retry-After), one
// long round of attempts bounded by the horizon. Each round costs a handful
// of history events however many attempts it makes.
func runLineAction(ctx workflow.Context, opts Options, action string, in activities.LineInput, retrying func(modules.Result, int)) lineRun {
	var acts *activities.Activities
	fn := acts.FulfillLine
	if action == actionRevoke {
		fn = acts.RevokeLine
	}
	started := workflow.Now(ctx)
	policy := &temporal.RetryPolicy{
		InitialInterval:    opts.InitialRetryInterval,
		BackoffCoefficient: 2,
		MaximumInterval:    opts.MaxRetryInterval,
		MaximumAttempts:    firstRoundAttempts,
	}
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: opts.ActivityTimeout,
		RetryPolicy:         policy,
		WaitForCancellation: true,
	}
	attempts := 0
	var last modules.Result
	for round := 1; ; round++ {
		if round > 1 {
			// The first round's single attempt leaves no room for
			// Temporal's own backoff: wait here, as the LMS asked or one
			// backoff step.
			gap := opts.InitialRetryInterval
			if last.RetryAfterSeconds > 0 {
				gap = time.Duration(last.RetryAfterSeconds) * time.Second
			}
			if err := workflow.Sleep(ctx, gap); err != nil {
				return lineRun{Result: last, Attempts: attempts, Canceled: true}
			}
			remaining := opts.RetryHorizon - workflow.Now(ctx).Sub(started)
			if remaining <= 0 {
				break
			}
			policy.MaximumAttempts = 0
			policy.InitialInterval = min(opts.InitialRetryInterval*2, opts.MaxRetryInterval)
			ao.ScheduleToCloseTimeout = remaining
			// The activity's own backoff goes on from where round 1 ended.
			in.AttemptOffset = attempts
		}
		// A readable activity ID lets the API match a pending attempt
		// (its live attempt count and last failure) to its line.
		ao.ActivityID = LineActivityID(action, in.Line.ID, round)
		actx := workflow.WithActivityOptions(ctx, ao)
		var out activities.LineOutcome
		err := workflow.ExecuteActivity(actx, fn, in).Get(actx, &out)
		if err == nil {
			return lineRun{Result: out.Result, Attempts: attempts + out.Attempt}
		}
		failed, attempt, ok := outcomeOf(err)
		switch {
		case ok:
			last = failed
			attempts += attempt
		case temporal.IsCanceledError(err):
			return lineRun{Result: last, Attempts: attempts, Canceled: true}
		default:
			// No module answer: the attempt hung past its time limit, or the
			// worker failed it. At least one attempt ran.
			last = modules.Result{Status: modules.StatusFailure, ErrorType: "Timeout", Message: err.Error(), Retryable: true}
			attempts++
		}
		if ctx.Err() != nil {
			return lineRun{Result: last, Attempts: attempts, Canceled: true}
		}
		if !last.Retryable {
			return lineRun{Result: last, Attempts: attempts}
		}
		if round > 1 {
			break
		}
		if retrying != nil {
			retrying(last, attempts)
		}
	}
	gaveUp := last
	gaveUp.Retryable = false
	gaveUp.ErrorType = ErrorTypeGaveUp
	gaveUp.Message = fmt.Sprintf("gave up within the retry horizon of %s; last error %s: %s", opts.RetryHorizon, last.ErrorType, last.Message)
	return lineRun{Result: gaveUp, Attempts: attempts}
}

// LineActivityID is the activity ID of one round of one action on one line:
// "fulfill/<line>/r<round>". Line ids cannot contain "/".
func LineActivityID(action, lineID string, round int) string {
	return fmt.Sprintf("%s/%s/r%d", action, lineID, round)
}

// ParseLineActivityID is the inverse of LineActivityID.
func ParseLineActivityID(id string) (action, lineID string, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "r") {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func backoff(opts Options) *activities.Backoff {
	return &activities.Backoff{Initial: opts.InitialRetryInterval, Max: opts.MaxRetryInterval}
}

// outcomeOf digs the module's answer out of a failed activity.
func outcomeOf(err error) (modules.Result, int, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return modules.Result{}, 0, false
	}
	var out activities.LineOutcome
	if appErr.Details(&out) != nil || out.Result.Status == "" {
		return modules.Result{}, 0, false
	}
	return out.Result, out.Attempt, true
}

// LineItem is one line a LinesWorkflow acts on.
type LineItem struct {
	Line  order.Line        `json:"line"`
	Grant map[string]string `json:"grant,omitempty"`
}

// LinesInput starts a LinesWorkflow: one batch of a large order.
type LinesInput struct {
	OrderNumber string     `json:"order_number"`
	User        order.User `json:"user"`
	Action      string     `json:"action"`
	Items       []LineItem `json:"items"`
	Options     Options    `json:"options"`
}

// LineOutcome is what a LinesWorkflow reports for one line.
type LineOutcome struct {
	ID       string         `json:"id"`
	Result   modules.Result `json:"result"`
	Attempts int            `json:"attempts"`
}

// SignalCancelLines asks a LinesWorkflow to stop some of its lines (their
// order was refunded); payload: a list of line ids.
const SignalCancelLines = "cancel-lines"

// SignalLineOutcomes carries, from a LinesWorkflow to its parent, the
// outcomes of lines the parent asked to stop that had already finished, so
// a refund need not wait for the rest of the batch; payload: []LineOutcome.
const SignalLineOutcomes = "line-outcomes"

// ErrorTypeCanceled is the error_type of a line whose batch was cancelled
// before the line ran; an operator's retry runs it.
const ErrorTypeCanceled = "Canceled"

// lineHooks lets the caller of runItems follow and steer each line.
type lineHooks struct {
	// queued is called as a line is queued, with the function that stops
	// it; answering false skips the line.
	queued func(id string, stop func()) bool
	// started is called as a line's first attempt begins (nil for lines
	// inside a batch child).
	started func(id string)
	// retrying is called when a line's first attempt failed transiently.
	retrying func(id string, r modules.Result, attempts int)
	// done is called once per line with its outcome.
	done func(LineOutcome)
}

// LinesWorkflow fulfills or revokes one batch of lines of a large order, so
// that no single execution holds more than a batch of activities. The
// SignalCancelLines signal stops lines of the batch.
func LinesWorkflow(ctx workflow.Context, in LinesInput) ([]LineOutcome, error) {
	opts := in.Options.WithDefaults()
	if in.Action != actionFulfill && in.Action != actionRevoke {
		return nil, temporal.NewNonRetryableApplicationError("unknown action "+in.Action, "InvalidInput", nil)
	}
	// Every line has an outcome even if the batch is cancelled before it ran.
	outcomes := make([]LineOutcome, len(in.Items))
	pos := make(map[string]int, len(in.Items))
	for i, item := range in.Items {
		pos[item.Line.ID] = i
		outcomes[i] = LineOutcome{ID: item.Line.ID, Result: modules.Result{Status: modules.StatusFailure,
			ErrorType: ErrorTypeCanceled, Message: "the batch was cancelled before this line ran"}}
	}
	stops := map[string]func(){}
	finished, stopped := map[string]bool{}, map[string]bool{}
	// report hands outcomes of lines the parent asked to stop straight to
	// it. Best effort: the batch's result carries them too.
	report := func(outs []LineOutcome) {
		if parent := workflow.GetInfo(ctx).ParentWorkflowExecution; len(outs) > 0 && parent != nil {
			workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalLineOutcomes, outs)
		}
	}
	cancelCh := workflow.GetSignalChannel(ctx, SignalCancelLines)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return cancelCh.Len() > 0 }); err != nil {
				return
			}
			var ids []string
			if ok, _ := cancelCh.ReceiveAsyncWithMoreFlag(&ids); !ok {
				workflow.GetLogger(ctx).Warn("ignored malformed cancel-lines signal")
				continue
			}
			var done []LineOutcome
			for _, id := range ids {
				i, known := pos[id]
				switch {
				case !known:
				case finished[id]:
					done = append(done, outcomes[i])
				case stops[id] != nil:
					stopped[id] = true
					stops[id]()
				}
			}
			report(done)
		}
	})
	runItems(ctx, opts, in.OrderNumber, in.User, in.Action, "", in.Items, lineHooks{
		queued: func(id string, stop func()) bool { stops[id] = stop; return true },
		done: func(o LineOutcome) {
			if i, ok := pos[o.ID]; ok {
				outcomes[i] = o
				finished[o.ID] = true
				if stopped[o.ID] {
					report([]LineOutcome{o})
				}
			}
		},
	})
	return outcomes, nil
}

// runItems runs an action over items: directly when they fit in one batch,
// else as LinesWorkflow children of at most opts.BatchSize lines each, with
// the parallel cap shared among the children. It returns when every line has
// its outcome, also when ctx is cancelled.
func runItems(ctx workflow.Context, opts Options, number string, user order.User, action, childPrefix string,
	items []LineItem, hooks lineHooks) {
	// Waiting goes on after a cancel: each line reports how it ended.
	waitCtx, _ := workflow.NewDisconnectedContext(ctx)
	wg := workflow.NewWaitGroup(ctx)
	canceled := func(id string) LineOutcome {
		return LineOutcome{ID: id, Result: modules.Result{Status: statusCanceled}}
	}
	if len(items) <= opts.BatchSize {
		sem := workflow.NewSemaphore(ctx, int64(opts.MaxParallelLines))
		for _, item := range items {
			// The line's context exists while it waits for a slot, so a
			// refund can stop a queued line as well as a running one.
			lctx, cancel := workflow.WithCancel(ctx)
			if hooks.queued != nil && !hooks.queued(item.Line.ID, cancel) {
				hooks.done(canceled(item.Line.ID))
				continue
			}
			wg.Add(1)
			workflow.Go(lctx, func(ctx workflow.Context) {
				defer wg.Done()
				if err := sem.Acquire(ctx, 1); err != nil {
					hooks.done(canceled(item.Line.ID))
					return
				}
				defer sem.Release(1)
				if hooks.started != nil {
					hooks.started(item.Line.ID)
				}
				run := runLineAction(ctx, opts, action, activities.LineInput{
					OrderNumber: number, User: user, Line: item.Line, Grant: item.Grant, Backoff: backoff(opts),
				}, func(r modules.Result, attempts int) {
					if hooks.retrying != nil {
						hooks.retrying(item.Line.ID, r, attempts)
					}
				})
				out := LineOutcome{ID: item.Line.ID, Result: run.Result, Attempts: run.Attempts}
				if run.Canceled && !run.Result.OK() {
					out = canceled(item.Line.ID)
					out.Attempts = run.Attempts
				}
				hooks.done(out)
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
		childID := fmt.Sprintf("%s~batch-%d", childPrefix, batch)
		var run []LineItem
		for _, it := range chunk {
			stop := func() {
				// Best effort: a batch that has not started yet or has
				// ended has nothing to stop.
				workflow.SignalExternalWorkflow(ctx, childID, "", SignalCancelLines, []string{it.Line.ID})
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
					hooks.done(LineOutcome{ID: it.Line.ID, Result: modules.Result{Status: modules.StatusFailure,
						ErrorType: ErrorTypeCanceled, Message: "the order was cancelled before this line ran"}})
				}
				return
			}
			defer childSem.Release(1)
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID: childID,
				TaskQueue:  workflow.GetInfo(ctx).TaskQueueName,
			})
			var outs []LineOutcome
			err := workflow.ExecuteChildWorkflow(cctx, LinesWorkflow, LinesInput{
				OrderNumber: number, User: user, Action: action, Items: run, Options: childOpts,
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
					hooks.done(LineOutcome{ID: it.Line.ID, Result: modules.Result{Status: modules.StatusFailure,
						ErrorType: "BatchFailed", Message: msg, Retryable: true}})
				}
			}
		})
	}
	wg.Wait(waitCtx)
}

// statusCanceled marks, inside the workflow only, a line action stopped by a
// refund before it succeeded.
const statusCanceled = "canceled"
