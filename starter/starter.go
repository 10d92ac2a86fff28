// Package starter holds the typed operations the HTTP API, the WooCommerce
// receiver and the dev command perform on order workflows over a Temporal
// client: start an order exactly once, read its status, refund, retry and
// list orders. Temporal itself is the only store of order state: duplicates
// are recognised by the workflow ID and compared against the running or
// closed workflow's own input from its history.
package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/workflows"
)

// Workflow type names. The starter starts workflows by name so it does not
// link the workflow code itself.
const (
	OrderWorkflowName  = "OrderWorkflow"
	RevokeWorkflowName = "RevokeWorkflow"
)

// OrderStatuses lists the values the status filter of List accepts.
var OrderStatuses = []string{
	workflows.OrderFulfilling,
	workflows.OrderFulfilled,
	workflows.OrderFulfillmentError,
	workflows.OrderPartiallyRefunded,
	workflows.OrderRefunded,
	workflows.OrderRevocationError,
}

// Defaults.
const (
	DefaultUpdateWait = 10 * time.Second
	DefaultPageSize   = 50
	MaxPageSize       = 1000
)

// Config configures a Starter. The zero value works.
type Config struct {
	// TaskQueue defaults to workflows.TaskQueue.
	TaskQueue string
	// Options are the fulfillment options every new order starts with.
	Options workflows.Options
	// Mapped reports whether a product type has a fulfillment module; nil
	// accepts every product type.
	Mapped func(productType string) bool
	// DataConverter must match the client's, since the starter decodes
	// workflow inputs read from history. Defaults to the SDK's default.
	DataConverter converter.DataConverter
	// UpdateWait bounds how long Refund and Retry wait for the workflow's
	// answer once the update was accepted. Defaults to DefaultUpdateWait.
	UpdateWait time.Duration
}

// Starter performs typed operations on order workflows.
type Starter struct {
	c   client.Client
	cfg Config
}

// New returns a Starter over c.
func New(c client.Client, cfg Config) *Starter {
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = workflows.TaskQueue
	}
	if cfg.DataConverter == nil {
		cfg.DataConverter = converter.GetDefaultDataConverter()
	}
	if cfg.UpdateWait <= 0 {
		cfg.UpdateWait = DefaultUpdateWait
	}
	return &Starter{c: c, cfg: cfg}
}

// StartResult names the workflow that fulfills an order.
type StartResult struct {
	OrderNumber string `json:"order_number"`
	WorkflowID  string `json:"workflow_id"`
	RunID       string `json:"run_id"`
}

// StartOrder starts the order's workflow unless it already exists. created
// is false when an order with the same number and the same content was
// started before (running or closed); an order with the same number and
// different content fails with ErrConflict. Concurrent calls with the same
// order start exactly one workflow: Temporal rejects every start but one by
// workflow ID.
func (s *Starter) StartOrder(ctx context.Context, o order.Order) (StartResult, bool, error) {
	if err := o.Validate(s.cfg.Mapped); err != nil {
		return StartResult{}, false, err
	}
	id := order.WorkflowID(o.Number)
	res := StartResult{OrderNumber: o.Number, WorkflowID: id}
	sa := []temporal.SearchAttributeUpdate{
		workflows.OrderNumberKey.ValueSet(o.Number),
		workflows.OrderStatusKey.ValueSet(workflows.OrderFulfilling),
	}
	if ids := workflows.CourseIDsAttr(o); len(ids) > 0 {
		sa = append(sa, workflows.CourseIDsKey.ValueSet(ids))
	}
	opts := client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: s.cfg.TaskQueue,
		// Reject-duplicate keeps a closed order from ever running again; the
		// fail conflict policy plus ErrorWhenAlreadyStarted tells us that the
		// workflow existed, which use-existing would hide, and we need to
		// know it to answer 200 instead of 202 and to compare contents.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(sa...),
		StaticSummary:                            "order " + o.Number,
	}
	in := workflows.OrderInput{Order: o, Options: s.cfg.Options}
	run, err := s.c.ExecuteWorkflow(ctx, opts, OrderWorkflowName, in)
	if err == nil {
		res.RunID = run.GetRunID()
		return res, true, nil
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return StartResult{}, false, classify(err, "start order "+o.Number)
	}
	res.RunID = started.RunId
	firstRun := started.FirstExecutionRunId
	if firstRun == "" {
		firstRun = started.RunId
	}
	existing, err := s.input(ctx, id, firstRun)
	if err != nil {
		return StartResult{}, false, err
	}
	same, err := sameContent(existing.Order, o)
	if err != nil {
		return StartResult{}, false, err
	}
	if !same {
		return StartResult{}, false, wrap(ErrConflict, "start order "+o.Number,
			fmt.Errorf("order %s was already submitted with different content", o.Number))
	}
	return res, false, nil
}

