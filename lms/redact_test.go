package lms

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactLearner(t *testing.T) {
	e := &Error{Type: TypeUserNotFound, Message: "The user ada does not exist; adapter ada_b ada."}
	require.Same(t, e, redactLearner(e, "ada", ""))
	require.Equal(t, "The user [username redacted] does not exist; adapter ada_b [username redacted].", e.Message)

	e = &Error{Message: "GET /api/enrollment/v1/enrollment/j%C3%B6rg,course-v1:X+Y+Z: connection refused"}
	redactLearner(e, "jörg", "")
	require.Equal(t, "GET /api/enrollment/v1/enrollment/[username redacted],course-v1:X+Y+Z: connection refused", e.Message)

	e = &Error{Message: "no account for ada.l@example.com"}
	redactLearner(e, "", "ada.l@example.com")
	require.Equal(t, "no account for [email redacted]", e.Message)

	require.Nil(t, redactLearner(nil, "ada", "ada@example.com"))
}

// A transport failure on a read names the path, which carries the username.
func TestTransportErrorOmitsUsername(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := New(Config{BaseURL: "http://" + addr, APIKey: "k"})
	require.NoError(t, err)
	_, err = c.Enroll(context.Background(), EnrollRequest{Username: "grace_h", CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "audit"})
	e, ok := AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, TypeConnectionRefused, e.Type)
	require.NotContains(t, err.Error(), "grace_h")
	require.Contains(t, err.Error(), redactedUser)
}
