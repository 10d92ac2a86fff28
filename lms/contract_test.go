package lms

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// These tests run the client against the sandbox LMS over real HTTP: every
// row of the reference's error table, every idempotency quirk, tokens,
// throttling and transport failures.

const (
	demo   = sandbox.DemoCourseID
	closed = sandbox.ClosedCourseID
)

type harness struct {
	t   *testing.T
	sb  *sandbox.LMS
	srv *httptest.Server
}

// newHarness starts a sandbox; wrap, when given, sits in front of it.
func newHarness(t *testing.T, opts sandbox.Options, wrap ...func(http.Handler) http.Handler) *harness {
	t.Helper()
	sb, err := sandbox.New(opts)
	require.NoError(t, err)
	h := sb.Handler()
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, sb.Close())
	})
	return &harness{t: t, sb: sb, srv: srv}
}

// client returns a client with both the dev OAuth2 credentials and the API
// key, adjusted by mut.
func (h *harness) client(mut ...func(*Config)) *Client {
	h.t.Helper()
	cfg := Config{BaseURL: h.srv.URL, ClientID: sandbox.DevClientID, ClientSecret: sandbox.DevClientSecret,
		APIKey: sandbox.DevAPIKey, Timeout: 2 * time.Second}
	for _, m := range mut {
		m(&cfg)
	}
	c, err := New(cfg)
	require.NoError(h.t, err)
	return c
}

func jwtOnly(c *Config)   { c.APIKey = "" }
func keyOnly(c *Config)   { c.ClientID, c.ClientSecret = "", "" }
func preEnroll(c *Config) { c.PreEnrollByEmail = true }

// snapshot reads the sandbox state through its admin API.
func (h *harness) snapshot(user, course string) sandbox.Snapshot {
	h.t.Helper()
	res, err := http.Get(h.srv.URL + "/sandbox/enrollments?" + url.Values{"user": {user}, "course_id": {course}}.Encode())
	require.NoError(h.t, err)
	defer res.Body.Close()
	require.Equal(h.t, http.StatusOK, res.StatusCode)
	var s sandbox.Snapshot
	require.NoError(h.t, json.NewDecoder(res.Body).Decode(&s))
	return s
}

// writes returns the sandbox's write count for user+course (0 if no row).
func (h *harness) writes(user, course string) int {
	s := h.snapshot(user, course)
	if len(s.Enrollments) == 0 {
		return 0
	}
	return s.Enrollments[0].Writes
}

func (h *harness) setFaults(f sandbox.Faults) {
	require.NoError(h.t, h.sb.SetFaults(f))
}

func (h *harness) closeEnrollment(course string, modes ...string) {
	past := time.Now().Add(-time.Hour)
	c := sandbox.Course{CourseID: course, EnrollmentEnd: &past}
	for _, m := range modes {
		c.Modes = append(c.Modes, sandbox.Mode{Slug: m})
	}
	require.NoError(h.t, h.sb.AddCourse(c))
}

// requireError asserts err is an *Error of type typ and returns it.
func requireError(t *testing.T, err error, typ string, transient bool) *Error {
	t.Helper()
	require.Error(t, err)
	e, ok := AsError(err)
	require.True(t, ok, "not an *lms.Error: %v", err)
	require.Equal(t, typ, e.Type, "error: %v", err)
	require.Equal(t, transient, e.Transient, "transient flag of %v", err)
	return e
}

func req(user, course, mode string) EnrollRequest {
	return EnrollRequest{Username: user, CourseID: course, Mode: mode, OrderNumber: "EDX-100", LineID: "L1"}
}

var ctx = context.Background()

func TestEnrollReadsBeforeWriting(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()

	out, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionCreated, out.Action)
	require.True(t, out.Wrote)
	require.False(t, out.PriorExists)
	require.Equal(t, "verified", out.Enrollment.Mode)

	out, err = c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)
	require.False(t, out.Wrote)
	require.True(t, out.PriorActive)
	require.Equal(t, "verified", out.PriorMode)

	s := h.snapshot("ada", demo)
	require.Len(t, s.Enrollments, 1)
	require.Equal(t, 1, s.Enrollments[0].Writes)
	require.ElementsMatch(t, []sandbox.Attribute{
		{Namespace: "order", Name: "order_number", Value: "EDX-100"},
		{Namespace: "order", Name: "line_id", Value: "L1"},
	}, s.Enrollments[0].Attributes)

	e, err := c.GetEnrollment(ctx, "grace", demo)
	require.NoError(t, err)
	require.Nil(t, e, "empty 200 means no enrollment")
}

