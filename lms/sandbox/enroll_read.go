package sandbox

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// handleEnrollmentGet is GET /api/enrollment/v1/enrollment/{username},{course_id}:
// the enrollment, or 200 with an empty body when there is none.
func (l *LMS) handleEnrollmentGet(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireAuthenticated(w, c) || l.throttled(w, c) {
		return
	}
	username, courseID, found := strings.Cut(r.PathValue("key"), ",")
	if !found || username == "" || courseID == "" {
		http.NotFound(w, r)
		return
	}
	if username != c.username && !c.apiKey && !c.staff {
		notFound(w)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.enrollments[enrollmentKey{username, courseID}]
	if e == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, l.enrollmentJSON(e))
}

// handleEnrollmentList is GET /api/enrollment/v1/enrollment: the active
// enrollments of the caller, or of ?user= for privileged callers.
func (l *LMS) handleEnrollmentList(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireAuthenticated(w, c) || l.throttled(w, c) {
		return
	}
	username := r.URL.Query().Get("user")
	if username == "" {
		username = c.username
	}
	if username != c.username && !c.apiKey && !c.staff {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []any{}
	for _, e := range l.sortedEnrollments() {
		if e.User == username && e.IsActive {
			out = append(out, l.enrollmentJSON(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCourse is GET /api/enrollment/v1/course/{course_id} (no auth).
func (l *LMS) handleCourse(w http.ResponseWriter, r *http.Request) {
	courseID := r.PathValue("course")
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.courses[courseID]
	if c == nil {
		message(w, http.StatusBadRequest, "No course found for course ID '%s'", courseID)
		return
	}
	writeJSON(w, http.StatusOK, l.courseJSON(c, r.URL.Query().Get("include_expired") != ""))
}

// handleEnrollmentsAdmin is GET /api/enrollment/v1/enrollments: the staff
// listing of every enrollment (active or not), newest first, filtered by
// course_id, username and email (other parameters are ignored, like every
// filter the LMS does not know; an LMS older than Quince ignores email too)
// and paginated.
func (l *LMS) handleEnrollmentsAdmin(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireStaff(w, c) || l.throttled(w, c) {
		return
	}
	q := r.URL.Query()
	courseID := q.Get("course_id")
	usernames := splitList(q.Get("username"))
	emails := splitList(q.Get("email"))
	for i := range emails {
		emails[i] = normEmail(emails[i])
	}
	l.mu.Lock()
	if l.faults.IgnoreEmailFilter {
		emails = nil
	}
	var rows []*enrollment
	for _, e := range l.sortedEnrollments() {
		if courseID != "" && e.CourseID != courseID {
			continue
		}
		if len(usernames) > 0 && !contains(usernames, e.User) {
			continue
		}
		if len(emails) > 0 {
			u := l.users[e.User]
			if !contains(emails, normEmail(u.Email)) {
				continue
			}
		}
		rows = append(rows, e)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.After(rows[j].Created) })
	results := make([]any, 0, len(rows))
	for _, e := range rows {
		results = append(results, map[string]any{"created": e.Created.UTC().Format(time.RFC3339Nano), "mode": e.Mode,
			"is_active": e.IsActive, "user": e.User, "course_id": e.CourseID})
	}
	l.mu.Unlock()
	page, next, prev := paginate(r, results, 100)
	writeJSON(w, http.StatusOK, map[string]any{"next": next, "previous": prev, "results": page})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
