package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// EnrollmentView is one enrollment in the admin listing.
type EnrollmentView struct {
	User     string `json:"user"`
	CourseID string `json:"course_id"`
	Mode     string `json:"mode"`
	IsActive bool   `json:"is_active"`
	// Writes counts state-changing writes: create, reactivate, mode change
	// and deactivate events (the LMS's create-then-deactivate counts two).
	Writes     int         `json:"writes"`
	Created    time.Time   `json:"created"`
	Attributes []Attribute `json:"attributes"`
}

// AllowedView is one pre-enrollment in the admin listing.
type AllowedView struct {
	Email      string `json:"email"`
	CourseID   string `json:"course_id"`
	AutoEnroll bool   `json:"auto_enroll"`
}

// EntitlementView is one entitlement in the admin listing.
type EntitlementView struct {
	UUID                string     `json:"uuid"`
	User                string     `json:"user"`
	CourseUUID          string     `json:"course_uuid"`
	Mode                string     `json:"mode"`
	OrderNumber         string     `json:"order_number"`
	ExpiredAt           *time.Time `json:"expired_at"`
	EnrollmentCourseRun string     `json:"enrollment_course_run,omitempty"`
}

// Snapshot is the answer of GET /sandbox/enrollments.
type Snapshot struct {
	Enrollments  []EnrollmentView  `json:"enrollments"`
	Allowed      []AllowedView     `json:"allowed"`
	Entitlements []EntitlementView `json:"entitlements"`
}

// Snapshot returns the sandbox's state, filtered by user (username, or
// email for pre-enrollments) and course id when they are not empty.
func (l *LMS) Snapshot(user, courseID string) Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Snapshot{Enrollments: []EnrollmentView{}, Allowed: []AllowedView{}, Entitlements: []EntitlementView{}}
	for _, e := range l.sortedEnrollments() {
		if (user == "" || e.User == user) && (courseID == "" || e.CourseID == courseID) {
			attrs := append([]Attribute{}, e.Attributes...)
			s.Enrollments = append(s.Enrollments, EnrollmentView{User: e.User, CourseID: e.CourseID, Mode: e.Mode,
				IsActive: e.IsActive, Writes: e.Writes, Created: e.Created, Attributes: attrs})
		}
	}
	for _, a := range l.sortedAllowed() {
		if (user == "" || normEmail(a.Email) == normEmail(user)) && (courseID == "" || a.CourseID == courseID) {
			s.Allowed = append(s.Allowed, AllowedView{Email: a.Email, CourseID: a.CourseID, AutoEnroll: a.AutoEnroll})
		}
	}
	for _, e := range l.sortedEntitlements() {
		if user == "" || e.User == user {
			s.Entitlements = append(s.Entitlements, EntitlementView{UUID: e.UUID, User: e.User, CourseUUID: e.CourseUUID,
				Mode: e.Mode, OrderNumber: e.OrderNumber, ExpiredAt: e.ExpiredAt, EnrollmentCourseRun: e.EnrollmentCourseRun})
		}
	}
	return s
}

// AddCourse adds or replaces a catalog course at run time.
func (l *LMS) AddCourse(c Course) error {
	if err := c.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.putCourse(c)
	l.addedCourse[c.CourseID] = true
	l.changed(putCourse(l.courses[c.CourseID]))
	return nil
}

// AddUser adds or replaces a learner at run time (their auto_enroll
// pre-enrollments become enrollments, as on registration).
func (l *LMS) AddUser(u User) error {
	if err := u.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.registerLocked(u)
	return nil
}

// RemoveUser deletes a learner's account, as when a learner leaves (their
// account is retired): the LMS then answers calls naming them "The user …
// does not exist.". Their enrollments stay. It reports whether the user
// existed.
func (l *LMS) RemoveUser(username string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.users[username]
	if !ok {
		return false
	}
	delete(l.users, username)
	if l.byEmail[normEmail(u.Email)] == username {
		delete(l.byEmail, normEmail(u.Email))
	}
	l.changed()
	return true
}

// Reset forgets every enrollment, pre-enrollment and entitlement.
func (l *LMS) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enrollments = map[enrollmentKey]*enrollment{}
	l.allowed = map[allowedKey]*allowance{}
	l.entitle = map[string]*entitlement{}
	l.changed(reset())
}

