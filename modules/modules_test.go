package modules_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

const demo = sandbox.DemoCourseID

var ctx = context.Background()

type world struct {
	t   *testing.T
	sb  *sandbox.LMS
	lms *lms.Client
	reg *modules.Registry
}

func newWorld(t *testing.T, preEnroll bool) *world {
	t.Helper()
	return buildWorld(t, preEnroll, func(sb *sandbox.LMS) http.Handler { return sb.Handler() })
}

// newWorldAnsweringAttributes is a world whose LMS answers each enrollment's
// enrollment_attributes when it is read. The stock Open edX Enrollment API
// does not (its serializer has created, mode, is_active, course_details and
// user), and neither does the sandbox, which is faithful to it; this is an
// LMS extended to answer them, so that the revoke's use of that evidence can
// be seen.
func newWorldAnsweringAttributes(t *testing.T) *world {
	t.Helper()
	return buildWorld(t, false, answeringAttributes)
}

func buildWorld(t *testing.T, preEnroll bool, handler func(*sandbox.LMS) http.Handler) *world {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(handler(sb))
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, sb.Close())
	})
	c, err := lms.New(lms.Config{BaseURL: srv.URL, ClientID: sandbox.DevClientID, ClientSecret: sandbox.DevClientSecret,
		APIKey: sandbox.DevAPIKey, Timeout: 2 * time.Second, PreEnrollByEmail: preEnroll})
	require.NoError(t, err)
	reg, err := modules.NewRegistry(modules.DefaultMapping(), modules.Deps{LMS: c})
	require.NoError(t, err)
	return &world{t: t, sb: sb, lms: c, reg: reg}
}

func (w *world) module(productType string) modules.Module {
	m, ok := w.reg.Module(productType)
	require.True(w.t, ok, productType)
	return m
}

// enrollment returns the learner's enrollment (nil if none).
func (w *world) enrollment(user, course string) *lms.Enrollment {
	w.t.Helper()
	e, err := w.lms.GetEnrollment(ctx, user, course)
	require.NoError(w.t, err)
	return e
}

func (w *world) writes(user, course string) int {
	s := w.sb.Snapshot(user, course)
	if len(s.Enrollments) == 0 {
		return 0
	}
	return s.Enrollments[0].Writes
}

