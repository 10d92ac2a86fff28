// Package workflows holds the order workflow, the refund (revoke) workflow
// and the batch workflow that splits large orders. The workflow history is
// the order's status record: there is no other store of order state.
package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// Typed keys of the search attributes, for the workflows and for whoever
// starts them.
var (
	OrderNumberKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrOrderNumber)
	OrderStatusKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrOrderStatus)
	CourseIDsKey   = temporal.NewSearchAttributeKeyKeywordList(SearchAttrCourseIDs)
	FailedLinesKey = temporal.NewSearchAttributeKeyInt64(SearchAttrFailedLines)
)

// maxCourseIDsAttr bounds the CourseIds search attribute of huge orders.
const maxCourseIDsAttr = 50

// CourseIDsAttr is the value of the CourseIds search attribute of an order:
// its course ids, at most 50 of them (visibility limits a value's size).
func CourseIDsAttr(o order.Order) []string {
	ids := o.CourseIDs()
	return ids[:min(len(ids), maxCourseIDsAttr)]
}

// OrderCarry is the state an order workflow hands to its next run when its
// history grows long (continue-as-new).
type OrderCarry struct {
	Lines    []LineStatus   `json:"lines"`
	Refunds  []RefundStatus `json:"refunds"`
	Deadline time.Time      `json:"deadline"`
	Seq      int            `json:"seq"`
}

// Errors the update validators answer with; the API maps them to status codes.
var (
	ErrUnknownLines    = errors.New("unknown line")
	ErrNothingToRetry  = errors.New("nothing to retry")
	ErrAlreadyRefunded = errors.New("line already refunded")
	ErrInvalidRequest  = errors.New("invalid request")
)

// orderRun is one run of an order workflow.
type orderRun struct {
	in       OrderInput
	opts     Options
	lines    []LineStatus
	index    map[string]int
	refunds  []RefundStatus
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
		status string
		failed int
	}
}

// OrderWorkflow fulfills one order: one module call per line, in parallel up
// to a cap, retried durably; failed lines wait for an operator's retry;
// refunds run compensating RevokeWorkflows. It stays open for the refund
// window and returns the final status document.
func OrderWorkflow(ctx workflow.Context, in OrderInput) (OrderStatus, error) {
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
			w.lines = append(w.lines, LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode, State: LinePending})
		}
	}
	for i, l := range w.lines {
		w.index[l.ID] = i
	}

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (OrderStatus, error) { return w.snapshot(false), nil }); err != nil {
		return OrderStatus{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRetry, w.handleRetry,
		workflow.UpdateHandlerOptions{Validator: w.validateRetry}); err != nil {
		return OrderStatus{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRefund, w.handleRefund,
		workflow.UpdateHandlerOptions{Validator: w.validateRefund}); err != nil {
		return OrderStatus{}, err
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
			OrderNumberKey.ValueSet(in.Order.Number), CourseIDsKey.ValueSet(CourseIDsAttr(in.Order))); err != nil {
			logger.Warn("upsert search attributes", "error", err)
		}
	}
	w.publish(ctx)

	var pending []string
	for _, l := range w.lines {
		if l.State == LinePending {
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
			logger.Warn("order cancelled", "status", orderStatus(w.lines, w.refunds))
			return w.snapshot(false), err
		}
		if windowOver && !w.needsOperator() {
			final := w.snapshot(true)
			logger.Info("refund window over, order closed", "status", final.Status)
			return final, nil
		}
		logger.Info("history is long, continuing as new")
		return OrderStatus{}, workflow.NewContinueAsNewError(ctx, OrderWorkflow, OrderInput{
			Order: in.Order, Options: in.Options,
			Carry: &OrderCarry{Lines: w.lines, Refunds: w.refunds, Deadline: w.deadline, Seq: w.seq},
		})
	}
}

// needsOperator reports whether a line waits for an operator.
func (w *orderRun) needsOperator() bool {
	for _, l := range w.lines {
		if l.State == LineFailed || l.State == LineRevokeFailed {
			return true
		}
	}
	return false
}

