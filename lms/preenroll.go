package lms

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

type allowedBody struct {
	Email      string `json:"email"`
	CourseID   string `json:"course_id"`
	AutoEnroll bool   `json:"auto_enroll"`
}

// ListEnrollmentAllowed returns the pre-enrollments of an email address.
func (c *Client) ListEnrollmentAllowed(ctx context.Context, email string) (_ []EnrollmentAllowed, err error) {
	defer func() { err = redactLearner(err, "", email) }()
	const op = "list_enrollment_allowed"
	if email == "" {
		return nil, invalidRequest(op, "an email is required")
	}
	resp, err := c.getOK(ctx, op, pathEnrollmentAllowed, url.Values{"email": {email}})
	if err != nil {
		return nil, err
	}
	list, derr := decodeAllowedList(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	for _, a := range list {
		if a.Email != "" && !strings.EqualFold(strings.TrimSpace(a.Email), strings.TrimSpace(email)) {
			return nil, filterIgnored(op, "the LMS answered the pre-enrollments of one email with another address's: it ignores the email filter")
		}
	}
	return list, nil
}

// HasEnrollmentAllowed reports whether the email has a pre-enrollment in the
// course run. It only reads.
func (c *Client) HasEnrollmentAllowed(ctx context.Context, email, courseID string) (bool, error) {
	list, err := c.ListEnrollmentAllowed(ctx, email)
	if err != nil {
		return false, err
	}
	return allowedFor(list, courseID), nil
}

func allowedFor(list []EnrollmentAllowed, courseID string) bool {
	for _, a := range list {
		if a.CourseID == courseID {
			return true
		}
	}
	return false
}

// preEnroll creates an enrollment_allowed (auto_enroll) for the email, so the
// learner is enrolled when they register. An existing one is left as is.
func (c *Client) preEnroll(ctx context.Context, req EnrollRequest, out Outcome) (Outcome, error) {
	const op = "pre_enroll"
	out.PreEnrolled = true
	list, err := c.ListEnrollmentAllowed(ctx, req.Email)
	if err != nil {
		return out, err
	}
	if allowedFor(list, req.CourseID) {
		out.PriorAllowed = true
		return out, nil
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathEnrollmentAllowed,
		body: allowedBody{Email: req.Email, CourseID: req.CourseID, AutoEnroll: true}})
	if err != nil {
		return out, err
	}
	switch resp.status {
	case http.StatusCreated, http.StatusOK:
		out.Action, out.Wrote = ActionPreEnrolled, true
		return out, nil
	case http.StatusConflict:
		// Created since our read: by a concurrent attempt of this very
		// call, most likely. It stands for the enrollment either way.
		return out, nil
	}
	return out, classifyResponse(op, resp.status, resp.header, resp.body)
}

// RemoveEnrollmentAllowed deletes the email's pre-enrollment in the course
// run; none is a success without a write.
func (c *Client) RemoveEnrollmentAllowed(ctx context.Context, email, courseID string) (_ Outcome, err error) {
	defer func() { err = redactLearner(err, "", email) }()
	const op = "remove_enrollment_allowed"
	if email == "" || courseID == "" {
		return Outcome{}, invalidRequest(op, "an email and a course run id are required")
	}
	list, err := c.ListEnrollmentAllowed(ctx, email)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Action: ActionNone, PriorAllowed: allowedFor(list, courseID)}
	if !out.PriorAllowed {
		return out, nil
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: pathEnrollmentAllowed,
		body: allowedBody{Email: email, CourseID: courseID}})
	if err != nil {
		return out, err
	}
	switch resp.status {
	case http.StatusNoContent, http.StatusOK:
		out.Action, out.Wrote = ActionAllowanceRemoved, true
		return out, nil
	case http.StatusNotFound:
		return out, nil
	}
	return out, classifyResponse(op, resp.status, resp.header, resp.body)
}
