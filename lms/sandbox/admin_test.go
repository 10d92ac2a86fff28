package sandbox

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// The admin API answers callers on this machine only and, with a token
// configured, only with it; the LMS paths are not affected.
func TestAdminAPIIsLoopbackOnlyAndTakesAToken(t *testing.T) {
	l, err := New(Options{AdminToken: "adm-7f3"})
	require.NoError(t, err)
	serve := func(remote, path string, hdr map[string]string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	for _, path := range []string{"/sandbox/enrollments", "/sandbox/users", "/sandbox/faults", "/sandbox/stats"} {
		require.Equal(t, http.StatusForbidden, serve("192.0.2.7:5000", path, map[string]string{"Authorization": "Bearer adm-7f3"}), path)
		require.Equal(t, http.StatusUnauthorized, serve("127.0.0.1:5000", path, nil), path)
		require.Equal(t, http.StatusUnauthorized, serve("127.0.0.1:5000", path, map[string]string{"Authorization": "Bearer nope"}), path)
		require.Equal(t, http.StatusOK, serve("127.0.0.1:5000", path, map[string]string{"Authorization": "Bearer adm-7f3"}), path)
		require.Equal(t, http.StatusOK, serve("[::1]:5000", path, map[string]string{AdminTokenHeader: "adm-7f3"}), path)
	}
	require.Equal(t, http.StatusOK, serve("192.0.2.7:5000", "/api/enrollment/v1/course/"+DemoCourseID, nil), "the LMS paths answer anyone")

	open, err := New(Options{})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/sandbox/stats", nil)
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	open.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "no token configured: loopback is enough")
}
