package sandbox

import (
	"regexp"
	"strconv"
	"strings"
)

// userLocked finds a user, registering it when AutoRegister is on. The
// OAuth clients' users exist too, as service users do in the LMS.
func (l *LMS) userLocked(username string) (User, bool) {
	if u, ok := l.users[username]; ok {
		return u, true
	}
	for _, c := range l.clients {
		if c.Username == username {
			return User{Username: username, Email: username + "@sandbox.invalid"}, true
		}
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
	recs := []record{putUser(u)}
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
			recs = append(recs, putEnrollment(e))
		}
	}
	l.changed(recs...)
}

func courseDefaultMode(c *Course) string {
	for _, m := range c.Modes {
		if m.Slug == defaultMode {
			return defaultMode
		}
	}
	return c.Modes[0].Slug
}
