package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/starter/startertest"
)

const token = "s3cret-token"

func mapped(pt string) bool {
	return pt == order.ProductSeat || pt == order.ProductUpgrade || pt == order.ProductEntitlement
}

type env struct {
	t    *testing.T
	fake *startertest.Fake
	h    http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := &startertest.Fake{Mapped: mapped}
	h, err := api.New(api.Config{Token: token, Mapped: mapped}, fake, zap.NewNop())
	require.NoError(t, err)
	return &env{t: t, fake: fake, h: h}
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) problem(t *testing.T) problem.Problem {
	t.Helper()
	require.Equal(t, problem.ContentType, r.header.Get("Content-Type"), "body: %s", r.body)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, r.code, p.Status)
	require.NotEmpty(t, p.Type)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Instance)
	return p
}

func (e *env) do(method, path string, body io.Reader, auth bool) resp {
	e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) post(path, body string) resp {
	return e.do(http.MethodPost, path, strings.NewReader(body), true)
}

func validOrder(number string) order.Order {
	return order.Order{
		Number: number,
		User:   order.User{Username: "learner1"},
		Lines: []order.Line{
			{ID: "1", ProductType: order.ProductSeat, CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified"},
			{ID: "2", ProductType: order.ProductSeat, CourseID: "course-v1:edX+Other+2026", Mode: "audit"},
		},
		PlacedAt: mustTime("2026-11-21T09:58:02Z"),
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestCreateOrderStartsOnceAndAnswersDuplicates(t *testing.T) {
	e := newEnv(t)
	body := jsonOf(t, validOrder("A-100"))

	r := e.post("/api/v1/orders", body)
	require.Equal(t, http.StatusAccepted, r.code, string(r.body))
	var first api.OrderAccepted
	require.NoError(t, json.Unmarshal(r.body, &first))
	require.Equal(t, api.OrderAccepted{OrderNumber: "A-100", WorkflowID: "order-A-100", RunID: "run-A-100", StatusURL: "/api/v1/orders/A-100"}, first)
	require.Equal(t, "/api/v1/orders/A-100", r.header.Get("Location"))

	r = e.post("/api/v1/orders", body)
	require.Equal(t, http.StatusOK, r.code)
	var second api.OrderAccepted
	require.NoError(t, json.Unmarshal(r.body, &second))
	require.Equal(t, first, second)
	require.Equal(t, 1, e.fake.Starts())
}

func TestCreateOrderTenConcurrentCopiesStartOne(t *testing.T) {
	e := newEnv(t)
	body := jsonOf(t, validOrder("RACE-1"))
	var wg sync.WaitGroup
	codes := make([]int, 10)
	bodies := make([]string, 10)
	for i := range 10 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		})
	}
	wg.Wait()
	accepted := 0
	for i, c := range codes {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, c)
		if c == http.StatusAccepted {
			accepted++
		}
		require.JSONEq(t, bodies[0], bodies[i])
	}
	require.Equal(t, 1, accepted)
	require.Equal(t, 1, e.fake.Starts())
}

func TestCreateOrderSameNumberDifferentContentConflicts(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("C-1"))).code)
	other := validOrder("C-1")
	other.Lines[1].Mode = "verified"
	r := e.post("/api/v1/orders", jsonOf(t, other))
	require.Equal(t, http.StatusConflict, r.code)
	require.Equal(t, problem.TypeConflict, r.problem(t).Type)
	require.Equal(t, 1, e.fake.Starts())
}