func (w *orderRun) line(id string) *LineStatus {
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

// fulfill starts fulfilling the given lines in the background.
func (w *orderRun) fulfill(ctx workflow.Context, ids []string) {
	items := make([]LineItem, 0, len(ids))
	batched := len(ids) > w.opts.BatchSize
	for _, id := range ids {
		l := w.line(id)
		// Lines of a large order run inside batch children, whose own
		// status query shows each line's progress.
		l.State = LinePending
		if batched {
			l.State = LineFulfilling
		}
		w.inFlight[id] = true
		items = append(items, LineItem{Line: w.orderLine(id)})
	}
	w.seq++
	// "~" cannot appear in order numbers or refund ids: no collisions.
	prefix := fmt.Sprintf("%s~fulfill-%d", order.WorkflowID(w.in.Order.Number), w.seq)
	w.active++
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		runItems(ctx, w.opts, w.in.Order.Number, w.in.Order.User, actionFulfill, prefix, items, lineHooks{
			queued: func(id string, stop func()) bool {
				if w.line(id).RefundID != "" {
					return false
				}
				w.cancels[id] = stop
				return true
			},
			started: func(id string) {
				w.line(id).State = LineFulfilling
				w.publish(ctx)
			},
			retrying: func(id string, r modules.Result, attempts int) {
				l := w.line(id)
				res := r
				l.State, l.Result, l.Attempts, l.LastError = LineRetrying, &res, l.Attempts+attempts, errorText(r)
				w.publish(ctx)
			},
			done: func(out LineOutcome) { w.lineDone(ctx, out) },
		})
	})
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
	if out.Result.Status == statusCanceled {
		if l.RefundID != "" {
			// Stopped by a refund, which decides the line's state.
			return
		}
		out.Result = modules.Result{Status: modules.StatusFailure, ErrorType: ErrorTypeCanceled,
			Message: "fulfillment was cancelled before the line succeeded"}
	}
	res := out.Result
	l.Result = &res
	// Attempts shown while retrying are already counted.
	if l.State == LineRetrying {
		l.Attempts += out.Attempts - firstRoundAttempts
	} else {
		l.Attempts += out.Attempts
	}
	if res.OK() {
		l.State, l.LastError = LineFulfilled, ""
	} else {
		l.State, l.LastError = LineFailed, errorText(res)
	}
	w.publish(ctx)
}

func errorText(r modules.Result) string {
	if r.Message == "" {
		return r.ErrorType
	}
	return r.ErrorType + ": " + r.Message
}

