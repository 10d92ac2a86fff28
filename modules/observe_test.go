package modules_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// observe runs the module's Observe, as the workflow does before a line's
// first fulfill, and answers the observation the workflow records.
func observe(t *testing.T, m modules.Module, req modules.Request) map[string]string {
	t.Helper()
	o, ok := m.(modules.Observer)
	require.True(t, ok, "%T has no Observe", m)
	return requireOK(t, o.Observe(ctx, req)).Grant
}

// lostAnswer runs a fulfill whose write the LMS applies and whose answer is
// then lost, as mode says: a transient failure, retried by Temporal.
func (w *world) lostAnswer(m modules.Module, req modules.Request, mode string) {
	w.t.Helper()
	require.NoError(w.t, w.sb.SetFaults(sandbox.Faults{LostAnswerRate: 1, LostAnswerMode: mode}))
	r := m.Fulfill(ctx, req)
	require.NoError(w.t, w.sb.SetFaults(sandbox.Faults{}))
	require.False(w.t, r.OK(), "the answer was lost: %+v", r)
	require.True(w.t, r.Retryable, "%+v", r)
}

// answerLostAfterWrite runs a fulfill that succeeds and whose result is
// then thrown away, as when the worker dies before reporting it: the
// activity's answer is lost after every one of its writes. (The sandbox's
// lost-answer fault loses the first write's answer; a pre-enrollment is the
// second write of its fulfill, after the enrollment POST answered 406.)
func (w *world) answerLostAfterWrite(m modules.Module, req modules.Request) {
	w.t.Helper()
	if r := m.Fulfill(ctx, req); r.ErrorType != contract.ErrorTypeAwaitingAccount {
		requireOK(w.t, r)
	}
}

// failing runs fulfill attempts against an LMS that answers 503 to
// everything: nothing is written.
func (w *world) failing(m modules.Module, req modules.Request, attempts int) {
	w.t.Helper()
	require.NoError(w.t, w.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 503}))
	for range attempts {
		r := m.Fulfill(ctx, req)
		require.True(w.t, r.Retryable, "%+v", r)
	}
	require.NoError(w.t, w.sb.SetFaults(sandbox.Faults{}))
}

// enrolledElsewhere enrolls user in the demo course in mode, as another
// order or staff would, before the order under test.
func (w *world) enrolledElsewhere(user, mode string) {
	w.t.Helper()
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: user, CourseID: demo, Mode: mode})
	require.NoError(w.t, err)
}

func revokeWith(req modules.Request, grant map[string]string) modules.Request {
	req.Grant = grant
	return req
}

func revokeUnrecorded(req modules.Request) modules.Request {
	req.Grant = nil
	return req
}

// (a) The LMS enrolls the learner and the answer is lost; the retry finds
// the enrollment. The grant still says the order created it, so a refund
// unenrolls — with the grant, and also with the observation alone when the
// refund comes before any answer was recorded.
func TestSeatLostAnswerThenRefundUnenrolls(t *testing.T) {
	for _, mode := range []string{sandbox.LostAnswer504, sandbox.LostAnswerDrop} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, false)
			seat := w.module("seat")
			req := request("ada", line("seat", demo, "verified"))
			req.Prior = observe(t, seat, req)
			require.Equal(t, map[string]string{modules.PriorExists: "false", modules.PriorActive: "false"}, req.Prior)

			w.lostAnswer(seat, req, mode)
			require.True(t, w.enrollment("ada", demo).IsActive, "the LMS wrote")
			r := requireOK(t, seat.Fulfill(ctx, req)) // Temporal's retry
			require.Equal(t, lms.ActionCreated, r.Grant[modules.GrantAction])
			require.Equal(t, "false", r.Grant[modules.GrantPriorActive])
			require.Equal(t, 1, w.writes("ada", demo), "the retry wrote nothing")

			rev := requireOK(t, seat.Revoke(ctx, revokeWith(req, r.Grant)))
			require.Equal(t, lms.ActionDeactivated, rev.Grant[modules.GrantAction])
			require.False(t, w.enrollment("ada", demo).IsActive)

			// Refunded while the answer was lost: no grant, the observation.
			req = request("grace", line("seat", demo, "verified"))
			req.Prior = observe(t, seat, req)
			w.lostAnswer(seat, req, mode)
			rev = requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req)))
			require.Equal(t, lms.ActionDeactivated, rev.Grant[modules.GrantAction])
			require.False(t, w.enrollment("grace", demo).IsActive)
			requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req))) // a retry
			require.Equal(t, 2, w.writes("grace", demo), "enroll, unenroll; the retried revoke wrote nothing")
		})
	}
}

