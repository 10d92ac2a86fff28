package lms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Enrollment is a learner's enrollment in a course run as the LMS reports it.
type Enrollment struct {
	// User is the learner's username.
	User string
	// CourseID is the course run key.
	CourseID string
	// Mode is the course mode slug (audit, verified, ...).
	Mode string
	// IsActive is false for an unenrolled (soft-deleted) enrollment.
	IsActive bool
	// Created is when the enrollment row was created, as the LMS wrote it.
	Created string
	// Course holds the course details the LMS sent along, if any.
	Course *Course
}

// Course is a course run's enrollment details.
type Course struct {
	CourseID        string
	Name            string
	EnrollmentStart *time.Time
	EnrollmentEnd   *time.Time
	InviteOnly      bool
	Modes           []CourseMode
}

// CourseMode is one mode a course run offers.
type CourseMode struct {
	Slug       string
	Name       string
	MinPrice   float64
	Currency   string
	Expiration *time.Time
	SKU        string
}

// EnrollmentOpen reports whether the course run's enrollment window contains
// now. Unknown bounds count as open.
func (c *Course) EnrollmentOpen(now time.Time) bool {
	if c == nil {
		return true
	}
	if c.EnrollmentStart != nil && now.Before(*c.EnrollmentStart) {
		return false
	}
	if c.EnrollmentEnd != nil && now.After(*c.EnrollmentEnd) {
		return false
	}
	return true
}

// HasMode reports whether the course run offers the mode slug.
func (c *Course) HasMode(slug string) bool {
	if c == nil {
		return false
	}
	for _, m := range c.Modes {
		if m.Slug == slug {
			return true
		}
	}
	return false
}

// Entitlement is a learner's course entitlement (a seat in "some run of
// course X").
type Entitlement struct {
	UUID        string
	User        string
	CourseUUID  string
	Mode        string
	OrderNumber string
	Created     string
	// ExpiredAt is set once the entitlement has been revoked or has expired.
	ExpiredAt string
	// EnrollmentCourseRun is the run the entitlement was used for, if any.
	EnrollmentCourseRun string
}

// Active reports whether the entitlement has not been revoked or expired.
func (e Entitlement) Active() bool { return e.ExpiredAt == "" }

// EnrollmentAllowed is a pre-enrollment of an email address in a course run.
type EnrollmentAllowed struct {
	CourseID   string
	AutoEnroll bool
}

// Wire shapes. Every field is decoded leniently: json.RawMessage for
// anything whose type the LMS has varied over time.
type wireEnrollment struct {
	Created       json.RawMessage `json:"created"`
	Mode          json.RawMessage `json:"mode"`
	IsActive      json.RawMessage `json:"is_active"`
	User          json.RawMessage `json:"user"`
	CourseID      json.RawMessage `json:"course_id"` // list endpoint
	CourseDetails json.RawMessage `json:"course_details"`
}

type wireCourse struct {
	CourseID        json.RawMessage `json:"course_id"`
	CourseName      json.RawMessage `json:"course_name"`
	EnrollmentStart json.RawMessage `json:"enrollment_start"`
	EnrollmentEnd   json.RawMessage `json:"enrollment_end"`
	InviteOnly      json.RawMessage `json:"invite_only"`
	CourseModes     json.RawMessage `json:"course_modes"`
}

type wireMode struct {
	Slug               json.RawMessage `json:"slug"`
	Name               json.RawMessage `json:"name"`
	MinPrice           json.RawMessage `json:"min_price"`
	Currency           json.RawMessage `json:"currency"`
	ExpirationDatetime json.RawMessage `json:"expiration_datetime"`
	SKU                json.RawMessage `json:"sku"`
}

type wirePage struct {
	Next    json.RawMessage `json:"next"`
	Results json.RawMessage `json:"results"`
}

type wireEntitlement struct {
	UUID                json.RawMessage `json:"uuid"`
	User                json.RawMessage `json:"user"`
	CourseUUID          json.RawMessage `json:"course_uuid"`
	Mode                json.RawMessage `json:"mode"`
	OrderNumber         json.RawMessage `json:"order_number"`
	Created             json.RawMessage `json:"created"`
	ExpiredAt           json.RawMessage `json:"expired_at"`
	EnrollmentCourseRun json.RawMessage `json:"enrollment_course_run"`
}