// resolveRetry returns the lines a retry request names, or every failed line.
func (w *orderRun) resolveRetry(req RetryRequest) ([]string, error) {
	if len(req.LineIDs) == 0 {
		var ids []string
		for _, l := range w.lines {
			if l.State == LineFailed && l.RefundID == "" || l.State == LineRevokeFailed {
				ids = append(ids, l.ID)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%w: no line is failed", ErrNothingToRetry)
		}
		return ids, nil
	}
	if unknown := w.unknown(req.LineIDs); len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLines, strings.Join(unknown, ", "))
	}
	var ids []string
	for _, id := range dedupe(req.LineIDs) {
		l := w.line(id)
		if l.State != LineFailed && l.State != LineRevokeFailed {
			return nil, fmt.Errorf("%w: line %s is %s, not failed", ErrNothingToRetry, id, l.State)
		}
		if l.State == LineFailed && l.RefundID != "" {
			return nil, fmt.Errorf("%w: line %s is being refunded", ErrNothingToRetry, id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (w *orderRun) validateRetry(req RetryRequest) error {
	_, err := w.resolveRetry(req)
	return err
}

func (w *orderRun) handleRetry(ctx workflow.Context, req RetryRequest) (RetryResult, error) {
	ids, err := w.resolveRetry(req)
	if err != nil {
		return RetryResult{}, err
	}
	workflow.GetLogger(ctx).Info("operator retry", "lines", len(ids))
	w.retry(ctx, ids)
	return RetryResult{LineIDs: ids}, nil
}

func (w *orderRun) unknown(ids []string) []string {
	var unknown []string
	for _, id := range ids {
		if w.line(id) == nil {
			unknown = append(unknown, id)
		}
	}
	return unknown
}

func dedupe(ids []string) []string {
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (w *orderRun) findRefund(id string) *RefundStatus {
	for i := range w.refunds {
		if w.refunds[i].RefundID == id {
			return &w.refunds[i]
		}
	}
	return nil
}

// resolveRefund returns the lines a new refund covers. dup is true for a
// refund id already accepted.
func (w *orderRun) resolveRefund(req RefundRequest) (ids []string, dup bool, err error) {
	if err := ValidateRefundID(req.RefundID); err != nil {
		return nil, false, err
	}
	if w.findRefund(req.RefundID) != nil {
		return nil, true, nil
	}
	if unknown := w.unknown(req.LineIDs); len(unknown) > 0 {
		return nil, false, fmt.Errorf("%w: %s", ErrUnknownLines, strings.Join(unknown, ", "))
	}
	if len(req.LineIDs) == 0 {
		for _, l := range w.lines {
			if l.RefundID == "" {
				ids = append(ids, l.ID)
			}
		}
		return ids, false, nil
	}
	for _, id := range dedupe(req.LineIDs) {
		if l := w.line(id); l.RefundID != "" {
			return nil, false, fmt.Errorf("%w: line %s by refund %s", ErrAlreadyRefunded, id, l.RefundID)
		}
		ids = append(ids, id)
	}
	return ids, false, nil
}

// ValidateRefundID checks a refund id's shape: it becomes part of a workflow ID.
func ValidateRefundID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: refund_id must be 1-64 characters", ErrInvalidRequest)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return fmt.Errorf("%w: refund_id may hold only letters, digits and ._-", ErrInvalidRequest)
		}
	}
	return nil
}

func (w *orderRun) validateRefund(req RefundRequest) error {
	_, _, err := w.resolveRefund(req)
	return err
}

func (w *orderRun) handleRefund(ctx workflow.Context, req RefundRequest) (RefundResult, error) {
	ids, dup, err := w.resolveRefund(req)
	if err != nil {
		return RefundResult{}, err
	}
	wfID := order.RefundWorkflowID(w.in.Order.Number, req.RefundID)
	if dup {
		return RefundResult{RefundID: req.RefundID, WorkflowID: wfID, Duplicate: true}, nil
	}
	w.refund(ctx, req.RefundID, ids)
	return RefundResult{RefundID: req.RefundID, WorkflowID: wfID}, nil
}

// refund records a refund and revokes its lines in the background: it stops
// their fulfillment, waits until no attempt is running, then runs a
// RevokeWorkflow for the lines that were fulfilled.
func (w *orderRun) refund(ctx workflow.Context, refundID string, ids []string) {
	logger := workflow.GetLogger(ctx)
	logger.Info("refund accepted", "refund_id", refundID, "lines", len(ids))
	rs := RefundStatus{RefundID: refundID, WorkflowID: order.RefundWorkflowID(w.in.Order.Number, refundID), State: RefundRevoking}
	for _, id := range ids {
		w.line(id).RefundID = refundID
		rs.Lines = append(rs.Lines, RefundLine{ID: id, State: LineRevoking})
		if cancel := w.cancels[id]; cancel != nil {
			cancel()
		}
	}
	w.refunds = append(w.refunds, rs)
	w.active++
	w.publish(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.active-- }()
		// The revoke must run to its end even if this workflow is
		// cancelled: a refunded learner must never stay enrolled.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(ctx, func() bool {
			for _, id := range ids {
				if w.inFlight[id] {
					return false
				}
			}
			return true
		})
		in := RevokeInput{OrderNumber: w.in.Order.Number, User: w.in.Order.User, RefundID: refundID, Options: w.in.Options}
		r := w.findRefund(refundID)
		for i, id := range ids {
			l := w.line(id)
			fulfilled := l.State == LineFulfilled
			uncertain := !fulfilled && MayHaveWritten(*l)
			var grant map[string]string
			if fulfilled && l.Result != nil {
				grant = l.Result.Grant
			}
			in.Lines = append(in.Lines, RevokeLine{Line: w.orderLine(id), Fulfilled: fulfilled, Uncertain: uncertain, Grant: grant})
			if fulfilled || uncertain {
				l.State = LineRevoking
			} else {
				l.State = LineRefundedUnfulfilled
			}
			r.Lines[i].State = l.State
		}
		w.publish(ctx)
		w.runRevoke(ctx, refundID, RevokeWorkflowID(in), in)
	})
}

// MayHaveWritten reports whether a line that did not succeed may still have
// changed the LMS: an attempt was cut short (stopped, timed out) or failed
// transiently, and the LMS may have written before the answer was lost.
// Such a line is revoked on refund; the module reads first, so a revoke of
// nothing writes nothing.
func MayHaveWritten(l LineStatus) bool {
	switch l.State {
	case LineFulfilling, LineRetrying:
		return true
	case LineFailed:
		return l.Result != nil && (l.Result.Retryable || l.Result.ErrorType == ErrorTypeGaveUp ||
			l.Result.ErrorType == ErrorTypeCanceled || l.Result.ErrorType == "BatchFailed" || l.Result.ErrorType == "Timeout")
	}
	return false
}

