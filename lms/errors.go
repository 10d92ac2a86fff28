package lms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error types. They are stable: they end up in order line results, logs and
// dashboards. Transient types may go away by themselves and are retried by the
// caller (honouring RetryAfter); permanent ones wait for a person.
const (
	// Transient.
	TypeConnectionRefused = "ConnectionRefused" // nothing listens at the LMS address
	TypeConnectionError   = "ConnectionError"   // DNS, reset, TLS or other transport failure
	TypeTimeout           = "Timeout"           // the call (or the caller's deadline) ran out
	TypeServerError       = "ServerError"       // 5xx from the LMS or a proxy in front of it
	TypeThrottled         = "Throttled"         // 429 from the LMS, or the client's own rate limit
	TypeBadResponse       = "BadResponse"       // a 2xx answer that is not the expected JSON
	TypeCanceled          = "Canceled"          // the caller gave up (context canceled)

	// Permanent.
	TypeCourseNotFound       = "CourseNotFound"       // no such course run
	TypeModeUnavailable      = "ModeUnavailable"      // the mode is expired or not offered by the course run
	TypeEnrollmentClosed     = "EnrollmentClosed"     // the course run's enrollment window is closed
	TypeCourseFull           = "CourseFull"           // the course run has no seat left
	TypeEnrollmentFailed     = "EnrollmentFailed"     // the LMS refused for a reason it does not name
	TypeUserNotFound         = "UserNotFound"         // the learner has no LMS account
	TypeForbidden            = "Forbidden"            // the caller may not do this (mode, other user, plugin)
	TypeEmbargoed            = "Embargoed"            // country embargo on the course
	TypeNotPrivileged        = "NotPrivileged"        // the LMS ignored a write a privileged caller could make
	TypeInvalidRequest       = "InvalidRequest"       // the LMS rejected the request's shape (our bug or bad data)
	TypeModeMismatch         = "ModeMismatch"         // deactivation asked for a mode the learner is not in
	TypeAuthenticationFailed = "AuthenticationFailed" // bad client credentials, API key or token
	TypeNotFound             = "NotFound"             // the addressed object does not exist
	TypeConflict             = "Conflict"             // the object already exists
	TypeUnexpectedRedirect   = "UnexpectedRedirect"   // the LMS redirected: wrong BaseURL or a login page
	TypeFilterIgnored        = "FilterIgnored"        // the LMS ignored a listing filter (a release older than the client needs)
)

// transientTypes lists the types whose failures may go away by themselves.
var transientTypes = map[string]bool{
	TypeConnectionRefused: true,
	TypeConnectionError:   true,
	TypeTimeout:           true,
	TypeServerError:       true,
	TypeThrottled:         true,
	TypeBadResponse:       true,
	TypeCanceled:          true,
}

// IsTransientType reports whether failures of type t are transient.
func IsTransientType(t string) bool { return transientTypes[t] }

// Error is every failure the Client returns. Message is the LMS's own message
// (emails and the learner's username redacted) or a description of a
// transport failure; it never holds secrets. It ends up in logs, Temporal
// histories and the Web UI.
type Error struct {
	// Type is one of the Type* constants.
	Type string
	// Message explains the failure for an operator.
	Message string
	// StatusCode is the HTTP status of the LMS answer, 0 when there was none.
	StatusCode int
	// Transient marks failures that may go away by themselves.
	Transient bool
	// RetryAfter is how long the LMS asked us to wait (429 Retry-After).
	RetryAfter time.Duration
	// Op names the client operation that failed, for example "enroll".
	Op string

	// cause is a sentinel (context.DeadlineExceeded, syscall.ECONNREFUSED,
	// ...), never a raw transport error: those carry URLs with emails in
	// their query strings.
	cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("lms")
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	b.WriteString(": " + e.Type)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the sentinel cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// AsError returns err as an *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsTransient reports whether err is an *Error that may go away by itself.
func IsTransient(err error) bool {
	e, ok := AsError(err)
	return ok && e.Transient
}

// ErrorType returns the Type of err if it is an *Error, else "".
func ErrorType(err error) string {
	if e, ok := AsError(err); ok {
		return e.Type
	}
	return ""
}

func newError(op, typ, msg string, status int) *Error {
	return &Error{Op: op, Type: typ, Message: sanitizeMessage(msg), StatusCode: status, Transient: IsTransientType(typ)}
}

// filterIgnored reports a listing whose rows its filter excludes: acting on
// them could touch another learner.
func filterIgnored(op, msg string) *Error {
	return newError(op, TypeFilterIgnored, msg, http.StatusOK)
}

// invalidRequest reports a request the client refuses to send.
func invalidRequest(op, msg string) *Error { return newError(op, TypeInvalidRequest, msg, 0) }

// maxRetryAfter caps the LMS's Retry-After hint so a garbled header cannot
// park a line for days.
const maxRetryAfter = time.Hour

// classifyResponse turns an LMS answer with status >= 300 into an *Error. It
// must never panic, whatever the body (it is fuzzed).
func classifyResponse(op string, status int, header http.Header, body []byte) *Error {
	msg := decodeMessage(body)
	fields := decodeFieldErrors(body)
	typ := TypeInvalidRequest
	switch {
	case status >= 300 && status < 400:
		typ = TypeUnexpectedRedirect
		msg = "the LMS answered with a redirect; check the LMS base URL and credentials"
	case status == http.StatusBadRequest:
		typ = classifyBadRequest(msg, fields)
	case status == http.StatusUnauthorized:
		typ = TypeAuthenticationFailed
	case status == http.StatusForbidden:
		typ = TypeForbidden
		if hasJSONKey(body, "user_message_url") {
			typ = TypeEmbargoed
		}
	case status == http.StatusNotFound:
		typ = TypeNotFound
	case status == http.StatusNotAcceptable:
		typ = TypeUserNotFound
	case status == http.StatusRequestTimeout:
		typ = TypeTimeout
	case status == http.StatusConflict:
		typ = TypeConflict
	case status == http.StatusTooManyRequests:
		typ = TypeThrottled
	case status >= 500:
		typ = TypeServerError
	}
	if sanitizeMessage(msg) == "" { // nothing readable left of it
		msg = http.StatusText(status)
		if msg == "" {
			msg = "HTTP " + strconv.Itoa(status)
		}
	}
	e := newError(op, typ, msg, status)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), time.Now())
	}
	return e
}

