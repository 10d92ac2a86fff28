package contract

import (
	"encoding/json"
	"time"

	"github.com/coursefulfill/fulfillment/order"
)

// The wire forms below keep large orders under Temporal's payload limit:
// the lines of a status document, a refund, a revoke's input and result and
// an order's carried state travel as LineTables. Each type still decodes the
// plain form ("lines": [{...}]) that earlier versions wrote and that the
// HTTP API serves, so recorded histories and API answers read alike.

// wireRefund is a refund on the wire.
type wireRefund struct {
	RefundID   string      `json:"refund_id"`
	WorkflowID string      `json:"workflow_id"`
	State      RefundState `json:"state"`
	LineTable  *LineTable  `json:"line_table,omitempty"`
	// Lines is the plain form.
	Lines []RefundLine `json:"lines,omitempty"`
}

func refundsToWire(rs []RefundStatus) []wireRefund {
	out := make([]wireRefund, len(rs))
	for i, r := range rs {
		t := RefundLineTable(r.Lines)
		out[i] = wireRefund{RefundID: r.RefundID, WorkflowID: r.WorkflowID, State: r.State, LineTable: &t}
	}
	return out
}

func refundsFromWire(ws []wireRefund) ([]RefundStatus, error) {
	if ws == nil {
		return nil, nil
	}
	out := make([]RefundStatus, len(ws))
	for i, w := range ws {
		out[i] = RefundStatus{RefundID: w.RefundID, WorkflowID: w.WorkflowID, State: w.State, Lines: w.Lines}
		if w.LineTable != nil {
			lines, err := w.LineTable.RefundLines()
			if err != nil {
				return nil, err
			}
			out[i].Lines = lines
		}
		if out[i].Lines == nil {
			out[i].Lines = []RefundLine{}
		}
	}
	return out, nil
}

// linesAndRefunds reads lines from their table, or their plain form, and
// refunds from their wire form.
func linesAndRefunds(t *LineTable, plain []LineStatus, rs []wireRefund) ([]LineStatus, []RefundStatus, error) {
	lines := plain
	if t != nil {
		var err error
		if lines, err = t.Statuses(); err != nil {
			return nil, nil, err
		}
	}
	refunds, err := refundsFromWire(rs)
	return lines, refunds, err
}

// wireDocument is a StatusDocument on the wire.
type wireDocument struct {
	OrderNumber        string           `json:"order_number"`
	Status             OrderState       `json:"status"`
	LineTable          *LineTable       `json:"line_table,omitempty"`
	Lines              []LineStatus     `json:"lines,omitempty"`
	Refunds            []wireRefund     `json:"refunds"`
	Closed             bool             `json:"closed"`
	Cancelled          bool             `json:"cancelled,omitempty"`
	IgnoredRequests    []IgnoredRequest `json:"ignored_requests,omitempty"`
	RefundWindowEndsAt time.Time        `json:"refund_window_ends_at,omitempty"`
}

// MarshalJSON writes the compact wire form (see LineTable). The HTTP API
// serves its own, plain form.
func (d StatusDocument) MarshalJSON() ([]byte, error) {
	t := StatusTable(d.Lines)
	return json.Marshal(wireDocument{OrderNumber: d.OrderNumber, Status: d.Status, LineTable: &t,
		Refunds: refundsToWire(d.Refunds), Closed: d.Closed, Cancelled: d.Cancelled,
		IgnoredRequests: d.IgnoredRequests, RefundWindowEndsAt: d.RefundWindowEndsAt})
}

// UnmarshalJSON reads the compact or the plain form.
func (d *StatusDocument) UnmarshalJSON(b []byte) error {
	var w wireDocument
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	lines, refunds, err := linesAndRefunds(w.LineTable, w.Lines, w.Refunds)
	if err != nil {
		return err
	}
	*d = StatusDocument{OrderNumber: w.OrderNumber, Status: w.Status, Lines: lines, Refunds: refunds,
		Closed: w.Closed, Cancelled: w.Cancelled, IgnoredRequests: w.IgnoredRequests,
		RefundWindowEndsAt: w.RefundWindowEndsAt}
	return nil
}

// wireCarry is an OrderCarry on the wire.
type wireCarry struct {
	LineTable       *LineTable       `json:"line_table,omitempty"`
	Lines           []LineStatus     `json:"lines,omitempty"`
	Refunds         []wireRefund     `json:"refunds"`
	Deadline        time.Time        `json:"deadline"`
	Seq             int              `json:"seq"`
	IgnoredRequests []IgnoredRequest `json:"ignored_requests,omitempty"`
}

