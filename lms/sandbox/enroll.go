package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// defaultMode is the LMS's CourseMode.DEFAULT_MODE_SLUG.
const defaultMode = "audit"

// embargoMessageURL is where the LMS sends embargoed learners.
const embargoMessageURL = "/embargo/blocked-message/enrollment/default/"

// validateModeLocked is the LMS's validate_course_mode: deactivations and
// API-key updates may use expired modes. It writes the 400 and returns false
// when the course or mode is unavailable.
func (l *LMS) validateModeLocked(w http.ResponseWriter, courseID, mode string, isActive *bool, includeExpired bool) bool {
	c := l.courses[courseID]
	if c == nil {
		message(w, http.StatusBadRequest, "No course '%s' found for enrollment", courseID)
		return false
	}
	if !includeExpired && isActive != nil {
		includeExpired = !*isActive
	}
	now := l.now()
	for _, m := range c.Modes {
		if m.Slug == mode && (includeExpired || !modeExpired(m, now)) {
			return true
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"message":        fmt.Sprintf("The [%s] course mode is expired or otherwise unavailable for course run [%s].", mode, courseID),
		"course_details": l.courseJSON(c, true),
	})
	return false
}

// enrollmentClosedLocked is CourseEnrollment.is_enrollment_closed.
func (l *LMS) enrollmentClosedLocked(c *Course, u User) bool {
	now := l.now()
	if c.EnrollmentStart != nil && now.Before(*c.EnrollmentStart) {
		return true
	}
	if c.EnrollmentEnd != nil && now.After(*c.EnrollmentEnd) {
		return true
	}
	if c.InviteOnly {
		_, invited := l.allowed[allowedKey{normEmail(u.Email), c.CourseID}]
		return !invited
	}
	return false
}

func (l *LMS) courseFullLocked(c *Course) bool {
	if c.MaxEnrollments == nil {
		return false
	}
	n := 0
	for k, e := range l.enrollments {
		if k.course == c.CourseID && e.IsActive {
			n++
		}
	}
	return n >= *c.MaxEnrollments
}

func parseAttributes(v any) ([]Attribute, string) {
	if v == nil {
		return nil, ""
	}
	list, ok := v.([]any)
	if !ok {
		return nil, "enrollment_attributes must be a list"
	}
	var attrs []Attribute
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, "'namespace' not in enrollment attribute"
		}
		for _, k := range []string{"namespace", "name", "value"} {
			if _, ok := m[k]; !ok {
				return nil, fmt.Sprintf("'%s' not in enrollment attribute", k)
			}
		}
		attrs = append(attrs, Attribute{Namespace: str(m["namespace"]), Name: str(m["name"]), Value: str(m["value"])})
	}
	return attrs, ""
}

func (e *enrollment) setAttributes(attrs []Attribute) {
	for _, a := range attrs {
		replaced := false
		for i, old := range e.Attributes {
			if old.Namespace == a.Namespace && old.Name == a.Name {
				e.Attributes[i], replaced = a, true
			}
		}
		if !replaced {
			e.Attributes = append(e.Attributes, a)
		}
	}
}

// requiredAttributes are the attributes a mode needs (the LMS's
// REQUIRED_ATTRIBUTES).
var requiredAttributes = map[string][]string{"credit": {"credit:provider_id"}}