// (c) A learner in audit buys the verified seat, or the upgrade to
// verified; the mode change's answer is lost, and the retry finds the
// learner already in verified. The grant still says the order moved them
// from audit, and the refund moves them back — with the grant, or with the
// observation alone when no answer was recorded.
func TestLostAnswerOfAModeChangeRevokeReturnsToAudit(t *testing.T) {
	for _, product := range []string{"seat", "upgrade"} {
		t.Run(product, func(t *testing.T) {
			w := newWorld(t, false)
			m := w.module(product)
			for _, user := range []string{"ada", "grace"} {
				_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: user, CourseID: demo, Mode: "audit", OrderNumber: "EDX-7", LineID: "1"})
				require.NoError(t, err)
			}
			req := request("ada", line(product, demo, "verified"))
			req.Prior = observe(t, m, req)
			require.Equal(t, "audit", req.Prior[modules.PriorMode])
			w.lostAnswer(m, req, sandbox.LostAnswer504)
			r := requireOK(t, m.Fulfill(ctx, req))
			require.Equal(t, lms.ActionModeChanged, r.Grant[modules.GrantAction])
			require.Equal(t, "audit", r.Grant[modules.GrantPriorMode])
			requireOK(t, m.Revoke(ctx, revokeWith(req, r.Grant)))
			e := w.enrollment("ada", demo)
			require.True(t, e.IsActive)
			require.Equal(t, "audit", e.Mode)

			req = request("grace", line(product, demo, "verified"))
			req.Prior = observe(t, m, req)
			w.lostAnswer(m, req, sandbox.LostAnswerDrop)
			requireOK(t, m.Revoke(ctx, revokeUnrecorded(req)))
			e = w.enrollment("grace", demo)
			require.True(t, e.IsActive)
			require.Equal(t, "audit", e.Mode)
			require.Equal(t, 3, w.writes("grace", demo), "enroll, upgrade, downgrade")
		})
	}
}

// (b) The learner is enrolled in verified from elsewhere; the order's seat
// line is observed, its fulfill attempts fail transiently (nothing is
// written), and the line is refunded: the revoke, with the observation and
// no grant, leaves the enrollment exactly as it was.
func TestSeatRefundOfAnUnwrittenLineKeepsAccessFromElsewhere(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified", OrderNumber: "EDX-7", LineID: "1"})
	require.NoError(t, err)
	req := request("ada", line("seat", demo, "verified"))
	req.Prior = observe(t, seat, req)
	require.Equal(t, "true", req.Prior[modules.PriorActive])
	require.Equal(t, "verified", req.Prior[modules.PriorMode])

	w.failing(seat, req, 3)
	before := w.writes("ada", demo)
	rev := requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction], "the workflow reports refunded_unfulfilled")
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive)
	require.Equal(t, "verified", e.Mode)
	require.Equal(t, before, w.writes("ada", demo))

	// A free seat of a learner in a paid mode from elsewhere: the same.
	free := request("ada", line("seat", demo, "audit"))
	free.Prior = observe(t, seat, free)
	w.failing(seat, free, 1)
	requireOK(t, seat.Revoke(ctx, revokeUnrecorded(free)))
	require.Equal(t, "verified", w.enrollment("ada", demo).Mode)

	// In audit from elsewhere, the verified seat's attempts all failed:
	// the learner stays in audit.
	_, err = w.lms.Enroll(ctx, lms.EnrollRequest{Username: "grace", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	req = request("grace", line("seat", demo, "verified"))
	req.Prior = observe(t, seat, req)
	w.failing(seat, req, 1)
	before = w.writes("grace", demo)
	requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, "audit", w.enrollment("grace", demo).Mode)
	require.Equal(t, before, w.writes("grace", demo))
}

