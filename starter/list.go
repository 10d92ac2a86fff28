package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
)

// OrderSummary is one order in a List page, read from visibility.
type OrderSummary struct {
	OrderNumber string              `json:"order_number"`
	WorkflowID  string              `json:"workflow_id"`
	RunID       string              `json:"run_id"`
	Status      contract.OrderState `json:"status"`
	Running     bool                `json:"running"`
	CourseIDs   []string            `json:"course_ids,omitempty"`
	FailedLines int64               `json:"failed_lines"`
	StartedAt   time.Time           `json:"started_at"`
	ClosedAt    time.Time           `json:"closed_at,omitzero"`
}

// Page is one page of List.
type Page struct {
	Orders        []OrderSummary `json:"orders"`
	NextPageToken []byte         `json:"next_page_token,omitempty"`
}

// List returns order workflows whose OrderStatus search attribute is status
// (every order when status is empty), newest first as visibility orders
// them. token is the NextPageToken of the previous page.
func (s *Starter) List(ctx context.Context, status contract.OrderState, pageSize int, token []byte) (Page, error) {
	// An order's refunds after close live in its LateRefundsWorkflow, which
	// shows (under order-<number>~late-refunds) as a row of its own.
	q := "WorkflowType IN ('" + contract.WorkflowOrder + "', '" + contract.WorkflowLateRefunds + "')"
	if status != "" {
		if !status.Valid() {
			return Page{}, wrap(ErrInvalidRequest, "list", fmt.Errorf("status must be one of %s", contract.OrderStateNames()))
		}
		// status is one of our constants, so quoting it is safe.
		q += " AND " + contract.SearchAttrOrderStatus + " = '" + string(status) + "'"
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
			WorkflowID: ex.GetExecution().GetWorkflowId(),
			RunID:      ex.GetExecution().GetRunId(),
			Running:    ex.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		}
		sum.OrderNumber, _, _ = strings.Cut(strings.TrimPrefix(sum.WorkflowID, contract.OrderWorkflowID("")), "~")
		if t := ex.GetStartTime(); t != nil {
			sum.StartedAt = t.AsTime()
		}
		if t := ex.GetCloseTime(); t != nil {
			sum.ClosedAt = t.AsTime()
		}
		fields := ex.GetSearchAttributes().GetIndexedFields()
		if p, ok := fields[contract.SearchAttrOrderNumber]; ok {
			var v string
			if dc.FromPayload(p, &v) == nil && v != "" {
				sum.OrderNumber = v
			}
		}
		if p, ok := fields[contract.SearchAttrOrderStatus]; ok {
			if err := dc.FromPayload(p, &sum.Status); err != nil {
				return Page{}, fmt.Errorf("decode %s of %s: %w", contract.SearchAttrOrderStatus, sum.WorkflowID, err)
			}
		}
		if p, ok := fields[contract.SearchAttrCourseIDs]; ok {
			if err := dc.FromPayload(p, &sum.CourseIDs); err != nil {
				// A single keyword is stored as a plain string.
				var one string
				if dc.FromPayload(p, &one) != nil {
					return Page{}, fmt.Errorf("decode %s of %s: %w", contract.SearchAttrCourseIDs, sum.WorkflowID, err)
				}
				sum.CourseIDs = []string{one}
			}
		}
		if p, ok := fields[contract.SearchAttrFailedLines]; ok {
			if err := dc.FromPayload(p, &sum.FailedLines); err != nil {
				return Page{}, fmt.Errorf("decode %s of %s: %w", contract.SearchAttrFailedLines, sum.WorkflowID, err)
			}
		}
		page.Orders = append(page.Orders, sum)
	}
	return page, nil
}