func (l *LMS) adminRoutes(root *http.ServeMux) {
	mux := adminMux{root: root, guard: l.adminOnly}
	mux.HandleFunc("GET /sandbox/enrollments", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, l.Snapshot(q.Get("user"), q.Get("course_id")))
	})
	mux.HandleFunc("GET /sandbox/courses", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		out := make([]Course, 0, len(l.courseOrder))
		for _, id := range l.courseOrder {
			out = append(out, *l.courses[id])
		}
		l.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /sandbox/courses", func(w http.ResponseWriter, r *http.Request) {
		var c Course
		if !decodeAdmin(w, r, &c) {
			return
		}
		if err := l.AddCourse(c); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
	mux.HandleFunc("GET /sandbox/users", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		out := make([]User, 0, len(l.users))
		for _, u := range l.users {
			out = append(out, u)
		}
		l.mu.Unlock()
		sortUsers(out)
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /sandbox/users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if !decodeAdmin(w, r, &u) {
			return
		}
		if err := l.AddUser(u); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, u)
	})
	mux.HandleFunc("DELETE /sandbox/users/{username}", func(w http.ResponseWriter, r *http.Request) {
		if !l.RemoveUser(r.PathValue("username")) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such user"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		j := l.faultsJSON()
		l.mu.Unlock()
		writeJSON(w, http.StatusOK, j)
	})
	mux.HandleFunc("POST /sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var j faultsJSON
		if !decodeAdmin(w, r, &j) {
			return
		}
		if err := l.SetFaults(j.faults()); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		l.log.Info("sandbox faults set", zap.Int64("latency_ms", j.LatencyMS), zap.Float64("error_rate", j.ErrorRate),
			zap.Int("error_status", j.ErrorStatus), zap.Float64("outage_seconds", j.OutageSeconds),
			zap.Float64("lost_answer_rate", j.LostAnswerRate), zap.String("lost_answer_mode", j.LostAnswerMode),
			zap.Bool("ignore_email_filter", j.IgnoreEmailFilter))
		l.mu.Lock()
		cur := l.faultsJSON()
		l.mu.Unlock()
		writeJSON(w, http.StatusOK, cur)
	})
	mux.HandleFunc("GET /sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, l.Stats())
	})
	mux.HandleFunc("POST /sandbox/reset", func(w http.ResponseWriter, r *http.Request) {
		l.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}

// adminMux registers admin handlers behind a guard.
type adminMux struct {
	root  *http.ServeMux
	guard func(http.HandlerFunc) http.HandlerFunc
}

// HandleFunc registers h, guarded, for pattern.
func (m adminMux) HandleFunc(pattern string, h http.HandlerFunc) {
	m.root.HandleFunc(pattern, m.guard(h))
}

// decodeAdmin decodes an admin request body strictly (unknown fields are
// typos worth reporting); an empty body is the zero value.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "cannot read the body"})
		return false
	}
	if strings.TrimSpace(string(b)) == "" {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid JSON: " + err.Error()})
		return false
	}
	return true
}

func sortUsers(us []User) {
	sort.Slice(us, func(i, j int) bool { return us[i].Username < us[j].Username })
}

// routes builds the handler: LMS paths behind fault injection, the admin
// API beside them.
func (l *LMS) routes() http.Handler {
	lms := http.NewServeMux()
	lms.HandleFunc("POST "+tokenPath, l.handleToken)
	lms.HandleFunc("POST /api/enrollment/v1/enrollment", l.handleEnrollmentPost)
	lms.HandleFunc("GET /api/enrollment/v1/enrollment", l.handleEnrollmentList)
	lms.HandleFunc("GET /api/enrollment/v1/enrollment/{key...}", l.handleEnrollmentGet)
	lms.HandleFunc("GET /api/enrollment/v1/enrollments", l.handleEnrollmentsAdmin)
	lms.HandleFunc("GET /api/enrollment/v1/course/{course...}", l.handleCourse)
	lms.HandleFunc("GET /api/enrollment/v1/enrollment_allowed/{$}", l.handleAllowedGet)
	lms.HandleFunc("POST /api/enrollment/v1/enrollment_allowed/{$}", l.handleAllowedPost)
	lms.HandleFunc("DELETE /api/enrollment/v1/enrollment_allowed/{$}", l.handleAllowedDelete)
	lms.HandleFunc("GET /api/entitlements/v1/entitlements/{$}", l.handleEntitlementList)
	lms.HandleFunc("POST /api/entitlements/v1/entitlements/{$}", l.handleEntitlementCreate)
	lms.HandleFunc("GET /api/entitlements/v1/entitlements/{uuid}/{$}", l.handleEntitlementGet)
	lms.HandleFunc("DELETE /api/entitlements/v1/entitlements/{uuid}/{$}", l.handleEntitlementDelete)

	root := http.NewServeMux()
	l.adminRoutes(root)
	root.Handle("/", l.logged(l.withFaults(lms)))
	return root
}

// logged logs LMS requests at debug level: method, route pattern and
// status, never the path's values, headers, bodies or query strings (they
// carry usernames, secrets and emails).
func (l *LMS) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		l.log.Debug("sandbox lms request", zap.String("method", r.Method), zap.String("route", r.Pattern),
			zap.Int("status", rec.status), zap.Duration("duration", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to hijack it).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