// An upgrade to the mode the learner already had from elsewhere: its
// attempts fail, and the refund takes nothing.
func TestUpgradeRefundOfAnUnwrittenLineKeepsAccessFromElsewhere(t *testing.T) {
	w := newWorld(t, false)
	up := w.module("upgrade")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "linus", CourseID: demo, Mode: "verified"})
	require.NoError(t, err)
	req := request("linus", line("upgrade", demo, "verified"))
	req.Prior = observe(t, up, req)
	w.failing(up, req, 1)
	rev := requireOK(t, up.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction])
	require.Equal(t, "verified", w.enrollment("linus", demo).Mode)
	require.Equal(t, 1, w.writes("linus", demo))
}

// (d) An entitlement whose create answer is lost is the order's own: the
// grant says created, and a refund revokes it. Entitlements the learner had
// before the order are left alone.
func TestEntitlementLostAnswer(t *testing.T) {
	w := newWorld(t, false)
	ent := w.module("entitlement")
	l := order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: sandbox.DemoCourseUUID, Mode: "verified"}
	req := request("ada", l)
	req.Prior = observe(t, ent, req)
	require.Equal(t, map[string]string{modules.PriorEntitlements: "", modules.PriorRuns: ""}, req.Prior)
	w.lostAnswer(ent, req, sandbox.LostAnswer504)
	r := requireOK(t, ent.Fulfill(ctx, req))
	require.Equal(t, "true", r.Grant["created"], "the lost create was the order's")
	rev := requireOK(t, ent.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Equal(t, "1", rev.Grant["revoked"])
	require.NotNil(t, w.sb.Snapshot("ada", "").Entitlements[0].ExpiredAt)

	// Refunded before any answer was recorded: found by the observation.
	req = request("grace", l)
	req.Prior = observe(t, ent, req)
	w.lostAnswer(ent, req, sandbox.LostAnswerDrop)
	rev = requireOK(t, ent.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, "1", rev.Grant["revoked"])
	require.Equal(t, modules.ActionEntitlementRevoked, rev.Grant[modules.GrantAction])
	require.NotNil(t, w.sb.Snapshot("grace", "").Entitlements[0].ExpiredAt)
}

