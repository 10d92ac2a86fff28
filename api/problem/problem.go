// Package problem writes RFC 9457 problem documents
// (application/problem+json), the error format of every HTTP endpoint of
// fulfillment.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem types. Each is documented in docs/api.md under "Problem types".
const (
	TypeValidation     = "urn:coursefulfill:problem:validation"
	TypeMalformed      = "urn:coursefulfill:problem:malformed-request"
	TypeTooLarge       = "urn:coursefulfill:problem:body-too-large"
	TypeUnauthorized   = "urn:coursefulfill:problem:unauthorized"
	TypeForbidden      = "urn:coursefulfill:problem:forbidden"
	TypeNotFound       = "urn:coursefulfill:problem:not-found"
	TypeConflict       = "urn:coursefulfill:problem:conflict"
	TypeUnknownLines   = "urn:coursefulfill:problem:unknown-lines"
	TypeNothingToRetry = "urn:coursefulfill:problem:nothing-to-retry"
	TypeClosed         = "urn:coursefulfill:problem:order-closed"
	TypeRejected       = "urn:coursefulfill:problem:rejected"
	TypeUnavailable    = "urn:coursefulfill:problem:unavailable"
	TypeInternal       = "urn:coursefulfill:problem:internal"
	TypeNotConfigured  = "urn:coursefulfill:problem:not-configured"
	TypeBadSignature   = "urn:coursefulfill:problem:bad-signature"
	// TypeMethodNotAllowed: the route exists under other methods (Allow
	// names them).
	TypeMethodNotAllowed = "urn:coursefulfill:problem:method-not-allowed"
	// TypeUnsupportedMediaType: a body that is not declared JSON.
	TypeUnsupportedMediaType = "urn:coursefulfill:problem:unsupported-media-type"
)

// Bounds on what a problem document repeats of a request: a request naming
// 100,000 unknown lines gets a bounded answer. docs/api.md states them.
const (
	// MaxDetailBytes bounds Detail; a longer one is cut, at a ", " when
	// one is near, and ends with TruncatedMark.
	MaxDetailBytes = 1024
	// MaxErrors bounds Errors; when more are found, the last entry says
	// how many were left out.
	MaxErrors = 100
	// TruncatedMark ends a Detail that was cut.
	TruncatedMark = " … (truncated)"
)

// UnavailableRetryAfter is the Retry-After (seconds) of a problem of
// TypeUnavailable: about the time a Temporal frontend takes to restart.
const UnavailableRetryAfter = "5"

// FieldError names one invalid field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem is an RFC 9457 problem document with the validation extension
// member "errors".
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// Error makes a Problem usable as an error by clients of the API.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// New returns a problem of type typ with the standard status text as title.
func New(status int, typ, detail string) *Problem {
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Write sends p as the response to r. The request path is the instance: it
// names the resource without personal data (order numbers are not personal).
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.Bound()
	b, err := json.Marshal(p)
	if err != nil {
		// A Problem has only strings and ints: this cannot fail, but never
		// leave the client without an answer.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if p.Type == TypeUnavailable && h.Get("Retry-After") == "" {
		// Temporal is restarting or overloaded: tell the caller when to
		// try again rather than leave it to guess.
		h.Set("Retry-After", UnavailableRetryAfter)
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n')) // the client has gone if this fails; nothing left to do
}

// Bound cuts Detail to MaxDetailBytes and Errors to MaxErrors entries (the
// last of which then counts the ones left out). Write calls it.
func (p *Problem) Bound() {
	p.Detail = truncateDetail(p.Detail)
	for i := range p.Errors {
		p.Errors[i].Field = truncateDetail(p.Errors[i].Field)
		p.Errors[i].Detail = truncateDetail(p.Errors[i].Detail)
	}
	if n := len(p.Errors); n > MaxErrors {
		p.Errors = append(p.Errors[:MaxErrors-1:MaxErrors-1], FieldError{
			Field: "...", Detail: strconv.Itoa(n-MaxErrors+1) + " more problems not shown"})
	}
}

// truncateDetail cuts s to MaxDetailBytes (on a rune boundary, at the last
// ", " of its second half when there is one) and marks the cut.
func truncateDetail(s string) string {
	if len(s) <= MaxDetailBytes {
		return s
	}
	cut := MaxDetailBytes - len(TruncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if i := strings.LastIndex(s[:cut], ", "); i > cut/2 {
		cut = i
	}
	return s[:cut] + TruncatedMark
}
