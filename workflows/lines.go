package workflows

import (
	"errors"
	"fmt"
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
// Temporal's: a first short round of attempts, then, once the line is shown as
// retrying, one long round bounded by the horizon. Each round costs a handful
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
			remaining := opts.RetryHorizon - workflow.Now(ctx).Sub(started)
			if remaining <= 0 {
				break
			}
			policy.MaximumAttempts = 0
			policy.InitialInterval = min(opts.InitialRetryInterval<<firstRoundAttempts, opts.MaxRetryInterval)
			ao.ScheduleToCloseTimeout = remaining
		}
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
			// A timeout without a module answer: the attempt hung.
			last = modules.Result{Status: modules.StatusFailure, ErrorType: "Timeout", Message: err.Error(), Retryable: true}
			if round == 1 {
				attempts += firstRoundAttempts
			}
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
	gaveUp.Message = fmt.Sprintf("still failing after the retry horizon of %s; last error %s: %s", opts.RetryHorizon, last.ErrorType, last.Message)
	return lineRun{Result: gaveUp, Attempts: attempts}
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

// LinesWorkflow fulfills or revokes one batch of lines of a large order, so
// that no single execution holds more than a batch of activities.
func LinesWorkflow(ctx workflow.Context, in LinesInput) ([]LineOutcome, error) {
	opts := in.Options.WithDefaults()
	if in.Action != actionFulfill && in.Action != actionRevoke {
		return nil, temporal.NewNonRetryableApplicationError("unknown action "+in.Action, "InvalidInput", nil)
	}
	outcomes := make([]LineOutcome, len(in.Items))
	sem := workflow.NewSemaphore(ctx, int64(opts.MaxParallelLines))
	wg := workflow.NewWaitGroup(ctx)
	for i, item := range in.Items {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(ctx, 1); err != nil {
				return
			}
			defer sem.Release(1)
			run := runLineAction(ctx, opts, in.Action, activities.LineInput{
				OrderNumber: in.OrderNumber, User: in.User, Line: item.Line, Grant: item.Grant, Backoff: backoff(opts),
			}, nil)
			outcomes[i] = LineOutcome{ID: item.Line.ID, Result: run.Result, Attempts: run.Attempts}
		})
	}
	wg.Wait(ctx)
	return outcomes, nil
}

// runItems runs an action over items: directly when they fit in one batch,
// else as LinesWorkflow children of at most opts.BatchSize lines each.
// started is called as a line is about to run (nil cancel for a line inside a
// child batch) and may answer false to skip it; done is called for every line
// as its outcome is known.
func runItems(ctx workflow.Context, opts Options, number string, user order.User, action, childPrefix string,
	items []LineItem, started func(id string, cancel workflow.CancelFunc) bool, retrying func(id string, r modules.Result, attempts int), done func(LineOutcome)) {
	wg := workflow.NewWaitGroup(ctx)
	canceled := func(id string) LineOutcome {
		return LineOutcome{ID: id, Result: modules.Result{Status: statusCanceled}}
	}
	if len(items) <= opts.BatchSize {
		sem := workflow.NewSemaphore(ctx, int64(opts.MaxParallelLines))
		for _, item := range items {
			wg.Add(1)
			// The line's context exists while it waits for a slot, so a
			// refund can stop a queued line as well as a running one.
			lctx, cancel := workflow.WithCancel(ctx)
			workflow.Go(lctx, func(ctx workflow.Context) {
				defer wg.Done()
				if err := sem.Acquire(ctx, 1); err != nil {
					done(canceled(item.Line.ID))
					return
				}
				defer sem.Release(1)
				if started != nil && !started(item.Line.ID, cancel) {
					done(canceled(item.Line.ID))
					return
				}
				run := runLineAction(ctx, opts, action, activities.LineInput{
					OrderNumber: number, User: user, Line: item.Line, Grant: item.Grant, Backoff: backoff(opts),
				}, func(r modules.Result, attempts int) {
					if retrying != nil {
						retrying(item.Line.ID, r, attempts)
					}
				})
				out := LineOutcome{ID: item.Line.ID, Result: run.Result, Attempts: run.Attempts}
				if run.Canceled && !run.Result.OK() {
					out = canceled(item.Line.ID)
				}
				done(out)
			})
		}
		wg.Wait(ctx)
		return
	}
	for start, batch := 0, 0; start < len(items); start, batch = start+opts.BatchSize, batch+1 {
		chunk := items[start:min(start+opts.BatchSize, len(items))]
		var run []LineItem
		for _, it := range chunk {
			if started == nil || started(it.Line.ID, nil) {
				run = append(run, it)
			} else {
				done(canceled(it.Line.ID))
			}
		}
		if len(run) == 0 {
			continue
		}
		chunk = run
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID: fmt.Sprintf("%s-batch-%d", childPrefix, batch),
				TaskQueue:  workflow.GetInfo(ctx).TaskQueueName,
			})
			var outs []LineOutcome
			err := workflow.ExecuteChildWorkflow(cctx, LinesWorkflow, LinesInput{
				OrderNumber: number, User: user, Action: action, Items: chunk, Options: opts,
			}).Get(cctx, &outs)
			if err != nil {
				for _, it := range chunk {
					done(LineOutcome{ID: it.Line.ID, Result: modules.Result{Status: modules.StatusFailure,
						ErrorType: "BatchFailed", Message: err.Error()}})
				}
				return
			}
			for _, o := range outs {
				done(o)
			}
		})
	}
	wg.Wait(ctx)
}

// statusCanceled marks, inside the workflow only, a line action stopped by a
// refund before it succeeded.
const statusCanceled = "canceled"