type wireAllowed struct {
	Email      json.RawMessage `json:"email"`
	CourseID   json.RawMessage `json:"course_id"`
	AutoEnroll json.RawMessage `json:"auto_enroll"`
}

// errNotObject reports a body that is JSON but not the expected object.
var errNotObject = errors.New("not a JSON object")

// decodeEnrollment decodes the enrollment endpoint's answer. An empty body
// (or JSON null) is the LMS's way of saying "no enrollment": nil, nil.
func decodeEnrollment(body []byte) (*Enrollment, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil, nil
	}
	var w wireEnrollment
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	e := &Enrollment{
		User:     rawString(w.User),
		Mode:     rawString(w.Mode),
		Created:  rawString(w.Created),
		CourseID: rawString(w.CourseID),
	}
	active, ok := rawBool(w.IsActive)
	if !ok {
		return nil, errors.New("enrollment without a boolean is_active")
	}
	e.IsActive = active
	if isPresent(w.CourseDetails) {
		c, err := decodeCourse(w.CourseDetails)
		if err != nil {
			return nil, fmt.Errorf("course_details: %w", err)
		}
		e.Course = c
		if c.CourseID != "" {
			e.CourseID = c.CourseID
		}
	}
	if e.Mode == "" || e.CourseID == "" {
		return nil, errors.New("enrollment without mode or course id")
	}
	return e, nil
}

// decodeCourse decodes course details (the course endpoint's answer or an
// enrollment's course_details).
func decodeCourse(body []byte) (*Course, error) {
	var w wireCourse
	if err := decodeObject(body, &w); err != nil {
		return nil, err
	}
	c := &Course{
		CourseID:        rawString(w.CourseID),
		Name:            rawString(w.CourseName),
		EnrollmentStart: rawTime(w.EnrollmentStart),
		EnrollmentEnd:   rawTime(w.EnrollmentEnd),
	}
	c.InviteOnly, _ = rawBool(w.InviteOnly)
	if isPresent(w.CourseModes) {
		var modes []json.RawMessage
		if err := json.Unmarshal(w.CourseModes, &modes); err != nil {
			return nil, errors.New("course_modes is not a list")
		}
		for _, raw := range modes {
			var m wireMode
			if err := decodeObject(raw, &m); err != nil {
				continue // one garbled mode must not hide the others
			}
			slug := rawString(m.Slug)
			if slug == "" {
				continue
			}
			c.Modes = append(c.Modes, CourseMode{
				Slug:       slug,
				Name:       rawString(m.Name),
				MinPrice:   rawNumber(m.MinPrice),
				Currency:   rawString(m.Currency),
				Expiration: rawTime(m.ExpirationDatetime),
				SKU:        rawString(m.SKU),
			})
		}
	}
	return c, nil
}

// decodeEnrollmentPage decodes one page of the admin enrollment listing.
func decodeEnrollmentPage(body []byte) (items []Enrollment, next string, err error) {
	results, next, err := decodePage(body)
	if err != nil {
		return nil, "", err
	}
	for _, raw := range results {
		e, err := decodeEnrollment(raw)
		if err != nil {
			return nil, "", fmt.Errorf("results: %w", err)
		}
		if e != nil {
			items = append(items, *e)
		}
	}
	return items, next, nil
}

// decodeEntitlementPage decodes one page of the entitlement listing. The
// entitlement API may also answer with a bare list.
func decodeEntitlementPage(body []byte) (items []Entitlement, next string, err error) {
	results, next, err := decodePage(body)
	if err != nil {
		return nil, "", err
	}
	for _, raw := range results {
		e, err := decodeEntitlement(raw)
		if err != nil {
			return nil, "", fmt.Errorf("results: %w", err)
		}
		items = append(items, e)
	}
	return items, next, nil
}

