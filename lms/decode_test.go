package lms

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeResponse feeds arbitrary LMS answers to every decoder and to the
// error classifier: none may panic, and a classified error must have a known
// type and a message without email addresses.
//
// Run it with: go test ./lms -run '^$' -fuzz FuzzDecodeResponse -fuzztime 30s
func FuzzDecodeResponse(f *testing.F) {
	seeds := []struct {
		status int
		retry  string
		body   string
	}{
		{200, "", ""},
		{200, "", "null"},
		{200, "", `{"created":"2026-11-21T10:00:00Z","mode":"verified","is_active":true,"user":"alice","course_details":{"course_id":"course-v1:edX+DemoX+Demo_Course","course_name":"Demo","enrollment_start":null,"enrollment_end":null,"course_start":"2020-01-01T00:00:00Z","course_end":null,"invite_only":false,"pacing_type":"Self Paced","course_modes":[{"slug":"verified","name":"Verified","min_price":49,"currency":"usd","expiration_datetime":null,"sku":"8CF08E5","bulk_sku":null}]}}`},
		{200, "", `{"mode":"audit","is_active":"false","user":7,"course_details":{"course_id":"x","course_modes":[null,1,{"slug":null}]}}`},
		{200, "", `{"mode":"audit","is_active":true,"course_id":"x","enrollment_attributes":[{"namespace":"order","name":"line_id","value":[1]},null,{"namespace":1}]}`},
		{200, "", `{"next":null,"previous":null,"results":[{"created":"x","mode":"audit","is_active":false,"user":"a","course_id":"c"}]}`},
		{200, "", `{"count":1,"results":[{"uuid":"u","user":"ada","course_uuid":"c","mode":"verified","expired_at":null,"order_number":"1"}]}`},
		{200, "", `[{"email":"a@b.c","course_id":"c","auto_enroll":true}]`},
		{400, "", `{"message":"No course 'course-v1:x+y+z' found for enrollment"}`},
		{400, "", `{"message":"Enrollment mode mismatch: active mode=verified, requested mode=audit. Won't deactivate."}`},
		{400, "", `{"message":"The [professional] course mode is expired or otherwise unavailable for course run [c].","course_details":{}}`},
		{400, "", `{"message":"An error occurred while creating the new course enrollment for user 'ada' in course 'c'"}`},
		{400, "", `{"user":["Object with username=bob@example.com does not exist."]}`},
		{401, "", `{"detail":"Signature has expired."}`},
		{403, "", `{"message":"Users from this location cannot access the course 'c'.","user_message_url":"/embargo"}`},
		{404, "", ``},
		{406, "", `{"message":"The user with the email address someone@example.com does not exist."}`},
		{409, "", `{"message":"An enrollment allowed with email x@y.z and course c already exists."}`},
		{429, "30", `{"detail":"Request was throttled. Expected available in 30 seconds."}`},
		{429, "Wed, 21 Oct 2015 07:28:00 GMT", `{}`},
		{429, "1e308", `[]`},
		{503, "-5", `<html>503</html>`},
		{500, "", `"just a string"`},
		{302, "", ``},
		{400, "", "{\"message\":\"\xff\xfe\x00 bad utf8 \\u0000\"}"},
	}
	for _, s := range seeds {
		f.Add(s.status, s.retry, []byte(s.body))
	}
	email := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		e, err := decodeEnrollment(body)
		if err == nil && e != nil && (e.Mode == "" || e.CourseID == "") {
			t.Fatalf("decoded an enrollment without mode or course: %+v", e)
		}
		_, _ = decodeCourse(body)
		_, _, _ = decodeEnrollmentPage(body)
		_, _, _ = decodeEntitlementPage(body)
		_, _ = decodeEntitlement(body)
		_, _ = decodeAllowedList(body)
		if status < 300 || status > 599 {
			return
		}
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		ce := classifyResponse("op", status, h, body)
		if ce == nil || ce.Type == "" || ce.Message == "" {
			t.Fatalf("classified %d without type or message: %+v", status, ce)
		}
		if ce.Transient != IsTransientType(ce.Type) {
			t.Fatalf("transient flag disagrees with type %s", ce.Type)
		}
		if ce.RetryAfter < 0 || ce.RetryAfter > maxRetryAfter {
			t.Fatalf("retry after out of range: %s", ce.RetryAfter)
		}
		if email.MatchString(ce.Message) {
			t.Fatalf("message leaks an email: %q", ce.Message)
		}
		if len([]rune(ce.Message)) > maxMessage+1 {
			t.Fatalf("message too long: %d", len(ce.Message))
		}
	})
}