// canonical renders the parts of an order that define "the same order":
// line order and the placed_at time zone are not significant.
func canonical(o order.Order) ([]byte, error) {
	o.Lines = slices.Clone(o.Lines)
	sort.SliceStable(o.Lines, func(i, j int) bool { return o.Lines[i].ID < o.Lines[j].ID })
	o.PlacedAt = o.PlacedAt.UTC()
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("canonical order: %w", err)
	}
	return b, nil
}

func sameContent(a, b order.Order) (bool, error) {
	ca, err := canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := canonical(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ca, cb), nil
}

// input reads the OrderInput a workflow run was started with from the first
// event of its history.
func (s *Starter) input(ctx context.Context, workflowID, runID string) (workflows.OrderInput, error) {
	var in workflows.OrderInput
	it := s.c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return in, wrap(ErrNotFound, "read order input", fmt.Errorf("workflow %s has no history", workflowID))
	}
	ev, err := it.Next()
	if err != nil {
		return in, classify(err, "read history of "+workflowID)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return in, fmt.Errorf("read history of %s: first event is %s, not a start", workflowID, ev.GetEventType())
	}
	if err := s.cfg.DataConverter.FromPayloads(attrs.GetInput(), &in); err != nil {
		return in, fmt.Errorf("decode input of %s: %w", workflowID, err)
	}
	return in, nil
}

// Status returns the order's status document: the answer of the status
// query while the workflow runs, its result once it has closed.
func (s *Starter) Status(ctx context.Context, number string) (workflows.OrderStatus, error) {
	id := order.WorkflowID(number)
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return workflows.OrderStatus{}, classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		st, err := s.result(ctx, id, runID)
		if err != nil {
			return st, err
		}
		return st, s.withLateRefunds(ctx, number, &st)
	}
	// Running, or closed abnormally (terminated, failed...): a query works
	// on both (a closed workflow is replayed by a worker).
	st, err := s.query(ctx, id, runID)
	if err == nil && info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		withPendingAttempts(&st, desc.GetPendingActivities())
	}
	return st, err
}

// withPendingAttempts adds what only the server knows to the status
// document: the attempt a line's pending activity is on and the error of its
// last failed attempt. Temporal retries those attempts without telling the
// workflow, so its own document shows the first failure only.
func withPendingAttempts(st *workflows.OrderStatus, pending []*workflowpb.PendingActivityInfo) {
	for _, pa := range pending {
		action, lineID, ok := workflows.ParseLineActivityID(pa.GetActivityId())
		if !ok || action != "fulfill" {
			continue
		}
		for i := range st.Lines {
			l := &st.Lines[i]
			if l.ID != lineID || (l.State != workflows.LineFulfilling && l.State != workflows.LineRetrying) {
				continue
			}
			if extra := int(pa.GetAttempt()) - 1; extra > 0 {
				l.Attempts += extra
			}
			if f := pa.GetLastFailure(); f != nil {
				l.State = workflows.LineRetrying
				l.LastError = f.GetMessage()
				if t := f.GetApplicationFailureInfo().GetType(); t != "" {
					l.LastError = t + ": " + f.GetMessage()
				}
			}
		}
	}
}

