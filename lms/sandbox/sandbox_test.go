package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

const demo = sandbox.DemoCourseID

type env struct {
	t   *testing.T
	lms *sandbox.LMS
	srv *httptest.Server
}

func newEnv(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	l, err := sandbox.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, l.Close())
	})
	return &env{t: t, lms: l, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

func (e *env) do(method, path string, header map[string]string, body any) answer {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return answer{res.StatusCode, res.Header, b}
}

var apiKey = map[string]string{"X-Edx-Api-Key": sandbox.DevAPIKey}

func (e *env) post(body any) answer {
	return e.do(http.MethodPost, "/api/enrollment/v1/enrollment", apiKey, body)
}

func (e *env) get(user, course string) answer {
	return e.do(http.MethodGet, "/api/enrollment/v1/enrollment/"+user+","+course, apiKey, nil)
}

func enroll(user, course, mode string, active bool) map[string]any {
	return map[string]any{"user": user, "mode": mode, "is_active": active, "course_details": map[string]any{"course_id": course}}
}

func (e *env) snapshot(user, course string) sandbox.Snapshot {
	e.t.Helper()
	a := e.do(http.MethodGet, "/sandbox/enrollments?user="+url.QueryEscape(user)+"&course_id="+url.QueryEscape(course), nil, nil)
	require.Equal(e.t, http.StatusOK, a.status)
	var s sandbox.Snapshot
	require.NoError(e.t, json.Unmarshal(a.body, &s))
	return s
}

func (e *env) token(id, secret string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "token_type": {"jwt"}}
	res, err := http.PostForm(e.srv.URL+"/oauth2/access_token", form)
	require.NoError(e.t, err)
	defer res.Body.Close()
	require.Equal(e.t, http.StatusOK, res.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&tok))
	require.Equal(e.t, "JWT", tok.TokenType)
	require.Positive(e.t, tok.ExpiresIn)
	return tok.AccessToken
}

func TestMissingEnrollmentIsEmpty200(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	a := e.get("ada", demo)
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, a.body)
}

func TestEnrollAndRead(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	a := e.post(map[string]any{"user": "ada", "mode": "verified", "is_active": true,
		"course_details":        map[string]any{"course_id": demo},
		"enrollment_attributes": []any{map[string]any{"namespace": "order", "name": "order_number", "value": "O-1"}}})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	m := a.json(t)
	require.Equal(t, "verified", m["mode"])
	require.Equal(t, true, m["is_active"])
	require.Equal(t, "ada", m["user"])
	require.Equal(t, demo, m["course_details"].(map[string]any)["course_id"])

	got := e.get("ada", demo).json(t)
	require.Equal(t, "verified", got["mode"])
	s := e.snapshot("ada", demo)
	require.Len(t, s.Enrollments, 1)
	require.Equal(t, 1, s.Enrollments[0].Writes)
	require.Equal(t, []sandbox.Attribute{{Namespace: "order", Name: "order_number", Value: "O-1"}}, s.Enrollments[0].Attributes)
}

func TestQuirkUnenrollNeverEnrolledCreatesThenDeactivates(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	a := e.post(enroll("ada", demo, "audit", false))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, false, a.json(t)["is_active"])
	s := e.snapshot("ada", demo)
	require.Len(t, s.Enrollments, 1, "the LMS leaves a (ghost) inactive enrollment")
	require.Equal(t, 2, s.Enrollments[0].Writes, "created and deactivated")

	// On a closed course the same call is refused.
	a = e.post(enroll("ada", sandbox.ClosedCourseID, "audit", false))
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.json(t)["message"], "An error occurred while creating the new course enrollment")
}

func TestQuirkDeactivateInactiveReactivatesAndDeactivates(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", true)).status)
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", false)).status)
	require.Equal(t, 2, e.snapshot("ada", demo).Enrollments[0].Writes)
	a := e.post(enroll("ada", demo, "audit", false))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, false, a.json(t)["is_active"])
	require.Equal(t, 4, e.snapshot("ada", demo).Enrollments[0].Writes, "re-activated and deactivated again")
}

