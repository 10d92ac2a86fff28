package lms

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultEntitlementMode is the mode of an entitlement whose request names none.
const DefaultEntitlementMode = "verified"

// maxEntitlementPages bounds the listing walked when looking for an
// existing entitlement; one learner has a handful per course.
const maxEntitlementPages = 10

// EntitlementRequest asks for a course entitlement for a learner on behalf
// of an order.
type EntitlementRequest struct {
	Username   string
	CourseUUID string
	Mode       string
	// OrderNumber is recorded on the entitlement and makes the create
	// idempotent: an active entitlement of the same learner, course and
	// order is returned instead of creating another.
	OrderNumber string
}

// EntitlementOutcome is what CreateEntitlement found or made.
type EntitlementOutcome struct {
	Entitlement Entitlement
	// Created is false when an entitlement of this order already existed.
	Created bool
}

type entitlementBody struct {
	User        string `json:"user"`
	CourseUUID  string `json:"course_uuid"`
	Mode        string `json:"mode"`
	OrderNumber string `json:"order_number"`
}

// FindEntitlements lists the learner's entitlements for a course (active and
// expired); an empty courseUUID lists all of them. It needs a staff service
// user. The LMS filters the listing by user only (course_uuid is not a
// filter it knows), so the course is picked here; a row of another learner
// means the user filter was ignored: FilterIgnored.
func (c *Client) FindEntitlements(ctx context.Context, username, courseUUID string) (_ []Entitlement, err error) {
	defer func() { err = redactLearner(err, username, "") }()
	const op = "find_entitlements"
	if username == "" {
		return nil, invalidRequest(op, "a username is required")
	}
	var all []Entitlement
	for page := 1; page <= maxEntitlementPages; page++ {
		q := url.Values{"user": {username}, "page_size": {"100"}, "page": {strconv.Itoa(page)}}
		resp, err := c.getOK(ctx, op, pathEntitlements, q)
		if err != nil {
			return nil, err
		}
		items, next, derr := decodeEntitlementPage(resp.body)
		if derr != nil {
			return nil, badResponse(op, resp, derr)
		}
		for _, e := range items {
			if e.User != "" && !strings.EqualFold(e.User, username) {
				return nil, filterIgnored(op, "the LMS answered the entitlement listing of one learner with another learner's entitlement: it ignores the user filter")
			}
			if courseUUID == "" || sameUUID(e.CourseUUID, courseUUID) {
				all = append(all, e)
			}
		}
		if next == "" {
			break
		}
	}
	return all, nil
}

// uuidDigits drops what may surround or separate a UUID's hex digits.
var uuidDigits = strings.NewReplacer("-", "", "{", "", "}", "")

// sameUUID reports whether a and b are the same UUID: the LMS answers
// lowercase and hyphenated, a request may have it otherwise.
func sameUUID(a, b string) bool {
	return strings.EqualFold(uuidDigits.Replace(a), uuidDigits.Replace(b))
}

// GetEntitlement returns the entitlement with this uuid, or nil if the LMS
// does not know it.
func (c *Client) GetEntitlement(ctx context.Context, uuid string) (*Entitlement, error) {
	const op = "get_entitlement"
	if uuid == "" {
		return nil, invalidRequest(op, "an entitlement uuid is required")
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: pathEntitlements + url.PathEscape(uuid) + "/"})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotFound {
		return nil, nil
	}
	if err := expect(op, resp, http.StatusOK); err != nil {
		return nil, err
	}
	e, derr := decodeEntitlement(resp.body)
	if derr != nil {
		return nil, badResponse(op, resp, derr)
	}
	return &e, nil
}

// CreateEntitlement gives the learner an entitlement to a course. It first
// looks for an active entitlement of the same learner, course and order, and
// returns that one when found, so a retried create never makes a second.
func (c *Client) CreateEntitlement(ctx context.Context, req EntitlementRequest) (_ EntitlementOutcome, err error) {
	defer func() { err = redactLearner(err, req.Username, "") }()
	const op = "create_entitlement"
	switch {
	case req.Username == "":
		return EntitlementOutcome{}, invalidRequest(op, "entitlements need the learner's LMS username")
	case req.CourseUUID == "":
		return EntitlementOutcome{}, invalidRequest(op, "a course uuid is required")
	case req.OrderNumber == "":
		return EntitlementOutcome{}, invalidRequest(op, "an order number is required")
	}
	if req.Mode == "" {
		req.Mode = DefaultEntitlementMode
	}
	existing, err := c.FindEntitlements(ctx, req.Username, req.CourseUUID)
	if err != nil {
		return EntitlementOutcome{}, err
	}
	for _, e := range existing {
		if e.Active() && e.OrderNumber == req.OrderNumber {
			return EntitlementOutcome{Entitlement: e}, nil
		}
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodPost, path: pathEntitlements,
		body: entitlementBody{User: req.Username, CourseUUID: req.CourseUUID, Mode: req.Mode, OrderNumber: req.OrderNumber}})
	if err != nil {
		return EntitlementOutcome{}, err
	}
	if err := expect(op, resp, http.StatusCreated, http.StatusOK); err != nil {
		return EntitlementOutcome{}, err
	}
	e, derr := decodeEntitlement(resp.body)
	if derr != nil {
		return EntitlementOutcome{}, badResponse(op, resp, derr)
	}
	return EntitlementOutcome{Entitlement: e, Created: true}, nil
}

// RevokeEntitlement revokes (expires) the entitlement, which also unenrolls
// the learner from the run it was used for. An unknown or already expired
// entitlement is a success without a write; revoked reports a write.
func (c *Client) RevokeEntitlement(ctx context.Context, uuid string) (revoked bool, err error) {
	const op = "revoke_entitlement"
	e, err := c.GetEntitlement(ctx, uuid)
	if err != nil {
		return false, err
	}
	if e == nil || !e.Active() {
		return false, nil
	}
	resp, err := c.do(ctx, call{op: op, method: http.MethodDelete, path: pathEntitlements + url.PathEscape(uuid) + "/"})
	if err != nil {
		return false, err
	}
	switch resp.status {
	case http.StatusNoContent, http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, classifyResponse(op, resp.status, resp.header, resp.body)
}
