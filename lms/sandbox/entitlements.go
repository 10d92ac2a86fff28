package sandbox

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// entitlementModes are the modes an entitlement may have.
var entitlementModes = map[string]bool{"verified": true, "professional": true, "no-id-professional": true,
	"credit": true, "masters": true, "executive-education": true, "audit": true, "honor": true}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (l *LMS) entitlementJSON(e *entitlement) map[string]any {
	var run any
	if e.EnrollmentCourseRun != "" {
		run = e.EnrollmentCourseRun
	}
	return map[string]any{
		"uuid": e.UUID, "user": e.User, "course_uuid": e.CourseUUID, "mode": e.Mode,
		"expired_at": timeJSON(e.ExpiredAt), "created": e.Created.UTC().Format(time.RFC3339Nano),
		"modified": e.Modified.UTC().Format(time.RFC3339Nano), "refund_locked": false,
		"order_number": e.OrderNumber, "support_details": []any{}, "enrollment_course_run": run,
	}
}

// entitlementsAuth applies the entitlement views' authentication: JWT only
// (the API key is not accepted here), staff for anything but reading one's own.
func (l *LMS) entitlementsAuth(w http.ResponseWriter, r *http.Request, write bool) (caller, bool) {
	c, ok := l.authenticate(w, r)
	if !ok {
		return c, false
	}
	if !c.jwt {
		l.unauthorized(w, "Authentication credentials were not provided.")
		return c, false
	}
	if write && !c.staff {
		writeJSON(w, http.StatusForbidden, map[string]any{"detail": "You do not have permission to perform this action."})
		return c, false
	}
	return c, true
}

// handleEntitlementList is GET /api/entitlements/v1/entitlements/: staff see
// every entitlement, others their own; the only filters are user (a
// username) and uuid (a comma-separated list). Other parameters, course_uuid
// among them, are ignored, as by the LMS.
func (l *LMS) handleEntitlementList(w http.ResponseWriter, r *http.Request) {
	c, ok := l.entitlementsAuth(w, r, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	user := q.Get("user")
	uuids := splitList(q.Get("uuid"))
	l.mu.Lock()
	var all []any
	for _, e := range l.sortedEntitlements() {
		switch {
		case !c.staff && e.User != c.username, user != "" && e.User != user, len(uuids) > 0 && !contains(uuids, e.UUID):
			continue
		}
		all = append(all, l.entitlementJSON(e))
	}
	l.mu.Unlock()
	page, next, prev := paginate(r, all, 50)
	if page == nil {
		page = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(all), "next": next, "previous": prev, "results": page})
}

// handleEntitlementGet is GET /api/entitlements/v1/entitlements/{uuid}/.
func (l *LMS) handleEntitlementGet(w http.ResponseWriter, r *http.Request) {
	c, ok := l.entitlementsAuth(w, r, false)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entitle[r.PathValue("uuid")]
	if e == nil || (!c.staff && e.User != c.username) {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	writeJSON(w, http.StatusOK, l.entitlementJSON(e))
}

// handleEntitlementCreate is POST /api/entitlements/v1/entitlements/. Like
// the LMS, it upgrades the learner's one active enrollment in a run of the
// course, if there is exactly one, and ties the entitlement to it.
func (l *LMS) handleEntitlementCreate(w http.ResponseWriter, r *http.Request) {
	if _, ok := l.entitlementsAuth(w, r, true); !ok {
		return
	}
	data, ok := readJSONObject(w, r)
	if !ok {
		return
	}
	user, courseUUID, mode, order := str(data["user"]), str(data["course_uuid"]), str(data["mode"]), str(data["order_number"])
	l.mu.Lock()
	defer l.mu.Unlock()
	fieldErrs := map[string]any{}
	switch {
	case user == "":
		fieldErrs["user"] = []string{"This field is required."}
	case l.users[user].Username == "":
		if _, ok := l.userLocked(user); !ok {
			fieldErrs["user"] = []string{fmt.Sprintf("Object with username=%s does not exist.", user)}
		}
	}
	switch {
	case courseUUID == "":
		fieldErrs["course_uuid"] = []string{"This field is required."}
	case !uuidPattern.MatchString(courseUUID):
		fieldErrs["course_uuid"] = []string{"Must be a valid UUID."}
	}
	switch {
	case mode == "":
		fieldErrs["mode"] = []string{"This field is required."}
	case !entitlementModes[mode]:
		fieldErrs["mode"] = []string{fmt.Sprintf("\"%s\" is not a valid choice.", mode)}
	}
	if len(fieldErrs) > 0 {
		writeJSON(w, http.StatusBadRequest, fieldErrs)
		return
	}
	now := l.now()
	e := &entitlement{UUID: newUUID(), User: user, CourseUUID: courseUUID, Mode: mode, OrderNumber: order, Created: now, Modified: now}
	var upgradeable []*enrollment
	for _, id := range l.courseOrder {
		c := l.courses[id]
		if c.CourseUUID != courseUUID {
			continue
		}
		if en := l.enrollments[enrollmentKey{user, id}]; en != nil && en.IsActive {
			upgradeable = append(upgradeable, en)
		}
	}
	if len(upgradeable) == 1 {
		en := upgradeable[0]
		if en.Mode != mode {
			en.Mode = mode
			en.Writes++
		}
		e.EnrollmentCourseRun = en.CourseID
	}
	l.entitle[e.UUID] = e
	l.changed()
	writeJSON(w, http.StatusCreated, l.entitlementJSON(e))
}

// handleEntitlementDelete is DELETE /api/entitlements/v1/entitlements/{uuid}/:
// revoke (expire) the entitlement and unenroll the learner from its run.
func (l *LMS) handleEntitlementDelete(w http.ResponseWriter, r *http.Request) {
	if _, ok := l.entitlementsAuth(w, r, true); !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entitle[r.PathValue("uuid")]
	if e == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	now := l.now()
	if e.ExpiredAt == nil {
		e.ExpiredAt = &now
		e.Modified = now
	}
	if e.EnrollmentCourseRun != "" {
		if en := l.enrollments[enrollmentKey{e.User, e.EnrollmentCourseRun}]; en != nil && en.IsActive {
			en.IsActive = false
			en.Writes++
		}
	}
	l.changed()
	w.WriteHeader(http.StatusNoContent)
}