// A write given an observation made moments before takes it as the current
// state: no read of its own; and it decides from it as from a read.
func TestEnrollAndChangeModeWriteFromAnObservation(t *testing.T) {
	var gets, posts atomic.Int32
	h := newHarness(t, sandbox.Options{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/enrollment/") {
				switch r.Method {
				case http.MethodGet:
					gets.Add(1)
				case http.MethodPost:
					posts.Add(1)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	c := h.client()
	calls := func() (int32, int32) { return gets.Swap(0), posts.Swap(0) }

	none := req("ada", demo, "verified")
	none.Observed = &Observation{}
	out, err := c.Enroll(ctx, none)
	require.NoError(t, err)
	require.Equal(t, ActionCreated, out.Action)
	g, p := calls()
	require.Equal(t, [2]int32{0, 1}, [2]int32{g, p}, "one write, no read")

	// Observed active in the mode: nothing to do, no call at all.
	active := req("ada", demo, "verified")
	active.Observed = &Observation{Enrollment: &Enrollment{User: "ada", CourseID: demo, Mode: "verified", IsActive: true}}
	out, err = c.Enroll(ctx, active)
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)
	require.False(t, out.Wrote)
	g, p = calls()
	require.Equal(t, [2]int32{0, 0}, [2]int32{g, p})

	// An upgrade from an observed audit enrollment writes once, reporting
	// the observed mode as the prior one.
	_, err = c.Unenroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	_, err = c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	calls()
	up := req("ada", demo, "verified")
	up.Observed = &Observation{Enrollment: &Enrollment{User: "ada", CourseID: demo, Mode: "audit", IsActive: true}}
	out, err = c.ChangeMode(ctx, up)
	require.NoError(t, err)
	require.Equal(t, ActionModeChanged, out.Action)
	require.Equal(t, "audit", out.PriorMode)
	g, p = calls()
	require.Equal(t, [2]int32{0, 1}, [2]int32{g, p})
	require.Equal(t, "verified", h.snapshot("ada", demo).Enrollments[0].Mode)

	// Without an observation it reads first, as always.
	_, err = c.Enroll(ctx, req("grace", demo, "verified"))
	require.NoError(t, err)
	g, p = calls()
	require.Equal(t, [2]int32{1, 1}, [2]int32{g, p})
}

func TestEnrollNeverDowngradesAPayingLearner(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	out, err := c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)
	require.Equal(t, "verified", out.Enrollment.Mode)
	require.Equal(t, 1, h.writes("ada", demo))
}

func TestEnrollReactivatesAndChangesMode(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	out, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionModeChanged, out.Action)
	require.Equal(t, "audit", out.PriorMode)
	_, err = c.Unenroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	out, err = c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionReactivated, out.Action)
	require.False(t, out.PriorActive)
}

// Quirk: the LMS checks "enrollment open" before "already enrolled", so a
// retried enroll that had in fact succeeded fails once enrollment closes.
func TestQuirkRetryAfterEnrollmentClosedSucceeds(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	h.closeEnrollment(demo, "audit", "verified")

	out, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err, "read-before-write sees the enrollment; the LMS would have said 400")
	require.Equal(t, ActionNone, out.Action)
	require.Equal(t, 1, h.writes("ada", demo))

	// A new learner on the now closed course gets the named cause.
	_, err = c.Enroll(ctx, req("grace", demo, "verified"))
	requireError(t, err, TypeEnrollmentClosed, false)
}

// Quirk: unenrolling a learner who was never enrolled creates an enrollment
// and deactivates it (and fails on a closed course).
func TestQuirkUnenrollNeverEnrolledLeavesNoGhost(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	for _, course := range []string{demo, closed} {
		out, err := c.Unenroll(ctx, req("ada", course, "verified"))
		require.NoError(t, err)
		require.Equal(t, ActionNone, out.Action)
		require.False(t, out.Wrote)
		require.Empty(t, h.snapshot("ada", course).Enrollments, "no ghost enrollment")
	}
}

// Quirk: deactivating an inactive enrollment re-activates and deactivates it.
func TestQuirkUnenrollInactiveDoesNotReactivate(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	out, err := c.Unenroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionDeactivated, out.Action)
	require.False(t, out.Enrollment.IsActive)
	require.Equal(t, 2, h.writes("ada", demo))

	out, err = c.Unenroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)
	require.Equal(t, 2, h.writes("ada", demo), "no re-activate + deactivate")
}

func TestUnenrollModeMismatchIsSuccess(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	out, err := c.Unenroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	require.True(t, out.ModeMismatch)
	require.False(t, out.Wrote)
	require.Equal(t, 1, h.writes("ada", demo))
}

