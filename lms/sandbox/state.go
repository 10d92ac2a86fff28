package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type enrollmentKey struct{ user, course string }

type allowedKey struct{ email, course string }

// Attribute is an enrollment attribute, e.g. order:order_number.
type Attribute struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

type enrollment struct {
	User       string      `json:"user"`
	CourseID   string      `json:"course_id"`
	Mode       string      `json:"mode"`
	IsActive   bool        `json:"is_active"`
	Created    time.Time   `json:"created"`
	Attributes []Attribute `json:"attributes,omitempty"`
	// Writes counts state-changing events: create, reactivate, mode
	// change, deactivate (a create-then-deactivate counts two).
	Writes int `json:"writes"`
}

type allowance struct {
	Email      string    `json:"email"`
	CourseID   string    `json:"course_id"`
	AutoEnroll bool      `json:"auto_enroll"`
	Created    time.Time `json:"created"`
}

type entitlement struct {
	UUID                string     `json:"uuid"`
	User                string     `json:"user"`
	CourseUUID          string     `json:"course_uuid"`
	Mode                string     `json:"mode"`
	OrderNumber         string     `json:"order_number"`
	Created             time.Time  `json:"created"`
	Modified            time.Time  `json:"modified"`
	ExpiredAt           *time.Time `json:"expired_at"`
	EnrollmentCourseRun string     `json:"enrollment_course_run,omitempty"`
}

// persisted is the state file's content.
type persisted struct {
	Version      int            `json:"version"`
	Users        []User         `json:"users,omitempty"`
	Courses      []Course       `json:"courses,omitempty"`
	Enrollments  []*enrollment  `json:"enrollments"`
	Allowed      []*allowance   `json:"allowed"`
	Entitlements []*entitlement `json:"entitlements"`
}

const stateVersion = 1

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// load reads the state file; a missing file is an empty state.
func (l *LMS) load() error {
	b, err := os.ReadFile(l.opts.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("corrupt state: %w", err)
	}
	if p.Version != stateVersion {
		return fmt.Errorf("unsupported state version %d", p.Version)
	}
	for _, u := range p.Users {
		l.putUser(u)
		l.addedUsers = append(l.addedUsers, u.Username)
	}
	for _, c := range p.Courses {
		l.putCourse(c)
		l.addedCourse[c.CourseID] = true
	}
	for _, e := range p.Enrollments {
		l.enrollments[enrollmentKey{e.User, e.CourseID}] = e
	}
	for _, a := range p.Allowed {
		l.allowed[allowedKey{normEmail(a.Email), a.CourseID}] = a
	}
	for _, e := range p.Entitlements {
		// States written before the sandbox stored canonical UUIDs.
		if canon, ok := canonicalUUID(e.CourseUUID); ok {
			e.CourseUUID = canon
		}
		l.entitle[e.UUID] = e
	}
	return nil
}

// saveLocked writes the state file, the snapshot, atomically (temp file,
// fsync, rename), so a crash leaves either the old or the new snapshot; the
// journal (journal.go) holds the changes since. Callers hold mu.
func (l *LMS) saveLocked() error {
	if l.opts.StateFile == "" {
		return nil
	}
	p := persisted{Version: stateVersion, Enrollments: l.sortedEnrollments(), Allowed: l.sortedAllowed(), Entitlements: l.sortedEntitlements()}
	for _, name := range l.addedUsers {
		if u, ok := l.users[name]; ok {
			p.Users = append(p.Users, u)
		}
	}
	for _, id := range l.courseOrder {
		if l.addedCourse[id] {
			p.Courses = append(p.Courses, *l.courses[id])
		}
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(l.opts.StateFile)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.opts.StateFile); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	return nil
}

func (l *LMS) sortedEnrollments() []*enrollment {
	out := make([]*enrollment, 0, len(l.enrollments))
	for _, e := range l.enrollments {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].CourseID < out[j].CourseID
	})
	return out
}

func (l *LMS) sortedAllowed() []*allowance {
	out := make([]*allowance, 0, len(l.allowed))
	for _, a := range l.allowed {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Email != out[j].Email {
			return out[i].Email < out[j].Email
		}
		return out[i].CourseID < out[j].CourseID
	})
	return out
}

func (l *LMS) sortedEntitlements() []*entitlement {
	out := make([]*entitlement, 0, len(l.entitle))
	for _, e := range l.entitle {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}
