package lms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	// Attributes are the enrollment's enrollment_attributes when the answer
	// carries them. The stock Open edX Enrollment API v1 does not (its
	// enrollment serializer has created, mode, is_active, course_details
	// and user), so they are usually empty; an LMS extended to answer them
	// lets a revoke see which order line last wrote the enrollment.
	Attributes []Attribute
}

// AttributeValue returns the value of the attribute namespace:name, "" when
// the enrollment has none (or the LMS did not answer its attributes).
func (e *Enrollment) AttributeValue(namespace, name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attributes {
		if a.Namespace == namespace && a.Name == name {
			return a.Value
		}
	}
	return ""
}

// WrittenFor reports whether the enrollment carries the stamp of this order
// line (order:order_number and order:line_id, which every write of this
// client sets and the LMS replaces on each later write): evidence that the
// last write the LMS recorded was made for it. It is false when the LMS did
// not answer the attributes.
func (e *Enrollment) WrittenFor(orderNumber, lineID string) bool {
	return orderNumber != "" && lineID != "" &&
		e.AttributeValue(AttributeNamespace, AttributeOrderNumber) == orderNumber &&
		e.AttributeValue(AttributeNamespace, AttributeLineID) == lineID
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

// EnrollmentAllowed is a pre-enrollment of an email address in a course run.
type EnrollmentAllowed struct {
	Email      string
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
	Attributes    json.RawMessage `json:"enrollment_attributes"`
}

type wireAttribute struct {
	Namespace json.RawMessage `json:"namespace"`
	Name      json.RawMessage `json:"name"`
	Value     json.RawMessage `json:"value"`
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

type wireAllowed struct {
	Email      json.RawMessage `json:"email"`
	CourseID   json.RawMessage `json:"course_id"`
	AutoEnroll json.RawMessage `json:"auto_enroll"`
}

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
	e.Attributes = decodeAttributes(w.Attributes)
	return e, nil
}

// decodeAttributes decodes enrollment_attributes leniently: they are
// evidence at best, so a malformed list or item is dropped, never an error.
func decodeAttributes(raw json.RawMessage) []Attribute {
	if !isPresent(raw) {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var attrs []Attribute
	for _, item := range items {
		var w wireAttribute
		if decodeObject(item, &w) != nil {
			continue
		}
		a := Attribute{Namespace: rawString(w.Namespace), Name: rawString(w.Name), Value: rawString(w.Value)}
		if a.Namespace != "" && a.Name != "" {
			attrs = append(attrs, a)
		}
	}
	return attrs
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
		a := EnrollmentAllowed{Email: rawString(w.Email), CourseID: rawString(w.CourseID)}
		a.AutoEnroll, _ = rawBool(w.AutoEnroll)
		out = append(out, a)
	}
	return out, nil
}