// The learner changes mode between our read and our write: the LMS answers
// 400 "Enrollment mode mismatch", which a revoke counts as success.
func TestUnenrollRacingModeChangeIsSuccess(t *testing.T) {
	var raced atomic.Bool
	race := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == pathEnrollment && raced.CompareAndSwap(false, true) {
				// Another system upgrades the learner just before our write lands.
				other, err := New(Config{BaseURL: "http://" + r.Host, APIKey: sandbox.DevAPIKey})
				if err == nil {
					_, _ = other.ChangeMode(r.Context(), req("ada", demo, "verified"))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarness(t, sandbox.Options{}, race)
	c := h.client()
	// Enroll in audit without going through the racing wrapper's first POST.
	raced.Store(true)
	_, err := c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	raced.Store(false)

	out, err := c.Unenroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	require.True(t, out.ModeMismatch)
	e, err := c.GetEnrollment(ctx, "ada", demo)
	require.NoError(t, err)
	require.True(t, e.IsActive)
	require.Equal(t, "verified", e.Mode)
}

func TestChangeModeUpgradeAndRestore(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)

	out, err := c.ChangeMode(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionModeChanged, out.Action)
	require.Equal(t, "audit", out.PriorMode)
	require.True(t, out.PriorActive)

	out, err = c.ChangeMode(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)

	back := req("ada", demo, "audit")
	back.FromMode = "verified"
	out, err = c.ChangeMode(ctx, back)
	require.NoError(t, err)
	require.Equal(t, ActionModeChanged, out.Action, "the update path has no downgrade guard")
	require.Equal(t, "audit", out.Enrollment.Mode)

	out, err = c.ChangeMode(ctx, back)
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action, "FromMode guard: no longer in verified")
	require.Equal(t, 3, h.writes("ada", demo))
}

// TestErrorTable runs every row of the reference's error table.
func TestErrorTable(t *testing.T) {
	h := newHarness(t, sandbox.Options{Clients: []sandbox.OAuthClient{{ID: "learner", Secret: "learner-secret", Username: "grace"}}})
	c := h.client()
	learner := h.client(func(c *Config) { c.APIKey, c.ClientID, c.ClientSecret = "", "learner", "learner-secret" })

	t.Run("course id missing", func(t *testing.T) {
		resp, err := c.do(ctx, call{op: "enroll", method: http.MethodPost, path: pathEnrollment,
			body: map[string]any{"user": "ada", "course_details": map[string]any{}}})
		require.NoError(t, err)
		e := requireError(t, expect("enroll", resp, http.StatusOK), TypeInvalidRequest, false)
		require.Equal(t, "Course ID must be specified to create a new enrollment.", e.Message)
		_, err = c.Enroll(ctx, EnrollRequest{Username: "ada", Mode: "audit"})
		requireError(t, err, TypeInvalidRequest, false)
	})
	t.Run("no such course", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("ada", "course-v1:edX+Nope+2026", "audit"))
		e := requireError(t, err, TypeCourseNotFound, false)
		require.Equal(t, 400, e.StatusCode)
		require.Contains(t, e.Message, "No course 'course-v1:edX+Nope+2026' found for enrollment")
	})
	t.Run("is_active not a boolean", func(t *testing.T) {
		resp, err := c.do(ctx, call{op: "enroll", method: http.MethodPost, path: pathEnrollment,
			body: map[string]any{"user": "ada", "is_active": "no", "course_details": map[string]any{"course_id": demo}}})
		require.NoError(t, err)
		requireError(t, expect("enroll", resp, http.StatusOK), TypeInvalidRequest, false)
	})
	t.Run("mode mismatch", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("linus", demo, "verified"))
		require.NoError(t, err)
		resp, err := c.do(ctx, call{op: "unenroll", method: http.MethodPost, path: pathEnrollment,
			body: enrollmentBody{User: "linus", Mode: "audit", IsActive: false, CourseDetails: courseRef{demo}}})
		require.NoError(t, err)
		e := requireError(t, expect("unenroll", resp, http.StatusOK), TypeModeMismatch, false)
		require.Contains(t, e.Message, "Enrollment mode mismatch: active mode=verified, requested mode=audit")
	})
	t.Run("credit without provider", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("linus", sandbox.CreditCourseID, "verified"))
		require.NoError(t, err)
		_, err = c.ChangeMode(ctx, req("linus", sandbox.CreditCourseID, "credit"))
		e := requireError(t, err, TypeInvalidRequest, false)
		require.Contains(t, e.Message, "Missing enrollment attributes")
	})
	t.Run("mode unavailable", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("ada", demo, "professional"))
		e := requireError(t, err, TypeModeUnavailable, false)
		require.Contains(t, e.Message, "The [professional] course mode is expired or otherwise unavailable")
		_, err = c.Enroll(ctx, req("ada", sandbox.CreditCourseID, "honor"))
		requireError(t, err, TypeModeUnavailable, false)
	})
	t.Run("enrollment closed", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("ada", closed, "verified"))
		e := requireError(t, err, TypeEnrollmentClosed, false)
		require.Contains(t, e.Message, "An error occurred while creating the new course enrollment")
	})
	t.Run("course full", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("ada", sandbox.FullCourseID, "verified"))
		requireError(t, err, TypeCourseFull, false)
	})
	t.Run("mode not permitted", func(t *testing.T) {
		_, err := learner.Enroll(ctx, req("grace", demo, "verified"))
		e := requireError(t, err, TypeForbidden, false)
		require.Equal(t, 403, e.StatusCode)
	})
	t.Run("embargo", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("ada", sandbox.EmbargoCourseID, "audit"))
		requireError(t, err, TypeEmbargoed, false)
	})
	t.Run("another user", func(t *testing.T) {
		_, err := learner.Enroll(ctx, req("ada", demo, "audit"))
		e := requireError(t, err, TypeForbidden, false)
		require.Equal(t, 404, e.StatusCode)
		resp, err := learner.do(ctx, call{op: "enroll", method: http.MethodPost, path: pathEnrollment,
			body: enrollmentBody{User: "ada", Mode: "audit", IsActive: true, CourseDetails: courseRef{demo}}})
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.status)
		requireError(t, learner.postError("enroll", resp), TypeForbidden, false)
	})
	t.Run("unprivileged mode change is ignored", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("grace", demo, "verified"))
		require.NoError(t, err)
		_, err = learner.ChangeMode(ctx, req("grace", demo, "audit"))
		requireError(t, err, TypeNotPrivileged, false)
	})
	t.Run("user does not exist", func(t *testing.T) {
		_, err := c.Enroll(ctx, req("nobody", demo, "audit"))
		e := requireError(t, err, TypeUserNotFound, false)
		require.Equal(t, 406, e.StatusCode)
		require.Equal(t, "The user [username redacted] does not exist.", e.Message, "the username is redacted: errors are logged")
	})
	t.Run("email does not exist is redacted", func(t *testing.T) {
		_, err := c.Enroll(ctx, EnrollRequest{Email: "secret.person@example.org", CourseID: demo, Mode: "audit"})
		e := requireError(t, err, TypeUserNotFound, false)
		require.NotContains(t, e.Error(), "secret.person")
		require.Contains(t, e.Message, "[email redacted]")
	})
	t.Run("authentication failed", func(t *testing.T) {
		bad := h.client(func(c *Config) { c.ClientSecret = "not-the-secret"; c.APIKey = "" })
		_, err := bad.GetEnrollment(ctx, "ada", demo)
		e := requireError(t, err, TypeAuthenticationFailed, false)
		require.NotContains(t, e.Error(), "not-the-secret")
		badKey := h.client(func(c *Config) { c.ClientID, c.ClientSecret, c.APIKey = "", "", "wrong-key" })
		_, err = badKey.GetEnrollment(ctx, "ada", demo)
		e = requireError(t, err, TypeAuthenticationFailed, false)
		require.Equal(t, 401, e.StatusCode)
		require.NotContains(t, e.Error(), "wrong-key")
	})
}

