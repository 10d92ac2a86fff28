package workflows

import (
	"fmt"
	"time"

	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// TaskQueue is the task queue the fulfillment worker polls.
const TaskQueue = "fulfillment"

// Names of the order workflow's query, signals and updates. The signals are
// what an operator can send from the Temporal Web UI; the updates (same names)
// are what the API uses, so its caller learns at once whether the request was
// accepted.
const (
	QueryStatus  = "status"
	SignalRetry  = "retry"
	UpdateRetry  = "retry"
	SignalRefund = "refund"
	UpdateRefund = "refund"
)

// Order statuses, also upserted as the OrderStatus search attribute.
const (
	OrderFulfilling        = "fulfilling"
	OrderFulfilled         = "fulfilled"
	OrderFulfillmentError  = "fulfillment_error"
	OrderPartiallyRefunded = "partially_refunded"
	OrderRefunded          = "refunded"
	OrderRevocationError   = "revocation_error"
)

// Line states.
const (
	LinePending             = "pending"
	LineFulfilling          = "fulfilling"
	LineRetrying            = "retrying"
	LineFulfilled           = "fulfilled"
	LineFailed              = "failed"
	LineRevoking            = "revoking"
	LineRevoked             = "revoked"
	LineRevokeFailed        = "revoke_failed"
	LineRefundedUnfulfilled = "refunded_unfulfilled"
)

// Refund states.
const (
	RefundRevoking        = "revoking"
	RefundCompleted       = "completed"
	RefundRevocationError = "revocation_error"
)

// Search attribute names registered on every start.
const (
	SearchAttrOrderNumber = "OrderNumber"
	SearchAttrOrderStatus = "OrderStatus"
	SearchAttrCourseIDs   = "CourseIds"
	SearchAttrFailedLines = "FailedLines"
)

// Options tunes how an order is fulfilled. It travels in the workflow input
// so a running order keeps the options it started with.
type Options struct {
	// MaxParallelLines caps the lines fulfilled at the same time.
	MaxParallelLines int `json:"max_parallel_lines,omitempty"`
	// RetryHorizon is how long transient LMS errors are retried before the
	// line is parked for an operator.
	RetryHorizon time.Duration `json:"retry_horizon,omitempty"`
	// RefundWindow is how long the order workflow stays open for refunds.
	RefundWindow time.Duration `json:"refund_window,omitempty"`
	// BatchSize is the most lines one execution fulfills itself; larger
	// orders are split into child workflows of at most this many lines.
	BatchSize int `json:"batch_size,omitempty"`
	// ActivityTimeout bounds one attempt of one line (start-to-close).
	ActivityTimeout time.Duration `json:"activity_timeout,omitempty"`
	// InitialRetryInterval and MaxRetryInterval shape the exponential backoff.
	InitialRetryInterval time.Duration `json:"initial_retry_interval,omitempty"`
	MaxRetryInterval     time.Duration `json:"max_retry_interval,omitempty"`
}

// OrderInput starts an OrderWorkflow.
type OrderInput struct {
	Order   order.Order `json:"order"`
	Options Options     `json:"options"`
	// Carry is set when a long-running order continues as new.
	Carry *OrderCarry `json:"carry,omitempty"`
}

// LineStatus is one line in the status document.
type LineStatus struct {
	ID          string `json:"id"`
	ProductType string `json:"product_type"`
	CourseID    string `json:"course_id,omitempty"`
	Mode        string `json:"mode,omitempty"`
	State       string `json:"state"`
	// Result is the module's last answer for this line.
	Result *modules.Result `json:"result,omitempty"`
	// Attempts counts module calls for the current action.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// RefundID names the refund that covers this line, if any.
	RefundID string `json:"refund_id,omitempty"`
}

// RefundLine is one line of one refund.
type RefundLine struct {
	ID     string          `json:"id"`
	State  string          `json:"state"`
	Result *modules.Result `json:"result,omitempty"`
}

// RefundStatus is one refund in the status document.
type RefundStatus struct {
	RefundID   string       `json:"refund_id"`
	WorkflowID string       `json:"workflow_id"`
	State      string       `json:"state"`
	Lines      []RefundLine `json:"lines"`
}

// OrderStatus is the status document: the answer of the status query and the
// order workflow's result.
type OrderStatus struct {
	OrderNumber string         `json:"order_number"`
	Status      string         `json:"status"`
	Lines       []LineStatus   `json:"lines"`
	Refunds     []RefundStatus `json:"refunds"`
	// Closed is true in the final document, after the refund window.
	Closed bool `json:"closed"`
	// RefundWindowEndsAt is when the order workflow closes.
	RefundWindowEndsAt time.Time `json:"refund_window_ends_at,omitempty"`
}

// RetryRequest is the payload of the retry signal and update. An empty list
// retries every failed line.
type RetryRequest struct {
	LineIDs []string `json:"line_ids"`
}

// RetryResult answers an accepted retry update.
type RetryResult struct {
	LineIDs []string `json:"line_ids"`
}

// RefundRequest is the payload of the refund signal and update. An empty list
// refunds every line.
type RefundRequest struct {
	RefundID string   `json:"refund_id"`
	LineIDs  []string `json:"line_ids"`
}

// RefundResult answers an accepted refund update.
type RefundResult struct {
	RefundID   string `json:"refund_id"`
	WorkflowID string `json:"workflow_id"`
	// Duplicate is true when this refund id had already been accepted.
	Duplicate bool `json:"duplicate"`
}

// RevokeLine is one line a RevokeWorkflow revokes.
type RevokeLine struct {
	Line order.Line `json:"line"`
	// Fulfilled is false for a line that never succeeded: nothing to revoke.
	Fulfilled bool `json:"fulfilled"`
	// Uncertain marks a line that did not succeed but may have changed the
	// LMS (an attempt cut short or failed transiently): it is revoked too,
	// with no grant, and reported refunded_unfulfilled if the module found
	// nothing to undo.
	Uncertain bool              `json:"uncertain,omitempty"`
	Grant     map[string]string `json:"grant,omitempty"`
}

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

// RevokeWorkflowID is the ID of the RevokeWorkflow for in.
func RevokeWorkflowID(in RevokeInput) string {
	id := order.RefundWorkflowID(in.OrderNumber, in.RefundID)
	if in.Retry > 0 {
		id += fmt.Sprintf("~retry-%d", in.Retry)
	}
	return id
}

// RevokeResult is the RevokeWorkflow's result.
type RevokeResult struct {
	RefundID string       `json:"refund_id"`
	State    string       `json:"state"`
	Lines    []RefundLine `json:"lines"`
}
