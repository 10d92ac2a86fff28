// Package workflows holds the order workflow, the refund (revoke) workflow
// and the batch workflow that splits large orders. The workflow history is
// the order's status record: there is no other store of order state.
package workflows

import (
	"time"

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
	inFlight map[string]bool
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
	}
}

// OrderWorkflow fulfills one order: one module call per line, in parallel up
// to a cap, retried durably; failed lines wait for an operator's retry;
// refunds run compensating RevokeWorkflows. It stays open for the refund
// window and returns the final status document.
func OrderWorkflow(ctx workflow.Context, in contract.OrderInput) (contract.StatusDocument, error) {
	logger := workflow.GetLogger(ctx)
	w := &orderRun{in: in, opts: in.Options.WithDefaults(), index: map[string]int{},
		inFlight: map[string]bool{}, cancels: map[string]workflow.CancelFunc{}}
	if in.Carry != nil {
		w.lines = in.Carry.Lines
		w.refunds = in.Carry.Refunds
		w.deadline = in.Carry.Deadline
		w.seq = in.Carry.Seq
	} else {
		w.deadline = workflow.Now(ctx).Add(w.opts.RefundWindow)
		for _, l := range in.Order.Lines {
			w.lines = append(w.lines, contract.LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode, State: contract.LinePending})
		}
	}
	for i, l := range w.lines {
		w.index[l.ID] = i
	}

	if err := workflow.SetQueryHandler(ctx, contract.QueryStatus, func() (contract.StatusDocument, error) { return w.snapshot(false), nil }); err != nil {
		return contract.StatusDocument{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateRetry, w.handleRetry,
		workflow.UpdateHandlerOptions{Validator: w.validateRetry}); err != nil {
		return contract.StatusDocument{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateRefund, w.handleRefund,
		workflow.UpdateHandlerOptions{Validator: w.validateRefund}); err != nil {
		return contract.StatusDocument{}, err
	}
	w.listenSignals(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return w.dirty }); err != nil {
				return
			}
			w.dirty = false
			w.publishNow(ctx)
		}
	})

	if in.Carry == nil {
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			contract.OrderNumberKey.ValueSet(in.Order.Number), contract.CourseIDsKey.ValueSet(contract.CourseIDsAttr(in.Order))); err != nil {
			logger.Warn("upsert search attributes", "error", err)
		}
	}
	w.publish(ctx)

	var pending []string
	for _, l := range w.lines {
		if l.State == contract.LinePending {
			pending = append(pending, l.ID)
		}
	}
	if len(pending) > 0 {
		w.fulfill(ctx, pending)
	}

	timer := workflow.NewTimer(ctx, w.deadline.Sub(workflow.Now(ctx)))
	windowOver := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		_ = timer.Get(ctx, nil)
		windowOver = true
	})
	for {
		if err := workflow.Await(ctx, func() bool {
			idle := w.active == 0 && !w.dirty && workflow.AllHandlersFinished(ctx) &&
				w.retryCh.Len() == 0 && w.refundCh.Len() == 0
			// An order that needs a person stays open past the window
			// until one has acted (retry or refund).
			return idle && (windowOver && !w.needsOperator() || workflow.GetInfo(ctx).GetContinueAsNewSuggested())
		}); err != nil {
			// Cancelled (from the Web UI, say): fulfillment stops, but
			// refunds already accepted run to their end, so no refunded
			// learner stays enrolled.
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			_ = workflow.Await(dctx, func() bool { return w.active == 0 && !w.dirty })
			logger.Warn("order cancelled", "status", contract.DeriveOrderState(w.lines, w.refunds))
			return w.snapshot(false), err
		}
		if windowOver && !w.needsOperator() {
			final := w.snapshot(true)
			logger.Info("refund window over, order closed", "status", final.Status)
			return final, nil
		}
		logger.Info("history is long, continuing as new")
		return contract.StatusDocument{}, workflow.NewContinueAsNewError(ctx, contract.WorkflowOrder, contract.OrderInput{
			Order: in.Order, Options: in.Options,
			Carry: &contract.OrderCarry{Lines: w.lines, Refunds: w.refunds, Deadline: w.deadline, Seq: w.seq},
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