func TestTokenExpiryAndRefresh(t *testing.T) {
	t.Run("proactive refresh before expiry", func(t *testing.T) {
		h := newHarness(t, sandbox.Options{TokenLifetime: time.Second})
		c := h.client(jwtOnly)
		_, err := c.GetEnrollment(ctx, "ada", demo)
		require.NoError(t, err)
		_, err = c.GetEnrollment(ctx, "ada", demo)
		require.NoError(t, err)
		require.Equal(t, 1, h.sb.Stats().TokenRequests, "the token is cached")
		time.Sleep(600 * time.Millisecond) // past half the lifetime: refresh early
		_, err = c.GetEnrollment(ctx, "ada", demo)
		require.NoError(t, err)
		require.Equal(t, 2, h.sb.Stats().TokenRequests)
		require.Zero(t, h.sb.Stats().Unauthorized, "never sent an expired token")
	})
	t.Run("expired token is replaced after a 401", func(t *testing.T) {
		// expires_in says 1 s, the token dies after 100 ms: the LMS's 401
		// makes the client fetch a new one and retry once.
		h := newHarness(t, sandbox.Options{TokenLifetime: 100 * time.Millisecond})
		c := h.client(jwtOnly)
		_, err := c.GetEnrollment(ctx, "ada", demo)
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)
		_, err = c.Enroll(ctx, req("ada", demo, "verified"))
		require.NoError(t, err)
		st := h.sb.Stats()
		require.Equal(t, 1, st.Unauthorized)
		require.GreaterOrEqual(t, st.TokenRequests, 2)
	})
	t.Run("one refresh at a time", func(t *testing.T) {
		h := newHarness(t, sandbox.Options{})
		c := h.client(jwtOnly)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.GetEnrollment(ctx, "ada", demo)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, 1, h.sb.Stats().TokenRequests)
	})
}

func TestThrottledReturnsRetryAfter(t *testing.T) {
	h := newHarness(t, sandbox.Options{JWTRequestsPerMinute: 1})
	c := h.client(jwtOnly)
	_, err := c.GetEnrollment(ctx, "ada", demo)
	require.NoError(t, err)
	start := time.Now()
	_, err = c.GetEnrollment(ctx, "ada", demo)
	e := requireError(t, err, TypeThrottled, true)
	require.Equal(t, 429, e.StatusCode)
	require.Greater(t, e.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, e.RetryAfter, time.Minute)
	require.Less(t, time.Since(start), time.Second, "the client does not sleep through Retry-After")

	// The API key is exempt from the LMS's throttle.
	both := h.client()
	_, err = both.GetEnrollment(ctx, "ada", demo)
	require.NoError(t, err)

	h.setFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 429, RetryAfter: 7 * time.Second})
	_, err = both.GetEnrollment(ctx, "ada", demo)
	e = requireError(t, err, TypeThrottled, true)
	require.Equal(t, 7*time.Second, e.RetryAfter)
}