// answeringAttributes serves the sandbox and adds to every answer of the
// enrollment read (GET /api/enrollment/v1/enrollment/{user},{course}) the
// enrollment's attributes, as the sandbox stores them.
func answeringAttributes(sb *sandbox.LMS) http.Handler {
	h := sb.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.URL.Path, "/api/enrollment/v1/enrollment/")
		if r.Method != http.MethodGet || !ok {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var e map[string]any
		user, course, _ := strings.Cut(key, ",")
		if rec.Code == http.StatusOK && json.Unmarshal(body, &e) == nil && e != nil {
			if found := sb.Snapshot(user, course).Enrollments; len(found) == 1 {
				e["enrollment_attributes"] = found[0].Attributes
				body, _ = json.Marshal(e)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func line(productType, course, mode string) order.Line {
	return order.Line{ID: "L1", ProductType: productType, CourseID: course, Mode: mode}
}

func request(user string, l order.Line) modules.Request {
	return modules.Request{OrderNumber: "EDX-42", User: order.User{Username: user, Email: user + "@example.com"}, Line: l}
}

func requireOK(t *testing.T, r modules.Result) modules.Result {
	t.Helper()
	require.True(t, r.OK(), "result: %+v", r)
	return r
}

// requireAwaiting checks a line is waiting for the learner's account, with
// what was done so far in its grant.
func requireAwaiting(t *testing.T, r modules.Result) modules.Result {
	t.Helper()
	require.Equal(t, contract.ErrorTypeAwaitingAccount, r.ErrorType, "result: %+v", r)
	require.False(t, r.Retryable)
	require.NotEmpty(t, r.Grant)
	return r
}

func TestSeatFulfillAndRevoke(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	req := request("ada", line("seat", demo, "verified"))

	r := requireOK(t, seat.Fulfill(ctx, req))
	require.Equal(t, lms.ActionCreated, r.Grant[modules.GrantAction])
	require.Equal(t, "false", r.Grant[modules.GrantPriorActive])
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive)
	require.Equal(t, "verified", e.Mode)

	requireOK(t, seat.Fulfill(ctx, req)) // a retry
	require.Equal(t, 1, w.writes("ada", demo))

	req.Grant = r.Grant
	requireOK(t, seat.Revoke(ctx, req))
	require.False(t, w.enrollment("ada", demo).IsActive)
	requireOK(t, seat.Revoke(ctx, req)) // a retry
	require.Equal(t, 2, w.writes("ada", demo))

	// The LMS's stamp says which order and line wrote the enrollment.
	attrs := w.sb.Snapshot("ada", demo).Enrollments[0].Attributes
	require.Contains(t, attrs, sandbox.Attribute{Namespace: "order", Name: "order_number", Value: "EDX-42"})
	require.Contains(t, attrs, sandbox.Attribute{Namespace: "order", Name: "line_id", Value: "L1"})
}

func TestSeatRevokeLeavesAPriorEnrollment(t *testing.T) {
	w := newWorld(t, false)
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified"})
	require.NoError(t, err)
	seat := w.module("seat")
	req := request("ada", line("seat", demo, "verified"))
	r := requireOK(t, seat.Fulfill(ctx, req))
	require.Equal(t, lms.ActionNone, r.Grant[modules.GrantAction])
	require.Equal(t, "true", r.Grant[modules.GrantPriorActive])
	require.Equal(t, "verified", r.Grant[modules.GrantPriorMode])

	req.Grant = r.Grant
	requireOK(t, seat.Revoke(ctx, req))
	require.True(t, w.enrollment("ada", demo).IsActive, "the order granted nothing, its refund takes nothing")
	require.Equal(t, 1, w.writes("ada", demo))
}

func TestSeatRevokeRestoresPriorMode(t *testing.T) {
	w := newWorld(t, false)
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	seat := w.module("seat")
	req := request("ada", line("seat", demo, "verified"))
	r := requireOK(t, seat.Fulfill(ctx, req))
	require.Equal(t, lms.ActionModeChanged, r.Grant[modules.GrantAction])
	require.Equal(t, "audit", r.Grant[modules.GrantPriorMode])

	req.Grant = r.Grant
	requireOK(t, seat.Revoke(ctx, req))
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive)
	require.Equal(t, "audit", e.Mode)
}

// A line of an order from before observation, refunded while its fulfill's
// answer was never recorded (no grant, no observation): only an enrollment
// carrying this order line's stamp is unenrolled, and only from the line's
// mode. (This test used to unenroll an enrollment the order had not made —
// the learner's access from elsewhere — which was the bug.)
func TestSeatRevokeWithoutGrantUnenrollsOnlyThatMode(t *testing.T) {
	w := newWorldAnsweringAttributes(t)
	seat := w.module("seat")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "verified", OrderNumber: "EDX-42", LineID: "L1"})
	require.NoError(t, err)
	requireOK(t, seat.Revoke(ctx, request("ada", line("seat", demo, "audit"))))
	require.True(t, w.enrollment("ada", demo).IsActive, "mode mismatch: the learner is in another mode")
	requireOK(t, seat.Revoke(ctx, request("ada", line("seat", demo, "verified"))))
	require.False(t, w.enrollment("ada", demo).IsActive)
	// Never enrolled: no ghost enrollment.
	requireOK(t, seat.Revoke(ctx, request("grace", line("seat", demo, "verified"))))
	require.Nil(t, w.enrollment("grace", demo))
}

