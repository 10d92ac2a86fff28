// Package workflows holds the order workflow, the refund (revoke) workflow
// and the batch workflow that splits large orders. The workflow history is
// the order's status record: there is no other store of order state.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// orderRun is one run of an order workflow.
type orderRun struct {
	in       contract.OrderInput
	opts     contract.Options
	lines    []contract.LineStatus
	index    map[string]int
	refunds  []contract.RefundStatus
	deadline time.Time
	seq      int
	// inFlight and cancels track lines whose fulfillment is queued or
	// running, so a refund can stop and wait for them.
	inFlight map[string]int
	cancels  map[string]workflow.CancelFunc
	active   int
	// dirty asks the publisher to upsert the search attributes; it runs
	// once per workflow task however many lines changed in it.
	dirty bool
	// The signal channels, so the workflow never closes or continues as
	// new with a signal still unread.
	retryCh, refundCh workflow.ReceiveChannel
	published         struct {
		status contract.OrderState
		failed int
		// failures is FailedCourseIds and ErrorTypes as last upserted.
		failures string
	}
	versions orderVersions
	// cancelled is set once the workflow is cancelled: fulfillment stops,
	// accepted refunds run to their end, retries are refused.
	cancelled bool
	// ignored lists the latest signals the order did not act on.
	ignored []contract.IgnoredRequest
	// awaiting holds the lines waiting for the learner's account;
	// accountWaiting is set while the wait runs, accountWait is its next
	// interval.
	awaiting       map[string]bool
	accountWaiting bool
	accountWait    time.Duration
	// late is set in a LateRefundsWorkflow: the order has closed, nothing
	// is fulfilled, refunds and retries of their revokes are taken.
	late bool
}

// OrderWorkflow fulfills one order: one module call per line, in parallel up
// to a cap, retried durably; failed lines wait for an operator's retry;
// refunds run compensating RevokeWorkflows. It stays open for the refund
// window and returns the final status document.
func OrderWorkflow(ctx workflow.Context, in contract.OrderInput) (contract.StatusDocument, error) {
	return newOrderRun(ctx, in).run(ctx)
}

// LateRefundsWorkflow takes the refunds of an order whose workflow has
// closed, and retries of their revokes: the same rules and status document
// as the order workflow, one execution per order (the starter starts it with
// the refund that needs it, update-with-start), so no line is refunded twice.
// It stays open until every line is refunded and nothing waits for an
// operator, or until in.Until.
func LateRefundsWorkflow(ctx workflow.Context, in contract.LateRefundsInput) (contract.StatusDocument, error) {
	w := newOrderRun(ctx, contract.OrderInput{Order: in.Order, Options: in.Options, Flow: in.Flow, Carry: &contract.OrderCarry{
		Lines: in.Base.Lines, Refunds: in.Base.Refunds, Deadline: in.Until, Seq: in.Seq, IgnoredRequests: in.Base.IgnoredRequests,
	}})
	w.late = true
	// A cancelled order stays cancelled: its lines are not fulfilled again.
	w.cancelled = in.Base.Cancelled
	return w.run(ctx)
}

func newOrderRun(ctx workflow.Context, in contract.OrderInput) *orderRun {
	w := &orderRun{in: in, opts: in.Options.WithDefaults(), index: map[string]int{},
		inFlight: map[string]int{}, cancels: map[string]workflow.CancelFunc{}, awaiting: map[string]bool{}}
	if in.Carry != nil {
		w.lines = in.Carry.Lines
		w.refunds = in.Carry.Refunds
		w.deadline = in.Carry.Deadline
		w.seq = in.Carry.Seq
		w.ignored = in.Carry.IgnoredRequests
	} else {
		w.deadline = workflow.Now(ctx).Add(w.opts.RefundWindow)
		for _, l := range in.Order.Lines {
			w.lines = append(w.lines, contract.LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode, State: contract.LinePending})
		}
	}
	// A carry (or a late-refunds base) leaves out what the order holds.
	contract.FillFromOrder(w.lines, in.Order)
	for i, l := range w.lines {
		w.index[l.ID] = i
	}
	if w.refunds == nil {
		w.refunds = []contract.RefundStatus{}
	}
	return w
}

