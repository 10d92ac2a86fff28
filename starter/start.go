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

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

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
	id := contract.OrderWorkflowID(o.Number)
	res := StartResult{OrderNumber: o.Number, WorkflowID: id}
	sa := []temporal.SearchAttributeUpdate{
		contract.OrderNumberKey.ValueSet(o.Number),
		contract.OrderStatusKey.ValueSet(string(contract.OrderFulfilling)),
		contract.FailedLinesKey.ValueSet(0),
	}
	if ids := contract.CourseIDsAttr(o); len(ids) > 0 {
		sa = append(sa, contract.CourseIDsKey.ValueSet(ids))
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
		StaticSummary:                            orderSummary(o),
		StaticDetails:                            orderDetails(o),
	}
	in := contract.OrderInput{Order: o, Options: s.cfg.Options.ForOrder(len(o.Lines)), Flow: contract.CurrentFlow}
	run, err := s.c.ExecuteWorkflow(ctx, opts, contract.WorkflowOrder, in)
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
	differ, err := Differences(existing.Order, o)
	if err != nil {
		return StartResult{}, false, err
	}
	if len(differ) > 0 {
		return StartResult{}, false, wrap(ErrConflict, "start order "+o.Number,
			&ContentConflict{Number: o.Number, Differ: differ})
	}
	return res, false, nil
}

// canonical renders the parts of an order that define "the same order":
// line order and the placed_at time zone are not significant.
func canonical(o order.Order) ([]byte, error) {
	o.Lines = slices.Clone(o.Lines)
	// Orders stored before their values were normalized compare as they
	// would be today (course UUIDs in canonical form).
	o.Normalize()
	sort.SliceStable(o.Lines, func(i, j int) bool { return o.Lines[i].ID < o.Lines[j].ID })
	o.PlacedAt = o.PlacedAt.UTC()
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("canonical order: %w", err)
	}
	return b, nil
}

// ContentConflict says which parts of a resent order differ from the order
// that was started under its number: "user", "lines", "placed_at",
// "source".
type ContentConflict struct {
	Number string
	Differ []string
}

func (c *ContentConflict) Error() string {
	return fmt.Sprintf("order %s was already submitted with different content (%s differ)", c.Number, strings.Join(c.Differ, ", "))
}

// Differences names the parts in which a and b are not the same order
// (ContentConflict.Differ); none when they are the same order: lines in
// any order, placed_at in any time zone, course UUIDs in any spelling, the
// source (a shop's URL) in any case.
func Differences(a, b order.Order) ([]string, error) {
	var differ []string
	if !strings.EqualFold(strings.TrimSpace(a.Source), strings.TrimSpace(b.Source)) {
		differ = append(differ, "source")
	}
	a.Source, b.Source = "", ""
	for _, part := range []struct {
		name string
		keep func(o order.Order) order.Order
	}{
		{"user", func(o order.Order) order.Order { return order.Order{User: o.User} }},
		{"lines", func(o order.Order) order.Order { return order.Order{Lines: o.Lines} }},
		{"placed_at", func(o order.Order) order.Order { return order.Order{PlacedAt: o.PlacedAt} }},
	} {
		ca, err := canonical(part.keep(a))
		if err != nil {
			return nil, err
		}
		cb, err := canonical(part.keep(b))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(ca, cb) {
			differ = append(differ, part.name)
		}
	}
	// Whatever else an order holds (and the number, which is the same by
	// construction) compares as a whole.
	a.User, b.User, a.Lines, b.Lines, a.PlacedAt, b.PlacedAt = order.User{}, order.User{}, nil, nil, time.Time{}, time.Time{}
	ca, err := canonical(a)
	if err != nil {
		return nil, err
	}
	cb, err := canonical(b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(ca, cb) {
		differ = append(differ, "order")
	}
	return differ, nil
}

// OrderInput is the input the latest run of order number's workflow
// started with (the order, its options, and what a continued run carries).
func (s *Starter) OrderInput(ctx context.Context, number string) (contract.OrderInput, error) {
	return s.input(ctx, contract.OrderWorkflowID(number), "")
}

// input reads the OrderInput a workflow run was started with from the first
// event of its history.
func (s *Starter) input(ctx context.Context, workflowID, runID string) (contract.OrderInput, error) {
	var in contract.OrderInput
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
