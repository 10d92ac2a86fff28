package modules

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/order"
)

// Keys of an observation (Request.Prior): the learner's state, read by a
// module's Observe before the line's first write. The grant of a fulfill
// made with a Prior carries the same keys with the same values, so that its
// revoke restores that state whether it is given the grant or, when no
// answer of the fulfill arrived, the Prior alone. No key holds an email or
// a username.
const (
	// PriorExists is "true" when the learner had an enrollment (active or
	// not) in the course run.
	PriorExists = contract.KeyPriorExists
	// PriorActive is "true" when that enrollment was active.
	PriorActive = GrantPriorActive
	// PriorMode is its mode; absent when there was no enrollment.
	PriorMode = GrantPriorMode
	// PriorAllowed is "true" when the learner's email had a pre-enrollment
	// (enrollment_allowed) in the course run. It is read only when the
	// learner had no enrollment there, the order has an email and the LMS
	// client pre-enrolls by email: only then can the fulfill pre-enroll.
	PriorAllowed = "prior_allowed"
	// PriorEntitlements lists, comma-separated, the UUIDs of the learner's
	// active entitlements to the line's course ("" for none).
	PriorEntitlements = contract.KeyPriorEntitlements
)

// observed reports whether an enrollment grant or observation carries the
// prior keys: a grant without them was recorded before observation existed
// and is revoked as it always was.
func observed(m map[string]string) bool {
	_, ok := m[PriorExists]
	return ok
}

// enrollmentPrior records an enrollment as Observe found it (nil: none).
func enrollmentPrior(e *lms.Enrollment) map[string]string {
	p := map[string]string{PriorExists: strconv.FormatBool(e != nil), PriorActive: strconv.FormatBool(e != nil && e.IsActive)}
	if e != nil {
		p[PriorMode] = e.Mode
	}
	return p
}

// observeEnrollment is the read the enrollment modules' Observe share: the
// learner's enrollment in the line's course run, as an observation.
func observeEnrollment(ctx context.Context, api enrollmentAPI, req Request) (map[string]string, Result, bool) {
	if r, ok := checkEnrollmentLine(req); !ok {
		return nil, r, false
	}
	e, err := api.Lookup(ctx, enrollRequest(req, req.Line.Mode))
	if err != nil {
		return nil, ResultFromError(err), false
	}
	return enrollmentPrior(e), Result{}, true
}

// freshEnrollment is req.Prior as the LMS client's Observation, when the
// fulfill may write from it without reading again: the observation is
// fresh and names the learner by username (it keeps no username, which the
// write of an order by email takes from its read), and the line's mode is
// a paid one. A free seat reads: its write must never downgrade a learner
// who paid, also one whose paid seat another line of the same order wrote
// after both lines were observed.
func freshEnrollment(req Request) *lms.Observation {
	exists, known := req.Prior[PriorExists]
	if !req.PriorFresh || !known || req.User.Username == "" || lms.IsFreeMode(req.Line.Mode) {
		return nil
	}
	if exists != "true" {
		return &lms.Observation{}
	}
	return &lms.Observation{Enrollment: &lms.Enrollment{User: req.User.Username, CourseID: req.Line.CourseID,
		Mode: req.Prior[PriorMode], IsActive: req.Prior[PriorActive] == "true"}}
}

// priorActiveIn reports whether the learner was, before the order, actively
// enrolled in a way that already gives what a line for mode asks: then the
// order grants nothing and its revoke takes nothing.
func priorActiveIn(p map[string]string, mode string, satisfies func(have, want string) bool) bool {
	return p[PriorActive] == "true" && satisfies(p[PriorMode], mode)
}

// enrollmentAction is what a fulfill that left the learner actively
// enrolled as the line asks did, measured from the prior state rather than
// from what the fulfill's own read found (which, after a lost answer, is
// the fulfill's own earlier write).
func enrollmentAction(p map[string]string, mode string, satisfies func(have, want string) bool) string {
	switch {
	case priorActiveIn(p, mode, satisfies):
		return lms.ActionNone
	case p[PriorActive] == "true":
		return lms.ActionModeChanged
	case p[PriorExists] == "true":
		return lms.ActionReactivated
	}
	return lms.ActionCreated
}

// sameMode is the upgrade's notion of "already there": exactly that mode.
func sameMode(have, want string) bool { return have == want }

// ModeGives reports whether an active enrollment in mode have already gives
// what a line of productType asks for in mode want, by that module's rule:
// for a seat lms.ModeSatisfies (a paid mode gives a free seat), for the
// others exactly that mode.
func ModeGives(productType, have, want string) bool {
	if productType == order.ProductSeat {
		return lms.ModeSatisfies(have, want)
	}
	return sameMode(have, want)
}

// withPrior returns the grant g extended with the enrollment prior keys of p.
func withPrior(g, p map[string]string) map[string]string {
	for _, k := range []string{PriorExists, PriorActive, PriorMode, PriorAllowed} {
		if v, ok := p[k]; ok {
			g[k] = v
		}
	}
	return g
}

// joinUUIDs lists UUIDs for PriorEntitlements: lowercase, sorted, so that
// the same state always reads the same.
func joinUUIDs(uuids []string) string {
	out := make([]string, len(uuids))
	for i, u := range uuids {
		out[i] = strings.ToLower(u)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// listedUUID reports whether uuid is in a PriorEntitlements list.
func listedUUID(list, uuid string) bool {
	for _, u := range strings.Split(list, ",") {
		if u != "" && strings.EqualFold(u, uuid) {
			return true
		}
	}
	return false
}

// The modules that write to the LMS observe before they do.
var (
	_ Observer = (*Seat)(nil)
	_ Observer = (*Upgrade)(nil)
	_ Observer = (*Entitlement)(nil)
)

// PriorRuns is the learner's active enrollments before an entitlement line,
// "run=mode run=mode ..." (sorted), recorded when there are at most
// maxPriorRuns: the LMS ties a new entitlement to one of them.
const PriorRuns = "prior_runs"

const maxPriorRuns = 50
