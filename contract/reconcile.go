package contract

import (
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/order"
)

// The drift sweep: a ReconcileWorkflow, run by a Temporal Schedule, compares
// what orders granted and revoked with what the LMS holds now.
const (
	// WorkflowReconcile is the drift sweep's workflow type.
	WorkflowReconcile = "ReconcileWorkflow"
	// ActivityReconcileListOrders lists a page of orders to check.
	ActivityReconcileListOrders = "ReconcileListOrders"
	// ActivityReconcileReadOrder reads one order's lines and, rate-limited,
	// what the LMS holds now for those the sweep checks.
	ActivityReconcileReadOrder = "ReconcileReadOrder"
	// ReconcileScheduleID is the Temporal Schedule that runs the sweep.
	ReconcileScheduleID = "fulfillment-reconcile"
	// SearchAttrReconcileStatus is a sweep's outcome (ReconcileStatus
	// values): `ReconcileStatus = "drift"` finds the sweeps that found some.
	SearchAttrReconcileStatus = "ReconcileStatus"
	// SearchAttrDriftCount is how many drifted lines a sweep found.
	SearchAttrDriftCount = "DriftCount"
)

// Typed keys of the sweep's search attributes.
var (
	ReconcileStatusKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrReconcileStatus)
	DriftCountKey      = temporal.NewSearchAttributeKeyInt64(SearchAttrDriftCount)
)

// ReconcileStatus is a sweep's outcome.
type ReconcileStatus string

// Sweep outcomes.
const (
	ReconcileRunning ReconcileStatus = "running"
	ReconcileClean   ReconcileStatus = "clean"
	ReconcileDrift   ReconcileStatus = "drift"
	// ReconcileIncomplete: no drift found, but some lines could not be read.
	ReconcileIncomplete ReconcileStatus = "incomplete"
)

// ReconcileOrderStates are the order states whose lines the sweep checks:
// orders that ended fulfilling and refunding (an order that waits for an
// operator is already on someone's list).
var ReconcileOrderStates = []OrderState{OrderFulfilled, OrderPartiallyRefunded, OrderRefunded}

// ReconcileInput configures a sweep; the zero value is a whole sweep with
// the defaults (what the schedule starts).
type ReconcileInput struct {
	// PageSize is how many orders one listing returns (default 50).
	PageSize int `json:"page_size,omitempty"`
	// MaxOrdersPerRun bounds the orders one run checks before it continues
	// as new (default 500).
	MaxOrdersPerRun int `json:"max_orders_per_run,omitempty"`
	// MaxRows bounds the drift rows the result lists; beyond, it counts
	// them (default 100).
	MaxRows int `json:"max_rows,omitempty"`
	// Query, when set, narrows the sweep to the orders that also match this
	// visibility query (`CourseIds = "course-v1:..."`, `OrderNumber IN
	// (...)`).
	Query string `json:"query,omitempty"`
	// PageToken and Carry are set when a long sweep continues as new.
	PageToken []byte           `json:"page_token,omitempty"`
	Carry     *ReconcileResult `json:"carry,omitempty"`
}

// ReconcileListInput asks for one page of orders to check.
type ReconcileListInput struct {
	Query     string `json:"query,omitempty"`
	PageSize  int    `json:"page_size"`
	PageToken []byte `json:"page_token,omitempty"`
}

// ReconcilePage is one page of order numbers.
type ReconcilePage struct {
	OrderNumbers  []string `json:"order_numbers"`
	NextPageToken []byte   `json:"next_page_token,omitempty"`
}

// ReconcileOrder is one order as the sweep reads it: each line with its
// status and, for the lines the sweep checks, what the LMS holds now. It
// holds no personal data.
type ReconcileOrder struct {
	OrderNumber string          `json:"order_number"`
	Status      OrderState      `json:"status"`
	Lines       []ReconcileLine `json:"lines"`
}

// ReconcileLine is one line of a ReconcileOrder.
type ReconcileLine struct {
	Line   order.Line  `json:"line"`
	Expect Expectation `json:"expect"`
	// Found is what the LMS holds now; nil when the line is not checked or
	// could not be read (ReadError).
	Found     *LMSState `json:"found,omitempty"`
	ReadError string    `json:"read_error,omitempty"`
}

// LMSState is what the LMS holds now for a line's learner and course.
type LMSState struct {
	Exists bool   `json:"exists"`
	Active bool   `json:"active"`
	Mode   string `json:"mode,omitempty"`
	// Satisfies is true when an active enrollment's mode gives what the
	// line's mode asks (the module's rule: the same mode, or for a seat a
	// paid mode where a free one was bought).
	Satisfies bool `json:"satisfies"`
	// ActiveEntitlements are the learner's active entitlements to the
	// course (entitlement lines).
	ActiveEntitlements []string `json:"active_entitlements,omitempty"`
}

// Want is what the LMS should hold for a line.
type Want string

// What the sweep expects of a line.
const (
	WantActive               Want = "active enrollment in the line's mode"
	WantNotActive            Want = "no active enrollment"
	WantNotInMode            Want = "not enrolled in the line's mode"
	WantEntitlementActive    Want = "the order's entitlement active"
	WantEntitlementNotActive Want = "the order's entitlement not active"
)

// Expectation is what the LMS should hold for a line, from the line's status
// alone; Check is false (with Why) for a line the sweep does not check.
type Expectation struct {
	Check           bool   `json:"check"`
	Want            Want   `json:"want,omitempty"`
	Mode            string `json:"mode,omitempty"`
	EntitlementUUID string `json:"entitlement_uuid,omitempty"`
	Why             string `json:"why,omitempty"`
}

// Keys the LMS modules record in grants and prior states: the modules
// package names them after these.
const (
	KeyGrantAction       = "action"
	KeyPriorExists       = "prior_exists"
	KeyPriorActive       = "prior_active"
	KeyPriorMode         = "prior_mode"
	KeyPriorEntitlements = "prior_entitlements"
	KeyEntitlementUUID   = "entitlement_uuid"
	KeyGrantCreated      = "created"
	grantActionNone      = "none"
)

// ExpectLine is what the LMS should hold now for a line in state st: a
// fulfilled line not refunded, its access; a revoked line, no access —
// unless the learner had that access before the order (its observed prior
// state, or a grant that says the order changed nothing), which a revoke
// leaves alone. Other lines are not checked.
func ExpectLine(l order.Line, st LineStatus) Expectation {
	rl := PlanRevoke(l, st)
	prior := st.Prior
	if _, ok := rl.Grant[KeyPriorExists]; ok {
		prior = rl.Grant
	}
	hadAccess := prior[KeyPriorActive] == "true" || rl.Grant[KeyGrantAction] == grantActionNone
	switch {
	case st.State == LineFulfilled && st.RefundID == "":
		switch l.ProductType {
		case order.ProductSeat, order.ProductUpgrade:
			return Expectation{Check: true, Want: WantActive, Mode: l.Mode}
		case order.ProductEntitlement:
			if u := rl.Grant[KeyEntitlementUUID]; u != "" {
				return Expectation{Check: true, Want: WantEntitlementActive, EntitlementUUID: u}
			}
			return Expectation{Why: "no entitlement recorded"}
		}
	case st.State == LineRevoked:
		switch l.ProductType {
		case order.ProductSeat:
			if hadAccess {
				return Expectation{Why: "the learner had access before the order"}
			}
			if len(prior) == 0 && len(rl.Grant) == 0 {
				return Expectation{Why: "no record of the learner's state before the order"}
			}
			return Expectation{Check: true, Want: WantNotActive}
		case order.ProductUpgrade:
			if prior[KeyPriorActive] == "true" && prior[KeyPriorMode] == l.Mode || rl.Grant[KeyGrantAction] == grantActionNone {
				return Expectation{Why: "the learner had that mode before the order"}
			}
			return Expectation{Check: true, Want: WantNotInMode, Mode: l.Mode}
		case order.ProductEntitlement:
			u := rl.Grant[KeyEntitlementUUID]
			if u == "" || rl.Grant[KeyGrantCreated] == "false" || listed(st.Prior[KeyPriorEntitlements], u) {
				return Expectation{Why: "no entitlement of the order's own to check"}
			}
			return Expectation{Check: true, Want: WantEntitlementNotActive, EntitlementUUID: u}
		}
	}
	return Expectation{Why: "nothing to check in state " + string(st.State)}
}

func listed(list, uuid string) bool {
	for _, u := range strings.Split(list, ",") {
		if u != "" && strings.EqualFold(u, uuid) {
			return true
		}
	}
	return false
}

// DriftKind says how a line drifted.
type DriftKind string

// Kinds of drift.
const (
	// DriftAccessMissing: a fulfilled line's access is gone (removed by
	// hand, expired, moved to another mode).
	DriftAccessMissing DriftKind = "access_missing"
	// DriftAccessAfterRefund: a revoked line's access is back.
	DriftAccessAfterRefund DriftKind = "access_after_refund"
)

// DriftRow is one drifted line. It names the order and the line, never the
// learner.
type DriftRow struct {
	OrderNumber string    `json:"order_number"`
	LineID      string    `json:"line_id"`
	ProductType string    `json:"product_type"`
	Course      string    `json:"course"`
	Kind        DriftKind `json:"kind"`
	Expected    string    `json:"expected"`
	Found       string    `json:"found"`
	// Options are what an operator can do about it.
	Options string `json:"options"`
}

// LineDrift compares what the LMS holds (f) with what it should (e); ok is
// false when they agree.
func LineDrift(number string, rl ReconcileLine) (DriftRow, bool) {
	e, f := rl.Expect, rl.Found
	if !e.Check || f == nil {
		return DriftRow{}, false
	}
	row := DriftRow{OrderNumber: number, LineID: rl.Line.ID, ProductType: rl.Line.ProductType, Course: rl.Line.CourseID,
		Expected: string(e.Want), Found: describeFound(*f, e)}
	if row.Course == "" {
		row.Course = rl.Line.CourseUUID
	}
	if e.Mode != "" {
		row.Expected += " (" + e.Mode + ")"
	}
	var drift bool
	switch e.Want {
	case WantActive:
		drift, row.Kind = !f.Active || !f.Satisfies, DriftAccessMissing
	case WantNotActive:
		drift, row.Kind = f.Active, DriftAccessAfterRefund
	case WantNotInMode:
		drift, row.Kind = f.Active && f.Mode == e.Mode, DriftAccessAfterRefund
	case WantEntitlementActive:
		drift, row.Kind = !listed(strings.Join(f.ActiveEntitlements, ","), e.EntitlementUUID), DriftAccessMissing
	case WantEntitlementNotActive:
		drift, row.Kind = listed(strings.Join(f.ActiveEntitlements, ","), e.EntitlementUUID), DriftAccessAfterRefund
	}
	if !drift {
		return DriftRow{}, false
	}
	row.Options = driftOptions(row.Kind, number, rl.Line.ID)
	return row, true
}

func describeFound(f LMSState, e Expectation) string {
	switch {
	case e.EntitlementUUID != "":
		if listed(strings.Join(f.ActiveEntitlements, ","), e.EntitlementUUID) {
			return "entitlement active"
		}
		return "entitlement not active"
	case !f.Exists:
		return "no enrollment"
	case !f.Active:
		return "inactive enrollment (" + f.Mode + ")"
	}
	return "active enrollment (" + f.Mode + ")"
}

// driftOptions is what an operator can do about a drifted line.
func driftOptions(k DriftKind, number, lineID string) string {
	if k == DriftAccessMissing {
		return "if the access was removed on purpose (a refund outside the shop), refund line " + lineID +
			" of order " + number + " so the order agrees; otherwise give it back in the LMS (the line is fulfilled: a retry does not redo it)"
	}
	return "if nobody granted it again on purpose (a later order, staff), remove the access in the LMS; " +
		"refunding again is not possible: the line's refund is complete. Otherwise nothing"
}

// ReconcileResult is a sweep's result, and what a long sweep carries into
// its next run.
type ReconcileResult struct {
	Status        ReconcileStatus `json:"status"`
	StartedAt     time.Time       `json:"started_at"`
	OrdersChecked int             `json:"orders_checked"`
	LinesChecked  int             `json:"lines_checked"`
	// LinesUnread counts checked lines whose LMS state could not be read,
	// and orders that could not be read at all.
	LinesUnread int `json:"lines_unread"`
	DriftCount  int `json:"drift_count"`
	// Drift lists the first drifted lines; DriftOmitted counts the rest.
	Drift        []DriftRow `json:"drift"`
	DriftOmitted int        `json:"drift_omitted,omitempty"`
	// Unread names the first lines that could not be read
	// ("<order>/<line>: <error type>").
	Unread []string `json:"unread,omitempty"`
	// Runs counts the workflow runs the sweep took (continue-as-new).
	Runs int `json:"runs"`
}