func TestClientSideRateLimit(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client(func(c *Config) { c.RateLimit, c.Burst, c.Timeout = 0.5, 1, 100*time.Millisecond })
	_, err := c.GetEnrollment(ctx, "ada", demo)
	require.NoError(t, err)
	start := time.Now()
	_, err = c.GetEnrollment(ctx, "ada", demo)
	e := requireError(t, err, TypeThrottled, true)
	require.Greater(t, e.RetryAfter, time.Second)
	require.Less(t, time.Since(start), 100*time.Millisecond, "fails fast instead of waiting past the deadline")
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, sandbox.Options{Faults: sandbox.Faults{Latency: 500 * time.Millisecond}})
	c := h.client(keyOnly, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	start := time.Now()
	_, err := c.Enroll(ctx, req("ada", demo, "audit"))
	e := requireError(t, err, TypeTimeout, true)
	require.Zero(t, e.StatusCode)
	require.Less(t, time.Since(start), 400*time.Millisecond)

	// The token endpoint is bounded by the same timeout.
	jc := h.client(jwtOnly, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	_, err = jc.GetEnrollment(ctx, "ada", demo)
	requireError(t, err, TypeTimeout, true)
}

func TestCanceled(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := c.GetEnrollment(cctx, "ada", demo)
	requireError(t, err, TypeCanceled, true)
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	for _, mut := range []func(*Config){keyOnly, jwtOnly} {
		c, err := New(Config{BaseURL: "http://" + addr, APIKey: "k", ClientID: "id", ClientSecret: "s"})
		require.NoError(t, err)
		cfg := c.cfg
		mut(&cfg)
		c, err = New(cfg)
		require.NoError(t, err)
		_, err = c.Enroll(ctx, req("ada", demo, "audit"))
		e := requireError(t, err, TypeConnectionRefused, true)
		require.ErrorIs(t, err, e.cause)
	}
}

func TestServerErrors(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.GetEnrollment(ctx, "ada", demo) // fetch the token before the faults
	require.NoError(t, err)
	h.setFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 502})
	_, err = c.Enroll(ctx, req("ada", demo, "audit"))
	e := requireError(t, err, TypeServerError, true)
	require.Equal(t, 502, e.StatusCode)
	require.Equal(t, "Bad Gateway", e.Message, "an HTML error page yields the status text")

	h.setFaults(sandbox.Faults{Outage: time.Minute})
	_, err = c.Unenroll(ctx, req("ada", demo, "audit"))
	e = requireError(t, err, TypeServerError, true)
	require.Equal(t, 503, e.StatusCode)
	require.Greater(t, e.RetryAfter, 50*time.Second)

	h.setFaults(sandbox.Faults{})
	_, err = c.Enroll(ctx, req("ada", demo, "audit"))
	require.NoError(t, err)
	require.Equal(t, 1, h.writes("ada", demo))
}

func TestBadResponsesAndRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "redirect"):
			http.Redirect(w, r, "/login", http.StatusFound)
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>maintenance</html>"))
		}
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, APIKey: "k"})
	require.NoError(t, err)
	_, err = c.GetEnrollment(ctx, "ada", demo)
	requireError(t, err, TypeBadResponse, true)
	_, err = c.GetEnrollment(ctx, "redirect", demo)
	requireError(t, err, TypeUnexpectedRedirect, false)
}