// runRevoke runs one RevokeWorkflow as a child and records its outcome in
// the refund and its lines.
func (w *orderRun) runRevoke(ctx workflow.Context, refundID, workflowID string, in RevokeInput) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        workflowID,
		TaskQueue:         workflow.GetInfo(ctx).TaskQueueName,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// A revoke workflow started directly (after a restart of this
		// order) is the same refund: reuse, never run twice.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	var res RevokeResult
	err := workflow.ExecuteChildWorkflow(cctx, RevokeWorkflow, in).Get(cctx, &res)
	r := w.findRefund(refundID)
	if err != nil {
		workflow.GetLogger(ctx).Error("revoke workflow failed", "refund_id", refundID, "error", err)
		r.State = RefundRevocationError
		for i := range r.Lines {
			if l := w.line(r.Lines[i].ID); l.State == LineRevoking {
				l.State, l.LastError = LineRevokeFailed, err.Error()
				r.Lines[i].State = LineRevokeFailed
			}
		}
		w.publish(ctx)
		return
	}
	for _, rl := range res.Lines {
		for i := range r.Lines {
			if r.Lines[i].ID == rl.ID {
				r.Lines[i] = rl
			}
		}
		l := w.line(rl.ID)
		l.State = rl.State
		if rl.State == LineRevokeFailed && rl.Result != nil {
			l.LastError = errorText(*rl.Result)
		}
	}
	r.State = RefundCompleted
	for _, rl := range r.Lines {
		if rl.State == LineRevokeFailed {
			r.State = RefundRevocationError
		}
	}
	w.publish(ctx)
}

// revokeAgain retries the revoke of lines whose revoke failed, one new
// RevokeWorkflow per refund they belong to.
func (w *orderRun) revokeAgain(ctx workflow.Context, ids []string) {
	var refunds []string
	byRefund := map[string][]string{}
	for _, id := range ids {
		rid := w.line(id).RefundID
		if _, ok := byRefund[rid]; !ok {
			refunds = append(refunds, rid)
		}
		byRefund[rid] = append(byRefund[rid], id)
	}
	for _, rid := range refunds {
		in := RevokeInput{OrderNumber: w.in.Order.Number, User: w.in.Order.User, RefundID: rid, Options: w.in.Options}
		r := w.findRefund(rid)
		r.State = RefundRevoking
		for _, id := range byRefund[rid] {
			l := w.line(id)
			var grant map[string]string
			if l.Result != nil {
				grant = l.Result.Grant
			}
			in.Lines = append(in.Lines, RevokeLine{Line: w.orderLine(id), Fulfilled: true, Grant: grant})
			l.State, l.LastError = LineRevoking, ""
			for i := range r.Lines {
				if r.Lines[i].ID == id {
					r.Lines[i].State = LineRevoking
				}
			}
		}
		w.seq++
		in.Retry = w.seq
		childID := RevokeWorkflowID(in)
		w.active++
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { w.active-- }()
			ctx, _ = workflow.NewDisconnectedContext(ctx)
			w.runRevoke(ctx, rid, childID, in)
		})
	}
	w.publish(ctx)
}

// retry runs failed lines again: fulfillment for lines that failed to be
// fulfilled, the revoke for lines whose revoke failed.
func (w *orderRun) retry(ctx workflow.Context, ids []string) {
	var fulfill, revoke []string
	for _, id := range ids {
		if w.line(id).State == LineRevokeFailed {
			revoke = append(revoke, id)
		} else {
			fulfill = append(fulfill, id)
		}
	}
	if len(fulfill) > 0 {
		w.fulfill(ctx, fulfill)
	}
	if len(revoke) > 0 {
		w.revokeAgain(ctx, revoke)
	}
}