func (s *Starter) query(ctx context.Context, id, runID string) (workflows.OrderStatus, error) {
	var st workflows.OrderStatus
	v, err := s.c.QueryWorkflow(ctx, id, runID, workflows.QueryStatus)
	if err != nil {
		return st, classify(err, "query "+id)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", id, err)
	}
	return st, nil
}

func (s *Starter) result(ctx context.Context, id, runID string) (workflows.OrderStatus, error) {
	var st workflows.OrderStatus
	if err := s.c.GetWorkflow(ctx, id, runID).Get(ctx, &st); err != nil {
		return st, classify(err, "result of "+id)
	}
	return st, nil
}

// describe returns whether the order workflow runs, and its run ids.
func (s *Starter) describe(ctx context.Context, number string) (running bool, runID, firstRunID string, err error) {
	desc, err := s.c.DescribeWorkflowExecution(ctx, order.WorkflowID(number), "")
	if err != nil {
		return false, "", "", classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID = info.GetExecution().GetRunId()
	firstRunID = info.GetFirstRunId()
	if firstRunID == "" {
		firstRunID = runID
	}
	return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, runID, firstRunID, nil
}

// update sends an update and waits for it to be accepted, then for its
// result up to UpdateWait. accepted is true once the workflow has accepted
// it, even when the result did not arrive in time.
func (s *Starter) update(ctx context.Context, number, name string, arg, result any) (accepted bool, err error) {
	id := order.WorkflowID(number)
	what := name + " on order " + number
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return false, classifyRejection(err, what)
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	if err := h.Get(waitCtx, result); err != nil {
		var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
		if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() == nil {
				// Accepted but slow: the update is durable, so report it as
				// accepted rather than failed.
				return true, nil
			}
		}
		return false, classifyRejection(err, what)
	}
	return true, nil
}

// Refund asks the order to refund lines (all lines when req.LineIDs is
// empty). While the order workflow runs this is its refund update; after it
// closed the starter starts the RevokeWorkflow itself from the order's final
// status, so refunds always work. A refund id seen before answers with
// Duplicate=true and starts nothing.
func (s *Starter) Refund(ctx context.Context, number string, req workflows.RefundRequest) (workflows.RefundResult, error) {
	if err := workflows.ValidateRefundID(req.RefundID); err != nil {
		return workflows.RefundResult{}, wrap(ErrInvalidRequest, "refund",
			errors.New("refund_id must be 1-64 letters, digits or ._- characters"))
	}
	running, runID, firstRunID, err := s.describe(ctx, number)
	if err != nil {
		return workflows.RefundResult{}, err
	}
	if running {
		var res workflows.RefundResult
		accepted, err := s.update(ctx, number, workflows.UpdateRefund, req, &res)
		switch {
		case err == nil:
			if !accepted || res.RefundID == "" {
				res = workflows.RefundResult{RefundID: req.RefundID, WorkflowID: order.RefundWorkflowID(number, req.RefundID)}
			}
			return res, nil
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed):
			// The refund window ended between describe and update (or the
			// workflow is completing): wait for it to close, then refund as
			// for a closed order.
			if err := s.awaitClose(ctx, number, runID); err != nil {
				return workflows.RefundResult{}, err
			}
			if running, runID, firstRunID, err = s.describe(ctx, number); err != nil {
				return workflows.RefundResult{}, err
			}
			if running {
				return workflows.RefundResult{}, wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is between runs; try again", number))
			}
		default:
			return workflows.RefundResult{}, err
		}
	}
	return s.refundClosed(ctx, number, runID, firstRunID, req)
}

