package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/api/problem"
)

// Every route answers a method it does not serve with 405 and Allow naming
// the ones it does; a path no route serves stays 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t)
	allowOf := map[string][]string{}
	for _, rt := range api.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		path = strings.ReplaceAll(path, "{number}", "N-1")
		allowOf[path] = append(allowOf[path], method)
	}
	for path, methods := range allowOf {
		for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r := e.do(m, path, nil, true)
			require.Equal(t, http.StatusMethodNotAllowed, r.code, "%s %s", m, path)
			p := r.problem(t)
			require.Equal(t, problem.TypeMethodNotAllowed, p.Type)
			allow := r.header.Get("Allow")
			for _, want := range methods {
				require.Contains(t, allow, want, "%s %s", m, path)
			}
		}
	}
	r := e.do(http.MethodGet, "/api/v1/orders/N-1/ghosts", nil, true)
	require.Equal(t, http.StatusNotFound, r.code)
	require.Empty(t, r.header.Get("Allow"))
}

func TestNonJSONBodiesAre415(t *testing.T) {
	e := newEnv(t)
	body := jsonOf(t, validOrder("CT-1"))
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx", "multipart/form-data; boundary=x"} {
		for _, path := range []string{"/api/v1/orders", "/api/v1/orders/CT-1/refunds", "/api/v1/orders/CT-1/retry"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			r := resp{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			require.Equal(t, http.StatusUnsupportedMediaType, r.code, "%q %s", ct, path)
			require.Equal(t, problem.TypeUnsupportedMediaType, r.problem(t).Type)
		}
	}
	require.Zero(t, e.fake.Starts(), "nothing started")
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8"} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, rec.Code, ct)
	}
	// A retry of every failed line needs no body and no Content-Type.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders/CT-1/retry", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	require.NotEqual(t, http.StatusUnsupportedMediaType, rec.Code)
}

func TestDuplicateKeysAre400(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"number":"DK-1","number":"DK-2","user":{"username":"ada"},"lines":[{"id":"1","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"}`,
		`{"number":"DK-1","user":{"username":"ada","username":"eve"},"lines":[{"id":"1","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"}`,
		`{"number":"DK-1","user":{"username":"ada"},"lines":[{"id":"1","id":"2","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"}`,
	} {
		r := e.post("/api/v1/orders", body)
		require.Equal(t, http.StatusBadRequest, r.code, body)
		p := r.problem(t)
		require.Equal(t, problem.TypeMalformed, p.Type)
		require.Contains(t, p.Detail, "appears twice")
	}
	require.Zero(t, e.fake.Starts())
	r := e.post("/api/v1/orders/DK-1/refunds", `{"refund_id":"R-1","refund_id":"R-2"}`)
	require.Equal(t, http.StatusBadRequest, r.code)
	r = e.post("/api/v1/orders/DK-1/retry", `{"line_ids":["1"],"line_ids":[]}`)
	require.Equal(t, http.StatusBadRequest, r.code)
}

func TestRefundAndRetryRequestsAreBounded(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("RB-1"))).code)
	for body, field := range map[string]string{
		`{"refund_id":".."}`:                                                 "refund_id",
		`{"refund_id":"` + strings.Repeat("r", 65) + `"}`:                    "refund_id",
		`{"refund_id":"R-1","line_ids":[".."]}`:                              "line_ids[0]",
		`{"refund_id":"R-1","line_ids":["1","a b"]}`:                         "line_ids[1]",
		`{"refund_id":"R-1","line_ids":["` + strings.Repeat("1", 65) + `"]}`: "line_ids[0]",
	} {
		r := e.post("/api/v1/orders/RB-1/refunds", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.code, body)
		require.Equal(t, field, r.problem(t).Errors[0].Field, body)
	}
	r := e.post("/api/v1/orders/RB-1/retry", `{"line_ids":["../x"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Equal(t, "line_ids[0]", r.problem(t).Errors[0].Field)

	// 10,001 ids: one error, not 10,001.
	ids := make([]string, 10001)
	for i := range ids {
		ids[i] = fmt.Sprintf("%d", i)
	}
	r = e.post("/api/v1/orders/RB-1/refunds", jsonOf(t, map[string]any{"refund_id": "R-9", "line_ids": ids}))
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Len(t, r.problem(t).Errors, 1)
}

// A problem never repeats more than MaxErrors field errors or
// MaxDetailBytes of detail, however much the request held.
func TestProblemsAreBounded(t *testing.T) {
	e := newEnv(t)
	o := validOrder("PB-1")
	o.Lines = nil
	for i := range 5000 {
		o.Lines = append(o.Lines, validOrder("x").Lines[0])
		o.Lines[i].ID = fmt.Sprintf("%d", i)
		o.Lines[i].CourseID = "bad"
	}
	r := e.post("/api/v1/orders", jsonOf(t, o))
	require.Equal(t, http.StatusBadRequest, r.code)
	p := r.problem(t)
	require.Len(t, p.Errors, problem.MaxErrors)
	require.Contains(t, p.Errors[problem.MaxErrors-1].Detail, "more problems not shown")
	require.Less(t, len(r.body), 64<<10)

	long := &problem.Problem{Status: 422, Detail: "unknown line: " + strings.Repeat("123456, ", 20000)}
	long.Bound()
	require.LessOrEqual(t, len(long.Detail), problem.MaxDetailBytes)
	require.True(t, strings.HasSuffix(long.Detail, problem.TruncatedMark))
}