func TestEntitlementFromElsewhereIsUntouched(t *testing.T) {
	w := newWorld(t, false)
	ent := w.module("entitlement")
	l := order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: sandbox.DemoCourseUUID, Mode: "verified"}
	other, err := w.lms.CreateEntitlement(ctx, lms.EntitlementRequest{Username: "ada", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-7"})
	require.NoError(t, err)
	active := func(user, uuid string) bool {
		for _, e := range w.sb.Snapshot(user, "").Entitlements {
			if e.UUID == uuid {
				return e.ExpiredAt == nil
			}
		}
		return false
	}

	// The order's attempts all fail; refunded: the other order's stays.
	req := request("ada", l)
	req.Prior = observe(t, ent, req)
	require.Equal(t, other.Entitlement.UUID, req.Prior[modules.PriorEntitlements])
	w.failing(ent, req, 2)
	rev := requireOK(t, ent.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction])
	require.True(t, active("ada", other.Entitlement.UUID))

	// Fulfilled, then refunded: only the order's own is revoked.
	r := requireOK(t, ent.Fulfill(ctx, req))
	require.Equal(t, "true", r.Grant["created"])
	requireOK(t, ent.Revoke(ctx, revokeWith(req, r.Grant)))
	require.False(t, active("ada", r.Grant[modules.GrantEntitlementUUID]))
	require.True(t, active("ada", other.Entitlement.UUID))

	// An entitlement of this very order number from before the line was
	// observed (made by another system): found, recorded as not created,
	// left alone by the refund.
	pre, err := w.lms.CreateEntitlement(ctx, lms.EntitlementRequest{Username: "grace", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-42"})
	require.NoError(t, err)
	req = request("grace", l)
	req.Prior = observe(t, ent, req)
	r = requireOK(t, ent.Fulfill(ctx, req))
	require.Equal(t, pre.Entitlement.UUID, r.Grant[modules.GrantEntitlementUUID])
	require.Equal(t, "false", r.Grant["created"])
	rev = requireOK(t, ent.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction])
	requireOK(t, ent.Revoke(ctx, revokeUnrecorded(req)))
	require.True(t, active("grace", pre.Entitlement.UUID))
}

// (e) A learner without an account, ordered by email: the pre-enrollment's
// answer is lost. The retry records that the order pre-enrolled them, and
// the refund removes the allowance — with the grant, or with the
// observation alone, also after the learner has registered (and been
// auto-enrolled) in between.
func TestSeatPreEnrollmentLostAnswer(t *testing.T) {
	w := newWorld(t, true)
	seat := w.module("seat")
	emailOnly := func(email string) modules.Request {
		return modules.Request{OrderNumber: "EDX-43", User: order.User{Email: email}, Line: line("seat", demo, "verified")}
	}
	allowed := func(email string) int { return len(w.sb.Snapshot(email, demo).Allowed) }

	req := emailOnly("newcomer@example.com")
	req.Prior = observe(t, seat, req)
	require.Equal(t, "false", req.Prior[modules.PriorAllowed])
	w.answerLostAfterWrite(seat, req)
	require.Equal(t, 1, allowed("newcomer@example.com"), "the LMS wrote")
	r := requireAwaiting(t, seat.Fulfill(ctx, req))
	require.Equal(t, "true", r.Grant[modules.GrantPreEnrolled])
	require.Equal(t, lms.ActionPreEnrolled, r.Grant[modules.GrantAction])
	rev := requireOK(t, seat.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Equal(t, lms.ActionAllowanceRemoved, rev.Grant[modules.GrantAction])
	require.Zero(t, allowed("newcomer@example.com"))

	// No answer recorded; the learner registers before the refund.
	req = emailOnly("late@example.com")
	req.Prior = observe(t, seat, req)
	w.answerLostAfterWrite(seat, req)
	require.NoError(t, w.sb.AddUser(sandbox.User{Username: "late", Email: "late@example.com"}))
	require.True(t, w.enrollment("late", demo).IsActive, "auto-enrolled on registration")
	rev = requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, lms.ActionDeactivated, rev.Grant[modules.GrantAction])
	require.Equal(t, lms.ActionAllowanceRemoved, rev.Grant["allowance_action"])
	require.False(t, w.enrollment("late", demo).IsActive)
	require.Zero(t, allowed("late@example.com"))
	requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req))) // a retry

	// A pre-enrollment from elsewhere stands: the order adds nothing, and
	// its refund, however it comes, takes nothing.
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Email: "invited@example.com", CourseID: demo, Mode: "verified"})
	require.NoError(t, err)
	req = emailOnly("invited@example.com")
	req.Prior = observe(t, seat, req)
	require.Equal(t, "true", req.Prior[modules.PriorAllowed])
	r = requireAwaiting(t, seat.Fulfill(ctx, req)) // verified still waits for the account
	require.Equal(t, lms.ActionNone, r.Grant[modules.GrantAction])
	requireOK(t, seat.Revoke(ctx, revokeWith(req, r.Grant)))
	requireOK(t, seat.Revoke(ctx, revokeUnrecorded(req)))
	require.Equal(t, 1, allowed("invited@example.com"))
}