// awaitClose waits up to UpdateWait for the order's run to close, however
// it closes.
func (s *Starter) awaitClose(ctx context.Context, number, runID string) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	err := s.c.GetWorkflow(wctx, order.WorkflowID(number), runID).Get(wctx, nil)
	switch {
	case err == nil:
		return nil
	case wctx.Err() != nil:
		return wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is closing and did not close in time; try again", number))
	}
	if cerr := classify(err, "await close of order "+number); errors.Is(cerr, ErrUnavailable) {
		return cerr
	}
	// Failed, terminated or cancelled: closed all the same.
	return nil
}

// withLateRefunds adds to a closed order's final document the refunds
// started after it closed: their RevokeWorkflows, found in visibility by
// OrderNumber. Retries of a refund the order ran itself are part of that
// refund already.
func (s *Starter) withLateRefunds(ctx context.Context, number string, st *workflows.OrderStatus) error {
	known := map[string]bool{}
	for _, r := range st.Refunds {
		known[r.RefundID] = true
	}
	prefix := order.RefundWorkflowID(number, "")
	query := fmt.Sprintf("WorkflowType = %q AND %s = %q", RevokeWorkflowName, workflows.SearchAttrOrderNumber, number)
	var token []byte
	for {
		resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return classify(err, "refunds of order "+number)
		}
		for _, ex := range resp.GetExecutions() {
			wid := ex.GetExecution().GetWorkflowId()
			refundID, ok := strings.CutPrefix(wid, prefix)
			if !ok || strings.Contains(refundID, "~") || known[refundID] {
				continue
			}
			var res workflows.RevokeResult
			if ex.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				if err := s.c.GetWorkflow(ctx, wid, ex.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
					return classify(err, "refund "+refundID+" of order "+number)
				}
			} else {
				v, err := s.c.QueryWorkflow(ctx, wid, ex.GetExecution().GetRunId(), workflows.QueryStatus)
				if err != nil {
					return classify(err, "refund "+refundID+" of order "+number)
				}
				if err := v.Get(&res); err != nil {
					return fmt.Errorf("decode refund %s of order %s: %w", refundID, number, err)
				}
			}
			known[refundID] = true
			st.Refunds = append(st.Refunds, workflows.RefundStatus{RefundID: refundID, WorkflowID: wid, State: res.State, Lines: res.Lines})
			for _, rl := range res.Lines {
				for i := range st.Lines {
					if st.Lines[i].ID == rl.ID {
						st.Lines[i].RefundID, st.Lines[i].State = refundID, rl.State
					}
				}
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	st.Status = workflows.DeriveStatus(st.Lines, st.Refunds)
	return nil
}

// refundClosed starts the RevokeWorkflow of a refund on a closed order.
func (s *Starter) refundClosed(ctx context.Context, number, runID, firstRunID string, req workflows.RefundRequest) (workflows.RefundResult, error) {
	id := order.WorkflowID(number)
	res := workflows.RefundResult{RefundID: req.RefundID, WorkflowID: order.RefundWorkflowID(number, req.RefundID)}
	st, err := s.result(ctx, id, runID)
	if err != nil {
		// Closed abnormally: fall back to the status query.
		var qerr error
		if st, qerr = s.query(ctx, id, runID); qerr != nil {
			return workflows.RefundResult{}, err
		}
	}
	if err := s.withLateRefunds(ctx, number, &st); err != nil {
		return workflows.RefundResult{}, err
	}
	for _, r := range st.Refunds {
		if r.RefundID == req.RefundID {
			res.Duplicate = true
			if r.WorkflowID != "" {
				res.WorkflowID = r.WorkflowID
			}
			return res, nil
		}
	}
	in, err := s.input(ctx, id, firstRunID)
	if err != nil {
		return workflows.RefundResult{}, err
	}
	lines, err := revokeLines(in.Order, st, req.LineIDs)
	if err != nil {
		return workflows.RefundResult{}, err
	}
	rin := workflows.RevokeInput{
		OrderNumber: number,
		User:        in.Order.User,
		RefundID:    req.RefundID,
		Lines:       lines,
		Options:     in.Options,
	}
	opts := client.StartWorkflowOptions{
		ID:                                       res.WorkflowID,
		TaskQueue:                                s.cfg.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(workflows.OrderNumberKey.ValueSet(number)),
		StaticSummary:                            "refund " + req.RefundID + " of order " + number,
	}
	if _, err := s.c.ExecuteWorkflow(ctx, opts, RevokeWorkflowName, rin); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			res.Duplicate = true
			return res, nil
		}
		return workflows.RefundResult{}, classify(err, "start refund "+req.RefundID+" of order "+number)
	}
	return res, nil
}

