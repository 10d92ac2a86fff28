package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// MaxWait is the longest ?wait= a request may ask for.
const MaxWait = 10 * time.Second

// SettledWaiter is implemented by a Starter that can wait for an order to
// settle (*starter.Starter does): WaitSettled returns the order's status
// document once it has settled, or after wait as it is then, and whether it
// settled. Without it, ?wait= answers at once.
type SettledWaiter interface {
	WaitSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error)
	// WaitNewSettled is WaitSettled for an order the caller has just
	// started (it need not read the status before it waits).
	WaitNewSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error)
}

// waitParam reads ?wait= (a Go duration such as 10s, or whole seconds), from
// 0 (do not wait) to MaxWait. On a bad value it writes the problem document
// and reports false.
func waitParam(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, true
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		err = nerr
		if n < 0 || n > int(MaxWait/time.Second) {
			n = -1 // out of range; multiplied it could wrap into range
		}
		d = time.Duration(n) * time.Second
	}
	if err != nil || d < 0 || d > MaxWait {
		problem.Write(w, r, &problem.Problem{Type: problem.TypeValidation, Status: http.StatusBadRequest,
			Detail: "invalid query parameters", Errors: []problem.FieldError{{Field: "wait",
				Detail: "must be a duration from 0s to " + MaxWait.String() + " (e.g. 10s)"}}})
		return 0, false
	}
	return d, true
}

// status reads an order's status document: at once without a wait, else
// once it has settled or the wait is over.
func (s *server) status(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error) {
	if sw, ok := s.st.(SettledWaiter); ok && wait > 0 {
		return sw.WaitSettled(ctx, number, wait)
	}
	st, err := s.st.Status(ctx, number)
	return st, err == nil && st.Settled(), err
}

// answerSettled answers POST /api/v1/orders?wait= for a started order: when
// it settles within wait, 200 with its status document (as GET answers it,
// first page of lines), and true. Otherwise it writes nothing and reports
// false: the caller answers as without a wait. An error reading the status
// is not the order's: the order was started, so the caller answers that.
func (s *server) answerSettled(w http.ResponseWriter, r *http.Request, number string, created bool, wait time.Duration) bool {
	sw, ok := s.st.(SettledWaiter)
	if !ok || wait <= 0 {
		return false
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	waitFor := sw.WaitSettled
	if created {
		waitFor = sw.WaitNewSettled
	}
	st, settled, err := waitFor(ctx, number, wait)
	if err != nil || !settled {
		return false
	}
	w.Header().Set("Location", statusURL(number))
	writeJSON(w, http.StatusOK, pageOf(st, 0, DefaultLinesLimit))
	return true
}

// CreateOrderWait posts an order and asks the API to answer once it has
// settled, waiting up to wait (at most MaxWait). settled is the order's
// status document when it settled in time, nil when the API answered as
// without a wait (accepted, still moving).
func (c *Client) CreateOrderWait(ctx context.Context, o order.Order, wait time.Duration) (created Created, settled *OrderStatus, err error) {
	var raw json.RawMessage
	code, err := c.do(ctx, http.MethodPost, "/api/v1/orders?wait="+url.QueryEscape(wait.String()), o, &raw)
	if err != nil {
		return Created{}, nil, err
	}
	var probe struct {
		Status *contract.OrderState `json:"status"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Created{}, nil, fmt.Errorf("decode answer: %w", err)
	}
	if probe.Status != nil {
		var st OrderStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return Created{}, nil, fmt.Errorf("decode answer: %w", err)
		}
		return Created{OrderAccepted: OrderAccepted{OrderNumber: st.OrderNumber, WorkflowID: contract.OrderWorkflowID(st.OrderNumber),
			StatusURL: statusURL(st.OrderNumber)}}, &st, nil
	}
	if err := json.Unmarshal(raw, &created.OrderAccepted); err != nil {
		return Created{}, nil, fmt.Errorf("decode answer: %w", err)
	}
	created.Created = code == http.StatusAccepted
	return created, nil, nil
}

// StatusWait returns an order's status document once it has settled, or as
// it is after wait (at most MaxWait).
func (c *Client) StatusWait(ctx context.Context, number string, wait time.Duration) (OrderStatus, error) {
	var out OrderStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/orders/"+url.PathEscape(number)+"?wait="+url.QueryEscape(wait.String()), nil, &out)
	return out, err
}