// lossy runs the LMS's handler for every matching request but, for the
// first n of them, throws the answer away and reports a gateway timeout: the
// write happened, the caller never learned it.
func lossy(n int32, match func(*http.Request) bool) func(http.Handler) http.Handler {
	var lost atomic.Int32
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && lost.Add(1) <= n {
				next.ServeHTTP(httptest.NewRecorder(), r)
				http.Error(w, "upstream timed out", http.StatusGatewayTimeout)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// isWrite matches the LMS API's writes (not token requests).
func isWrite(r *http.Request) bool {
	return (r.Method == http.MethodPost || r.Method == http.MethodDelete) && strings.HasPrefix(r.URL.Path, "/api/")
}

// retry calls op until it succeeds, as the workflow's durable retry would.
func retry[T any](t *testing.T, op func() (T, error)) (T, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		v, err := op()
		if err == nil {
			return v, attempt
		}
		require.True(t, IsTransient(err), "attempt %d: %v", attempt, err)
		require.Less(t, attempt, 100)
	}
}

func TestRetriedOperationsNeverWriteTwice(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, lossy(1, isWrite))
	c := h.client()

	_, attempts := retry(t, func() (Outcome, error) { return c.Enroll(ctx, req("ada", demo, "audit")) })
	require.Equal(t, 2, attempts, "the first answer was lost")
	require.Equal(t, 1, h.writes("ada", demo))

	// Every later operation retried after transient failures.
	h.setFaults(sandbox.Faults{ErrorRate: 0.3, ErrorStatus: 503})
	for i := 0; i < 5; i++ {
		retry(t, func() (Outcome, error) { return c.Enroll(ctx, req("ada", demo, "audit")) })
	}
	retry(t, func() (Outcome, error) { return c.ChangeMode(ctx, req("ada", demo, "verified")) })
	retry(t, func() (Outcome, error) { return c.ChangeMode(ctx, req("ada", demo, "verified")) })
	require.Equal(t, 2, h.writes("ada", demo), "create + one mode change")
	retry(t, func() (Outcome, error) { return c.Unenroll(ctx, req("ada", demo, "verified")) })
	retry(t, func() (Outcome, error) { return c.Unenroll(ctx, req("ada", demo, "verified")) })
	require.Equal(t, 3, h.writes("ada", demo), "create + mode change + deactivate")

	// Unenrolling a stranger, retried, never creates a ghost.
	retry(t, func() (Outcome, error) { return c.Unenroll(ctx, req("grace", demo, "verified")) })
	require.Empty(t, h.snapshot("grace", demo).Enrollments)
}

func TestRetriedUnenrollAfterLostAnswer(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)

	h2 := &harness{t: t, sb: h.sb, srv: httptest.NewServer(lossy(1, isWrite)(h.sb.Handler()))}
	defer h2.srv.Close()
	c2 := h2.client()
	out, attempts := retry(t, func() (Outcome, error) { return c2.Unenroll(ctx, req("ada", demo, "verified")) })
	require.Equal(t, 2, attempts)
	require.Equal(t, ActionNone, out.Action, "the retry found the enrollment already inactive")
	require.Equal(t, 2, h.writes("ada", demo), "one create, one deactivate: no re-activate+deactivate")
}

// The sandbox's lost answers: the LMS writes, the client sees a transient
// failure of the type the way of losing implies, and the retry finds the
// write instead of repeating it.
func TestLostAnswersFromTheSandbox(t *testing.T) {
	for _, tc := range []struct {
		mode, user, typ string
	}{
		{sandbox.LostAnswer504, "ada", TypeServerError},
		{sandbox.LostAnswerDrop, "grace", TypeConnectionError},
		{sandbox.LostAnswerHang, "linus", TypeTimeout},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHarness(t, sandbox.Options{})
			c := h.client(func(c *Config) { c.Timeout = 300 * time.Millisecond })
			h.setFaults(sandbox.Faults{LostAnswerRate: 1, LostAnswerMode: tc.mode})

			_, err := c.Enroll(ctx, req(tc.user, demo, "verified"))
			e := requireError(t, err, tc.typ, true)
			if tc.mode == sandbox.LostAnswer504 {
				require.Equal(t, http.StatusGatewayTimeout, e.StatusCode)
			}
			s := h.snapshot(tc.user, demo)
			require.Len(t, s.Enrollments, 1, "the write happened")
			require.Equal(t, "verified", s.Enrollments[0].Mode)

			er := EntitlementRequest{Username: tc.user, CourseUUID: sandbox.CreditCourseUUID, OrderNumber: "EDX-7"}
			_, err = c.CreateEntitlement(ctx, er)
			requireError(t, err, tc.typ, true)
			require.Len(t, h.snapshot(tc.user, "").Entitlements, 1)

			h.setFaults(sandbox.Faults{})
			out, err := c.Enroll(ctx, req(tc.user, demo, "verified"))
			require.NoError(t, err)
			require.False(t, out.Wrote, "the retry finds the lost write")
			require.Equal(t, 1, h.writes(tc.user, demo))
			got, err := c.CreateEntitlement(ctx, er)
			require.NoError(t, err)
			require.False(t, got.Created)
			require.Len(t, h.snapshot(tc.user, "").Entitlements, 1)
		})
	}
}

