package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
)

// Paging of an order's lines in GET /api/v1/orders/{number}.
const (
	DefaultLinesLimit = 100
	MaxLinesLimit     = 1000
)

// OrderStatus is the answer of GET /api/v1/orders/{number}: the order's
// status document with one page of its lines (all of them for orders of up
// to DefaultLinesLimit lines), and counts over every line, so the answer
// stays readable for an order of thousands of lines.
type OrderStatus struct {
	OrderNumber string                     `json:"order_number"`
	Status      contract.OrderState        `json:"status"`
	Lines       []contract.LineStatus      `json:"lines"`
	LinesTotal  int                        `json:"lines_total"`
	LinesOffset int                        `json:"lines_offset"`
	LineCounts  map[contract.LineState]int `json:"line_counts"`
	// Refunds lists every refund; a refund's lines are those on this page.
	Refunds            []RefundView              `json:"refunds"`
	Closed             bool                      `json:"closed"`
	Cancelled          bool                      `json:"cancelled,omitempty"`
	IgnoredRequests    []contract.IgnoredRequest `json:"ignored_requests,omitempty"`
	RefundWindowEndsAt time.Time                 `json:"refund_window_ends_at"`
}

// RefundView is one refund in OrderStatus.
type RefundView struct {
	contract.RefundStatus
	LinesTotal int `json:"lines_total"`
}

// linesPage reads lines_offset and lines_limit.
func linesPage(r *http.Request) (offset, limit int, fields []problem.FieldError) {
	q := r.URL.Query()
	offset, limit = 0, DefaultLinesLimit
	if v := q.Get("lines_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fields = append(fields, problem.FieldError{Field: "lines_offset", Detail: "must be a number from 0"})
		}
		offset = n
	}
	if v := q.Get("lines_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLinesLimit {
			fields = append(fields, problem.FieldError{Field: "lines_limit", Detail: "must be a number from 1 to " + strconv.Itoa(MaxLinesLimit)})
		}
		limit = n
	}
	return offset, limit, fields
}

// pageOf is the API's view of st with the lines [offset, offset+limit).
func pageOf(st contract.StatusDocument, offset, limit int) OrderStatus {
	out := OrderStatus{OrderNumber: st.OrderNumber, Status: st.Status, LinesTotal: len(st.Lines),
		LinesOffset: offset, LineCounts: map[contract.LineState]int{}, Closed: st.Closed, Cancelled: st.Cancelled,
		IgnoredRequests: st.IgnoredRequests, RefundWindowEndsAt: st.RefundWindowEndsAt}
	for _, l := range st.Lines {
		out.LineCounts[l.State]++
	}
	start, end := min(offset, len(st.Lines)), min(offset+limit, len(st.Lines))
	out.Lines = st.Lines[start:end]
	onPage := make(map[string]bool, end-start)
	for _, l := range out.Lines {
		onPage[l.ID] = true
	}
	out.Refunds = make([]RefundView, len(st.Refunds))
	for i, rf := range st.Refunds {
		v := RefundView{RefundStatus: rf, LinesTotal: len(rf.Lines)}
		v.Lines = []contract.RefundLine{}
		for _, rl := range rf.Lines {
			if onPage[rl.ID] {
				v.Lines = append(v.Lines, rl)
			}
		}
		out.Refunds[i] = v
	}
	return out
}