func TestSeatPreEnrollsByEmail(t *testing.T) {
	w := newWorld(t, true)
	seat := w.module("seat")
	req := modules.Request{OrderNumber: "EDX-43", User: order.User{Email: "newcomer@example.com"}, Line: line("seat", demo, "verified")}
	r := requireAwaiting(t, seat.Fulfill(ctx, req))
	require.Equal(t, "true", r.Grant[modules.GrantPreEnrolled])
	require.Len(t, w.sb.Snapshot("newcomer@example.com", demo).Allowed, 1)

	// The learner registers (and is auto-enrolled in the default mode):
	// fulfilled again, the line ends in the paid mode bought.
	require.NoError(t, w.sb.AddUser(sandbox.User{Username: "newcomer", Email: "newcomer@example.com"}))
	require.True(t, w.enrollment("newcomer", demo).IsActive)
	require.Equal(t, "audit", w.enrollment("newcomer", demo).Mode)
	requireOK(t, seat.Fulfill(ctx, req))
	require.Equal(t, "verified", w.enrollment("newcomer", demo).Mode)

	req.Grant = r.Grant
	rev := requireOK(t, seat.Revoke(ctx, req))
	require.Equal(t, lms.ActionAllowanceRemoved, rev.Grant["allowance_action"])
	require.Empty(t, w.sb.Snapshot("newcomer@example.com", demo).Allowed)
	require.False(t, w.enrollment("newcomer", demo).IsActive)
	requireOK(t, seat.Revoke(ctx, req))

	// Without pre-enrollment, an unknown learner is a permanent failure.
	plain := newWorld(t, false)
	f := plain.module("seat").Fulfill(ctx, req)
	require.False(t, f.OK())
	require.Equal(t, contract.ErrorType(lms.TypeUserNotFound), f.ErrorType)
	require.False(t, f.Retryable)
	require.NotContains(t, f.Message, "newcomer@example.com")
}

func TestUpgradeRevokeReturnsToAudit(t *testing.T) {
	w := newWorld(t, false)
	up := w.module("upgrade")
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	req := request("ada", line("upgrade", demo, "verified"))
	r := requireOK(t, up.Fulfill(ctx, req))
	require.Equal(t, "audit", r.Grant[modules.GrantPriorMode])
	require.Equal(t, "verified", w.enrollment("ada", demo).Mode)

	req.Grant = r.Grant
	requireOK(t, up.Revoke(ctx, req))
	e := w.enrollment("ada", demo)
	require.True(t, e.IsActive, "revoking an upgrade does not unenroll")
	require.Equal(t, "audit", e.Mode)
	requireOK(t, up.Revoke(ctx, req))
	require.Equal(t, 3, w.writes("ada", demo), "enroll, upgrade, downgrade; the retried revoke wrote nothing")
}

func TestUpgradeOfAnUnenrolledLearner(t *testing.T) {
	w := newWorld(t, false)
	up := w.module("upgrade")
	req := request("grace", line("upgrade", demo, "verified"))
	r := requireOK(t, up.Fulfill(ctx, req))
	require.Equal(t, lms.ActionCreated, r.Grant[modules.GrantAction])
	req.Grant = r.Grant
	requireOK(t, up.Revoke(ctx, req))
	e := w.enrollment("grace", demo)
	require.True(t, e.IsActive)
	require.Equal(t, modules.UpgradeFallbackMode, e.Mode)

	// A course without audit: taking the upgrade back means unenrolling.
	const noAudit = "course-v1:edX+NoAudit+2026"
	require.NoError(t, w.sb.AddCourse(sandbox.Course{CourseID: noAudit, Modes: []sandbox.Mode{{Slug: "verified"}, {Slug: "professional"}}}))
	req = request("grace", line("upgrade", noAudit, "professional"))
	r = requireOK(t, up.Fulfill(ctx, req))
	req.Grant = r.Grant
	requireOK(t, up.Revoke(ctx, req))
	require.False(t, w.enrollment("grace", noAudit).IsActive)
}