// (f) Lines of orders from before observation, refunded while no answer of
// their fulfill was recorded (neither grant nor observation): the revoke
// undoes only what carries the stamp of this order line, and otherwise
// writes nothing and answers action none.
func TestRevokeWithoutGrantOrObservation(t *testing.T) {
	w := newWorldAnsweringAttributes(t)
	seat, up := w.module("seat"), w.module("upgrade")
	ours := lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified", OrderNumber: "EDX-42", LineID: "L1"}
	_, err := w.lms.Enroll(ctx, ours)
	require.NoError(t, err)
	rev := requireOK(t, seat.Revoke(ctx, request("ada", line("seat", demo, "verified"))))
	require.Equal(t, lms.ActionDeactivated, rev.Grant[modules.GrantAction])
	require.False(t, w.enrollment("ada", demo).IsActive)

	// Enrolled by another order, by another line of this order, or with no
	// stamp at all: untouched.
	for user, stamp := range map[string][2]string{"grace": {"EDX-7", "L1"}, "linus": {"EDX-42", "L2"}, "ada": {"", ""}} {
		course := sandbox.CreditCourseID
		_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: user, CourseID: course, Mode: "verified", OrderNumber: stamp[0], LineID: stamp[1]})
		require.NoError(t, err)
		before := w.writes(user, course)
		rev := requireOK(t, seat.Revoke(ctx, request(user, line("seat", course, "verified"))))
		require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction], user)
		rev = requireOK(t, up.Revoke(ctx, request(user, line("upgrade", course, "verified"))))
		require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction], user)
		require.True(t, w.enrollment(user, course).IsActive, user)
		require.Equal(t, before, w.writes(user, course), user)
	}

	// An upgrade this line wrote goes back to audit.
	_, err = w.lms.Enroll(ctx, lms.EnrollRequest{Username: "grace", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	_, err = w.lms.ChangeMode(ctx, lms.EnrollRequest{Username: "grace", CourseID: demo, Mode: "verified", OrderNumber: "EDX-42", LineID: "L1"})
	require.NoError(t, err)
	requireOK(t, up.Revoke(ctx, request("grace", line("upgrade", demo, "verified"))))
	require.Equal(t, "audit", w.enrollment("grace", demo).Mode)
}

// The stock LMS does not answer enrollment attributes: a line of an order
// from before observation without grant finds no evidence of its write, and
// its revoke writes nothing. That errs on the learner's side.
func TestRevokeWithoutEvidenceWritesNothing(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified", OrderNumber: "EDX-42", LineID: "L1"})
	require.NoError(t, err)
	rev := requireOK(t, seat.Revoke(ctx, request("ada", line("seat", demo, "verified"))))
	require.Equal(t, lms.ActionNone, rev.Grant[modules.GrantAction])
	require.True(t, w.enrollment("ada", demo).IsActive)
	require.Equal(t, 1, w.writes("ada", demo))
}

// Grants recorded before observation existed (no prior keys) revoke as they
// always did: a mode change goes back, a pre-enrollment is removed.
func TestGrantsFromBeforeObservation(t *testing.T) {
	w := newWorld(t, true)
	seat := w.module("seat")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	_, err = w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified"})
	require.NoError(t, err)
	old := map[string]string{modules.GrantAction: lms.ActionModeChanged, modules.GrantPriorActive: "true", modules.GrantPriorMode: "audit"}
	requireOK(t, seat.Revoke(ctx, revokeWith(request("ada", line("seat", demo, "verified")), old)))
	require.Equal(t, "audit", w.enrollment("ada", demo).Mode)

	req := modules.Request{OrderNumber: "EDX-43", User: order.User{Email: "newcomer@example.com"}, Line: line("seat", demo, "verified")}
	r := requireAwaiting(t, seat.Fulfill(ctx, req)) // no observation: today's grant
	require.NotContains(t, r.Grant, modules.PriorExists)
	require.Equal(t, "true", r.Grant[modules.GrantPreEnrolled])
	requireOK(t, seat.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Empty(t, w.sb.Snapshot("newcomer@example.com", demo).Allowed)
}

// Observe only reads: with every write's answer lost it still succeeds, and
// the LMS's state is unchanged. Its failures are classified like a
// fulfill's.
func TestObserveNeverWrites(t *testing.T) {
	w := newWorld(t, true)
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	_, err = w.lms.CreateEntitlement(ctx, lms.EntitlementRequest{Username: "ada", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-7"})
	require.NoError(t, err)
	before := w.sb.Snapshot("", "")
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{LostAnswerRate: 1}))
	reqs := map[string]modules.Request{
		"seat":        request("ada", line("seat", demo, "verified")),
		"upgrade":     request("ada", line("upgrade", demo, "verified")),
		"entitlement": request("ada", order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: sandbox.DemoCourseUUID}),
		"newcomer":    {OrderNumber: "EDX-43", User: order.User{Email: "newcomer@example.com"}, Line: line("seat", demo, "verified")},
	}
	for name, req := range reqs {
		m := w.module(req.Line.ProductType)
		p := observe(t, m, req)
		require.NotEmpty(t, p, name)
		for k, v := range p {
			require.NotContains(t, v, "@", "%s: %s holds an email", name, k)
			require.NotContains(t, v, "ada", "%s: %s holds a username", name, k)
		}
	}
	require.Equal(t, before, w.sb.Snapshot("", ""))
	_, ok := w.module("donation").(modules.Observer)
	require.False(t, ok, "a donation writes nothing and has nothing to observe")

	o := w.module("seat").(modules.Observer)
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 503}))
	r := o.Observe(ctx, request("ada", line("seat", demo, "verified")))
	require.Equal(t, contract.ErrorType(lms.TypeServerError), r.ErrorType)
	require.True(t, r.Retryable)
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{IgnoreEmailFilter: true}))
	r = o.Observe(ctx, reqs["newcomer"])
	require.Equal(t, contract.ErrorType(lms.TypeFilterIgnored), r.ErrorType, r.Message)
	require.False(t, r.Retryable)
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{}))
	r = o.Observe(ctx, request("ada", line("seat", "", "verified")))
	require.Equal(t, modules.ErrorTypeInvalidLine, r.ErrorType)
	r = w.module("entitlement").(modules.Observer).Observe(ctx, request("ada", line("entitlement", demo, "verified")))
	require.Equal(t, modules.ErrorTypeInvalidLine, r.ErrorType, "no course_uuid")
}

