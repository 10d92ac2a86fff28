package lms

import (
	"context"
	"net/http"
	"net/url"
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
// uses the staff-only enrollment listing.
func (c *Client) FindEnrollmentByEmail(ctx context.Context, email, courseID string) (_ *Enrollment, err error) {
	defer func() { err = redactLearner(err, "", email) }()
	const op = "find_enrollment"
	if email == "" || courseID == "" {
		return nil, invalidRequest(op, "an email and a course run id are required")
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: pathEnrollments,
		query: url.Values{"email": {email}, "course_id": {courseID}}})
	if err != nil {
		return nil, err
	}
	if err := expect(op, resp, http.StatusOK); err != nil {
		return nil, err
	}
	items, _, derr := decodeEnrollmentPage(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	for i := range items {
		if items[i].CourseID == courseID {
			return &items[i], nil
		}
	}
	return nil, nil
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

// lookup reads the learner's enrollment by username, or by email when the
// request has no username.
func (c *Client) lookup(ctx context.Context, req EnrollRequest) (*Enrollment, error) {
	if req.Username != "" {
		return c.GetEnrollment(ctx, req.Username, req.CourseID)
	}
	return c.FindEnrollmentByEmail(ctx, req.Email, req.CourseID)
}