func TestQuirkRepostFailsOnceEnrollmentClosed(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	// Re-posting while open: 200, the existing enrollment, no write.
	a := e.post(enroll("ada", demo, "verified", true))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, 1, e.snapshot("ada", demo).Enrollments[0].Writes)

	past := time.Now().Add(-time.Hour)
	require.NoError(t, e.lms.AddCourse(sandbox.Course{CourseID: demo, Modes: []sandbox.Mode{{Slug: "audit"}, {Slug: "verified"}}, EnrollmentEnd: &past}))
	a = e.post(enroll("ada", demo, "verified", true))
	require.Equal(t, http.StatusBadRequest, a.status, "closed check runs before already-enrolled check")
	require.Equal(t, "An error occurred while creating the new course enrollment for user 'ada' in course '"+demo+"'", a.json(t)["message"])
}

func TestUpdatePathHasNoDowngradeGuardAndSkipsChecks(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	a := e.post(enroll("ada", demo, "audit", true))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "audit", a.json(t)["mode"])

	// Closing enrollment does not stop a privileged mode change.
	past := time.Now().Add(-time.Hour)
	require.NoError(t, e.lms.AddCourse(sandbox.Course{CourseID: demo, Modes: []sandbox.Mode{{Slug: "audit"}, {Slug: "verified"}}, EnrollmentEnd: &past}))
	a = e.post(enroll("ada", demo, "verified", true))
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, 3, e.snapshot("ada", demo).Enrollments[0].Writes)
}

func TestAddPathCheckOrder(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	// Unknown course beats everything.
	a := e.post(enroll("ada", "course-v1:edX+Nope+2026", "audit", true))
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, "No course 'course-v1:edX+Nope+2026' found for enrollment", a.json(t)["message"])
	// Closed before full: a course both closed and full says the generic message;
	// mode availability is checked before both.
	past := time.Now().Add(-time.Hour)
	zero := 0
	require.NoError(t, e.lms.AddCourse(sandbox.Course{CourseID: "course-v1:edX+Both+1", Modes: []sandbox.Mode{{Slug: "audit"}}, EnrollmentEnd: &past, MaxEnrollments: &zero}))
	a = e.post(enroll("ada", "course-v1:edX+Both+1", "verified", true))
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, "The [verified] course mode is expired or otherwise unavailable for course run [course-v1:edX+Both+1].", a.json(t)["message"])
	a = e.post(enroll("ada", sandbox.FullCourseID, "audit", true))
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.json(t)["message"], "An error occurred while creating the new course enrollment")
	// Already enrolled is checked last: a full course refuses even its own learner's re-post.
	one := 1
	require.NoError(t, e.lms.AddCourse(sandbox.Course{CourseID: "course-v1:edX+One+1", Modes: []sandbox.Mode{{Slug: "audit"}}, MaxEnrollments: &one}))
	require.Equal(t, http.StatusOK, e.post(enroll("ada", "course-v1:edX+One+1", "audit", true)).status)
	require.Equal(t, http.StatusBadRequest, e.post(enroll("ada", "course-v1:edX+One+1", "audit", true)).status)
}

