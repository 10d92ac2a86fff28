package lms

import (
	"encoding/json"
	"errors"
	"fmt"
)

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
