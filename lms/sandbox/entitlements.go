package sandbox

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// canonicalUUID reads a UUID the way the LMS's UUID fields do (Python's
// uuid.UUID: "urn:" and "uuid:" dropped, braces trimmed, hyphens anywhere
// ignored, 32 hex digits of any case) and returns its canonical form,
// lowercase and hyphenated, which is what the LMS stores and answers.
func canonicalUUID(s string) (string, bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "urn:", ""), "uuid:", "")
	s = strings.ReplaceAll(strings.Trim(s, "{}"), "-", "")
	if len(s) != 32 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		return "", false
	}
	s = strings.ToLower(s)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], true
}

// entitlementLocked finds an entitlement by its uuid in any form.
func (l *LMS) entitlementLocked(uuid string) *entitlement {
	canon, ok := canonicalUUID(uuid)
	if !ok {
		return nil
	}
	return l.entitle[canon]
}

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
	var uuids []string
	for _, u := range splitList(q.Get("uuid")) {
		if canon, ok := canonicalUUID(u); ok {
			uuids = append(uuids, canon)
		}
	}
	l.mu.Lock()
	var all []any
	for _, e := range l.sortedEntitlements() {
		switch {
		case !c.staff && e.User != c.username, user != "" && e.User != user, q.Has("uuid") && !contains(uuids, e.UUID):
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
	e := l.entitlementLocked(r.PathValue("uuid"))
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
	default:
		canon, ok := canonicalUUID(courseUUID)
		if !ok {
			fieldErrs["course_uuid"] = []string{"Must be a valid UUID."}
		}
		courseUUID = canon
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
	recs := []record{putEntitlement(e)}
	if len(upgradeable) == 1 {
		en := upgradeable[0]
		if en.Mode != mode {
			en.Mode = mode
			en.Writes++
			recs = append(recs, putEnrollment(en))
		}
		e.EnrollmentCourseRun = en.CourseID
	}
	l.entitle[e.UUID] = e
	l.changed(recs...)
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
	e := l.entitlementLocked(r.PathValue("uuid"))
	if e == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	now := l.now()
	if e.ExpiredAt == nil {
		e.ExpiredAt = &now
		e.Modified = now
	}
	recs := []record{putEntitlement(e)}
	if e.EnrollmentCourseRun != "" {
		if en := l.enrollments[enrollmentKey{e.User, e.EnrollmentCourseRun}]; en != nil && en.IsActive {
			en.IsActive = false
			en.Writes++
			recs = append(recs, putEnrollment(en))
		}
	}
	l.changed(recs...)
	w.WriteHeader(http.StatusNoContent)
}