func TestErrorTable(t *testing.T) {
	e := newEnv(t, sandbox.Options{Clients: []sandbox.OAuthClient{{ID: "learner", Secret: "s", Username: "grace"}}})
	learner := map[string]string{"Authorization": "JWT " + e.token("learner", "s")}
	cases := []struct {
		name    string
		header  map[string]string
		body    any
		status  int
		message string
	}{
		{"course id missing", apiKey, map[string]any{"user": "ada"}, 400, "Course ID must be specified to create a new enrollment."},
		{"is_active not boolean", apiKey, map[string]any{"user": "ada", "is_active": "yes", "course_details": map[string]any{"course_id": demo}}, 400, "'yes' is an invalid enrollment activation status."},
		{"force not boolean", apiKey, map[string]any{"user": "ada", "force_enrollment": 1, "course_details": map[string]any{"course_id": demo}}, 400, "'1' is an invalid force enrollment status."},
		{"mode unavailable", apiKey, enroll("ada", demo, "professional", true), 400, "The [professional] course mode is expired or otherwise unavailable for course run [" + demo + "]."},
		{"expired mode on add path", apiKey, enroll("ada", sandbox.CreditCourseID, "honor", true), 400, "The [honor] course mode is expired or otherwise unavailable for course run [" + sandbox.CreditCourseID + "]."},
		{"user does not exist", apiKey, enroll("nobody", demo, "audit", true), 406, "The user nobody does not exist."},
		{"email does not exist", apiKey, map[string]any{"email": "x@example.org", "course_details": map[string]any{"course_id": demo}}, 406, "The user with the email address x@example.org does not exist."},
		{"mode not permitted", learner, enroll("grace", demo, "verified", true), 403, "User does not have permission to create enrollment with mode [verified]."},
		{"embargo", apiKey, enroll("ada", sandbox.EmbargoCourseID, "audit", true), 403, "Users from this location cannot access the course '" + sandbox.EmbargoCourseID + "'."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(http.MethodPost, "/api/enrollment/v1/enrollment", tc.header, tc.body)
			require.Equal(t, tc.status, a.status, string(a.body))
			require.Equal(t, tc.message, a.json(t)["message"])
		})
	}
	t.Run("other user", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/enrollment/v1/enrollment", learner, enroll("ada", demo, "audit", true))
		require.Equal(t, http.StatusNotFound, a.status)
		a = e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, learner, nil)
		require.Equal(t, http.StatusNotFound, a.status)
	})
	t.Run("mode mismatch", func(t *testing.T) {
		require.Equal(t, http.StatusOK, e.post(enroll("linus", demo, "verified", true)).status)
		a := e.post(enroll("linus", demo, "audit", false))
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "Enrollment mode mismatch: active mode=verified, requested mode=audit. Won't deactivate.", a.json(t)["message"])
	})
	t.Run("credit without provider", func(t *testing.T) {
		require.Equal(t, http.StatusOK, e.post(enroll("linus", sandbox.CreditCourseID, "verified", true)).status)
		body := enroll("linus", sandbox.CreditCourseID, "credit", true)
		body["enrollment_attributes"] = []any{map[string]any{"namespace": "order", "name": "order_number", "value": "1"}}
		a := e.post(body)
		require.Equal(t, http.StatusBadRequest, a.status)
		require.Equal(t, "Missing enrollment attributes: requested mode=credit required attributes=['credit:provider_id']", a.json(t)["message"])
	})
	t.Run("no credentials", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/enrollment/v1/enrollment", nil, enroll("ada", demo, "audit", true))
		require.Equal(t, http.StatusUnauthorized, a.status)
		a = e.do(http.MethodPost, "/api/enrollment/v1/enrollment", map[string]string{"Authorization": "JWT bogus"}, enroll("ada", demo, "audit", true))
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Equal(t, "Error decoding token.", a.json(t)["detail"])
	})
}

func TestTokenEndpointAndExpiry(t *testing.T) {
	e := newEnv(t, sandbox.Options{TokenLifetime: 50 * time.Millisecond})
	res, err := http.PostForm(e.srv.URL+"/oauth2/access_token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DevClientID}, "client_secret": {"wrong"}, "token_type": {"jwt"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	tok := e.token(sandbox.DevClientID, sandbox.DevClientSecret)
	auth := map[string]string{"Authorization": "JWT " + tok}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, auth, nil).status)
	time.Sleep(60 * time.Millisecond)
	a := e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, auth, nil)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, "Signature has expired.", a.json(t)["detail"])
	require.Equal(t, 1, e.lms.Stats().TokenRequests)
}

func TestThrottleJWTOnly(t *testing.T) {
	e := newEnv(t, sandbox.Options{JWTRequestsPerMinute: 2})
	auth := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	for i := 0; i < 2; i++ {
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, auth, nil).status)
	}
	a := e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, auth, nil)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	require.Contains(t, a.json(t)["detail"], "Request was throttled")
	// The API key is exempt.
	both := map[string]string{"Authorization": auth["Authorization"], "X-Edx-Api-Key": sandbox.DevAPIKey}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, both, nil).status)
}