func TestEntitlementsIdempotent(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, lossy(1, isWrite))
	c := h.client()
	er := EntitlementRequest{Username: "ada", CourseUUID: sandbox.DemoCourseUUID, Mode: "verified", OrderNumber: "EDX-7"}
	out, attempts := retry(t, func() (EntitlementOutcome, error) { return c.CreateEntitlement(ctx, er) })
	require.Equal(t, 2, attempts)
	require.False(t, out.Created, "the lost create is found, not repeated")
	require.Len(t, h.snapshot("ada", "").Entitlements, 1)

	again, err := c.CreateEntitlement(ctx, er)
	require.NoError(t, err)
	require.Equal(t, out.Entitlement.UUID, again.Entitlement.UUID)

	other := er
	other.OrderNumber = "EDX-8"
	second, err := c.CreateEntitlement(ctx, other)
	require.NoError(t, err)
	require.True(t, second.Created, "another order gets its own entitlement")

	revoked, err := c.RevokeEntitlement(ctx, out.Entitlement.UUID)
	require.NoError(t, err)
	require.True(t, revoked)
	revoked, err = c.RevokeEntitlement(ctx, out.Entitlement.UUID)
	require.NoError(t, err)
	require.False(t, revoked, "already revoked")
	revoked, err = c.RevokeEntitlement(ctx, "00000000-0000-4000-8000-000000000000")
	require.NoError(t, err)
	require.False(t, revoked, "unknown")

	_, err = c.CreateEntitlement(ctx, EntitlementRequest{Username: "nobody", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-9"})
	requireError(t, err, TypeUserNotFound, false)
	_, err = c.CreateEntitlement(ctx, EntitlementRequest{Username: "ada", CourseUUID: "not-a-uuid", OrderNumber: "EDX-9"})
	requireError(t, err, TypeInvalidRequest, false)
}

// The LMS answers course_uuid lowercase and hyphenated: a request that
// says it otherwise still finds its entitlement.
func TestEntitlementCourseUUIDComparedCanonically(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client()
	er := EntitlementRequest{Username: "ada", CourseUUID: strings.ToUpper(strings.ReplaceAll(sandbox.DemoCourseUUID, "-", "")), OrderNumber: "EDX-7"}
	first, err := c.CreateEntitlement(ctx, er)
	require.NoError(t, err)
	require.True(t, first.Created)
	require.Equal(t, sandbox.DemoCourseUUID, first.Entitlement.CourseUUID)
	again, err := c.CreateEntitlement(ctx, er)
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, first.Entitlement.UUID, again.Entitlement.UUID)
	found, err := c.FindEntitlements(ctx, "ada", "{"+sandbox.DemoCourseUUID+"}")
	require.NoError(t, err)
	require.Len(t, found, 1)
	none, err := c.FindEntitlements(ctx, "ada", sandbox.CreditCourseUUID)
	require.NoError(t, err)
	require.Empty(t, none, "another course's")
}

func TestPreEnrollByEmail(t *testing.T) {
	h := newHarness(t, sandbox.Options{})
	c := h.client(preEnroll)
	const email = "future.learner@example.com"

	for _, r := range []EnrollRequest{
		{Email: email, CourseID: demo, Mode: "verified", OrderNumber: "EDX-1", LineID: "1"},
		{Username: "future", Email: email, CourseID: sandbox.CreditCourseID, Mode: "verified", OrderNumber: "EDX-1", LineID: "2"},
	} {
		out, err := c.Enroll(ctx, r)
		require.NoError(t, err)
		require.True(t, out.PreEnrolled)
		require.Equal(t, ActionPreEnrolled, out.Action)
		require.True(t, out.Wrote)

		out, err = c.Enroll(ctx, r)
		require.NoError(t, err)
		require.True(t, out.PreEnrolled)
		require.False(t, out.Wrote, "the allowance exists: no second write")
	}
	s := h.snapshot(email, "")
	require.Len(t, s.Allowed, 2)
	require.True(t, s.Allowed[0].AutoEnroll)

	// Without the option a missing learner is a permanent failure.
	_, err := h.client().Enroll(ctx, EnrollRequest{Email: "other@example.com", CourseID: demo, Mode: "audit"})
	requireError(t, err, TypeUserNotFound, false)

	// The learner registers and is auto-enrolled; revoking by email finds them.
	require.NoError(t, h.sb.AddUser(sandbox.User{Username: "future", Email: email}))
	out, err := c.Unenroll(ctx, EnrollRequest{Email: email, CourseID: demo})
	require.NoError(t, err)
	require.Equal(t, ActionDeactivated, out.Action)

	out, err = c.RemoveEnrollmentAllowed(ctx, email, demo)
	require.NoError(t, err)
	require.Equal(t, ActionAllowanceRemoved, out.Action)
	out, err = c.RemoveEnrollmentAllowed(ctx, email, demo)
	require.NoError(t, err)
	require.Equal(t, ActionNone, out.Action)
	require.Len(t, h.snapshot(email, "").Allowed, 1)
}

// A read that misses a write that had in fact succeeded (a lagging replica,
// or a concurrent attempt) leads to a re-post, which the LMS refuses once
// enrollment has closed; the client reads again and accepts the wanted state.
func TestEnrollAcceptsWantedStateAfterRefusal(t *testing.T) {
	var stale atomic.Bool
	lag := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, pathEnrollment+"/") && stale.CompareAndSwap(true, false) {
				w.WriteHeader(http.StatusOK) // "no enrollment"
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h := newHarness(t, sandbox.Options{}, lag)
	c := h.client()
	_, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	h.closeEnrollment(demo, "audit", "verified")

	stale.Store(true)
	out, err := c.Enroll(ctx, req("ada", demo, "verified"))
	require.NoError(t, err)
	require.False(t, stale.Load(), "the stale read was served")
	require.False(t, out.Wrote)
	require.Equal(t, "verified", out.Enrollment.Mode)
	require.Equal(t, 1, h.writes("ada", demo))
}

