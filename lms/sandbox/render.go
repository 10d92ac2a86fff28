package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

func timeJSON(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// modeJSON is a course mode as the LMS serializes it.
func modeJSON(m Mode) map[string]any {
	name := m.Name
	if name == "" {
		name = strings.ToUpper(m.Slug[:1]) + m.Slug[1:]
	}
	currency := m.Currency
	if currency == "" {
		currency = "usd"
	}
	var sku any
	if m.SKU != "" {
		sku = m.SKU
	}
	return map[string]any{
		"slug": m.Slug, "name": name, "min_price": m.MinPrice, "suggested_prices": "",
		"currency": currency, "expiration_datetime": timeJSON(m.Expiration),
		"description": nil, "sku": sku, "bulk_sku": nil,
	}
}

// modeExpired reports whether the mode's sale has ended.
func modeExpired(m Mode, now time.Time) bool { return m.Expiration != nil && now.After(*m.Expiration) }

// courseJSON is the course details as the LMS serializes them; expired modes
// are left out unless includeExpired.
func (l *LMS) courseJSON(c *Course, includeExpired bool) map[string]any {
	now := l.now()
	modes := []any{}
	for _, m := range c.Modes {
		if includeExpired || !modeExpired(m, now) {
			modes = append(modes, modeJSON(m))
		}
	}
	name := c.Name
	if name == "" {
		name = c.CourseID
	}
	return map[string]any{
		"course_id": c.CourseID, "course_name": name,
		"enrollment_start": timeJSON(c.EnrollmentStart), "enrollment_end": timeJSON(c.EnrollmentEnd),
		"course_start": "2020-01-01T00:00:00Z", "course_end": nil,
		"invite_only": c.InviteOnly, "pacing_type": "Self Paced", "course_modes": modes,
	}
}

// enrollmentJSON is an enrollment as the LMS serializes it.
func (l *LMS) enrollmentJSON(e *enrollment) map[string]any {
	out := map[string]any{
		"created": e.Created.UTC().Format(time.RFC3339Nano), "mode": e.Mode,
		"is_active": e.IsActive, "user": e.User,
	}
	if c := l.courses[e.CourseID]; c != nil {
		out["course_details"] = l.courseJSON(c, false)
	} else {
		out["course_details"] = nil
	}
	return out
}

func message(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]any{"message": fmt.Sprintf(format, args...)})
}

// notFound is the LMS's bare 404 (no body) that hides other users' data.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
}
