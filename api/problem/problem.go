// Package problem writes RFC 9457 problem documents
// (application/problem+json), the error format of every HTTP endpoint of
// fulfillment.
package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem types. Each is documented in docs/api.md under "Problem types".
const (
	TypeValidation     = "urn:coursefulfill:problem:validation"
	TypeMalformed      = "urn:coursefulfill:problem:malformed-request"
	TypeTooLarge       = "urn:coursefulfill:problem:body-too-large"
	TypeUnauthorized   = "urn:coursefulfill:problem:unauthorized"
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
