package lms

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// GetEnrollment returns the learner's enrollment in the course run, or nil
// when there is none (the LMS answers 200 with an empty body).
func (c *Client) GetEnrollment(ctx context.Context, username, courseID string) (_ *Enrollment, err error) {
	defer func() { err = redactLearner(err, username, "") }()
	const op = "get_enrollment"
	if username == "" || courseID == "" {
		return nil, invalidRequest(op, "a username and a course run id are required")
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet,
		path: pathEnrollment + "/" + url.PathEscape(username) + "," + url.PathEscape(courseID)})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotFound {
		// The LMS hides other users' enrollments from unprivileged callers.
		e := classifyResponse(op, resp.status, resp.header, resp.body)
		e.Type, e.Transient = TypeForbidden, false
		e.Message = "the LMS hides this learner's enrollment from the caller (not a privileged service user)"
		return nil, e
	}
	if err := expect(op, resp, http.StatusOK); err != nil {
		return nil, err
	}
	e, derr := decodeEnrollment(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	return e, nil
}

// FindEnrollmentByEmail returns the enrollment in the course run of the
// learner with this email, or nil when there is none (or no such learner). It
// uses the staff-only enrollment listing, whose email filter exists from
// Open edX Quince on: an older LMS ignores it and lists every learner, so the
// filter is checked first (and the answer checked again) and an LMS that
// ignores it is a FilterIgnored failure, never another learner's enrollment.
func (c *Client) FindEnrollmentByEmail(ctx context.Context, email, courseID string) (_ *Enrollment, err error) {
	defer func() { err = redactLearner(err, "", email) }()
	const op = "find_enrollment"
	if email == "" || courseID == "" {
		return nil, invalidRequest(op, "an email and a course run id are required")
	}
	if err := c.checkEmailFilter(ctx, op); err != nil {
		return nil, err
	}
	items, err := c.listEnrollments(ctx, op, url.Values{"email": {email}, "course_id": {courseID}})
	if err != nil {
		return nil, err
	}
	if n := countUsers(items); n > 1 {
		return nil, filterIgnored(op, fmt.Sprintf("the LMS answered the lookup of one email with the enrollments of %d learners: "+
			"it ignores the email filter (Open edX before Quince); the order needs the learner's username", n))
	}
	for i := range items {
		if items[i].CourseID == courseID {
			return &items[i], nil
		}
	}
	return nil, nil
}

// filterProbeEmail is an address no learner has (.invalid is reserved).
const filterProbeEmail = "no-such-learner@filter-probe.invalid"

// checkEmailFilter looks up an address no learner has: an LMS that honours
// the email filter lists nothing, one that ignores it lists enrollments of
// whoever it holds. This catches the old LMS even where the course has a
// single learner (whose row a multi-user check would take for the one asked
// for) or none (where a write by email would enroll the caller itself).
func (c *Client) checkEmailFilter(ctx context.Context, op string) error {
	items, err := c.listEnrollments(ctx, op, url.Values{"email": {filterProbeEmail}, "page_size": {"1"}})
	if err != nil {
		return err
	}
	if len(items) > 0 {
		return filterIgnored(op, "the LMS ignores the email filter of its enrollment listing (Open edX before Quince): "+
			"learners cannot be looked up by email; the order needs the learner's username")
	}
	return nil
}

// listEnrollments reads the first page of the staff enrollment listing.
func (c *Client) listEnrollments(ctx context.Context, op string, q url.Values) ([]Enrollment, error) {
	resp, err := c.getOK(ctx, op, pathEnrollments, q)
	if err != nil {
		return nil, err
	}
	items, _, derr := decodeEnrollmentPage(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	return items, nil
}

// countUsers counts the distinct learners of rows (usernames compare
// case-insensitively, as the LMS's database does).
func countUsers(items []Enrollment) int {
	seen := map[string]bool{}
	for _, e := range items {
		seen[strings.ToLower(e.User)] = true
	}
	return len(seen)
}

// GetCourse returns the course run's enrollment details.
func (c *Client) GetCourse(ctx context.Context, courseID string) (*Course, error) {
	const op = "get_course"
	if courseID == "" {
		return nil, invalidRequest(op, "a course run id is required")
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet,
		path: pathCourse + url.PathEscape(courseID), query: url.Values{"include_expired": {"1"}}})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusBadRequest {
		return nil, newError(op, TypeCourseNotFound, decodeMessage(resp.body), resp.status)
	}
	if err := expect(op, resp, http.StatusOK); err != nil {
		return nil, err
	}
	course, derr := decodeCourse(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	return course, nil
}

// Lookup reads, without writing, the learner's enrollment in req's course
// run the way every enrollment operation does before it writes: by username,
// or by email when req has no username. It answers nil when there is none.
func (c *Client) Lookup(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	if err := req.check("lookup", false); err != nil {
		return nil, err
	}
	return c.lookup(ctx, req)
}

// lookup reads the learner's enrollment by username, or by email when the
// request has no username.
func (c *Client) lookup(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	if req.Username != "" {
		return c.GetEnrollment(ctx, req.Username, req.CourseID)
	}
	return c.FindEnrollmentByEmail(ctx, req.Email, req.CourseID)
}

// current is the enrollment a write starts from: req.Observed when the
// caller read it moments ago, else a read now.
func (c *Client) current(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	if req.Observed != nil {
		return req.Observed.Enrollment, nil
	}
	return c.lookup(ctx, req)
}

// ActiveEnrollments returns the learner's active enrollments (the list the
// LMS answers for ?user=, which needs a privileged caller). Rows of another
// learner mean the LMS ignored the filter: FilterIgnored.
func (c *Client) ActiveEnrollments(ctx context.Context, username string) (_ []Enrollment, err error) {
	defer func() { err = redactLearner(err, username, "") }()
	const op = "active_enrollments"
	if username == "" {
		return nil, invalidRequest(op, "a username is required")
	}
	resp, err := c.getOK(ctx, op, pathEnrollment, url.Values{"user": {username}})
	if err != nil {
		return nil, err
	}
	items, _, derr := decodeEnrollmentPage(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	for _, e := range items {
		// Usernames compare without case, as the LMS's database does.
		if e.User != "" && !strings.EqualFold(e.User, username) {
			return nil, filterIgnored(op, "the LMS listed another learner's enrollments")
		}
	}
	return items, nil
}