// MarshalJSON writes the compact wire form (see LineTable). The lines'
// product types, courses and modes are left out: they are in the order the
// carry travels with (FillFromOrder puts them back).
func (c OrderCarry) MarshalJSON() ([]byte, error) {
	t := StatusTable(WithoutOrderFields(c.Lines))
	return json.Marshal(wireCarry{LineTable: &t, Refunds: refundsToWire(c.Refunds), Deadline: c.Deadline,
		Seq: c.Seq, IgnoredRequests: c.IgnoredRequests})
}

// UnmarshalJSON reads the compact or the plain form.
func (c *OrderCarry) UnmarshalJSON(b []byte) error {
	var w wireCarry
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	lines, refunds, err := linesAndRefunds(w.LineTable, w.Lines, w.Refunds)
	if err != nil {
		return err
	}
	*c = OrderCarry{Lines: lines, Refunds: refunds, Deadline: w.Deadline, Seq: w.Seq, IgnoredRequests: w.IgnoredRequests}
	return nil
}

// wireRevokeInput is a RevokeInput on the wire.
type wireRevokeInput struct {
	OrderNumber string       `json:"order_number"`
	User        order.User   `json:"user"`
	RefundID    string       `json:"refund_id"`
	LineTable   *LineTable   `json:"line_table,omitempty"`
	Lines       []RevokeLine `json:"lines,omitempty"`
	Options     Options      `json:"options"`
	Retry       int          `json:"retry,omitempty"`
	WorkflowID  string       `json:"workflow_id,omitempty"`
	Flow        int          `json:"flow,omitempty"`
}

// MarshalJSON writes the compact wire form (see LineTable).
func (in RevokeInput) MarshalJSON() ([]byte, error) {
	t := RevokeTable(in.Lines)
	return json.Marshal(wireRevokeInput{OrderNumber: in.OrderNumber, User: in.User, RefundID: in.RefundID,
		LineTable: &t, Options: in.Options, Retry: in.Retry, WorkflowID: in.WorkflowID, Flow: in.Flow})
}

// UnmarshalJSON reads the compact or the plain form.
func (in *RevokeInput) UnmarshalJSON(b []byte) error {
	var w wireRevokeInput
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	lines := w.Lines
	if w.LineTable != nil {
		var err error
		if lines, err = w.LineTable.RevokeLines(); err != nil {
			return err
		}
	}
	*in = RevokeInput{OrderNumber: w.OrderNumber, User: w.User, RefundID: w.RefundID, Lines: lines,
		Options: w.Options, Retry: w.Retry, WorkflowID: w.WorkflowID, Flow: w.Flow}
	return nil
}

// wireRevokeResult is a RevokeResult on the wire.
type wireRevokeResult struct {
	RefundID  string       `json:"refund_id"`
	State     RefundState  `json:"state"`
	LineTable *LineTable   `json:"line_table,omitempty"`
	Lines     []RefundLine `json:"lines,omitempty"`
}

// MarshalJSON writes the compact wire form (see LineTable).
func (r RevokeResult) MarshalJSON() ([]byte, error) {
	t := RefundLineTable(r.Lines)
	return json.Marshal(wireRevokeResult{RefundID: r.RefundID, State: r.State, LineTable: &t})
}

// UnmarshalJSON reads the compact or the plain form.
func (r *RevokeResult) UnmarshalJSON(b []byte) error {
	var w wireRevokeResult
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	lines := w.Lines
	if w.LineTable != nil {
		var err error
		if lines, err = w.LineTable.RefundLines(); err != nil {
			return err
		}
	}
	*r = RevokeResult{RefundID: w.RefundID, State: w.State, Lines: lines}
	return nil
}

// WithoutOrderFields is a copy of lines without what their order holds
// (product type, course, mode); FillFromOrder puts it back.
func WithoutOrderFields(lines []LineStatus) []LineStatus {
	out := make([]LineStatus, len(lines))
	for i, l := range lines {
		l.ProductType, l.CourseID, l.Mode = "", "", ""
		out[i] = l
	}
	return out
}

// FillFromOrder puts back into lines what their order holds (product type,
// course, mode), for lines read from a carry or a late-refunds base.
func FillFromOrder(lines []LineStatus, o order.Order) {
	byID := make(map[string]order.Line, len(o.Lines))
	for _, l := range o.Lines {
		byID[l.ID] = l
	}
	for i := range lines {
		if ol, ok := byID[lines[i].ID]; ok && lines[i].ProductType == "" {
			lines[i].ProductType, lines[i].CourseID, lines[i].Mode = ol.ProductType, ol.CourseID, ol.Mode
		}
	}
}

// wireLateRefundsInput is a LateRefundsInput on the wire.
type wireLateRefundsInput LateRefundsInput

// MarshalJSON leaves out of the base document what the order holds (see
// FillFromOrder).
func (in LateRefundsInput) MarshalJSON() ([]byte, error) {
	w := wireLateRefundsInput(in)
	w.Base.Lines = WithoutOrderFields(in.Base.Lines)
	return json.Marshal(w)
}