func TestFaults(t *testing.T) {
	e := newEnv(t, sandbox.Options{Faults: sandbox.Faults{Outage: time.Minute}})
	a := e.get("ada", demo)
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.NotEmpty(t, a.header.Get("Retry-After"))
	// The admin API is not affected, and clears the faults.
	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{}).status)
	require.Equal(t, http.StatusOK, e.get("ada", demo).status)

	a = e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"error_rate": 1, "error_status": 429, "retry_after_seconds": 7})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	a = e.get("ada", demo)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Equal(t, "7", a.header.Get("Retry-After"))

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"error_rate": 1, "error_status": 502}).status)
	require.Equal(t, http.StatusBadGateway, e.get("ada", demo).status)

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"latency_ms": 30}).status)
	start := time.Now()
	require.Equal(t, http.StatusOK, e.get("ada", demo).status)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"error_rate": 2}).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"latency": 2}).status, "unknown field")
	require.Positive(t, e.lms.Stats().InjectedFaults)
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	l, err := sandbox.New(sandbox.Options{StateFile: state})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Handler())
	e := &env{t: t, lms: l, srv: srv}
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "verified", true)).status)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/users", nil, map[string]any{"username": "marie", "email": "marie@example.com"}).status)
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/courses", nil, map[string]any{"course_id": "course-v1:edX+New+1", "modes": []any{"audit", "verified"}}).status)
	require.Equal(t, http.StatusOK, e.post(enroll("marie", "course-v1:edX+New+1", "audit", true)).status)
	srv.Close()
	require.NoError(t, l.Close())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temp files left behind")

	e2 := newEnv(t, sandbox.Options{StateFile: state})
	got := e2.get("ada", demo).json(t)
	require.Equal(t, "verified", got["mode"])
	got = e2.get("marie", "course-v1:edX+New+1").json(t)
	require.Equal(t, "audit", got["mode"])
	require.Equal(t, 1, e2.snapshot("ada", demo).Enrollments[0].Writes)

	require.NoError(t, os.WriteFile(state, []byte("{not json"), 0o600))
	_, err = sandbox.New(sandbox.Options{StateFile: state})
	require.Error(t, err)
}

func TestCatalogAndUsersFiles(t *testing.T) {
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.json")
	users := filepath.Join(dir, "users.json")
	require.NoError(t, os.WriteFile(catalog, []byte(`[{"course_id":"course-v1:Org+C+R","modes":["audit",{"slug":"verified","min_price":10}]}]`), 0o600))
	require.NoError(t, os.WriteFile(users, []byte(`{"users":[{"username":"zoe","email":"zoe@example.com"}]}`), 0o600))
	e := newEnv(t, sandbox.Options{CatalogFile: catalog, UsersFile: users})
	require.Equal(t, http.StatusOK, e.post(enroll("zoe", "course-v1:Org+C+R", "verified", true)).status)
	require.Equal(t, http.StatusNotAcceptable, e.post(enroll("ada", "course-v1:Org+C+R", "audit", true)).status)
	require.Equal(t, http.StatusBadRequest, e.post(enroll("zoe", demo, "audit", true)).status)

	require.NoError(t, os.WriteFile(catalog, []byte(`[{"course_id":"bad key","modes":["audit"]}]`), 0o600))
	_, err := sandbox.New(sandbox.Options{CatalogFile: catalog})
	require.ErrorContains(t, err, "not a course run key")
}

func TestAutoRegisterAndPreEnrollment(t *testing.T) {
	e := newEnv(t, sandbox.Options{AutoRegister: true})
	require.Equal(t, http.StatusOK, e.post(enroll("newbie", demo, "audit", true)).status)

	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	allowed := map[string]any{"email": "future@example.com", "course_id": demo, "auto_enroll": true}
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/enrollment/v1/enrollment_allowed/", apiKey, allowed).status, "API key alone is not staff")
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/api/enrollment/v1/enrollment_allowed/", staff, allowed).status)
	require.Equal(t, http.StatusConflict, e.do(http.MethodPost, "/api/enrollment/v1/enrollment_allowed/", staff, allowed).status)
	// Registration turns the allowance into an enrollment in the default mode.
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/sandbox/users", nil, map[string]any{"username": "future", "email": "future@example.com"}).status)
	require.Equal(t, "audit", e.get("future", demo).json(t)["mode"])
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/api/enrollment/v1/enrollment_allowed/", staff, allowed).status)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/enrollment/v1/enrollment_allowed/", staff, allowed).status)
}