// revokeLines builds the lines of a refund on a closed order from the
// order's input (the lines themselves) and its final status (what each line
// got, including the grant a revoke must undo). It follows the order
// workflow's own rules: no ids means every line not yet refunded; naming an
// already refunded line is rejected.
func revokeLines(o order.Order, st workflows.OrderStatus, ids []string) ([]workflows.RevokeLine, error) {
	byID := make(map[string]order.Line, len(o.Lines))
	for _, l := range o.Lines {
		byID[l.ID] = l
	}
	state := make(map[string]workflows.LineStatus, len(st.Lines))
	for _, l := range st.Lines {
		state[l.ID] = l
	}
	if len(ids) == 0 {
		for _, id := range o.LineIDs() {
			if state[id].RefundID == "" {
				ids = append(ids, id)
			}
		}
		// Every line already refunded: like the workflow, accept the refund
		// with no lines, so the store's full refund after partial ones is
		// not an error.
	}
	var unknown, refunded []string
	seen := map[string]bool{}
	lines := make([]workflows.RevokeLine, 0, len(ids))
	for _, id := range ids {
		l, ok := byID[id]
		switch {
		case !ok:
			unknown = append(unknown, id)
			continue
		case seen[id]:
			continue
		case state[id].RefundID != "":
			refunded = append(refunded, id+" (refund "+state[id].RefundID+")")
			continue
		}
		seen[id] = true
		ls := state[id]
		rl := workflows.RevokeLine{Line: l}
		// A fulfilled line holds the grant to undo; a line cut short may
		// have been written all the same and is checked and revoked
		// without one; any other line has nothing to revoke.
		if ls.State == workflows.LineFulfilled {
			rl.Fulfilled = true
			if ls.Result != nil {
				rl.Grant = ls.Result.Grant
			}
		} else {
			rl.Uncertain = workflows.MayHaveWritten(ls)
		}
		lines = append(lines, rl)
	}
	if len(unknown) > 0 {
		return nil, wrap(ErrUnknownLines, "refund", fmt.Errorf("unknown line ids: %s", strings.Join(unknown, ", ")))
	}
	if len(refunded) > 0 {
		return nil, wrap(ErrRejected, "refund", fmt.Errorf("line already refunded: %s", strings.Join(refunded, ", ")))
	}
	return lines, nil
}

// Retry asks the running order to retry failed lines (all failed lines when
// req.LineIDs is empty).
func (s *Starter) Retry(ctx context.Context, number string, req workflows.RetryRequest) (workflows.RetryResult, error) {
	running, _, _, err := s.describe(ctx, number)
	if err != nil {
		return workflows.RetryResult{}, err
	}
	if !running {
		return workflows.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed; its failed lines can no longer be retried", number))
	}
	var res workflows.RetryResult
	accepted, err := s.update(ctx, number, workflows.UpdateRetry, req, &res)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return workflows.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed", number))
		}
		return workflows.RetryResult{}, err
	}
	if !accepted {
		res.LineIDs = req.LineIDs
	}
	return res, nil
}

