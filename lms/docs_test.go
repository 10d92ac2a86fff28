package lms

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsErrorTable keeps the error table of docs/lms.md true: every type
// is documented with its transient flag, and nothing else is.
func TestDocsErrorTable(t *testing.T) {
	b, err := os.ReadFile("../docs/lms.md")
	require.NoError(t, err)
	all := []string{
		TypeConnectionRefused, TypeConnectionError, TypeTimeout, TypeServerError, TypeThrottled, TypeBadResponse, TypeCanceled,
		TypeCourseNotFound, TypeModeUnavailable, TypeEnrollmentClosed, TypeCourseFull, TypeEnrollmentFailed, TypeUserNotFound,
		TypeForbidden, TypeEmbargoed, TypeNotPrivileged, TypeInvalidRequest, TypeModeMismatch, TypeAuthenticationFailed,
		TypeNotFound, TypeConflict, TypeUnexpectedRedirect, TypeFilterIgnored,
	}
	rows := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (yes|no) \\|").FindAllStringSubmatch(string(b), -1)
	documented := map[string]bool{}
	for _, r := range rows {
		documented[r[1]] = r[2] == "yes"
	}
	require.Len(t, documented, len(all), "documented types: %v", documented)
	for _, typ := range all {
		transient, ok := documented[typ]
		require.True(t, ok, "%s is not documented in docs/lms.md", typ)
		require.Equal(t, IsTransientType(typ), transient, "transient column of %s", typ)
	}
}