func TestUpgradeRevokeLeavesALearnerWhoMovedOn(t *testing.T) {
	w := newWorld(t, false)
	up := w.module("upgrade")
	const credit = sandbox.CreditCourseID
	_, err := w.lms.Enroll(ctx, lms.EnrollRequest{Username: "ada", CourseID: credit, Mode: "audit"})
	require.NoError(t, err)
	req := request("ada", line("upgrade", credit, "verified"))
	r := requireOK(t, up.Fulfill(ctx, req))
	// Another order moves the learner on to credit.
	_, err = w.lms.ChangeMode(ctx, lms.EnrollRequest{Username: "ada", CourseID: credit, Mode: "credit",
		OrderNumber: "EDX-99", LineID: "1"})
	require.Error(t, err, "credit needs a provider attribute") // the LMS's rule
	_, err = w.lms.ChangeMode(ctx, lms.EnrollRequest{Username: "ada", CourseID: credit, Mode: "credit"})
	require.NoError(t, err)
	req.Grant = r.Grant
	requireOK(t, up.Revoke(ctx, req))
	require.Equal(t, "credit", w.enrollment("ada", credit).Mode)
}

func TestEntitlementModule(t *testing.T) {
	w := newWorld(t, false)
	ent := w.module("entitlement")
	l := order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: sandbox.DemoCourseUUID, Mode: "verified"}
	req := request("ada", l)
	r := requireOK(t, ent.Fulfill(ctx, req))
	uuid := r.Grant[modules.GrantEntitlementUUID]
	require.NotEmpty(t, uuid)
	again := requireOK(t, ent.Fulfill(ctx, req))
	require.Equal(t, uuid, again.Grant[modules.GrantEntitlementUUID], "idempotent")
	require.Len(t, w.sb.Snapshot("ada", "").Entitlements, 1)

	req.Grant = r.Grant
	rev := requireOK(t, ent.Revoke(ctx, req))
	require.Equal(t, "1", rev.Grant["revoked"])
	require.NotNil(t, w.sb.Snapshot("ada", "").Entitlements[0].ExpiredAt)

	// Without a grant the revoke finds the order's entitlement.
	req2 := request("ada", l)
	req2.OrderNumber = "EDX-44"
	requireOK(t, ent.Fulfill(ctx, req2))
	rev = requireOK(t, ent.Revoke(ctx, req2))
	require.Equal(t, "1", rev.Grant["revoked"])

	bad := ent.Fulfill(ctx, request("ada", order.Line{ID: "L3", ProductType: "entitlement", CourseID: "edX+DemoX"}))
	require.Equal(t, modules.ErrorTypeInvalidLine, bad.ErrorType)
	require.False(t, bad.Retryable)
}

// The LMS answers course UUIDs lowercase and hyphenated. A line that says
// its UUID otherwise — an order validated before order.Validate made it
// canonical, or any caller that skipped it — is still found on retry.
func TestEntitlementModuleUppercaseUUIDRetried(t *testing.T) {
	w := newWorld(t, false)
	ent := w.module("entitlement")
	upper := strings.ToUpper(strings.ReplaceAll(sandbox.DemoCourseUUID, "-", ""))
	req := request("ada", order.Line{ID: "L2", ProductType: "entitlement", CourseUUID: upper, Mode: "verified"})

	require.NoError(t, w.sb.SetFaults(sandbox.Faults{LostAnswerRate: 1}))
	lost := ent.Fulfill(ctx, req)
	require.Equal(t, contract.ErrorType(lms.TypeServerError), lost.ErrorType, lost.Message)
	require.True(t, lost.Retryable)
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{}))

	r := requireOK(t, ent.Fulfill(ctx, req)) // the durable retry
	require.Equal(t, "false", r.Grant["created"], "the lost create is found")
	again := requireOK(t, ent.Fulfill(ctx, req))
	require.Equal(t, r.Grant[modules.GrantEntitlementUUID], again.Grant[modules.GrantEntitlementUUID])
	ents := w.sb.Snapshot("ada", "").Entitlements
	require.Len(t, ents, 1, "one entitlement")
	require.Equal(t, sandbox.DemoCourseUUID, ents[0].CourseUUID, "stored canonical")

	// Revoked without a grant, it is found by its course too.
	rev := requireOK(t, ent.Revoke(ctx, req))
	require.Equal(t, "1", rev.Grant["revoked"])

	// Through the API's validation the line is canonical before any module sees it.
	o := order.Order{Number: "EDX-42", User: req.User, Lines: []order.Line{req.Line}, PlacedAt: time.Now()}
	require.NoError(t, o.Validate(nil))
	require.Equal(t, sandbox.DemoCourseUUID, o.Lines[0].CourseUUID)
}

