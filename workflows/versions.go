package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// Change IDs of behaviour changes a running order must not see mid-run:
// each is read with workflow.GetVersion, DefaultVersion being the behaviour
// before the change. Add one for every change that alters the commands a
// workflow issues (their kind, order or IDs), and keep the old path until
// no history that needs it can still be replayed.
const (
	// changeLineActivityIDs: readable line activity IDs (see lineActivityID).
	changeLineActivityIDs = "line-activity-ids"
	// changeRefundingState: the OrderStatus search attribute reads
	// "refunding" while revokes run, and refunded / partially_refunded only
	// once they ended (an extra upsert when a refund's revokes end).
	changeRefundingState = "refunding-state"
	// changeRefundWorkflowIDs: refund workflows are named
	// order-<number>~refund-<id> instead of order-<number>-refund-<id>.
	changeRefundWorkflowIDs = "refund-workflow-ids"
	// changeObserveBeforeWrite: a line's fulfill is preceded by an
	// ObserveLine that records the learner's prior state: an activity in
	// version 1, a local activity (its result a marker in the history, no
	// task for the server to schedule) from version 2.
	changeObserveBeforeWrite = "observe-before-write"
	// changeBatchLiveReports: a batch of an order's fulfillment reports its
	// lines' retries and outcomes to the order as they happen.
	changeBatchLiveReports = "batch-live-reports"
	// changeAwaitAccount: a module's AwaitingAccount answer parks the line
	// as awaiting_account, checked again with timers, instead of failing it.
	changeAwaitAccount = "await-account"
	// changeFailureAttrs: the FailedCourseIds and ErrorTypes search
	// attributes follow the lines that need a person (an upsert when they
	// change, where the status and failed count stayed the same).
	changeFailureAttrs = "failure-search-attributes"
)

// Summaries (activities, timers, children), the workflow's current details
// and the descriptions of its handlers are user metadata, which replay does
// not compare (see details.go): they need no version.

// orderVersions are the behaviours one run of an order workflow follows.
type orderVersions struct {
	refundingState bool
	tildeRefundIDs bool
	observe        observeMode
	liveReports    bool
	awaitAccount   bool
	failureAttrs   bool
	// lean: the run started with changeLeanStart (see lean.go).
	lean bool
}

// readOrderVersions reads the versions once, as the run starts: from the
// run's flow when it has one, else with workflow.GetVersion.
func readOrderVersions(ctx workflow.Context, flow int) orderVersions {
	if v, ok := flowVersions(flow); ok {
		return v
	}
	if v, ok := readLeanVersions(ctx); ok {
		return v
	}
	return orderVersions{
		refundingState: workflow.GetVersion(ctx, changeRefundingState, workflow.DefaultVersion, 1) == 1,
		tildeRefundIDs: workflow.GetVersion(ctx, changeRefundWorkflowIDs, workflow.DefaultVersion, 1) == 1,
		observe:        readObserveMode(ctx),
		liveReports:    workflow.GetVersion(ctx, changeBatchLiveReports, workflow.DefaultVersion, 1) == 1,
		awaitAccount:   workflow.GetVersion(ctx, changeAwaitAccount, workflow.DefaultVersion, 1) == 1,
		failureAttrs:   workflow.GetVersion(ctx, changeFailureAttrs, workflow.DefaultVersion, 1) == 1,
	}
}

// refundWorkflowID is the ID of the RevokeWorkflow of one refund of this
// run's order.
func (w *orderRun) refundWorkflowID(refundID string) string {
	if w.versions.tildeRefundIDs {
		return contract.RefundWorkflowID(w.in.Order.Number, refundID)
	}
	return contract.LegacyRefundWorkflowID(w.in.Order.Number, refundID)
}

// publishedState is the OrderStatus search attribute's value: the order's
// state, by the rule this run started with.
func (w *orderRun) publishedState() contract.OrderState {
	if w.versions.refundingState {
		return w.state()
	}
	return legacyOrderState(w.lines, w.refunds)
}

// legacyOrderState is the order state of runs started before
// changeRefundingState: refunded (or partially) as soon as the refund was
// accepted.
func legacyOrderState(lines []contract.LineStatus, refunds []contract.RefundStatus) contract.OrderState {
	if s := contract.DeriveOrderState(lines, refunds); s != contract.OrderRefunding {
		return s
	}
	for _, l := range lines {
		if l.RefundID == "" {
			return contract.OrderPartiallyRefunded
		}
	}
	return contract.OrderRefunded
}

// observeMode is how a run records a line's prior state before its first
// write.
type observeMode int

const (
	observeNone     observeMode = iota // runs before observation
	observeActivity                    // an ObserveLine activity
	observeLocal                       // an ObserveLine local activity
)

// readObserveMode reads the run's observeMode (once per run: the SDK caches
// a change's version).
func readObserveMode(ctx workflow.Context) observeMode {
	switch workflow.GetVersion(ctx, changeObserveBeforeWrite, workflow.DefaultVersion, 2) {
	case 1:
		return observeActivity
	case 2:
		return observeLocal
	}
	return observeNone
}

// flowVersions are the versions of a run started with a flow (see
// contract.CurrentFlow); ok is false for a run without one. A flow newer
// than this code panics, which fails the workflow task (and only it): the
// task is retried until a worker that knows the flow takes it.
func flowVersions(flow int) (_ orderVersions, ok bool) {
	switch {
	case flow <= 0:
		return orderVersions{}, false
	case flow > contract.CurrentFlow:
		panic(fmt.Sprintf("order flow %d is newer than this worker's (%d): a newer worker must run this order", flow, contract.CurrentFlow))
	}
	return leanVersions(2), true
}

// changePooledLines: the lines of a batch beyond its parallel cap are taken
// in turn by MaxParallelLines coroutines instead of each waiting for a slot
// in a coroutine of its own. Read only where it matters (more lines than
// the cap), so small orders record no marker.
const changePooledLines = "pooled-lines"

// readPooledLines reports whether this run takes waiting lines with pooled
// runners.
func readPooledLines(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changePooledLines, workflow.DefaultVersion, 1) == 1
}