func TestClassifyResponse(t *testing.T) {
	cases := []struct {
		status int
		body   string
		typ    string
	}{
		{400, `{"message":"No course 'c' found for enrollment"}`, TypeCourseNotFound},
		{400, `{"message":"No course found for course ID 'c'"}`, TypeCourseNotFound},
		{400, `{"message":"Enrollment mode mismatch: active mode=a, requested mode=b. Won't deactivate."}`, TypeModeMismatch},
		{400, `{"message":"The [x] course mode is expired or otherwise unavailable for course run [c]."}`, TypeModeUnavailable},
		{400, `{"message":"An error occurred while creating the new course enrollment for user 'u' in course 'c'"}`, TypeEnrollmentFailed},
		{400, `{"message":"'x' is an invalid enrollment activation status."}`, TypeInvalidRequest},
		{400, `{"user":["Object with username=x does not exist."]}`, TypeUserNotFound},
		{401, `{"detail":"Error decoding token."}`, TypeAuthenticationFailed},
		{403, `{"message":"User does not have permission to create enrollment with mode [verified]."}`, TypeForbidden},
		{403, `{"message":"m","user_message_url":"/x"}`, TypeEmbargoed},
		{404, ``, TypeNotFound},
		{406, `{"message":"The user x does not exist."}`, TypeUserNotFound},
		{408, ``, TypeTimeout},
		{409, `{"message":"exists"}`, TypeConflict},
		{429, `{"detail":"Request was throttled."}`, TypeThrottled},
		{500, `<html></html>`, TypeServerError},
		{502, ``, TypeServerError},
		{504, ``, TypeServerError},
		{301, ``, TypeUnexpectedRedirect},
		{418, ``, TypeInvalidRequest},
	}
	for _, tc := range cases {
		e := classifyResponse("op", tc.status, http.Header{}, []byte(tc.body))
		require.Equal(t, tc.typ, e.Type, "%d %s", tc.status, tc.body)
		require.Equal(t, tc.status, e.StatusCode)
		require.Equal(t, IsTransientType(tc.typ), e.Transient)
		require.NotEmpty(t, e.Message)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, 30*time.Second, parseRetryAfter("30", now))
	require.Equal(t, 1500*time.Millisecond, parseRetryAfter("1.5", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("-3", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	require.Equal(t, maxRetryAfter, parseRetryAfter("999999", now))
	require.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
}

func TestSanitizeMessage(t *testing.T) {
	require.Equal(t, "The user with the email address [email redacted] does not exist.",
		sanitizeMessage("The user with the email address jane.doe+shop@example.co.uk does not exist."))
	require.Equal(t, "Object with username=[email redacted] does not exist.", sanitizeMessage("Object with username=ada@x does not exist."))
	// The LMS names the learner it resolved, also for an order by email.
	require.Equal(t, "An error occurred while creating the new course enrollment for user '[username redacted]' in course 'course-v1:A+B+C'",
		sanitizeMessage("An error occurred while creating the new course enrollment for user 'ada' in course 'course-v1:A+B+C'"))
	require.Equal(t, "The user [username redacted] does not exist.", sanitizeMessage("The user ada does not exist."))
	require.Equal(t, "Object with username=[username redacted] does not exist.", sanitizeMessage("Object with username=ada does not exist."))
	require.Equal(t, "a b", sanitizeMessage("a\nb\x00"))
	long := sanitizeMessage(strings.Repeat("x", 2000))
	require.Len(t, []rune(long), maxMessage+1)
}

func TestDecodeEnrollment(t *testing.T) {
	e, err := decodeEnrollment([]byte("  \n"))
	require.NoError(t, err)
	require.Nil(t, e)
	_, err = decodeEnrollment([]byte("<html>"))
	require.Error(t, err)
	_, err = decodeEnrollment([]byte(`{"mode":"audit","course_details":{"course_id":"c"}}`))
	require.Error(t, err, "is_active is required")
	e, err = decodeEnrollment([]byte(`{"mode":"audit","is_active":true,"user":"u","course_details":{"course_id":"c","enrollment_end":"2020-01-01T00:00:00Z","course_modes":[{"slug":"audit"},{"slug":"verified","min_price":"49.5"}]}}`))
	require.NoError(t, err)
	require.Equal(t, "c", e.CourseID)
	require.True(t, e.Course.HasMode("verified"))
	require.Equal(t, 49.5, e.Course.Modes[1].MinPrice)
	require.False(t, e.Course.EnrollmentOpen(time.Now()))
}

func TestDecodeEnrollmentAttributes(t *testing.T) {
	// The stock LMS answers no enrollment_attributes: no evidence.
	e, err := decodeEnrollment([]byte(`{"mode":"verified","is_active":true,"user":"u","course_details":{"course_id":"c"}}`))
	require.NoError(t, err)
	require.Empty(t, e.Attributes)
	require.False(t, e.WrittenFor("EDX-1", "1"))

	// An LMS that answers them: the stamp names the order line of the last write.
	e, err = decodeEnrollment([]byte(`{"mode":"verified","is_active":true,"user":"u","course_details":{"course_id":"c"},
		"enrollment_attributes":[{"namespace":"order","name":"order_number","value":"EDX-1"},
		{"namespace":"order","name":"line_id","value":1},{"namespace":"credit","name":"provider_id","value":"p"},
		"garbled",{"name":"no-namespace","value":"x"}]}`))
	require.NoError(t, err)
	require.Len(t, e.Attributes, 3)
	require.Equal(t, "p", e.AttributeValue("credit", "provider_id"))
	require.True(t, e.WrittenFor("EDX-1", "1"))
	require.False(t, e.WrittenFor("EDX-1", "2"))
	require.False(t, e.WrittenFor("EDX-2", "1"))
	require.False(t, e.WrittenFor("", ""))

	// A malformed list is dropped, not an error: the enrollment still decodes.
	e, err = decodeEnrollment([]byte(`{"mode":"audit","is_active":false,"course_id":"c","enrollment_attributes":{"a":1}}`))
	require.NoError(t, err)
	require.Empty(t, e.Attributes)
	var none *Enrollment
	require.Empty(t, none.AttributeValue("order", "order_number"))
}

func TestModeSatisfies(t *testing.T) {
	require.True(t, ModeSatisfies("verified", "verified"))
	require.True(t, ModeSatisfies("verified", "audit"), "a free seat never downgrades a paying learner")
	require.False(t, ModeSatisfies("audit", "verified"))
	require.False(t, ModeSatisfies("honor", "audit"), "both free: the mode asked for is written")
	require.True(t, IsFreeMode("honor"))
	require.False(t, IsFreeMode("verified"))
}