func TestCreateOrderRejectsInvalidOrders(t *testing.T) {
	noLines := validOrder("V-1")
	noLines.Lines = nil
	dupLines := validOrder("V-2")
	dupLines.Lines[1].ID = "1"
	unmapped := validOrder("V-3")
	unmapped.Lines[0].ProductType = "donation"
	badCourse := validOrder("V-4")
	badCourse.Lines[0].CourseID = "not a course"
	noUser := validOrder("V-5")
	noUser.User = order.User{}

	cases := []struct {
		name  string
		body  string
		code  int
		field string
	}{
		{"no lines", jsonOf(t, noLines), 400, "lines"},
		{"duplicate line ids", jsonOf(t, dupLines), 400, "lines[1].id"},
		{"unmapped product type", jsonOf(t, unmapped), 400, "lines[0].product_type"},
		{"malformed course key", jsonOf(t, badCourse), 400, "lines[0].course_id"},
		{"missing user identity", jsonOf(t, noUser), 400, "user"},
		{"bad JSON", `{"number": "X-1",`, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"wrong type", `{"number": 7}`, 400, ""},
		{"unknown field", strings.Replace(jsonOf(t, validOrder("V-6")), `{"number"`, `{"coupon":"x","number"`, 1), 400, ""},
		{"trailing garbage", jsonOf(t, validOrder("V-7")) + "garbage", 400, ""},
		{"two documents", jsonOf(t, validOrder("V-8")) + jsonOf(t, validOrder("V-9")), 400, ""},
		{"empty body", ``, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.post("/api/v1/orders", tc.body)
			require.Equal(t, tc.code, r.code, string(r.body))
			p := r.problem(t)
			require.NotEmpty(t, p.Detail)
			if tc.field != "" {
				require.Equal(t, problem.TypeValidation, p.Type)
				var fields []string
				for _, fe := range p.Errors {
					fields = append(fields, fe.Field)
					require.NotEmpty(t, fe.Detail)
				}
				require.Contains(t, fields, tc.field)
			}
			require.Zero(t, e.fake.Starts(), "nothing may start")
		})
	}
}

func TestCreateOrderBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	o := validOrder("BIG-1")
	o.Lines[0].SKU = strings.Repeat("x", api.MaxBodyBytes)
	r := e.post("/api/v1/orders", jsonOf(t, o))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.code)
	require.Equal(t, problem.TypeTooLarge, r.problem(t).Type)
	require.Zero(t, e.fake.Starts())
}