// decodePage accepts a paginated object {next, results} or a bare list.
func decodePage(body []byte) ([]json.RawMessage, string, error) {
	body = bytes.TrimSpace(body)
	var results []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &results); err != nil {
			return nil, "", errors.New("malformed list")
		}
		return results, "", nil
	}
	var p wirePage
	if err := decodeObject(body, &p); err != nil {
		return nil, "", err
	}
	if isPresent(p.Results) {
		if err := json.Unmarshal(p.Results, &results); err != nil {
			return nil, "", errors.New("results is not a list")
		}
	}
	return results, rawString(p.Next), nil
}

// decodeEntitlement decodes one entitlement.
func decodeEntitlement(body []byte) (Entitlement, error) {
	var w wireEntitlement
	if err := decodeObject(body, &w); err != nil {
		return Entitlement{}, err
	}
	e := Entitlement{
		UUID:                rawString(w.UUID),
		User:                rawString(w.User),
		CourseUUID:          rawString(w.CourseUUID),
		Mode:                rawString(w.Mode),
		OrderNumber:         rawString(w.OrderNumber),
		Created:             rawString(w.Created),
		ExpiredAt:           rawString(w.ExpiredAt),
		EnrollmentCourseRun: rawString(w.EnrollmentCourseRun),
	}
	if e.UUID == "" {
		return Entitlement{}, errors.New("entitlement without uuid")
	}
	return e, nil
}

// decodeAllowedList decodes the enrollment_allowed listing for one email.
func decodeAllowedList(body []byte) ([]EnrollmentAllowed, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, errors.New("malformed list")
	}
	var out []EnrollmentAllowed
	for _, raw := range raws {
		var w wireAllowed
		if err := decodeObject(raw, &w); err != nil {
			return nil, err
		}
		a := EnrollmentAllowed{CourseID: rawString(w.CourseID)}
		a.AutoEnroll, _ = rawBool(w.AutoEnroll)
		out = append(out, a)
	}
	return out, nil
}

// decodeMessage extracts a human message from an LMS error body: the
// enrollment API's {"message"}, DRF's {"detail"}, OAuth2's
// {"error","error_description"}, DRF field errors {"field":["..."]}, a bare
// JSON string or list of strings. Non-JSON bodies (HTML error pages) yield "".
func decodeMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case []any:
		return joinStrings(t)
	case map[string]any:
		for _, k := range []string{"message", "detail", "error_description", "developer_message", "user_message", "error"} {
			if s, ok := t[k].(string); ok && s != "" {
				return s
			}
		}
		fields := fieldErrors(t)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+fields[k])
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// decodeFieldErrors returns DRF field validation errors keyed by field.
func decodeFieldErrors(body []byte) map[string]string {
	var m map[string]any
	if json.Unmarshal(bytes.TrimSpace(body), &m) != nil {
		return nil
	}
	return fieldErrors(m)
}

func fieldErrors(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch t := v.(type) {
		case []any:
			if s := joinStrings(t); s != "" {
				out[k] = s
			}
		case string:
			if k != "message" && k != "detail" {
				out[k] = t
			}
		}
	}
	return out
}

func joinStrings(list []any) string {
	var parts []string
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// hasJSONKey reports whether body is a JSON object with key.
func hasJSONKey(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(body), &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errNotObject
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("malformed JSON object")
	}
	return nil
}

func isPresent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// rawString returns a JSON string's value; numbers are kept as their text;
// anything else is "".
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// rawBool accepts a JSON boolean (and, leniently, "true"/"false" strings).
func rawBool(raw json.RawMessage) (value, ok bool) {
	var b bool
	if json.Unmarshal(bytes.TrimSpace(raw), &b) == nil {
		return b, true
	}
	switch strings.ToLower(rawString(raw)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func rawNumber(raw json.RawMessage) float64 {
	var f float64
	if json.Unmarshal(bytes.TrimSpace(raw), &f) == nil {
		return f
	}
	// Django's DecimalField renders prices as strings ("49.00").
	if f, err := strconv.ParseFloat(rawString(raw), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return 0
}

// rawTime parses the LMS's timestamps (RFC 3339 with or without fraction,
// or Django's "2006-01-02 15:04:05+00:00"); anything else is nil.
func rawTime(raw json.RawMessage) *time.Time {
	s := rawString(raw)
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t
		}
	}
	return nil
}