// classifyBadRequest maps the LMS's 400 messages (see the enrollment views)
// to types.
func classifyBadRequest(msg string, fields map[string]string) string {
	switch {
	case strings.Contains(msg, "Enrollment mode mismatch"):
		return TypeModeMismatch
	case strings.Contains(msg, "course mode is expired or otherwise unavailable"):
		return TypeModeUnavailable
	case strings.HasPrefix(msg, "No course ") && strings.Contains(msg, "found"):
		return TypeCourseNotFound
	case strings.Contains(msg, "An error occurred while creating the new course enrollment"):
		// Enrollment closed, course full or a data-layer error: the LMS
		// does not say which. Enroll diagnoses it further.
		return TypeEnrollmentFailed
	}
	if strings.Contains(fields["user"], "does not exist") {
		return TypeUserNotFound
	}
	return TypeInvalidRequest
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs != secs || secs <= 0 { // NaN or not positive
			return 0
		}
		if secs >= maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	switch {
	case d < 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}

// classifyTransport turns a failed round trip into an *Error. ctx is the
// caller's context (not the per-call one) so a caller's cancellation is told
// apart from the per-call timeout.
func classifyTransport(ctx context.Context, op, what string, err error) *Error {
	mk := func(typ, msg string, cause error) *Error {
		e := newError(op, typ, msg, 0)
		e.cause = cause
		return e
	}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return mk(TypeCanceled, what+": canceled by the caller", context.Canceled)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return mk(TypeTimeout, what+": no answer in time", context.DeadlineExceeded)
	case errors.Is(err, syscall.ECONNREFUSED):
		return mk(TypeConnectionRefused, what+": connection refused", syscall.ECONNREFUSED)
	case errors.Is(err, context.Canceled):
		return mk(TypeCanceled, what+": canceled", context.Canceled)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return mk(TypeConnectionError, what+": cannot resolve the LMS host", nil)
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return mk(TypeConnectionError, what+": connection reset", syscall.ECONNRESET)
	}
	return mk(TypeConnectionError, what+": transport failure", nil)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// emailPattern is deliberately broad: anything around an @ is treated as an
// address. Redacting a username with an @ too is the safe mistake.
var emailPattern = regexp.MustCompile(`[^\s'"\[\](){}<>,;:=]+@[^\s'"\[\](){}<>,;:=]+`)

// maxMessage bounds the length of a message kept from the LMS.
const maxMessage = 500

// sanitizeMessage redacts email addresses, drops control characters and
// invalid UTF-8 and bounds the length of a message from the LMS.
func sanitizeMessage(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			if r == '\n' || r == '\t' || r == '\r' {
				return ' '
			}
			return -1
		}
		return r
	}, s)
	s = emailPattern.ReplaceAllString(s, "[email redacted]")
	// The LMS names the learner it resolved (also for an order by email):
	// "... for user 'ada' in course ...", "The user ada does not exist".
	s = quotedUserPattern.ReplaceAllString(s, "${1}'"+redactedUser+"'")
	s = userDoesNotExistPattern.ReplaceAllString(s, "${1}"+redactedUser+"${2}")
	s = usernameFieldPattern.ReplaceAllString(s, "username="+redactedUser)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxMessage {
		r := []rune(s)
		s = string(r[:maxMessage]) + "…"
	}
	return s
}

// redactedUser stands for the learner's username in messages.
const redactedUser = "[username redacted]"

// redactLearner removes the learner's username and email from the message of
// err, when err is an *Error. The LMS names the user in some answers ("The
// user ada does not exist.") and a read's path carries the username; the
// email pattern cannot recognise a username. It returns err.
func redactLearner(err error, username, email string) error {
	e, ok := AsError(err)
	if !ok || e.Message == "" {
		return err
	}
	if email != "" {
		e.Message = strings.ReplaceAll(e.Message, email, "[email redacted]")
	}
	if username != "" {
		e.Message = replaceWord(e.Message, username, redactedUser)
		if esc := url.PathEscape(username); esc != username {
			e.Message = replaceWord(e.Message, esc, redactedUser)
		}
	}
	return err
}

// replaceWord replaces the occurrences of word in s that are not part of a
// longer word (letters, digits, underscore), so a username "ada" is found in
// "The user ada does not exist." and "/enrollment/ada,course-v1:..." but not
// in "adapter".
func replaceWord(s, word, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, word)
		if i < 0 {
			break
		}
		j := i + len(word)
		whole := (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j]))
		b.WriteString(s[:i])
		if whole {
			b.WriteString(repl)
		} else {
			b.WriteString(word)
		}
		s = s[j:]
	}
	b.WriteString(s)
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// Patterns of LMS messages that name a learner.
var (
	quotedUserPattern       = regexp.MustCompile(`(?i)(\buser\s+)'[^']*'`)
	userDoesNotExistPattern = regexp.MustCompile(`(?i)(\bthe user\s+)\S+(\s+does not exist)`)
	usernameFieldPattern    = regexp.MustCompile(`username=[^\s,;'"\[]+`)
)
