package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// firstRoundAttempts is how many attempts run before a line is shown as
// retrying with its last error. One: support sees an LMS problem at once,
// even when the LMS asks (Retry-After) for a long wait before the next try.
const firstRoundAttempts = 1

// lineRun is what one fulfill or revoke of one line ended with.
type lineRun struct {
	Result   contract.Result
	Attempts int
	// Canceled is true when the action was stopped before it succeeded
	// (a refund arrived for a line still being fulfilled).
	Canceled bool
	// ObservedAt is when a successful observation read the LMS.
	ObservedAt time.Time
}

// lineStep is one module action on a line, and how to schedule it.
type lineStep struct {
	action contract.Action
	// local runs the action's first attempt as a local activity: on this
	// worker, its result recorded as a marker, with no task for the
	// server to schedule (for the read-only observation).
	local bool
	// lean: readable activity IDs without reading line-activity-ids.
	lean bool
}

// runLineAction runs one module action for one line until it succeeds, fails
// permanently, or its transient errors outlast the retry horizon. Retries are
// Temporal's: a first attempt, then, once the line is shown as retrying with
// that attempt's error and after the backoff (or the LMS's Retry-After), one
// long round of attempts bounded by the horizon. Each round costs a handful
// of history events however many attempts it makes.
func runLineAction(ctx workflow.Context, opts contract.Options, step lineStep, in activities.LineInput,
	retrying func(contract.Result, int)) lineRun {
	action := step.action
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
	var last contract.Result
	for round := 1; ; round++ {
		if round > 1 {
			// The first round's single attempt leaves no room for
			// Temporal's own backoff: wait here, as the LMS asked or one
			// backoff step.
			gap := opts.InitialRetryInterval
			if last.RetryAfterSeconds > 0 {
				gap = time.Duration(last.RetryAfterSeconds) * time.Second
			}
			wait := workflow.NewTimerWithOptions(ctx, gap, workflow.TimerOptions{
				Summary: fmt.Sprintf("line %s: wait %s before retrying (%s)", in.Line.ID, gap, last.ErrorType)})
			if err := wait.Get(ctx, nil); err != nil {
				return lineRun{Result: last, Attempts: attempts, Canceled: true}
			}
			remaining := opts.RetryHorizon - workflow.Now(ctx).Sub(started)
			if remaining <= 0 {
				break
			}
			policy.MaximumAttempts = 0
			policy.InitialInterval = min(opts.InitialRetryInterval*2, opts.MaxRetryInterval)
			ao.ScheduleToCloseTimeout = remaining
			// The activity's own backoff goes on from where round 1 ended;
			// after a failed attempt the observation is no longer the
			// LMS's current state.
			in.AttemptOffset, in.ObservedAt = attempts, time.Time{}
		}
		var out activities.LineOutcome
		var err error
		if step.local && round == 1 {
			// Only the first attempt: a long round of retries runs as an
			// activity, whose live attempts the server shows (see the
			// starter's pending attempts).
			lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				StartToCloseTimeout: opts.ActivityTimeout, ScheduleToCloseTimeout: ao.ScheduleToCloseTimeout, RetryPolicy: policy,
				Summary: lineSummary(action, in.Line, round),
			})
			err = workflow.ExecuteLocalActivity(lctx, action.Activity(), in).Get(lctx, &out)
		} else {
			// A readable activity ID lets the API match a pending attempt
			// (its live attempt count and last failure) to its line; runs
			// of older code keep the SDK's default.
			ao.ActivityID = lineActivityID(ctx, step.lean, action, in.Line.ID, round)
			// What the Web UI shows on the activity instead of its type
			// alone (user metadata: replay does not compare it).
			ao.Summary = lineSummary(action, in.Line, round)
			actx := workflow.WithActivityOptions(ctx, ao)
			err = workflow.ExecuteActivity(actx, action.Activity(), in).Get(actx, &out)
		}
		if err == nil {
			return lineRun{Result: out.Result, Attempts: attempts + out.Attempt, ObservedAt: out.ObservedAt}
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
			last = contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAttemptTimedOut, Message: err.Error(), Retryable: true}
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
	gaveUp.ErrorType = contract.ErrorTypeRetryHorizonExceeded
	gaveUp.Message = fmt.Sprintf("gave up within the retry horizon of %s; last error %s: %s", opts.RetryHorizon, last.ErrorType, last.Message)
	return lineRun{Result: gaveUp, Attempts: attempts}
}

func backoff(opts contract.Options) *activities.Backoff {
	return &activities.Backoff{Initial: opts.InitialRetryInterval, Max: opts.MaxRetryInterval}
}

// outcomeOf digs the module's answer out of a failed activity.
func outcomeOf(err error) (contract.Result, int, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.HasDetails() {
		return contract.Result{}, 0, false
	}
	var out activities.LineOutcome
	if appErr.Details(&out) != nil || out.Result.Status == "" {
		return contract.Result{}, 0, false
	}
	return out.Result, out.Attempt, true
}

// Readable line activity IDs (contract.LineActivityID) came in 4f36fe3
// without a gate; before them (up to 541de13) a line's activity had the
// SDK's default ID, the event ID of its scheduling. So runs without the
// line-activity-ids marker exist with either ID.
//
// sdkDefaultActivityIDBuilds are the Build IDs of workers that scheduled line
// activities with the SDK's default ID and without the line-activity-ids
// marker. A run without the marker cannot tell by its version which ID its
// activities have: GetVersion answers DefaultVersion both for runs of code
// before 4f36fe3 (default IDs) and for runs of 4f36fe3 up to the gate
// (readable IDs). The Build ID of the worker that completed a workflow task
// is in its WorkflowTaskCompleted event, and the SDK hands it back on replay
// (GetCurrentBuildID, safe for branching), so it tells the two apart.
// Unlisted builds without the marker get readable IDs, as 4f36fe3 gave them.
// A deployment that ran code before 4f36fe3 lists its workers' Build IDs
// here (workerVersion.buildId of the WorkflowTaskCompleted events of any of
// its runs of that time). Read-only.
var sdkDefaultActivityIDBuilds = map[string]bool{
	// Recorded at 0e89bd9 (testdata/v0e89bd9_*.json), two sessions.
	"eed4ee02f4508726944396ca145e38d2": true,
	"a9ee0bdbbd03263cada11aae808f62f2": true,
	// Recorded at 0141bdd (testdata/v0141bdd_*.json).
	"74a612ead75409f2c4a1daebe30f7cd8": true,
}

// lineActivityID is the ID to schedule one round of one action on one line
// with: contract.LineActivityID, or "" (the SDK's default) in a run without
// the line-activity-ids marker whose current workflow task was completed by
// a build of the time before readable IDs. A lean run does not read it.
func lineActivityID(ctx workflow.Context, lean bool, action contract.Action, lineID string, round int) string {
	if !lean && workflow.GetVersion(ctx, changeLineActivityIDs, workflow.DefaultVersion, 1) == workflow.DefaultVersion &&
		sdkDefaultActivityIDBuilds[workflow.GetInfo(ctx).GetCurrentBuildID()] {
		return ""
	}
	return contract.LineActivityID(action, lineID, round)
}
