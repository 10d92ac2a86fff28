// Package startertest offers an in-memory fake of the starter for handler
// tests: same errors, same duplicate semantics, no Temporal.
package startertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// Fake behaves like *starter.Starter over an in-memory set of orders.
type Fake struct {
	// Mapped is passed to order.Validate.
	Mapped func(string) bool
	// Err, when set, is returned by every call (Temporal down).
	Err error

	mu      sync.Mutex
	orders  map[string]*fakeOrder
	starts  int
	refunds []contract.RefundRequest
	retries []contract.RetryRequest
	// refunded are the remembered refunds (refunded.go), by order number.
	refunded map[string]contract.RefundedMarker
}

type fakeOrder struct {
	o       order.Order
	status  contract.StatusDocument
	refunds map[string]bool
}

// Starts counts workflows the fake started.
func (f *Fake) Starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}

// RefundRequests returns the refunds accepted as new.
func (f *Fake) RefundRequests() []contract.RefundRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.refunds)
}

// RetryRequests returns the retries accepted.
func (f *Fake) RetryRequests() []contract.RetryRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.retries)
}

// Order returns a started order.
func (f *Fake) Order(number string) (order.Order, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fo, ok := f.orders[number]
	if !ok {
		return order.Order{}, false
	}
	return fo.o, true
}

// SetLineState sets a line's state (e.g. contract.LineFailed).
func (f *Fake) SetLineState(number, lineID string, state contract.LineState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fo := f.orders[number]
	for i := range fo.status.Lines {
		if fo.status.Lines[i].ID == lineID {
			fo.status.Lines[i].State = state
		}
	}
	if state == contract.LineFailed {
		fo.status.Status = contract.OrderFulfillmentError
	}
}

// StartOrder implements api.Starter.
func (f *Fake) StartOrder(_ context.Context, o order.Order) (starter.StartResult, bool, error) {
	if f.Err != nil {
		return starter.StartResult{}, false, f.Err
	}
	if err := o.Validate(f.Mapped); err != nil {
		return starter.StartResult{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orders == nil {
		f.orders = map[string]*fakeOrder{}
	}
	res := starter.StartResult{OrderNumber: o.Number, WorkflowID: contract.OrderWorkflowID(o.Number), RunID: "run-" + o.Number}
	if old, ok := f.orders[o.Number]; ok {
		differ, err := starter.Differences(old.o, o)
		if err != nil {
			return starter.StartResult{}, false, err
		}
		if len(differ) > 0 {
			return starter.StartResult{}, false, fmt.Errorf("start order %s: %w: %w", o.Number, starter.ErrConflict,
				&starter.ContentConflict{Number: o.Number, Differ: differ})
		}
		return res, false, nil
	}
	st := contract.StatusDocument{OrderNumber: o.Number, Status: contract.OrderFulfilling, Refunds: []contract.RefundStatus{}}
	for _, l := range o.Lines {
		st.Lines = append(st.Lines, contract.LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode, State: contract.LineFulfilled})
	}
	f.orders[o.Number] = &fakeOrder{o: o, status: st, refunds: map[string]bool{}}
	f.starts++
	return res, true, nil
}

// Status implements api.Starter.
func (f *Fake) Status(_ context.Context, number string) (contract.StatusDocument, error) {
	if f.Err != nil {
		return contract.StatusDocument{}, f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fo, ok := f.orders[number]
	if !ok {
		return contract.StatusDocument{}, fmt.Errorf("order %s: %w", number, starter.ErrNotFound)
	}
	return fo.status, nil
}

// Refund implements api.Starter.
func (f *Fake) Refund(_ context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error) {
	if f.Err != nil {
		return contract.RefundResult{}, f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fo, ok := f.orders[number]
	if !ok {
		return contract.RefundResult{}, fmt.Errorf("order %s: %w", number, starter.ErrNotFound)
	}
	res := contract.RefundResult{RefundID: req.RefundID, WorkflowID: contract.RefundWorkflowID(number, req.RefundID)}
	if fo.refunds[req.RefundID] {
		res.Duplicate = true
		return res, nil
	}
	var unknown []string
	for _, id := range req.LineIDs {
		if !slices.Contains(fo.o.LineIDs(), id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return contract.RefundResult{}, fmt.Errorf("refund: %w: %s", starter.ErrUnknownLines, strings.Join(unknown, ", "))
	}
	fo.refunds[req.RefundID] = true
	f.refunds = append(f.refunds, req)
	fo.status.Refunds = append(fo.status.Refunds, contract.RefundStatus{RefundID: req.RefundID, WorkflowID: res.WorkflowID, State: contract.RefundRevoking})
	return res, nil
}

// Retry implements api.Starter.
func (f *Fake) Retry(_ context.Context, number string, req contract.RetryRequest) (contract.RetryResult, error) {
	if f.Err != nil {
		return contract.RetryResult{}, f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fo, ok := f.orders[number]
	if !ok {
		return contract.RetryResult{}, fmt.Errorf("order %s: %w", number, starter.ErrNotFound)
	}
	var failed []string
	for _, l := range fo.status.Lines {
		if l.State == contract.LineFailed && (len(req.LineIDs) == 0 || slices.Contains(req.LineIDs, l.ID)) {
			failed = append(failed, l.ID)
		}
	}
	for _, id := range req.LineIDs {
		if !slices.Contains(fo.o.LineIDs(), id) {
			return contract.RetryResult{}, fmt.Errorf("retry: %w: %s", starter.ErrUnknownLines, id)
		}
	}
	if len(failed) == 0 {
		return contract.RetryResult{}, fmt.Errorf("retry: %w", starter.ErrNothingToRetry)
	}
	f.retries = append(f.retries, req)
	return contract.RetryResult{LineIDs: failed}, nil
}

// List implements api.Starter: pages of one order, the token is the index.
func (f *Fake) List(_ context.Context, status contract.OrderState, pageSize int, token []byte) (starter.Page, error) {
	if f.Err != nil {
		return starter.Page{}, f.Err
	}
	if status != "" && !status.Valid() {
		return starter.Page{}, fmt.Errorf("list: %w: bad status", starter.ErrInvalidRequest)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []starter.OrderSummary
	for n, fo := range f.orders {
		if status == "" || fo.status.Status == status {
			all = append(all, starter.OrderSummary{OrderNumber: n, WorkflowID: contract.OrderWorkflowID(n), Status: fo.status.Status, Running: true})
		}
	}
	slices.SortFunc(all, func(a, b starter.OrderSummary) int { return strings.Compare(a.OrderNumber, b.OrderNumber) })
	if pageSize <= 0 {
		pageSize = starter.DefaultPageSize
	}
	start := 0
	if len(token) > 0 {
		if _, err := fmt.Sscanf(string(token), "%d", &start); err != nil || start < 0 || start > len(all) {
			return starter.Page{}, fmt.Errorf("list: %w: invalid page token", starter.ErrInvalidRequest)
		}
	}
	end := min(start+pageSize, len(all))
	page := starter.Page{Orders: all[start:end]}
	if end < len(all) {
		page.NextPageToken = fmt.Appendf(nil, "%d", end)
	}
	return page, nil
}

// CheckHealth implements api.Starter.
func (f *Fake) CheckHealth(context.Context) error { return f.Err }