func TestEntitlements(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", true)).status)
	body := map[string]any{"user": "ada", "course_uuid": sandbox.DemoCourseUUID, "mode": "verified", "order_number": "O-9"}
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/entitlements/v1/entitlements/", apiKey, body).status)
	a := e.do(http.MethodPost, "/api/entitlements/v1/entitlements/", staff, body)
	require.Equal(t, http.StatusCreated, a.status, string(a.body))
	created := a.json(t)
	uuid := created["uuid"].(string)
	require.Equal(t, demo, created["enrollment_course_run"], "the one enrollment in a run of the course is upgraded")
	require.Equal(t, "verified", e.get("ada", demo).json(t)["mode"])

	list := e.do(http.MethodGet, "/api/entitlements/v1/entitlements/?user=ada&course_uuid="+sandbox.DemoCourseUUID, staff, nil).json(t)
	require.EqualValues(t, 1, list["count"])

	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/api/entitlements/v1/entitlements/"+uuid+"/", staff, nil).status)
	require.NotNil(t, e.do(http.MethodGet, "/api/entitlements/v1/entitlements/"+uuid+"/", staff, nil).json(t)["expired_at"])
	require.Equal(t, false, e.get("ada", demo).json(t)["is_active"], "revoking unenrolls from the run")

	a = e.do(http.MethodPost, "/api/entitlements/v1/entitlements/", staff, map[string]any{"user": "nobody", "course_uuid": "nope", "mode": "verified"})
	require.Equal(t, http.StatusBadRequest, a.status)
	m := a.json(t)
	require.Contains(t, m, "user")
	require.Contains(t, m, "course_uuid")
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/entitlements/v1/entitlements/"+sandbox.DemoCourseUUID+"/", staff, nil).status)
}

func TestAdminCoursesAndUsers(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	a := e.do(http.MethodPost, "/sandbox/courses", nil, map[string]any{"course_id": "nope", "modes": []string{"audit"}})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = e.do(http.MethodPost, "/sandbox/users", nil, map[string]any{"username": "x"})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = e.do(http.MethodGet, "/sandbox/courses", nil, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.True(t, strings.Contains(string(a.body), demo))
	a = e.do(http.MethodGet, "/api/enrollment/v1/course/"+sandbox.CreditCourseID+"?include_expired=1", nil, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.json(t)["course_modes"], 4)
	a = e.do(http.MethodGet, "/api/enrollment/v1/course/"+sandbox.CreditCourseID, nil, nil)
	require.Len(t, a.json(t)["course_modes"], 3, "expired modes hidden by default")
	a = e.do(http.MethodGet, "/api/enrollment/v1/course/course-v1:x+y+z", nil, nil)
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, "No course found for course ID 'course-v1:x+y+z'", a.json(t)["message"])
}

func TestConcurrentWritesAreSerialized(t *testing.T) {
	e := newEnv(t, sandbox.Options{StateFile: filepath.Join(t.TempDir(), "s.json")})
	body, err := json.Marshal(enroll("ada", demo, "verified", true))
	require.NoError(t, err)
	statuses := make(chan int, 10)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/enrollment/v1/enrollment", bytes.NewReader(body))
			req.Header.Set("X-Edx-Api-Key", sandbox.DevAPIKey)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		require.Equal(t, http.StatusOK, s)
	}
	require.Equal(t, 1, e.snapshot("ada", demo).Enrollments[0].Writes)
}

