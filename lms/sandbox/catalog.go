package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Course is a course run in the sandbox catalog.
type Course struct {
	// CourseID is the course run key, e.g. course-v1:edX+DemoX+Demo_Course.
	CourseID string `json:"course_id"`
	Name     string `json:"name,omitempty"`
	// CourseUUID is the (discovery) UUID of the course this run belongs
	// to; entitlements name courses by it.
	CourseUUID string `json:"course_uuid,omitempty"`
	Modes      []Mode `json:"modes"`
	// EnrollmentStart and EnrollmentEnd bound the enrollment window; nil
	// means open on that side.
	EnrollmentStart *time.Time `json:"enrollment_start,omitempty"`
	EnrollmentEnd   *time.Time `json:"enrollment_end,omitempty"`
	// MaxEnrollments caps active enrollments; nil means unlimited, 0 means
	// always full.
	MaxEnrollments *int `json:"max_enrollments,omitempty"`
	InviteOnly     bool `json:"invite_only,omitempty"`
	// Embargoed makes every enrollment attempt answer the LMS's embargo 403.
	Embargoed bool `json:"embargoed,omitempty"`
}

// Mode is one course mode a run offers. In JSON it is either an object or
// just the slug ("audit").
type Mode struct {
	Slug     string  `json:"slug"`
	Name     string  `json:"name,omitempty"`
	MinPrice float64 `json:"min_price,omitempty"`
	Currency string  `json:"currency,omitempty"`
	// Expiration is when the mode stops being sold; nil means never.
	Expiration *time.Time `json:"expiration_datetime,omitempty"`
	SKU        string     `json:"sku,omitempty"`
}

// UnmarshalJSON accepts a mode object or a bare slug.
func (m *Mode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var slug string
		if err := json.Unmarshal(b, &slug); err != nil {
			return err
		}
		*m = Mode{Slug: slug}
		return nil
	}
	type plain Mode
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Mode(p)
	return nil
}

// User is a learner account in the sandbox user directory.
type User struct {
	Username string `json:"username"`
	Email    string `json:"email"`
}

// Course ids and user names of the built-in catalog and directory.
const (
	DemoCourseID     = "course-v1:edX+DemoX+Demo_Course"
	DemoCourseUUID   = "4b5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6c"
	ClosedCourseID   = "course-v1:edX+Closed101+2020"
	FullCourseID     = "course-v1:edX+Full101+2026"
	CreditCourseID   = "course-v1:edX+Credit101+2026"
	CreditCourseUUID = "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"
	EmbargoCourseID  = "course-v1:edX+Embargo101+2026"
)

// DefaultCourses is the built-in catalog: an open demo course (audit,
// verified), a course whose enrollment has closed, a full course, a course
// with credit and an expired honor mode, and an embargoed course.
func DefaultCourses() []Course {
	past := time.Date(2020, 12, 31, 23, 59, 0, 0, time.UTC)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	zero := 0
	mode := func(slug, name string, price float64, sku string) Mode {
		return Mode{Slug: slug, Name: name, MinPrice: price, Currency: "usd", SKU: sku}
	}
	return []Course{
		{CourseID: DemoCourseID, Name: "Demonstration Course", CourseUUID: DemoCourseUUID,
			Modes: []Mode{mode("audit", "Audit", 0, ""), mode("verified", "Verified Certificate", 49, "8CF08E5")}},
		{CourseID: ClosedCourseID, Name: "A Course Whose Enrollment Has Closed", EnrollmentStart: &start, EnrollmentEnd: &past,
			Modes: []Mode{mode("audit", "Audit", 0, ""), mode("verified", "Verified Certificate", 49, "C10SED1")}},
		{CourseID: FullCourseID, Name: "A Full Course", MaxEnrollments: &zero,
			Modes: []Mode{mode("audit", "Audit", 0, ""), mode("verified", "Verified Certificate", 49, "F0LL001")}},
		{CourseID: CreditCourseID, Name: "A Course With Credit", CourseUUID: CreditCourseUUID,
			Modes: []Mode{mode("audit", "Audit", 0, ""), mode("verified", "Verified Certificate", 99, "CRED001"),
				mode("credit", "Credit", 199, "CRED002"),
				{Slug: "honor", Name: "Honor Code Certificate", Currency: "usd", Expiration: &past}}},
		{CourseID: EmbargoCourseID, Name: "An Embargoed Course", Embargoed: true,
			Modes: []Mode{mode("audit", "Audit", 0, "")}},
	}
}

// DefaultUsers is the built-in user directory.
func DefaultUsers() []User {
	return []User{
		{Username: "ada", Email: "ada@example.com"},
		{Username: "grace", Email: "grace@example.com"},
		{Username: "linus", Email: "linus@example.com"},
	}
}

// courseRunKey is what the LMS's CourseKey.from_string accepts, roughly.
var courseRunKey = regexp.MustCompile(`^(course-v1:[A-Za-z0-9_.~-]+\+[A-Za-z0-9_.~-]+\+[A-Za-z0-9_.~-]+|[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+)$`)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{2,150}$`)

// validate checks a course definition.
func (c Course) validate() error {
	if !courseRunKey.MatchString(c.CourseID) {
		return fmt.Errorf("course %q: course_id is not a course run key", c.CourseID)
	}
	if len(c.Modes) == 0 {
		return fmt.Errorf("course %q: at least one mode is required", c.CourseID)
	}
	seen := map[string]bool{}
	for _, m := range c.Modes {
		if m.Slug == "" {
			return fmt.Errorf("course %q: a mode has no slug", c.CourseID)
		}
		if seen[m.Slug] {
			return fmt.Errorf("course %q: duplicate mode %q", c.CourseID, m.Slug)
		}
		seen[m.Slug] = true
	}
	if _, ok := canonicalUUID(c.CourseUUID); c.CourseUUID != "" && !ok {
		return fmt.Errorf("course %q: course_uuid is not a UUID", c.CourseID)
	}
	if c.MaxEnrollments != nil && *c.MaxEnrollments < 0 {
		return fmt.Errorf("course %q: max_enrollments must not be negative", c.CourseID)
	}
	return nil
}

func (u User) validate() error {
	if !usernamePattern.MatchString(u.Username) {
		return fmt.Errorf("user %q: username must be 2-150 letters, digits or _.@+-", u.Username)
	}
	if !strings.Contains(u.Email, "@") {
		return fmt.Errorf("user %q: email is required", u.Username)
	}
	return nil
}

// loadCourses reads a catalog file: a JSON list of courses, or an object
// {"courses": [...]}.
func loadCourses(path string) ([]Course, error) {
	var list []Course
	if err := loadList(path, "courses", &list); err != nil {
		return nil, err
	}
	for _, c := range list {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", path, err)
		}
	}
	return list, nil
}

// loadUsers reads a users file: a JSON list of users, or {"users": [...]}.
func loadUsers(path string) ([]User, error) {
	var list []User
	if err := loadList(path, "users", &list); err != nil {
		return nil, err
	}
	for _, u := range list {
		if err := u.validate(); err != nil {
			return nil, fmt.Errorf("users %s: %w", path, err)
		}
	}
	return list, nil
}

func loadList(path, key string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var wrapped map[string]json.RawMessage
		if err := json.Unmarshal(b, &wrapped); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		inner, ok := wrapped[key]
		if !ok {
			return fmt.Errorf("%s: expected a list or an object with %q", path, key)
		}
		b = inner
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
