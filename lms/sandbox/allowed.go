package sandbox

import (
	"net/http"
)

// handleAllowedGet is GET /api/enrollment/v1/enrollment_allowed/?email=.
func (l *LMS) handleAllowedGet(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireStaff(w, c) || l.throttled(w, c) {
		return
	}
	email := normEmail(r.URL.Query().Get("email"))
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []any{}
	for _, a := range l.sortedAllowed() {
		if normEmail(a.Email) == email {
			out = append(out, map[string]any{"email": a.Email, "course_id": a.CourseID, "auto_enroll": a.AutoEnroll})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// allowedRequest reads the email and course_id of an enrollment_allowed
// POST or DELETE, answering 400 when one is missing.
func allowedRequest(w http.ResponseWriter, r *http.Request) (email, courseID string, data map[string]any, ok bool) {
	data, ok = readJSONObject(w, r)
	if !ok {
		return "", "", nil, false
	}
	email, courseID = str(data["email"]), str(data["course_id"])
	if email == "" || courseID == "" {
		message(w, http.StatusBadRequest, "Both email and course_id are required.")
		return "", "", nil, false
	}
	return email, courseID, data, true
}

// handleAllowedPost is POST /api/enrollment/v1/enrollment_allowed/.
func (l *LMS) handleAllowedPost(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireStaff(w, c) || l.throttled(w, c) {
		return
	}
	email, courseID, data, ok := allowedRequest(w, r)
	if !ok {
		return
	}
	auto, _ := optBool(data["auto_enroll"])
	l.mu.Lock()
	defer l.mu.Unlock()
	key := allowedKey{normEmail(email), courseID}
	if _, exists := l.allowed[key]; exists {
		message(w, http.StatusConflict, "An enrollment allowed with email %s and course %s already exists.", email, courseID)
		return
	}
	a := &allowance{Email: email, CourseID: courseID, AutoEnroll: auto != nil && *auto, Created: l.now()}
	l.allowed[key] = a
	l.changed(putAllowed(a))
	writeJSON(w, http.StatusCreated, map[string]any{"email": a.Email, "course_id": a.CourseID, "auto_enroll": a.AutoEnroll})
}

// handleAllowedDelete is DELETE /api/enrollment/v1/enrollment_allowed/.
func (l *LMS) handleAllowedDelete(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireStaff(w, c) || l.throttled(w, c) {
		return
	}
	email, courseID, _, ok := allowedRequest(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := allowedKey{normEmail(email), courseID}
	if _, exists := l.allowed[key]; !exists {
		message(w, http.StatusNotFound, "An enrollment allowed with email %s and course %s doesn't exists.", email, courseID)
		return
	}
	delete(l.allowed, key)
	l.changed(deleteAllowed(email, courseID))
	w.WriteHeader(http.StatusNoContent)
}
