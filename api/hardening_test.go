package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTimeErrorsDoNotEchoTheValue(t *testing.T) {
	e := newEnv(t)
	r := e.post("/api/v1/orders", `{"number":"N-1","user":{"email":"a@example.com"},"lines":[],"placed_at":"alice@example.com"}`)
	require.Equal(t, http.StatusBadRequest, r.code)
	require.NotContains(t, string(r.body), "alice@example.com")
	require.Contains(t, string(r.body), "RFC 3339")
}

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"bearer " + token, "BEARER " + token} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/orders/NOPE-1", nil)
		req.Header.Set("Authorization", h)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code, h)
	}
	for _, h := range []string{"Bearer " + token + "x", "Bearer", "Basic " + token, token} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/orders/NOPE-1", nil)
		req.Header.Set("Authorization", h)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, h)
	}
}

// A path that no order number can take is no order: 404, and nothing
// reaches Temporal (which would refuse it with an error of its own).
func TestImpossibleOrderNumbersAreNotFound(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("9", 300)
	for _, n := range []string{long, "A%ff", "X-refund-R1", "-lead"} {
		r := e.do(http.MethodGet, "/api/v1/orders/"+n, nil, true)
		require.Equal(t, http.StatusNotFound, r.code, n)
		r = e.post("/api/v1/orders/"+n+"/refunds", `{"refund_id":"R-1"}`)
		require.Equal(t, http.StatusNotFound, r.code, n)
		r = e.post("/api/v1/orders/"+n+"/retry", `{}`)
		require.Equal(t, http.StatusNotFound, r.code, n)
	}
	r := e.post("/api/v1/orders", `{"number":"X-refund-R1","user":{"username":"ada"},"lines":[{"id":"1","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"}`)
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, string(r.body), "-refund-")
}
