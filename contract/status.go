package contract

import (
	"slices"
	"strings"
	"time"
)

// OrderState is an order's state as a whole: the "status" of its status
// document and the OrderStatus search attribute.
type OrderState string

// Order states.
const (
	OrderFulfilling        OrderState = "fulfilling"
	OrderFulfilled         OrderState = "fulfilled"
	OrderFulfillmentError  OrderState = "fulfillment_error"
	OrderRefunding         OrderState = "refunding"
	OrderPartiallyRefunded OrderState = "partially_refunded"
	OrderRefunded          OrderState = "refunded"
	OrderRevocationError   OrderState = "revocation_error"
	OrderCancelled         OrderState = "cancelled"
)

// OrderStates lists every order state, for filters and their validation.
var OrderStates = []OrderState{
	OrderFulfilling, OrderFulfilled, OrderFulfillmentError, OrderRefunding,
	OrderPartiallyRefunded, OrderRefunded, OrderRevocationError, OrderCancelled,
}

// LineState is one line's state, in the order and in a refund.
type LineState string

// Line states.
const (
	LinePending             LineState = "pending"
	LineFulfilling          LineState = "fulfilling"
	LineRetrying            LineState = "retrying"
	LineAwaitingAccount     LineState = "awaiting_account"
	LineFulfilled           LineState = "fulfilled"
	LineFailed              LineState = "failed"
	LineRevoking            LineState = "revoking"
	LineRevoked             LineState = "revoked"
	LineRevokeFailed        LineState = "revoke_failed"
	LineRefundedUnfulfilled LineState = "refunded_unfulfilled"
)

// NeedsOperator reports whether a line in state s waits for an operator.
func (s LineState) NeedsOperator() bool { return s == LineFailed || s == LineRevokeFailed }

// RefundState is one refund's state.
type RefundState string

// Refund states.
const (
	RefundRevoking        RefundState = "revoking"
	RefundCompleted       RefundState = "completed"
	RefundRevocationError RefundState = "revocation_error"
)

// LineStatus is one line in the status document.
type LineStatus struct {
	ID          string    `json:"id"`
	ProductType string    `json:"product_type"`
	CourseID    string    `json:"course_id,omitempty"`
	Mode        string    `json:"mode,omitempty"`
	State       LineState `json:"state"`
	// Result is the module's last answer for this line's fulfillment.
	Result *Result `json:"result,omitempty"`
	// Attempts counts the tries the line's fulfillment took (failed reads
	// of its observation included), across operator retries and account
	// checks; revokes are not counted here.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// RefundID names the refund that covers this line, if any.
	RefundID string `json:"refund_id,omitempty"`
	// Prior is the learner's LMS state for this line as its module read it
	// before the line's first write; grants and revokes are built from it.
	Prior map[string]string `json:"prior,omitempty"`
}

// RefundLine is one line of one refund.
type RefundLine struct {
	ID     string    `json:"id"`
	State  LineState `json:"state"`
	Result *Result   `json:"result,omitempty"`
}

// RefundStatus is one refund in the status document.
type RefundStatus struct {
	RefundID   string       `json:"refund_id"`
	WorkflowID string       `json:"workflow_id"`
	State      RefundState  `json:"state"`
	Lines      []RefundLine `json:"lines"`
}

// StatusDocument is an order's status record: the answer of the order
// workflow's status query and, once the order closed, its result.
type StatusDocument struct {
	OrderNumber string         `json:"order_number"`
	Status      OrderState     `json:"status"`
	Lines       []LineStatus   `json:"lines"`
	Refunds     []RefundStatus `json:"refunds"`
	// Closed is true once the order workflow has closed (after its refund
	// window, or cancelled); refunds after that are still taken, by the
	// order's late-refunds workflow.
	Closed bool `json:"closed"`
	// Cancelled is true once the order workflow was cancelled: fulfillment
	// stopped, accepted refunds still run to their end.
	Cancelled bool `json:"cancelled,omitempty"`
	// IgnoredRequests lists the latest retry and refund signals the order
	// did not act on, with the reason (a signal has no answer of its own).
	IgnoredRequests []IgnoredRequest `json:"ignored_requests,omitempty"`
	// RefundWindowEndsAt is when the order workflow's refund window ends
	// (an order waiting for an operator stays open past it); for a closed
	// order's late refunds, until when they are taken.
	RefundWindowEndsAt time.Time `json:"refund_window_ends_at,omitempty"`
}

// IgnoredRequest is a signal the order did not act on.
type IgnoredRequest struct {
	// Signal is the signal's name ("retry", "refund").
	Signal string `json:"signal"`
	// RefundID is the refund id the signal named, if any.
	RefundID string `json:"refund_id,omitempty"`
	// Reason says why it was ignored.
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// MaxIgnoredRequests bounds StatusDocument.IgnoredRequests: the latest are
// kept.
const MaxIgnoredRequests = 20

// DeriveOrderState is the state an order's lines and refunds add up to. An
// order is refunded (or partially) only once the revokes of its refunds have
// ended; until then it is refunding. The order workflow and the starter (for
// refunds after close) both use it.
func DeriveOrderState(lines []LineStatus, refunds []RefundStatus) OrderState {
	has := func(states ...LineState) bool {
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
	case has(LinePending, LineFulfilling, LineRetrying, LineAwaitingAccount):
		return OrderFulfilling
	case has(LineRevoking) || slices.ContainsFunc(refunds, func(r RefundStatus) bool { return r.State == RefundRevoking }):
		return OrderRefunding
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

// RefundStateOf is the state of a refund whose lines are in these states:
// revoking while any line is, then revocation_error if one failed.
func RefundStateOf(lines []RefundLine) RefundState {
	state := RefundCompleted
	for _, l := range lines {
		switch l.State {
		case LineRevoking:
			return RefundRevoking
		case LineRevokeFailed:
			state = RefundRevocationError
		}
	}
	return state
}

// Valid reports whether s is one of OrderStates.
func (s OrderState) Valid() bool { return slices.Contains(OrderStates, s) }

// OrderStateNames returns the order states as "a, b, c", for messages and
// help texts.
func OrderStateNames() string {
	names := make([]string, len(OrderStates))
	for i, s := range OrderStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
