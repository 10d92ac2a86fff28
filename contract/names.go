package contract

import (
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/order"
)

// TaskQueue is the task queue the fulfillment worker polls.
const TaskQueue = "fulfillment"

// Workflow type names, as registered by the worker and started by name.
const (
	WorkflowOrder       = "OrderWorkflow"
	WorkflowLateRefunds = "LateRefundsWorkflow"
	WorkflowRevoke      = "RevokeWorkflow"
	WorkflowLines       = "LinesWorkflow"
)

// Activity type names, as registered by the worker and scheduled by the
// workflows.
const (
	ActivityFulfillLine = "FulfillLine"
	ActivityRevokeLine  = "RevokeLine"
	ActivityObserveLine = "ObserveLine"
)

// Action is what is done to a line: fulfill it or revoke it.
type Action string

// Line actions.
const (
	ActionFulfill Action = "fulfill"
	ActionRevoke  Action = "revoke"
	// ActionObserve reads, without writing, the learner's state a line's
	// fulfill may change, before its first write.
	ActionObserve Action = "observe"
)

// Activity returns the name of the activity that performs a.
func (a Action) Activity() string {
	switch a {
	case ActionRevoke:
		return ActivityRevokeLine
	case ActionObserve:
		return ActivityObserveLine
	}
	return ActivityFulfillLine
}

// Valid reports whether a is an action a batch of lines can run.
func (a Action) Valid() bool { return a == ActionFulfill || a == ActionRevoke }

// Names of the order workflow's query, signals and updates. The updates are
// what operators send (the Web UI's Send an Update, the API, the CLI): the
// caller learns at once whether the request was accepted, and why not. The
// signals (same names, same payloads) are for scripts; one the order cannot
// act on is recorded in its status document. A RevokeWorkflow answers the same status query with its
// RevokeResult.
const (
	QueryStatus  = "status"
	SignalRetry  = "retry"
	UpdateRetry  = "retry"
	SignalRefund = "refund"
	UpdateRefund = "refund"
)

// Signals between an order workflow and its batch children (LinesWorkflow).
// They are plumbing, not operator requests.
const (
	// SignalCancelLines asks a batch to stop some of its lines (they were
	// refunded); payload: a list of line ids.
	SignalCancelLines = "cancel-lines"
	// SignalLineOutcomes carries outcomes of lines from a batch to its
	// parent; payload: a list of line outcomes.
	SignalLineOutcomes = "line-outcomes"
)

// Search attribute names, registered on every start. None holds personal
// data: search attributes are never encrypted.
const (
	SearchAttrOrderNumber = "OrderNumber"
	SearchAttrOrderStatus = "OrderStatus"
	SearchAttrCourseIDs   = "CourseIds"
	SearchAttrFailedLines = "FailedLines"
	// SearchAttrFailedCourseIDs lists the courses (course run keys, or
	// course UUIDs of entitlements) of the order's lines that wait for an
	// operator: `FailedCourseIds = "course-v1:..."` finds what a fix of
	// that course lets through.
	SearchAttrFailedCourseIDs = "FailedCourseIds"
	// SearchAttrErrorTypes lists the error types of the order's lines that
	// wait for an operator or are being retried: `ErrorTypes =
	// "CourseNotFound"`.
	SearchAttrErrorTypes = "ErrorTypes"
)

// Typed keys of the search attributes, for the workflows and for whoever
// starts or lists them.
var (
	OrderNumberKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrOrderNumber)
	OrderStatusKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrOrderStatus)
	CourseIDsKey   = temporal.NewSearchAttributeKeyKeywordList(SearchAttrCourseIDs)
	FailedLinesKey = temporal.NewSearchAttributeKeyInt64(SearchAttrFailedLines)
	// FailedCourseIDsKey and ErrorTypesKey are set by orders started with
	// the failure-search-attributes version.
	FailedCourseIDsKey = temporal.NewSearchAttributeKeyKeywordList(SearchAttrFailedCourseIDs)
	ErrorTypesKey      = temporal.NewSearchAttributeKeyKeywordList(SearchAttrErrorTypes)
)

// Bounds of a keyword-list search attribute's value: the server refuses a
// value over 2 KiB (and with it the workflow task that sets it, again and
// again), so a list stops well before.
const (
	maxKeywordListItems = 50
	maxKeywordListBytes = 1500
)

// AppendKeyword appends v to a keyword-list search attribute's value when
// the list stays within its bounds, and reports whether it did.
func AppendKeyword(list []string, v string) ([]string, bool) {
	size := 2 // the JSON array's brackets
	for _, s := range list {
		size += len(s) + 3 // quotes and comma
	}
	if len(list) >= maxKeywordListItems || size+len(v)+3 > maxKeywordListBytes {
		return list, false
	}
	return append(list, v), true
}

// CourseIDsAttr is the value of the CourseIds search attribute of an order:
// its course ids, as many as fit (see AppendKeyword).
func CourseIDsAttr(o order.Order) []string {
	var ids []string
	for _, id := range o.CourseIDs() {
		var ok bool
		if ids, ok = AppendKeyword(ids, id); !ok {
			break
		}
	}
	return ids
}