// rawDo sends a request and returns the transport error instead of failing
// the test on it.
func (e *env) rawDo(client *http.Client, method, path string, header map[string]string, body any) (int, error) {
	e.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(e.t, err)
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(b))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func TestLostAnswers(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	setFaults := func(body map[string]any) {
		t.Helper()
		a := e.do(http.MethodPost, "/sandbox/faults", nil, body)
		require.Equal(t, http.StatusOK, a.status, string(a.body))
	}

	// 504: the enrollment is written, the answer is a gateway timeout.
	setFaults(map[string]any{"lost_answer_rate": 1.0})
	got := e.do(http.MethodGet, "/sandbox/faults", nil, nil).json(t)
	require.EqualValues(t, 1, got["lost_answer_rate"])
	a := e.post(enroll("ada", demo, "verified", true))
	require.Equal(t, http.StatusGatewayTimeout, a.status)
	require.Equal(t, "verified", e.get("ada", demo).json(t)["mode"], "the write happened; reads are not affected")
	require.Equal(t, 1, e.snapshot("ada", demo).Enrollments[0].Writes)
	require.NotEmpty(t, e.token(sandbox.DevClientID, sandbox.DevClientSecret), "token requests are not writes")

	// drop: the connection closes without an answer.
	setFaults(map[string]any{"lost_answer_rate": 1.0, "lost_answer_mode": "drop"})
	allowed := map[string]any{"email": "future@example.com", "course_id": demo, "auto_enroll": true}
	_, err := e.rawDo(http.DefaultClient, http.MethodPost, "/api/enrollment/v1/enrollment_allowed/", staff, allowed)
	require.Error(t, err)
	require.Len(t, e.snapshot("future@example.com", demo).Allowed, 1)

	// hang: the answer never comes; the caller's timeout ends the wait.
	setFaults(map[string]any{"lost_answer_rate": 1.0, "lost_answer_mode": "hang"})
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err = e.rawDo(impatient, http.MethodPost, "/api/entitlements/v1/entitlements/", staff,
		map[string]any{"user": "ada", "course_uuid": sandbox.DemoCourseUUID, "mode": "verified", "order_number": "O-1"})
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, e.snapshot("ada", "").Entitlements, 1)
	status, err := e.rawDo(impatient, http.MethodGet, "/api/enrollment/v1/enrollment/ada,"+demo, apiKey, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "reads are answered")

	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"lost_answer_rate": 1.0, "lost_answer_mode": "later"}).status)
	require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"lost_answer_rate": -1}).status)

	// The usual reset clears it.
	setFaults(map[string]any{})
	got = e.do(http.MethodGet, "/sandbox/faults", nil, nil).json(t)
	require.EqualValues(t, 0, got["lost_answer_rate"])
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/api/enrollment/v1/enrollment_allowed/", staff, allowed).status)
	require.Equal(t, 3, e.lms.Stats().InjectedFaults)
}

func TestListingsIgnoreUnknownFilters(t *testing.T) {
	e := newEnv(t, sandbox.Options{Clients: []sandbox.OAuthClient{{ID: "learner", Secret: "s", Username: "grace"}}})
	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	learner := map[string]string{"Authorization": "JWT " + e.token("learner", "s")}
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", true)).status)
	time.Sleep(2 * time.Millisecond) // distinct creation times: the listing is newest first
	require.Equal(t, http.StatusOK, e.post(enroll("grace", demo, "audit", true)).status)
	users := func(path string, header map[string]string) []string {
		t.Helper()
		a := e.do(http.MethodGet, path, header, nil)
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		var out []string
		for _, r := range a.json(t)["results"].([]any) {
			out = append(out, r.(map[string]any)["user"].(string))
		}
		return out
	}
	listing := "/api/enrollment/v1/enrollments?course_id=" + url.QueryEscape(demo)
	require.Equal(t, []string{"grace", "ada"}, users(listing+"&foo=bar", staff), "newest first; unknown parameters ignored")
	require.Equal(t, []string{"ada"}, users(listing+"&email=ADA@example.com", staff))

	for _, order := range []string{"O-1", "O-2"} {
		a := e.do(http.MethodPost, "/api/entitlements/v1/entitlements/", staff,
			map[string]any{"user": "ada", "course_uuid": sandbox.DemoCourseUUID, "mode": "verified", "order_number": order})
		require.Equal(t, http.StatusCreated, a.status, string(a.body))
	}
	const ents = "/api/entitlements/v1/entitlements/"
	all := e.do(http.MethodGet, ents+"?user=ada&course_uuid="+sandbox.CreditCourseUUID, staff, nil).json(t)
	require.EqualValues(t, 2, all["count"], "course_uuid is not a filter the LMS knows")
	first := all["results"].([]any)[0].(map[string]any)["uuid"].(string)
	require.EqualValues(t, 1, e.do(http.MethodGet, ents+"?uuid="+first, staff, nil).json(t)["count"])
	require.EqualValues(t, 2, e.do(http.MethodGet, ents, staff, nil).json(t)["count"], "staff without a filter see every entitlement")
	require.EqualValues(t, 0, e.do(http.MethodGet, ents+"?user=ada", learner, nil).json(t)["count"], "others see only their own")
}

