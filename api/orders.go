package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/internal/httpjson"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// OrderAccepted answers POST /api/v1/orders.
type OrderAccepted struct {
	OrderNumber string `json:"order_number"`
	WorkflowID  string `json:"workflow_id"`
	RunID       string `json:"run_id"`
	StatusURL   string `json:"status_url"`
}

// RefundAccepted answers POST /api/v1/orders/{number}/refunds.
type RefundAccepted struct {
	contract.RefundResult
	StatusURL string `json:"status_url"`
}

// RetryAccepted answers POST /api/v1/orders/{number}/retry.
type RetryAccepted struct {
	contract.RetryResult
	StatusURL string `json:"status_url"`
}

// OrderList answers GET /api/v1/orders. NextPageToken is opaque; pass it
// back as page_token for the next page.
type OrderList struct {
	Orders        []starter.OrderSummary `json:"orders"`
	NextPageToken string                 `json:"next_page_token,omitempty"`
}

func statusURL(number string) string {
	return "/api/v1/orders/" + url.PathEscape(number)
}

func (s *server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
}

func (s *server) createOrder(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	o, err := DecodeOrder(r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := o.Validate(s.cfg.Mapped); err != nil {
		s.writeError(w, r, err)
		return
	}
	wait, ok := waitParam(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, created, err := s.st.StartOrder(ctx, o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := OrderAccepted{
		OrderNumber: res.OrderNumber,
		WorkflowID:  res.WorkflowID,
		RunID:       res.RunID,
		StatusURL:   statusURL(o.Number),
	}
	w.Header().Set("Location", body.StatusURL)
	code := http.StatusOK
	if created {
		code = http.StatusAccepted
		s.log.Info("order started", zap.String("order_number", o.Number), zap.Int("lines", len(o.Lines)))
	}
	if s.answerSettled(w, r, o.Number, created, wait) {
		return
	}
	writeJSON(w, code, body)
}

func (s *server) getOrder(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if !order.IsNumber(number) {
		// Not a number any order can have: no such order (and nothing
		// Temporal would refuse reaches it).
		s.writeError(w, r, fmt.Errorf("no such order: %w", starter.ErrNotFound))
		return
	}
	offset, limit, fields := linesPage(r)
	if len(fields) > 0 {
		problem.Write(w, r, &problem.Problem{Type: problem.TypeValidation, Status: http.StatusBadRequest,
			Detail: "invalid query parameters", Errors: fields})
		return
	}
	wait, ok := waitParam(w, r)
	if !ok {
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	st, _, err := s.status(ctx, number, wait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(st, offset, limit))
}

func (s *server) refundOrder(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if !order.IsNumber(number) {
		// Not a number any order can have: no such order (and nothing
		// Temporal would refuse reaches it).
		s.writeError(w, r, fmt.Errorf("no such order: %w", starter.ErrNotFound))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	var req contract.RefundRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if fields := append(checkRefundID(req.RefundID), checkRequestLines(req.LineIDs)...); len(fields) > 0 {
		invalidRequest(w, r, "the refund is invalid", fields)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.st.Refund(ctx, number, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	code := http.StatusAccepted
	if res.Duplicate {
		code = http.StatusOK
	} else {
		s.log.Info("refund accepted", zap.String("order_number", number), zap.String("refund_id", req.RefundID))
	}
	writeJSON(w, code, RefundAccepted{RefundResult: res, StatusURL: statusURL(number)})
}

func (s *server) retryOrder(w http.ResponseWriter, r *http.Request) {
	number := r.PathValue("number")
	if !order.IsNumber(number) {
		// Not a number any order can have: no such order (and nothing
		// Temporal would refuse reaches it).
		s.writeError(w, r, fmt.Errorf("no such order: %w", starter.ErrNotFound))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	var req contract.RetryRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, r, decodeErr(err))
		return
	}
	// An empty body retries every failed line, like {"line_ids":[]}.
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(bytes.NewReader(body), &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if fields := checkRequestLines(req.LineIDs); len(fields) > 0 {
		invalidRequest(w, r, "the retry is invalid", fields)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.st.Retry(ctx, number, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("retry accepted", zap.String("order_number", number), zap.Int("lines", len(res.LineIDs)))
	writeJSON(w, http.StatusAccepted, RetryAccepted{RetryResult: res, StatusURL: statusURL(number)})
}

func (s *server) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fields []problem.FieldError
	pageSize := 0
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > starter.MaxPageSize {
			fields = append(fields, problem.FieldError{Field: "page_size", Detail: "must be a number from 1 to " + strconv.Itoa(starter.MaxPageSize)})
		}
		pageSize = n
	}
	if len(fields) > 0 {
		problem.Write(w, r, &problem.Problem{Type: problem.TypeValidation, Status: http.StatusBadRequest,
			Detail: "invalid query parameters", Errors: fields})
		return
	}
	var token []byte
	if v := q.Get("page_token"); v != "" {
		t, err := s.decodePageToken(v)
		if err != nil {
			invalidRequest(w, r, "invalid query parameters", []problem.FieldError{{Field: "page_token", Detail: err.Error()}})
			return
		}
		token = t
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	page, err := s.st.List(ctx, contract.OrderState(q.Get("status")), pageSize, token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := OrderList{Orders: page.Orders}
	if out.Orders == nil {
		out.Orders = []starter.OrderSummary{}
	}
	if len(page.NextPageToken) > 0 {
		out.NextPageToken = s.encodePageToken(page.NextPageToken)
	}
	writeJSON(w, http.StatusOK, out)
}

// writeError maps an error to its problem document.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	problem.Write(w, r, s.problemFor(r, err))
}

func (s *server) problemFor(r *http.Request, err error) *problem.Problem {
	var (
		verr *order.ValidationError
		derr *DecodeError
	)
	switch {
	case errors.As(err, &verr):
		p := problem.New(http.StatusBadRequest, problem.TypeValidation, "the order is invalid")
		for _, fe := range verr.Errors {
			p.Errors = append(p.Errors, problem.FieldError{Field: fe.Field, Detail: fe.Detail})
		}
		return p
	case errors.Is(err, ErrBodyTooLarge):
		return problem.New(http.StatusRequestEntityTooLarge, problem.TypeTooLarge, "the request body exceeds 1 MiB")
	case errors.As(err, &derr):
		return problem.New(http.StatusBadRequest, problem.TypeMalformed, derr.Detail)
	case errors.Is(err, starter.ErrNotFound):
		return problem.New(http.StatusNotFound, problem.TypeNotFound, "no order "+strconv.Quote(r.PathValue("number")))
	case errors.Is(err, starter.ErrConflict):
		return problem.New(http.StatusConflict, problem.TypeConflict, starter.Detail(err))
	case errors.Is(err, starter.ErrUnknownLines):
		return problem.New(http.StatusUnprocessableEntity, problem.TypeUnknownLines, starter.Detail(err))
	case errors.Is(err, starter.ErrNothingToRetry):
		return problem.New(http.StatusConflict, problem.TypeNothingToRetry, starter.Detail(err))
	case errors.Is(err, starter.ErrClosed):
		return problem.New(http.StatusConflict, problem.TypeClosed, starter.Detail(err))
	case errors.Is(err, starter.ErrRejected):
		return problem.New(http.StatusConflict, problem.TypeRejected, starter.Detail(err))
	case errors.Is(err, starter.ErrInvalidRequest):
		return problem.New(http.StatusUnprocessableEntity, problem.TypeValidation, starter.Detail(err))
	case errors.Is(err, starter.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("temporal unavailable", zap.String("route", r.Pattern), zap.Error(err))
		p := problem.New(http.StatusServiceUnavailable, problem.TypeUnavailable, "Temporal is unavailable; try again shortly")
		return p
	default:
		s.log.Error("request failed", zap.String("route", r.Pattern), zap.Error(err))
		return problem.New(http.StatusInternalServerError, problem.TypeInternal, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }
