// Package ledger is the reference model of an order's ledger that the
// end-to-end tests check the system against: given a line (product, mode,
// the learner's enrollment from elsewhere) and what happened to it (its
// fulfillment succeeded or failed, a refund covered it, perhaps while its
// fulfillment ran, its revoke failed), the line's final state, the
// learner's enrollment in the LMS and how many writes it may have taken;
// and the order's status from its lines. Plain Go: no Temporal, no LMS.
// The model-based saga test (e2e/model_test.go) and the fault-survival
// suite (e2e/chaos) share it.
package ledger

import (
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// Enroll is an enrollment as far as access goes (none unless Exists).
type Enroll struct {
	Exists, Active bool
	Mode           string
}

func (e Enroll) String() string {
	switch {
	case !e.Exists:
		return "no enrollment"
	case e.Active:
		return "active " + e.Mode
	default:
		return "inactive " + e.Mode
	}
}

// Access is what the learner can do: the mode of an active enrollment, or
// "no access". Inactive enrollments are compared as no access whatever
// their mode (their mode grants nothing; a later enrollment sets it anew).
func (e Enroll) Access() string {
	if !e.Active {
		return "no access"
	}
	return "active " + e.Mode
}

// FreeMode reports a mode that costs nothing (a paid mode includes it).
func FreeMode(m string) bool { return m == "audit" || m == "honor" }

// Line is one order line as the model sees it.
type Line struct {
	Product string
	// Mode: seat and upgrade audit|verified; entitlement "" (the LMS
	// client's default, verified) or a mode.
	Mode string
	// Prior is the learner's enrollment in the line's course from
	// elsewhere, before the order.
	Prior Enroll
}

// EntMode is the mode of the entitlement a line asks for.
func (l Line) EntMode() string {
	if l.Mode == "" {
		return "verified"
	}
	return l.Mode
}

// Grant is the learner's enrollment after the line was fulfilled, given
// the enrollment from elsewhere, and how many writes that took.
func Grant(l Line) (Enroll, int) {
	p := l.Prior
	switch l.Product {
	case order.ProductSeat:
		// An active enrollment in that mode, or in a paid mode for a free
		// seat: the order grants nothing.
		if p.Active && (p.Mode == l.Mode || FreeMode(l.Mode) && !FreeMode(p.Mode)) {
			return p, 0
		}
		return Enroll{Exists: true, Active: true, Mode: l.Mode}, 1
	case order.ProductUpgrade:
		if p.Active && p.Mode == l.Mode {
			return p, 0
		}
		return Enroll{Exists: true, Active: true, Mode: l.Mode}, 1
	case order.ProductEntitlement:
		// The LMS moves the learner's one active enrollment in a run of
		// the course to the entitlement's mode.
		if p.Active {
			if p.Mode == l.EntMode() {
				return p, 0
			}
			return Enroll{Exists: true, Active: true, Mode: l.EntMode()}, 1
		}
		return p, 0
	}
	return p, 0
}

// Outcome is what happened to a line.
type Outcome struct {
	// Fulfilled: the line's last fulfillment attempt succeeds.
	Fulfilled bool
	// Refund is the accepted refund covering the line ("" if none).
	Refund string
	// Raced: the refund came while the line's fulfillment may still run
	// (it may stop the line before it wrote).
	Raced bool
	// RevokeFailed: the line's revoke failed for good.
	RevokeFailed bool
}

// LineExpect is what the model says about one line once the system settled.
type LineExpect struct {
	// States are the line's acceptable final states (two when a refund
	// races the fulfillment: it may stop the line before it ran).
	States   []contract.LineState
	RefundID string
	// Granted: the line's grant stands at the end (fulfilled, not refunded).
	Granted bool
	// Enrollment is the learner's enrollment in the line's course at the
	// end, compared by access (active and mode, or no access).
	Enrollment Enroll
	// EntActive: an active entitlement of this order for the line's
	// course; EntMax is how many entitlements of this order (active or
	// not) the course may have: no duplicate creates.
	EntActive bool
	EntMax    int
	// MaxWrites bounds the enrollment's writes beyond those from
	// elsewhere: each write the fulfillment and its revoke mean to make,
	// once (a retried call must not write again).
	MaxWrites int
}

// Failed reports a line left failed for an operator.
func (e *LineExpect) Failed() bool {
	return len(e.States) == 1 && e.States[0] == contract.LineFailed
}

// RevokeFailed reports a line whose revoke failed for good.
func (e *LineExpect) RevokeFailed() bool {
	return len(e.States) == 1 && e.States[0] == contract.LineRevokeFailed
}

// ExpectLine is the model's answer for one line.
func ExpectLine(l Line, o Outcome) *LineExpect {
	le := &LineExpect{RefundID: o.Refund, Enrollment: l.Prior}
	g, writes := Grant(l)
	refunded := o.Refund != ""
	switch {
	case o.RevokeFailed:
		// The revoke failed: the grant stands.
		le.States = []contract.LineState{contract.LineRevokeFailed}
		le.Enrollment = g
	case refunded && o.Raced && o.Fulfilled:
		le.States = []contract.LineState{contract.LineRevoked, contract.LineRefundedUnfulfilled}
	case refunded && o.Raced:
		le.States = []contract.LineState{contract.LineRefundedUnfulfilled}
	case refunded && o.Fulfilled:
		le.States = []contract.LineState{contract.LineRevoked}
	case refunded:
		le.States = []contract.LineState{contract.LineRefundedUnfulfilled}
	case o.Fulfilled:
		le.States = []contract.LineState{contract.LineFulfilled}
		le.Granted, le.Enrollment = true, g
	default:
		le.States = []contract.LineState{contract.LineFailed}
	}
	// Writes: the fulfillment's, and as many to undo them.
	if o.Fulfilled {
		le.MaxWrites = writes
		if refunded && !o.RevokeFailed {
			le.MaxWrites += writes
		}
	}
	if l.Product == order.ProductEntitlement && o.Fulfilled && refunded && !o.RevokeFailed && l.Prior.Active {
		// The LMS ties the entitlement to the learner's active enrollment
		// (moving it to the entitlement's mode: the grant's write, if any)
		// and unenrolls that run when the entitlement is revoked (one
		// write); one more gives the enrollment from elsewhere back, in its
		// mode. Whether or not the grant wrote, that is two writes after it.
		le.MaxWrites = writes + 2
	}
	if l.Product == order.ProductEntitlement {
		le.EntActive = le.Granted
		if o.Fulfilled {
			le.EntMax = 1
		}
	}
	return le
}

// OrderStatus is the order's final status the model predicts from its
// lines' expectations, how many refunds it accepted and whether it was
// cancelled.
func OrderStatus(lines []*LineExpect, refunds int, cancelled bool) contract.OrderState {
	anyFailed, anyRevokeFailed, allCovered := false, false, true
	for _, le := range lines {
		anyFailed = anyFailed || le.Failed()
		anyRevokeFailed = anyRevokeFailed || le.RevokeFailed()
		allCovered = allCovered && le.RefundID != ""
	}
	switch {
	case anyRevokeFailed:
		return contract.OrderRevocationError
	case anyFailed && cancelled:
		return contract.OrderCancelled
	case anyFailed:
		return contract.OrderFulfillmentError
	case refunds == 0:
		return contract.OrderFulfilled
	case allCovered:
		return contract.OrderRefunded
	}
	return contract.OrderPartiallyRefunded
}
