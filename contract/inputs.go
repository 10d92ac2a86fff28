package contract

import (
	"time"

	"github.com/coursefulfill/fulfillment/order"
)

// OrderInput starts an OrderWorkflow.
type OrderInput struct {
	Order   order.Order `json:"order"`
	Options Options     `json:"options"`
	// Carry is set when a long-running order continues as new.
	Carry *OrderCarry `json:"carry,omitempty"`
}

// OrderCarry is the state an order workflow hands to its next run when its
// history grows long (continue-as-new).
type OrderCarry struct {
	Lines    []LineStatus   `json:"lines"`
	Refunds  []RefundStatus `json:"refunds"`
	Deadline time.Time      `json:"deadline"`
	Seq      int            `json:"seq"`
}

// RevokeLine is one line a RevokeWorkflow revokes; PlanRevoke builds it.
type RevokeLine struct {
	Line order.Line `json:"line"`
	// Fulfilled is true for a line whose fulfillment succeeded: Grant says
	// what to undo.
	Fulfilled bool `json:"fulfilled"`
	// Uncertain marks a line that did not succeed but may have changed the
	// LMS (an attempt cut short or failed transiently): it is revoked too,
	// with no grant, and reported refunded_unfulfilled if the module found
	// nothing to undo.
	Uncertain bool              `json:"uncertain,omitempty"`
	Grant     map[string]string `json:"grant,omitempty"`
}

// Revokes reports whether the line needs a module call at all; a line that
// neither succeeded nor may have written is refunded_unfulfilled at once.
func (l RevokeLine) Revokes() bool { return l.Fulfilled || l.Uncertain }

// RevokeInput starts a RevokeWorkflow: the compensation of one refund.
type RevokeInput struct {
	OrderNumber string       `json:"order_number"`
	User        order.User   `json:"user"`
	RefundID    string       `json:"refund_id"`
	Lines       []RevokeLine `json:"lines"`
	Options     Options      `json:"options"`
	// Retry is set on an operator's retry of failed revokes: it makes the
	// workflow ID order-<number>-refund-<id>~retry-<n>.
	Retry int `json:"retry,omitempty"`
}

// RevokeResult is the RevokeWorkflow's result and the answer of its status
// query.
type RevokeResult struct {
	RefundID string       `json:"refund_id"`
	State    RefundState  `json:"state"`
	Lines    []RefundLine `json:"lines"`
}