// OrderSummary is one order in a List page, read from visibility.
type OrderSummary struct {
	OrderNumber string    `json:"order_number"`
	WorkflowID  string    `json:"workflow_id"`
	RunID       string    `json:"run_id"`
	Status      string    `json:"status"`
	Running     bool      `json:"running"`
	CourseIDs   []string  `json:"course_ids,omitempty"`
	FailedLines int64     `json:"failed_lines"`
	StartedAt   time.Time `json:"started_at"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
}

// Page is one page of List.
type Page struct {
	Orders        []OrderSummary `json:"orders"`
	NextPageToken []byte         `json:"next_page_token,omitempty"`
}

// List returns order workflows whose OrderStatus search attribute is status
// (every order when status is empty), newest first as visibility orders
// them. token is the NextPageToken of the previous page.
func (s *Starter) List(ctx context.Context, status string, pageSize int, token []byte) (Page, error) {
	q := "WorkflowType = '" + OrderWorkflowName + "'"
	if status != "" {
		if !slices.Contains(OrderStatuses, status) {
			return Page{}, wrap(ErrInvalidRequest, "list", fmt.Errorf("status must be one of %s", strings.Join(OrderStatuses, ", ")))
		}
		// status is one of our constants, so quoting it is safe.
		q += " AND " + workflows.SearchAttrOrderStatus + " = '" + status + "'"
	}
	switch {
	case pageSize <= 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:         q,
		PageSize:      int32(pageSize),
		NextPageToken: token,
	})
	if err != nil {
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &invalid) && len(token) > 0 {
			return Page{}, wrap(ErrInvalidRequest, "list", errors.New("invalid page token"))
		}
		return Page{}, classify(err, "list orders")
	}
	page := Page{Orders: make([]OrderSummary, 0, len(resp.GetExecutions())), NextPageToken: resp.GetNextPageToken()}
	dc := converter.GetDefaultDataConverter() // search attributes always use the default encoding
	for _, ex := range resp.GetExecutions() {
		sum := OrderSummary{
			WorkflowID:  ex.GetExecution().GetWorkflowId(),
			RunID:       ex.GetExecution().GetRunId(),
			Running:     ex.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			OrderNumber: strings.TrimPrefix(ex.GetExecution().GetWorkflowId(), order.WorkflowID("")),
		}
		if t := ex.GetStartTime(); t != nil {
			sum.StartedAt = t.AsTime()
		}
		if t := ex.GetCloseTime(); t != nil {
			sum.ClosedAt = t.AsTime()
		}
		fields := ex.GetSearchAttributes().GetIndexedFields()
		if p, ok := fields[workflows.SearchAttrOrderNumber]; ok {
			var v string
			if dc.FromPayload(p, &v) == nil && v != "" {
				sum.OrderNumber = v
			}
		}
		if p, ok := fields[workflows.SearchAttrOrderStatus]; ok {
			if err := dc.FromPayload(p, &sum.Status); err != nil {
				return Page{}, fmt.Errorf("decode %s of %s: %w", workflows.SearchAttrOrderStatus, sum.WorkflowID, err)
			}
		}
		if p, ok := fields[workflows.SearchAttrCourseIDs]; ok {
			if err := dc.FromPayload(p, &sum.CourseIDs); err != nil {
				// A single keyword is stored as a plain string.
				var one string
				if dc.FromPayload(p, &one) != nil {
					return Page{}, fmt.Errorf("decode %s of %s: %w", workflows.SearchAttrCourseIDs, sum.WorkflowID, err)
				}
				sum.CourseIDs = []string{one}
			}
		}
		if p, ok := fields[workflows.SearchAttrFailedLines]; ok {
			if err := dc.FromPayload(p, &sum.FailedLines); err != nil {
				return Page{}, fmt.Errorf("decode %s of %s: %w", workflows.SearchAttrFailedLines, sum.WorkflowID, err)
			}
		}
		page.Orders = append(page.Orders, sum)
	}
	return page, nil
}

// CheckHealth reports whether the Temporal frontend answers.
func (s *Starter) CheckHealth(ctx context.Context) error {
	if _, err := s.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return classify(err, "temporal health check")
	}
	return nil
}