func (w *orderRun) run(ctx workflow.Context) (contract.StatusDocument, error) {
	logger := workflow.GetLogger(ctx)
	in := w.in
	// Before any handler: an update delivered with the start runs as soon
	// as its handler is set, and must follow this run's versions.
	w.versions = readOrderVersions(ctx, in.Flow)

	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryStatus, func() (contract.StatusDocument, error) { return w.snapshot(false), nil },
		workflow.QueryHandlerOptions{Description: descStatus}); err != nil {
		return contract.StatusDocument{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateRetry, w.handleRetry,
		workflow.UpdateHandlerOptions{Validator: w.validateRetry, Description: descRetryUpdate}); err != nil {
		return contract.StatusDocument{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateRefund, w.handleRefund,
		workflow.UpdateHandlerOptions{Validator: w.validateRefund, Description: descRefundUpdate}); err != nil {
		return contract.StatusDocument{}, err
	}
	if err := w.setWaitHandler(ctx); err != nil {
		return contract.StatusDocument{}, err
	}
	// Signals and the search attributes are served on a context a cancel
	// does not reach: a cancelled order still takes refunds and shows its
	// state until it closes.
	bg, _ := workflow.NewDisconnectedContext(ctx)
	w.listenSignals(bg)
	workflow.Go(bg, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return w.dirty }); err != nil {
				return
			}
			w.dirty = false
			w.publishNow(ctx)
		}
	})

	if in.Carry == nil && !w.late && !w.startSetAttributes(ctx) {
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			contract.OrderNumberKey.ValueSet(in.Order.Number), contract.CourseIDsKey.ValueSet(contract.CourseIDsAttr(in.Order))); err != nil {
			logger.Warn("upsert search attributes", "error", err)
		}
	}
	w.publish(ctx)

	var pending []string
	for _, l := range w.lines {
		if l.State == contract.LinePending && !w.late {
			pending = append(pending, l.ID)
		}
	}
	if len(pending) > 0 {
		w.fulfill(ctx, pending)
	}

	timer := workflow.NewTimerWithOptions(ctx, w.deadline.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: w.windowSummary()})
	windowOver := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		_ = timer.Get(ctx, nil)
		windowOver = true
	})
	idle := func() bool {
		return w.active == 0 && !w.dirty && workflow.AllHandlersFinished(ctx) &&
			w.retryCh.Len() == 0 && w.refundCh.Len() == 0
	}
	for {
		done := func() bool {
			// An order that needs a person stays open past the window
			// until one has acted (retry or refund).
			return !w.needsOperator() && (windowOver || w.late && w.allRefunded())
		}
		if err := workflow.Await(ctx, func() bool {
			return idle() && (done() || workflow.GetInfo(ctx).GetContinueAsNewSuggested())
		}); err != nil {
			return w.closeCancelled(bg, idle)
		}
		if done() {
			final := w.snapshot(true)
			logger.Info("refund window over, order closed", "status", final.Status)
			return final, nil
		}
		logger.Info("history is long, continuing as new")
		if w.late {
			return contract.StatusDocument{}, workflow.NewContinueAsNewError(ctx, contract.WorkflowLateRefunds, contract.LateRefundsInput{
				Order: in.Order, Options: in.Options, Base: w.snapshot(true), Until: w.deadline, Seq: w.seq, Flow: in.Flow,
			})
		}
		return contract.StatusDocument{}, workflow.NewContinueAsNewError(ctx, contract.WorkflowOrder, contract.OrderInput{
			Order: in.Order, Options: in.Options, Flow: in.Flow,
			Carry: &contract.OrderCarry{Lines: w.lines, Refunds: w.refunds, Deadline: w.deadline, Seq: w.seq, IgnoredRequests: w.ignored},
		})
	}
}

func (w *orderRun) line(id string) *contract.LineStatus {
	i, ok := w.index[id]
	if !ok {
		return nil
	}
	return &w.lines[i]
}

func (w *orderRun) orderLine(id string) order.Line {
	// w.lines was built from the order's lines, in the same order.
	if i, ok := w.index[id]; ok && i < len(w.in.Order.Lines) && w.in.Order.Lines[i].ID == id {
		return w.in.Order.Lines[i]
	}
	return order.Line{ID: id}
}

// closeCancelled ends a cancelled order (cancelled from the Web UI, say):
// fulfillment has stopped, but refunds already accepted, and those that
// arrive until the order closes, run to their end, so no refunded learner
// stays enrolled. The order closes as cancelled with its final status
// document as the cancellation's details.
func (w *orderRun) closeCancelled(ctx workflow.Context, idle func() bool) (contract.StatusDocument, error) {
	w.cancelled = true
	w.publish(ctx)
	_ = workflow.Await(ctx, idle)
	final := w.snapshot(true)
	workflow.GetLogger(ctx).Warn("order cancelled", "status", final.Status)
	return contract.StatusDocument{}, temporal.NewCanceledError(final)
}