func TestDonation(t *testing.T) {
	w := newWorld(t, false)
	d := w.module("donation")
	requireOK(t, d.Fulfill(ctx, request("ada", order.Line{ID: "D", ProductType: "donation"})))
	requireOK(t, d.Revoke(ctx, request("ada", order.Line{ID: "D", ProductType: "donation"})))
	require.Empty(t, w.sb.Snapshot("", "").Enrollments)
}

func TestFailureClassification(t *testing.T) {
	w := newWorld(t, false)
	seat := w.module("seat")
	cases := []struct {
		name      string
		req       modules.Request
		errorType contract.ErrorType
		retryable bool
	}{
		{"closed", request("ada", line("seat", sandbox.ClosedCourseID, "verified")), contract.ErrorType(lms.TypeEnrollmentClosed), false},
		{"full", request("ada", line("seat", sandbox.FullCourseID, "verified")), contract.ErrorType(lms.TypeCourseFull), false},
		{"no course", request("ada", line("seat", "course-v1:edX+Gone+1", "verified")), contract.ErrorType(lms.TypeCourseNotFound), false},
		{"no mode", request("ada", line("seat", demo, "professional")), contract.ErrorType(lms.TypeModeUnavailable), false},
		{"no user", request("nobody", line("seat", demo, "audit")), contract.ErrorType(lms.TypeUserNotFound), false},
		{"no course id", request("ada", line("seat", "", "audit")), modules.ErrorTypeInvalidLine, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := seat.Fulfill(ctx, tc.req)
			require.Equal(t, modules.StatusFailure, r.Status)
			require.Equal(t, tc.errorType, r.ErrorType, r.Message)
			require.Equal(t, tc.retryable, r.Retryable)
			require.NotEmpty(t, r.Message)
		})
	}

	require.NoError(t, w.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 429, RetryAfter: 7 * time.Second}))
	r := seat.Fulfill(ctx, request("ada", line("seat", demo, "audit")))
	require.Equal(t, contract.ErrorType(lms.TypeThrottled), r.ErrorType)
	require.True(t, r.Retryable)
	require.Equal(t, 7, r.RetryAfterSeconds)

	require.NoError(t, w.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 500}))
	r = w.module("upgrade").Revoke(ctx, request("ada", line("upgrade", demo, "verified")))
	require.Equal(t, contract.ErrorType(lms.TypeServerError), r.ErrorType)
	require.True(t, r.Retryable)

	// An LMS before Quince cannot look learners up by email: the line
	// waits for a person instead of enrolling someone else.
	require.NoError(t, w.sb.SetFaults(sandbox.Faults{IgnoreEmailFilter: true}))
	requireOK(t, seat.Fulfill(ctx, request("grace", line("seat", demo, "audit"))))
	emailOnly := modules.Request{OrderNumber: "EDX-43", User: order.User{Email: "ada@example.com"}, Line: line("seat", demo, "verified")}
	r = seat.Fulfill(ctx, emailOnly)
	require.Equal(t, contract.ErrorType(lms.TypeFilterIgnored), r.ErrorType, r.Message)
	require.False(t, r.Retryable)
	require.Len(t, w.sb.Snapshot("", "").Enrollments, 1, "nothing written for anyone else")

	other := modules.ResultFromError(errors.New("boom"))
	require.Equal(t, modules.ErrorTypeInternal, other.ErrorType)
	require.False(t, other.Retryable)
}