// listenSignals serves the retry and refund signals, which the Web UI can
// send. Anything malformed is logged and ignored: a bad signal must never
// fail or wedge the workflow.
func (w *orderRun) listenSignals(ctx workflow.Context) {
	logger := workflow.GetLogger(ctx)
	retryCh := workflow.GetSignalChannel(ctx, SignalRetry)
	refundCh := workflow.GetSignalChannel(ctx, SignalRefund)
	outcomesCh := workflow.GetSignalChannel(ctx, SignalLineOutcomes)
	w.retryCh, w.refundCh = retryCh, refundCh
	// Signals are read only when they can be handled at once, so an unread
	// one stays counted in its channel (the workflow does not close or
	// continue as new over it), and one that cannot even be decoded is
	// dropped without blocking the next.
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return retryCh.Len() > 0 || refundCh.Len() > 0 || outcomesCh.Len() > 0 }); err != nil {
				return
			}
			if outcomesCh.Len() > 0 {
				var outs []LineOutcome
				if ok, _ := outcomesCh.ReceiveAsyncWithMoreFlag(&outs); !ok {
					logger.Warn("ignored undecodable line-outcomes signal")
					continue
				}
				for _, o := range outs {
					w.lineDone(ctx, o)
				}
				continue
			}
			if retryCh.Len() > 0 {
				var raw json.RawMessage
				var req RetryRequest
				if ok, _ := retryCh.ReceiveAsyncWithMoreFlag(&raw); !ok {
					logger.Warn("ignored undecodable retry signal")
				} else if err := decodeSignal(raw, &req); err != nil {
					logger.Warn("ignored malformed retry signal", "error", err)
				} else if ids, err := w.resolveRetry(req); err != nil {
					logger.Warn("ignored retry signal", "error", err)
				} else {
					logger.Info("operator retry (signal)", "lines", len(ids))
					w.retry(ctx, ids)
				}
				continue
			}
			var raw json.RawMessage
			var req RefundRequest
			if ok, _ := refundCh.ReceiveAsyncWithMoreFlag(&raw); !ok {
				logger.Warn("ignored undecodable refund signal")
				continue
			}
			if err := decodeSignal(raw, &req); err != nil {
				logger.Warn("ignored malformed refund signal", "error", err)
				continue
			}
			switch ids, dup, err := w.resolveRefund(req); {
			case err != nil:
				logger.Warn("ignored refund signal", "error", err)
			case dup:
				logger.Info("duplicate refund signal ignored", "refund_id", req.RefundID)
			default:
				w.refund(ctx, req.RefundID, ids)
			}
		}
	})
}

// decodeSignal decodes a signal payload strictly. An empty payload is an
// empty request. JSON decoding is deterministic for the same bytes;
// workflowcheck cannot see that through encoding/json's reflection and
// caches.
//
//workflowcheck:ignore
func decodeSignal(raw json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// DeriveStatus is the order status its lines and refunds add up to, for
// callers that update a closed order's final document (refunds after close).
func DeriveStatus(lines []LineStatus, refunds []RefundStatus) string {
	return orderStatus(lines, refunds)
}

// orderStatus derives the order's status from its lines.
func orderStatus(lines []LineStatus, refunds []RefundStatus) string {
	has := func(states ...string) bool {
		for _, l := range lines {
			if slices.Contains(states, l.State) {
				return true
			}
		}
		return false
	}
	switch {
	case has(LineRevokeFailed):
		return OrderRevocationError
	case has(LineFailed):
		return OrderFulfillmentError
	case has(LinePending, LineFulfilling, LineRetrying):
		return OrderFulfilling
	case len(refunds) == 0:
		return OrderFulfilled
	}
	// Refunded means every line is covered by a refund; each line's state
	// tells how far its revoke has come.
	for _, l := range lines {
		if l.RefundID == "" {
			return OrderPartiallyRefunded
		}
	}
	return OrderRefunded
}

func (w *orderRun) snapshot(closed bool) OrderStatus {
	lines := slices.Clone(w.lines)
	if len(lines) > w.opts.BatchSize {
		// Large orders: the line's product, course and mode are in the
		// order itself; repeating them would take the document past
		// Temporal's 2 MB payload limit.
		for i := range lines {
			lines[i].ProductType, lines[i].CourseID, lines[i].Mode = "", "", ""
		}
	}
	st := OrderStatus{
		OrderNumber:        w.in.Order.Number,
		Status:             orderStatus(w.lines, w.refunds),
		Lines:              lines,
		Refunds:            slices.Clone(w.refunds),
		Closed:             closed,
		RefundWindowEndsAt: w.deadline,
	}
	if st.Refunds == nil {
		st.Refunds = []RefundStatus{}
	}
	return st
}

// publish marks the search attributes for an update; see publishNow.
func (w *orderRun) publish(workflow.Context) { w.dirty = true }

// publishNow upserts OrderStatus and FailedLines when they changed, so
// support can find orders by status in visibility.
func (w *orderRun) publishNow(ctx workflow.Context) {
	status := orderStatus(w.lines, w.refunds)
	failed := 0
	for _, l := range w.lines {
		if l.State == LineFailed || l.State == LineRevokeFailed {
			failed++
		}
	}
	if status == w.published.status && failed == w.published.failed {
		return
	}
	w.published.status, w.published.failed = status, failed
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		OrderStatusKey.ValueSet(status), FailedLinesKey.ValueSet(int64(failed))); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}