func TestOldReleaseIgnoresTheEmailFilter(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	require.Equal(t, http.StatusOK, e.post(enroll("grace", demo, "audit", true)).status)
	a := e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{"ignore_email_filter": true})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, true, e.do(http.MethodGet, "/sandbox/faults", nil, nil).json(t)["ignore_email_filter"])

	list := e.do(http.MethodGet, "/api/enrollment/v1/enrollments?email=ada@example.com&course_id="+url.QueryEscape(demo), staff, nil).json(t)
	rows := list["results"].([]any)
	require.Len(t, rows, 1)
	require.Equal(t, "grace", rows[0].(map[string]any)["user"], "another learner's row")

	// A POST without user enrolls the caller, whatever the email says.
	byEmail := map[string]any{"email": "ada@example.com", "mode": "audit", "is_active": true, "course_details": map[string]any{"course_id": demo}}
	a = e.do(http.MethodPost, "/api/enrollment/v1/enrollment", staff, byEmail)
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	require.Equal(t, sandbox.ServiceUsername, a.json(t)["user"])
	require.Empty(t, e.snapshot("ada", demo).Enrollments)

	require.Equal(t, http.StatusOK, e.do(http.MethodPost, "/sandbox/faults", nil, map[string]any{}).status)
	a = e.do(http.MethodPost, "/api/enrollment/v1/enrollment", staff, byEmail)
	require.Equal(t, "ada", a.json(t)["user"], "Quince and later honour the email")
}

func TestEntitlementUUIDsAreCanonical(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	staff := map[string]string{"Authorization": "JWT " + e.token(sandbox.DevClientID, sandbox.DevClientSecret)}
	require.Equal(t, http.StatusOK, e.post(enroll("ada", demo, "audit", true)).status)
	const ents = "/api/entitlements/v1/entitlements/"
	for i, form := range []string{
		"{" + strings.ToUpper(sandbox.DemoCourseUUID) + "}",
		"urn:uuid:" + strings.ReplaceAll(sandbox.DemoCourseUUID, "-", ""),
	} {
		a := e.do(http.MethodPost, ents, staff, map[string]any{"user": "ada", "course_uuid": form, "mode": "verified", "order_number": "O-" + string(rune('1'+i))})
		require.Equal(t, http.StatusCreated, a.status, string(a.body))
		m := a.json(t)
		require.Equal(t, sandbox.DemoCourseUUID, m["course_uuid"], "answered canonical")
		if i == 0 {
			require.Equal(t, demo, m["enrollment_course_run"], "the catalog course is found by its canonical UUID")
		}
		upper := strings.ToUpper(m["uuid"].(string))
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, ents+upper+"/", staff, nil).status, "looked up in any form")
		require.EqualValues(t, 1, e.do(http.MethodGet, ents+"?uuid="+upper, staff, nil).json(t)["count"])
	}
	for _, v := range e.snapshot("ada", "").Entitlements {
		require.Equal(t, sandbox.DemoCourseUUID, v.CourseUUID, "stored canonical")
	}
	a := e.do(http.MethodPost, ents, staff, map[string]any{"user": "ada", "course_uuid": "4b5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6", "mode": "verified"})
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Equal(t, []any{"Must be a valid UUID."}, a.json(t)["course_uuid"])
	require.Error(t, e.lms.AddCourse(sandbox.Course{CourseID: "course-v1:Org+U+1", CourseUUID: "nope", Modes: []sandbox.Mode{{Slug: "audit"}}}))
}