// rewriteQuery changes the query of requests to path before the sandbox
// sees them: an LMS whose filters misbehave.
func rewriteQuery(path string, change func(url.Values)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == path {
				q := r.URL.Query()
				change(q)
				r.URL.RawQuery = q.Encode()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// An LMS older than Quince ignores the email filter: the client refuses to
// act rather than take another learner's enrollment for the one asked for,
// or write by email (which that LMS applies to the caller itself).
func TestOldLMSIgnoringTheEmailFilter(t *testing.T) {
	h := newHarness(t, sandbox.Options{Faults: sandbox.Faults{IgnoreEmailFilter: true}})
	c := h.client()
	_, err := c.Enroll(ctx, req("grace", demo, "verified"))
	require.NoError(t, err)

	const email = "ada@example.com"
	_, err = c.FindEnrollmentByEmail(ctx, email, demo)
	requireError(t, err, TypeFilterIgnored, false)
	for _, r := range []EnrollRequest{
		{Email: email, CourseID: demo, Mode: "verified"},                // grace's row would pass for ada's
		{Email: email, CourseID: sandbox.CreditCourseID, Mode: "audit"}, // no row: the write would enroll the caller
	} {
		_, err = c.Enroll(ctx, r)
		requireError(t, err, TypeFilterIgnored, false)
		_, err = c.Unenroll(ctx, r)
		requireError(t, err, TypeFilterIgnored, false)
	}
	s := h.snapshot("", "")
	require.Len(t, s.Enrollments, 1, "nothing written: %+v", s.Enrollments)
	require.Equal(t, "grace", s.Enrollments[0].User)
	require.True(t, s.Enrollments[0].IsActive)
	require.Equal(t, 1, s.Enrollments[0].Writes)

	// Usernames are unaffected; a Quince LMS serves email lookups.
	_, err = c.Enroll(ctx, req("ada", sandbox.CreditCourseID, "audit"))
	require.NoError(t, err)
	h.setFaults(sandbox.Faults{})
	out, err := c.Enroll(ctx, EnrollRequest{Email: email, CourseID: demo, Mode: "verified"})
	require.NoError(t, err)
	require.Equal(t, ActionCreated, out.Action)
	require.Equal(t, "ada", out.Enrollment.User)
}

// Whatever the probe says, rows of several learners for one email are
// refused too.
func TestEmailLookupAnsweredWithSeveralLearners(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, rewriteQuery(pathEnrollments, func(q url.Values) {
		if q.Get("email") != filterProbeEmail {
			q.Del("email")
		}
	}))
	c := h.client()
	for _, u := range []string{"ada", "grace"} {
		_, err := c.Enroll(ctx, req(u, demo, "audit"))
		require.NoError(t, err)
	}
	_, err := c.FindEnrollmentByEmail(ctx, "ada@example.com", demo)
	e := requireError(t, err, TypeFilterIgnored, false)
	require.Contains(t, e.Message, "2 learners")
}

func TestEntitlementListingOfAnotherLearner(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, rewriteQuery(pathEntitlements, func(q url.Values) { q.Del("user") }))
	c := h.client()
	grace := EntitlementRequest{Username: "grace", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-1"}
	_, err := c.CreateEntitlement(ctx, grace)
	require.NoError(t, err, "only grace's entitlements exist yet")

	_, err = c.FindEntitlements(ctx, "ada", sandbox.DemoCourseUUID)
	requireError(t, err, TypeFilterIgnored, false)
	_, err = c.CreateEntitlement(ctx, EntitlementRequest{Username: "ada", CourseUUID: sandbox.DemoCourseUUID, OrderNumber: "EDX-2"})
	requireError(t, err, TypeFilterIgnored, false)
	require.Empty(t, h.snapshot("ada", "").Entitlements)
}

func TestEnrollmentAllowedListingOfAnotherEmail(t *testing.T) {
	const other = "other.learner@example.com"
	h := newHarness(t, sandbox.Options{}, rewriteQuery(pathEnrollmentAllowed, func(q url.Values) { q.Set("email", other) }))
	c := h.client(preEnroll)
	out, err := c.Enroll(ctx, EnrollRequest{Email: other, CourseID: demo, Mode: "audit"})
	require.NoError(t, err)
	require.Equal(t, ActionPreEnrolled, out.Action)

	_, err = c.ListEnrollmentAllowed(ctx, "future@example.com")
	requireError(t, err, TypeFilterIgnored, false)
	_, err = c.RemoveEnrollmentAllowed(ctx, "future@example.com", demo)
	requireError(t, err, TypeFilterIgnored, false)
	require.Len(t, h.snapshot(other, demo).Allowed, 1, "the other address's pre-enrollment is left alone")
}
