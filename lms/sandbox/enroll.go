package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// defaultMode is the LMS's CourseMode.DEFAULT_MODE_SLUG.
const defaultMode = "audit"

// embargoMessageURL is where the LMS sends embargoed learners.
const embargoMessageURL = "/embargo/blocked-message/enrollment/default/"

const maxRequestBody = 1 << 20

func timeJSON(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// modeJSON is a course mode as the LMS serializes it.
func modeJSON(m Mode) map[string]any {
	name := m.Name
	if name == "" {
		name = strings.ToUpper(m.Slug[:1]) + m.Slug[1:]
	}
	currency := m.Currency
	if currency == "" {
		currency = "usd"
	}
	var sku any
	if m.SKU != "" {
		sku = m.SKU
	}
	return map[string]any{
		"slug": m.Slug, "name": name, "min_price": m.MinPrice, "suggested_prices": "",
		"currency": currency, "expiration_datetime": timeJSON(m.Expiration),
		"description": nil, "sku": sku, "bulk_sku": nil,
	}
}

// modeExpired reports whether the mode's sale has ended.
func modeExpired(m Mode, now time.Time) bool { return m.Expiration != nil && now.After(*m.Expiration) }

// courseJSON is the course details as the LMS serializes them; expired modes
// are left out unless includeExpired.
func (l *LMS) courseJSON(c *Course, includeExpired bool) map[string]any {
	now := l.now()
	modes := []any{}
	for _, m := range c.Modes {
		if includeExpired || !modeExpired(m, now) {
			modes = append(modes, modeJSON(m))
		}
	}
	name := c.Name
	if name == "" {
		name = c.CourseID
	}
	return map[string]any{
		"course_id": c.CourseID, "course_name": name,
		"enrollment_start": timeJSON(c.EnrollmentStart), "enrollment_end": timeJSON(c.EnrollmentEnd),
		"course_start": "2020-01-01T00:00:00Z", "course_end": nil,
		"invite_only": c.InviteOnly, "pacing_type": "Self Paced", "course_modes": modes,
	}
}

// enrollmentJSON is an enrollment as the LMS serializes it.
func (l *LMS) enrollmentJSON(e *enrollment) map[string]any {
	out := map[string]any{
		"created": e.Created.UTC().Format(time.RFC3339Nano), "mode": e.Mode,
		"is_active": e.IsActive, "user": e.User,
	}
	if c := l.courses[e.CourseID]; c != nil {
		out["course_details"] = l.courseJSON(c, false)
	} else {
		out["course_details"] = nil
	}
	return out
}

func message(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"message": fmt.Sprintf(format, args...)})
}

// notFound is the LMS's bare 404 (no body) that hides other users' data.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
}

// readJSONObject reads a JSON object body, answering DRF's 400 otherwise.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Could not read the request body."})
		return nil, false
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return map[string]any{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "JSON parse error - " + err.Error()})
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"non_field_errors": []string{"Invalid data. Expected a dictionary."}})
		return nil, false
	}
	return m, true
}

// str renders a JSON value the way Python's str() would, roughly.
func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return t.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// optBool reads an optional JSON boolean: present reports a non-null value,
// ok reports that it is a real boolean.
func optBool(v any) (value *bool, ok bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case bool:
		return &t, true
	}
	return nil, false
}

// userLocked finds a user, registering it when AutoRegister is on.
func (l *LMS) userLocked(username string) (User, bool) {
	if u, ok := l.users[username]; ok {
		return u, true
	}
	if !l.opts.AutoRegister || !usernamePattern.MatchString(username) {
		return User{}, false
	}
	u := User{Username: username, Email: username + "@example.invalid"}
	l.registerLocked(u)
	return u, true
}

var notUsernameChars = regexp.MustCompile(`[^A-Za-z0-9_.+-]`)

// userByEmailLocked finds a user by email, registering one when
// AutoRegister is on.
func (l *LMS) userByEmailLocked(email string) (User, bool) {
	if name, ok := l.byEmail[normEmail(email)]; ok {
		return l.users[name], true
	}
	if !l.opts.AutoRegister || !strings.Contains(email, "@") {
		return User{}, false
	}
	local, _, _ := strings.Cut(email, "@")
	base := notUsernameChars.ReplaceAllString(local, "_")
	if len(base) < 2 {
		base += "_learner"
	}
	name := base
	for i := 2; l.users[name].Username != ""; i++ {
		name = base + strconv.Itoa(i)
	}
	u := User{Username: name, Email: email}
	l.registerLocked(u)
	return u, true
}

// registerLocked adds a user at run time and, as the LMS does on
// registration, turns their auto_enroll pre-enrollments into enrollments in
// the course's default mode.
func (l *LMS) registerLocked(u User) {
	l.putUser(u)
	l.addedUsers = append(l.addedUsers, u.Username)
	for _, a := range l.sortedAllowed() {
		if normEmail(a.Email) != normEmail(u.Email) || !a.AutoEnroll {
			continue
		}
		c := l.courses[a.CourseID]
		if c == nil {
			continue
		}
		key := enrollmentKey{u.Username, a.CourseID}
		e := l.enrollments[key]
		if e == nil {
			e = &enrollment{User: u.Username, CourseID: a.CourseID, Created: l.now()}
			l.enrollments[key] = e
		}
		if !e.IsActive {
			e.IsActive, e.Mode = true, courseDefaultMode(c)
			e.Writes++
		}
	}
	l.changed()
}

func courseDefaultMode(c *Course) string {
	for _, m := range c.Modes {
		if m.Slug == defaultMode {
			return defaultMode
		}
	}
	return c.Modes[0].Slug
}

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
		if email := str(data["email"]); email != "" {
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
		l.changed()
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
	l.changed()
	writeJSON(w, http.StatusOK, l.enrollmentJSON(e))
}

func pyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

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
// listing of every enrollment (active or not), filtered and paginated.
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
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Created.Before(rows[j].Created) })
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

// paginate cuts one page (?page=, ?page_size=) and returns absolute next and
// previous links (nil at the ends).
func paginate(r *http.Request, all []any, defaultSize int) (page []any, next, prev any) {
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size <= 0 {
		size = defaultSize
	}
	if size > 100 {
		size = 100
	}
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n <= 0 {
		n = 1
	}
	start := (n - 1) * size
	if start > len(all) {
		start = len(all)
	}
	end := start + size
	if end > len(all) {
		end = len(all)
	}
	link := func(p int) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	if end < len(all) {
		next = link(n + 1)
	}
	if n > 1 {
		prev = link(n - 1)
	}
	return all[start:end], next, prev
}

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
	l.changed()
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
	l.changed()
	w.WriteHeader(http.StatusNoContent)
}