func TestGetOrder(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("G-1"))).code)
	r := e.do(http.MethodGet, "/api/v1/orders/G-1", nil, true)
	require.Equal(t, http.StatusOK, r.code)
	var st contract.StatusDocument
	require.NoError(t, json.Unmarshal(r.body, &st))
	require.Equal(t, "G-1", st.OrderNumber)
	require.Len(t, st.Lines, 2)

	r = e.do(http.MethodGet, "/api/v1/orders/NOPE", nil, true)
	require.Equal(t, http.StatusNotFound, r.code)
	require.Equal(t, problem.TypeNotFound, r.problem(t).Type)
}

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("R-1"))).code)

	r := e.post("/api/v1/orders/R-1/refunds", `{"refund_id":"rf-1","line_ids":["1"]}`)
	require.Equal(t, http.StatusAccepted, r.code, string(r.body))
	var got api.RefundAccepted
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "order-R-1~refund-rf-1", got.WorkflowID)
	require.False(t, got.Duplicate)

	r = e.post("/api/v1/orders/R-1/refunds", `{"refund_id":"rf-1","line_ids":["1"]}`)
	require.Equal(t, http.StatusOK, r.code)
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.True(t, got.Duplicate)

	r = e.post("/api/v1/orders/R-1/refunds", `{"refund_id":"rf-2","line_ids":["9"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Equal(t, problem.TypeUnknownLines, r.problem(t).Type)

	r = e.post("/api/v1/orders/NOPE/refunds", `{"refund_id":"rf-1"}`)
	require.Equal(t, http.StatusNotFound, r.code)
	r.problem(t)

	r = e.post("/api/v1/orders/R-1/refunds", `{"line_ids":["1"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Equal(t, "refund_id", r.problem(t).Errors[0].Field)

	r = e.post("/api/v1/orders/R-1/refunds", `{"refund_id":"rf-3","lines":["1"]}`)
	require.Equal(t, http.StatusBadRequest, r.code)
	r.problem(t)
	require.Len(t, e.fake.RefundRequests(), 1)
}

func TestRetry(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("T-1"))).code)

	r := e.post("/api/v1/orders/T-1/retry", `{"line_ids":[]}`)
	require.Equal(t, http.StatusConflict, r.code)
	require.Equal(t, problem.TypeNothingToRetry, r.problem(t).Type)

	e.fake.SetLineState("T-1", "2", contract.LineFailed)
	r = e.post("/api/v1/orders/T-1/retry", `{"line_ids":["2"]}`)
	require.Equal(t, http.StatusAccepted, r.code, string(r.body))
	var got api.RetryAccepted
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, []string{"2"}, got.LineIDs)

	// An empty body retries every failed line.
	r = e.post("/api/v1/orders/T-1/retry", ``)
	require.Equal(t, http.StatusAccepted, r.code, string(r.body))

	r = e.post("/api/v1/orders/T-1/retry", `{"line_ids":["77"]}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)

	r = e.post("/api/v1/orders/NOPE/retry", `{}`)
	require.Equal(t, http.StatusNotFound, r.code)
}

func TestListOrders(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		n := fmt.Sprintf("L-%d", i)
		require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder(n))).code)
		e.fake.SetLineState(n, "1", contract.LineFailed)
	}
	require.Equal(t, http.StatusAccepted, e.post("/api/v1/orders", jsonOf(t, validOrder("OK-1"))).code)

	r := e.do(http.MethodGet, "/api/v1/orders?status=fulfillment_error&page_size=2", nil, true)
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	var page api.OrderList
	require.NoError(t, json.Unmarshal(r.body, &page))
	require.Len(t, page.Orders, 2)
	require.NotEmpty(t, page.NextPageToken)
	first := page.NextPageToken

	r = e.do(http.MethodGet, "/api/v1/orders?status=fulfillment_error&page_size=2&page_token="+page.NextPageToken, nil, true)
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	page = api.OrderList{}
	require.NoError(t, json.Unmarshal(r.body, &page))
	require.Len(t, page.Orders, 1)
	require.Equal(t, "L-2", page.Orders[0].OrderNumber)
	require.Empty(t, page.NextPageToken)

	r = e.do(http.MethodGet, "/api/v1/orders?status=bogus", nil, true)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	r.problem(t)

	r = e.do(http.MethodGet, "/api/v1/orders?page_size=-1", nil, true)
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Len(t, r.problem(t).Errors, 1)

	// A page token this API did not return never reaches Temporal: 422.
	swap := "B"
	if first[5] == 'B' {
		swap = "C"
	}
	for _, tok := range []string{"***", "AAAA", strings.Repeat("A", 5000), first[:5] + swap + first[6:]} {
		r = e.do(http.MethodGet, "/api/v1/orders?page_token="+tok, nil, true)
		require.Equal(t, http.StatusUnprocessableEntity, r.code, tok)
		require.Equal(t, "page_token", r.problem(t).Errors[0].Field)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, hdr := range []string{"", "Bearer wrong", "Basic " + token, "Bearer"} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/orders", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		r := resp{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		require.Equal(t, http.StatusUnauthorized, r.code, hdr)
		require.Equal(t, problem.TypeUnauthorized, r.problem(t).Type)
		require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
	}
	r := e.do(http.MethodPost, "/api/v1/orders", strings.NewReader(jsonOf(t, validOrder("AU-1"))), false)
	require.Equal(t, http.StatusUnauthorized, r.code)
	require.Zero(t, e.fake.Starts())

	// The webhook authenticates itself (signature), not by bearer token.
	r = e.do(http.MethodPost, "/api/v1/webhooks/woocommerce", strings.NewReader("webhook_id=1"), false)
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Equal(t, problem.TypeNotConfigured, r.problem(t).Type)

	_, err := api.New(api.Config{}, e.fake, nil)
	require.Error(t, err)
}

func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/healthz", nil, false).code)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/readyz", nil, false).code)
	e.post("/api/v1/orders", jsonOf(t, validOrder("M-1")))
	e.do(http.MethodGet, "/api/v1/orders/NOPE", nil, true)

	r := e.do(http.MethodGet, "/metrics", nil, false)
	require.Equal(t, http.StatusOK, r.code)
	text := string(r.body)
	require.Contains(t, text, `fulfillment_http_requests_total{code="202",route="POST /api/v1/orders"} 1`)
	require.Contains(t, text, `fulfillment_http_requests_total{code="404",route="GET /api/v1/orders/{number}"} 1`)
	require.Contains(t, text, `fulfillment_http_request_duration_seconds_bucket{route="POST /api/v1/orders"`)

	down := &startertest.Fake{Err: fmt.Errorf("dial: %w", starter.ErrUnavailable)}
	h, err := api.New(api.Config{Token: token}, down, nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, problem.UnavailableRetryAfter, rec.Header().Get("Retry-After"), "a 503 says when to try again")

	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(jsonOf(t, validOrder("D-1"))))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, problem.UnavailableRetryAfter, rec.Header().Get("Retry-After"), "a 503 says when to try again")

	internal := &startertest.Fake{Err: errors.New("boom")}
	h, err = api.New(api.Config{Token: token}, internal, nil)
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/api/v1/orders/X", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "boom", "internal errors are not leaked")
}

func TestUnknownRouteIsAProblem(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/nope", nil, true)
	require.Equal(t, http.StatusNotFound, r.code)
	r.problem(t)
}

func TestClient(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	c := &api.Client{BaseURL: srv.URL, Token: token}
	ctx := t.Context()

	created, err := c.CreateOrder(ctx, validOrder("CL-1"))
	require.NoError(t, err)
	require.True(t, created.Created)
	created, err = c.CreateOrder(ctx, validOrder("CL-1"))
	require.NoError(t, err)
	require.False(t, created.Created)

	st, err := c.Status(ctx, "CL-1")
	require.NoError(t, err)
	require.Equal(t, "CL-1", st.OrderNumber)

	_, err = c.Status(ctx, "NOPE")
	p, ok := api.AsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusNotFound, p.Status)

	rf, err := c.Refund(ctx, "CL-1", "r1", []string{"1"})
	require.NoError(t, err)
	require.False(t, rf.Duplicate)

	_, err = c.Retry(ctx, "CL-1", nil)
	p, ok = api.AsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusConflict, p.Status)

	list, err := c.List(ctx, "", 10, "")
	require.NoError(t, err)
	require.Len(t, list.Orders, 1)

	bad := &api.Client{BaseURL: srv.URL, Token: "nope"}
	_, err = bad.Status(ctx, "CL-1")
	p, ok = api.AsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusUnauthorized, p.Status)
}

func FuzzDecodeOrder(f *testing.F) {
	f.Add([]byte(`{"number":"F-1","user":{"username":"ab"},"lines":[{"id":"1","product_type":"seat","course_id":"course-v1:a+b+c","mode":"audit"}],"placed_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"number":"F-1"} x`))
	f.Add([]byte(`{"lines":[{"id":1}]}`))
	f.Add([]byte(`{"placed_at":"yesterday"}`))
	f.Add([]byte("\x00\xff{"))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"number":"F-1","number":"F-2"}`))
	f.Add([]byte(`{"number":"F-1","user":{"username":".."},"lines":[{"id":"..","product_type":"seat","sku":"\u0000"}],"placed_at":"2026-01-01T00:00:00Z"}`))
	fake := &startertest.Fake{Mapped: mapped}
	h, err := api.New(api.Config{Token: token, Mapped: mapped}, fake, zap.NewNop())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := api.DecodeOrder(bytes.NewReader(body))
		if err == nil {
			// Whatever decodes must validate without panicking, and fail
			// only with a ValidationError.
			if err := o.Validate(mapped); err != nil {
				var verr *order.ValidationError
				require.ErrorAs(t, err, &verr)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