// A learner enrolled from elsewhere in a run of the course buys its
// entitlement: the LMS ties the entitlement to that enrollment and its
// revoke unenrolls them; the refund gives the enrollment back as it was.
func TestEntitlementRefundKeepsTheRunEnrollmentFromElsewhere(t *testing.T) {
	w := newWorld(t, false)
	ent := w.module("entitlement")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	// The line names only the course (its UUID), not the run.
	req := request("ada", order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: sandbox.DemoCourseUUID, Mode: "verified"})
	req.Prior = observe(t, ent, req)
	r := requireOK(t, ent.Fulfill(ctx, req))
	t.Logf("after fulfill: %+v", *w.enrollment("ada", demo))
	rev := requireOK(t, ent.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Equal(t, "1", rev.Grant["revoked"])
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive, "the enrollment from elsewhere stays: %+v", *e)
	require.Equal(t, "audit", e.Mode)
}

// A revoke whose write the LMS applies and whose answer is lost: the retry
// finds nothing left to undo and writes nothing, and the learner stays
// unenrolled (the line then reads refunded_unfulfilled: nothing of the
// order's is left).
func TestSeatRevokeLostAnswerThenRetry(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	req := request("ada", line("seat", demo, "verified"))
	req.Prior = observe(t, seat, req)
	r := requireOK(t, seat.Fulfill(ctx, req))
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{LostAnswerRate: 1}))
	lost := seat.Revoke(ctx, revokeWith(req, r.Grant))
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{}))
	require.False(t, lost.OK(), "the answer was lost: %+v", lost)
	require.True(t, lost.Retryable)
	require.False(t, w.enrollment("ada", demo).IsActive, "the LMS applied the revoke")
	writes := func() int { return w.sb.Snapshot("ada", demo).Enrollments[0].Writes }
	before := writes()
	again := requireOK(t, seat.Revoke(ctx, revokeWith(req, r.Grant)))
	require.Equal(t, lms.ActionNone, again.Grant[modules.GrantAction], "nothing left to undo")
	require.False(t, w.enrollment("ada", demo).IsActive)
	require.Equal(t, before, writes(), "the retry writes nothing")
}

