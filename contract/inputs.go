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
	// Flow is the order workflow behaviour the order started with
	// (CurrentFlow when the starter started it); 0 for orders started
	// before flows, whose runs read theirs with workflow.GetVersion.
	Flow int `json:"flow,omitempty"`
}

// CurrentFlow is the order workflow behaviour new orders start with,
// carried in their input instead of read with workflow.GetVersion: every
// GetVersion records a marker and upserts the TemporalChangeVersion search
// attribute, a visibility write on the server for each order (and each of
// its batches). Flow 1 is every change up to lean-start version 2. A worker
// given a flow above the one it knows fails the workflow task, so that a
// newer worker takes the order: deploy workers before the API. A later
// change of a flow's commands is gated with GetVersion, or is a new flow.
const CurrentFlow = 1

// OrderCarry is the state an order workflow hands to its next run when its
// history grows long (continue-as-new).
type OrderCarry struct {
	Lines    []LineStatus   `json:"lines"`
	Refunds  []RefundStatus `json:"refunds"`
	Deadline time.Time      `json:"deadline"`
	Seq      int            `json:"seq"`
	// IgnoredRequests are the signals the order did not act on.
	IgnoredRequests []IgnoredRequest `json:"ignored_requests,omitempty"`
}

// LateRefundWindow is how long after its order closed a LateRefundsWorkflow
// takes refunds of lines not refunded yet: as long as Temporal keeps a
// closed order by default (a year and a day).
const LateRefundWindow = 366 * 24 * time.Hour

// LateRefundsInput starts the LateRefundsWorkflow of a closed order: the one
// execution that takes the order's refunds (and retries of their revokes)
// once the order workflow has closed, so each line is refunded at most once.
type LateRefundsInput struct {
	Order   order.Order `json:"order"`
	Options Options     `json:"options"`
	// Base is the order's status as it closed (with any refunds taken
	// after close by earlier means).
	Base StatusDocument `json:"base"`
	// Until is when the workflow stops taking refunds.
	Until time.Time `json:"until"`
	// Seq numbers the retries of failed revokes, across runs.
	Seq int `json:"seq,omitempty"`
	// Flow is the behaviour the workflow follows (see CurrentFlow); 0 for
	// inputs of earlier versions.
	Flow int `json:"flow,omitempty"`
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
	// Prior is the learner's state before the line's first write, when it
	// was recorded: an uncertain line's revoke restores exactly it.
	Prior map[string]string `json:"prior,omitempty"`
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
	// Retry numbers an operator's retry of failed revokes.
	Retry int `json:"retry,omitempty"`
	// WorkflowID is the ID the revoke runs under; its batches are named
	// after it. Empty in inputs of earlier versions, whose ID was
	// LegacyRefundWorkflowID (with "~retry-<n>" for a retry).
	WorkflowID string `json:"workflow_id,omitempty"`
	// Flow is its order's flow (see CurrentFlow); 0 for inputs of earlier
	// versions.
	Flow int `json:"flow,omitempty"`
}

// RevokeWorkflowID is the ID the RevokeWorkflow of in runs under.
func (in RevokeInput) RevokeWorkflowID() string {
	if in.WorkflowID != "" {
		return in.WorkflowID
	}
	id := LegacyRefundWorkflowID(in.OrderNumber, in.RefundID)
	if in.Retry > 0 {
		id = RevokeRetryWorkflowID(id, in.Retry)
	}
	return id
}

// RevokeResult is the RevokeWorkflow's result and the answer of its status
// query.
type RevokeResult struct {
	RefundID string       `json:"refund_id"`
	State    RefundState  `json:"state"`
	Lines    []RefundLine `json:"lines"`
}