// handleEnrollmentPost is POST /api/enrollment/v1/enrollment: enroll, change
// mode, unenroll, following the LMS view's checks in their order.
func (l *LMS) handleEnrollmentPost(w http.ResponseWriter, r *http.Request) {
	c, ok := l.authenticate(w, r)
	if !ok || !l.requireAuthenticated(w, c) || l.throttled(w, c) {
		return
	}
	data, ok := readJSONObject(w, r)
	if !ok {
		return
	}
	username := str(data["user"])
	var courseID string
	if cd, ok := data["course_details"].(map[string]any); ok {
		courseID = str(cd["course_id"])
	}
	if courseID == "" {
		message(w, http.StatusBadRequest, "Course ID must be specified to create a new enrollment.")
		return
	}
	if !courseRunKey.MatchString(courseID) {
		message(w, http.StatusBadRequest, "No course '%s' found for enrollment", courseID)
		return
	}
	var mode *string
	if v, present := data["mode"]; present && v != nil {
		s := str(v)
		mode = &s
	}
	privileged := c.apiKey || c.staff
	if username != "" && username != c.username && !privileged {
		notFound(w)
		return
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if username == "" {
		// Before Quince the LMS knows no email here: the caller's own
		// username stands in.
		if email := str(data["email"]); email != "" && !l.faults.IgnoreEmailFilter {
			if !privileged {
				notFound(w)
				return
			}
			u, ok := l.userByEmailLocked(email)
			if !ok {
				message(w, http.StatusNotAcceptable, "The user with the email address %s does not exist.", email)
				return
			}
			username = u.Username
		} else {
			username = c.username
		}
	}
	if mode != nil && *mode != "audit" && *mode != "honor" && !privileged {
		message(w, http.StatusForbidden, "User does not have permission to create enrollment with mode [%s].", *mode)
		return
	}
	user, ok := l.userLocked(username)
	if !ok {
		message(w, http.StatusNotAcceptable, "The user %s does not exist.", username)
		return
	}
	course := l.courses[courseID]
	if course != nil && course.Embargoed {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"message":          fmt.Sprintf("Users from this location cannot access the course '%s'.", courseID),
			"user_message_url": embargoMessageURL,
		})
		return
	}
	isActive, ok := optBool(data["is_active"])
	if !ok {
		message(w, http.StatusBadRequest, "'%s' is an invalid enrollment activation status.", str(data["is_active"]))
		return
	}
	force, ok := optBool(data["force_enrollment"])
	if !ok {
		message(w, http.StatusBadRequest, "'%s' is an invalid force enrollment status.", str(data["force_enrollment"]))
		return
	}
	forced := force != nil && *force && c.staff // honoured for global staff only
	attrs, bad := parseAttributes(data["enrollment_attributes"])
	if bad != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": bad, "localizedMessage": bad})
		return
	}

	key := enrollmentKey{user.Username, courseID}
	e := l.enrollments[key]
	modeChanged := e != nil && mode != nil && e.Mode != *mode
	activeChanged := e != nil && isActive != nil && e.IsActive != *isActive
	var missing []string
	if len(attrs) > 0 && mode != nil {
		have := map[string]bool{}
		for _, a := range attrs {
			have[a.Namespace+":"+a.Name] = true
		}
		for _, req := range requiredAttributes[*mode] {
			if !have[req] {
				missing = append(missing, req)
			}
		}
	}

	if privileged && (modeChanged || activeChanged) {
		// The update path: no enrollment-window or capacity checks and no
		// downgrade guard.
		if modeChanged && activeChanged && !*isActive {
			message(w, http.StatusBadRequest, "Enrollment mode mismatch: active mode=%s, requested mode=%s. Won't deactivate.", e.Mode, *mode)
			return
		}
		if len(missing) > 0 {
			message(w, http.StatusBadRequest, "Missing enrollment attributes: requested mode=%s required attributes=%s", *mode, pyList(requiredAttributes[*mode]))
			return
		}
		if mode != nil && !l.validateModeLocked(w, courseID, *mode, isActive, c.apiKey) {
			return
		}
		if mode != nil {
			e.Mode = *mode
		}
		if isActive != nil {
			e.IsActive = *isActive
		}
		e.Writes++
		e.setAttributes(attrs)
		l.changed(putEnrollment(e))
		writeJSON(w, http.StatusOK, l.enrollmentJSON(e))
		return
	}

	// The add path: course exists, enrollment open, not full, already
	// enrolled, in that order.
	want := defaultMode
	if mode != nil {
		want = *mode
	}
	includeExpired := forced
	if !l.validateModeLocked(w, courseID, want, isActive, includeExpired) {
		return
	}
	generic := func() {
		message(w, http.StatusBadRequest, "An error occurred while creating the new course enrollment for user '%s' in course '%s'", user.Username, courseID)
	}
	if !forced && l.enrollmentClosedLocked(course, user) {
		generic()
		return
	}
	if l.courseFullLocked(course) {
		generic()
		return
	}
	if e != nil && e.IsActive {
		writeJSON(w, http.StatusOK, l.enrollmentJSON(e))
		return
	}
	if e == nil {
		e = &enrollment{User: user.Username, CourseID: courseID, Created: l.now()}
		l.enrollments[key] = e
	}
	e.Mode, e.IsActive = want, true
	e.Writes++
	if isActive != nil && !*isActive {
		e.IsActive = false
		e.Writes++
	}
	e.setAttributes(attrs)
	l.changed(putEnrollment(e))
	writeJSON(w, http.StatusOK, l.enrollmentJSON(e))
}

func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