// The fulfill that follows its observation at once writes from it (one LMS
// call less); when that first write's answer is lost, the retry — never
// fresh — reads, finds the write, and the grant still says what the order
// changed, so the refund undoes exactly that.
func TestFreshObservationStandsInForTheFulfillsRead(t *testing.T) {
	for _, product := range []string{"seat", "upgrade"} {
		t.Run(product, func(t *testing.T) {
			w := newWorld(t, false)
			m := w.module(product)
			w.enrolledElsewhere("grace", "audit")

			for _, user := range []string{"ada", "grace"} {
				req := request(user, line(product, demo, "verified"))
				req.Prior = observe(t, m, req)
				fresh := req
				fresh.PriorFresh = true
				w.lostAnswer(m, fresh, sandbox.LostAnswer504)
				r := requireOK(t, m.Fulfill(ctx, req)) // Temporal's retry: not fresh
				want := lms.ActionCreated
				if user == "grace" {
					want = lms.ActionModeChanged
				}
				require.Equal(t, want, r.Grant[modules.GrantAction], user)
				requireOK(t, m.Revoke(ctx, revokeWith(req, r.Grant)))
				e := w.enrollment(user, demo)
				switch {
				case user == "grace":
					require.True(t, e.IsActive)
					require.Equal(t, "audit", e.Mode, "back to what the observation saw")
				case product == "upgrade":
					// An upgrade taken back leaves the course's free mode.
					require.True(t, e.IsActive)
					require.Equal(t, modules.UpgradeFallbackMode, e.Mode)
				default:
					require.False(t, e.IsActive)
				}
			}

			// Observed active in the mode already: a fresh fulfill writes
			// nothing and grants nothing.
			w.enrolledElsewhere("linus", "verified")
			req := request("linus", line(product, demo, "verified"))
			req.Prior, req.PriorFresh = observe(t, m, req), true
			r := requireOK(t, m.Fulfill(ctx, req))
			require.Equal(t, lms.ActionNone, r.Grant[modules.GrantAction])
			require.Equal(t, 1, w.writes("linus", demo))
		})
	}
}

// A fresh observation is only taken for a learner named by username: the
// write of an order by email needs the username the LMS answers on a read.
func TestFreshObservationOfAnOrderByEmailStillReads(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	w.enrolledElsewhere("ada", "audit")
	req := request("ada", line("seat", demo, "verified"))
	req.User.Username = ""
	req.Prior, req.PriorFresh = observe(t, seat, req), true
	require.Equal(t, "audit", req.Prior[modules.PriorMode])
	r := requireOK(t, seat.Fulfill(ctx, req))
	require.Equal(t, lms.ActionModeChanged, r.Grant[modules.GrantAction])
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive)
	require.Equal(t, "verified", e.Mode)
}

// Two lines of one order for the same course run, a verified seat and a
// free one, are observed together (no enrollment) before either writes.
// The verified seat writes first; the free seat's fulfill, though fresh,
// reads and leaves the paying learner in verified.
func TestFreshObservationNeverLetsAFreeSeatDowngrade(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	paid := request("ada", line("seat", demo, "verified"))
	free := request("ada", order.Line{ID: "L2", ProductType: "seat", CourseID: demo, Mode: "audit"})
	paid.Prior, free.Prior = observe(t, seat, paid), observe(t, seat, free)
	paid.PriorFresh, free.PriorFresh = true, true
	requireOK(t, seat.Fulfill(ctx, paid))
	requireOK(t, seat.Fulfill(ctx, free))
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive)
	require.Equal(t, "verified", e.Mode, "a free seat never downgrades a paying learner")
	require.Equal(t, 1, w.writes("ada", demo))
}
