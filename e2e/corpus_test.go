package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// corpusCase is one bad request of the corpus.
type corpusCase struct {
	name   string
	method string
	path   string
	header map[string]string
	body   []byte
	// status is the answer expected: a 4xx with a problem document.
	status int
	// allow, for a 405, is a method the Allow header must name.
	allow string
	// workflows are the workflow IDs the request must not have started.
	workflows []string
}

// corpusAnswer is what the stack answered.
type corpusAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func sendCorpus(t *testing.T, c corpusCase) corpusAnswer {
	t.Helper()
	req, err := http.NewRequest(c.method, shared.APIURL+c.path, bytes.NewReader(c.body))
	require.NoError(t, err)
	if c.body == nil {
		req.Body = http.NoBody
	}
	req.Header.Set("Authorization", "Bearer "+shared.APIToken)
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return corpusAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// requireProblem checks that a is a problem document of the status wanted,
// bounded as docs/api.md says.
func requireProblem(t *testing.T, name string, a corpusAnswer, status int) problem.Problem {
	t.Helper()
	require.Equal(t, status, a.code, "%s: %s", name, a.body)
	require.Equal(t, problem.ContentType, a.header.Get("Content-Type"), "%s: %s", name, a.body)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(a.body, &p), "%s: %s", name, a.body)
	require.Equal(t, status, p.Status, name)
	require.NotEmpty(t, p.Type, name)
	require.LessOrEqual(t, len(p.Detail), problem.MaxDetailBytes, name)
	require.LessOrEqual(t, len(p.Errors), problem.MaxErrors, name)
	return p
}

// requireNoWorkflow fails when a workflow with this ID exists.
func requireNoWorkflow(t *testing.T, name, workflowID string) {
	t.Helper()
	_, err := shared.Client.DescribeWorkflowExecution(context.Background(), workflowID, "")
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "%s: workflow %s exists (or Temporal answered %v)", name, workflowID, err)
}

// TestBadInputCorpus sends every class of bad input the API and the
// WooCommerce receiver bound — lengths, charsets, shapes, methods, media
// types, duplicate keys, sizes, page tokens, and what the decoders' fuzzers
// found — to the running stack, and checks that each is answered with a
// 4xx problem document (or, for a signed WooCommerce delivery the store
// must not see fail, a recorded rejection), that no workflow started, and
// that the LMS was not written to.
func TestBadInputCorpus(t *testing.T) {
	course, courseUUID := newCourse(t)
	learner := newUser(t, "corpus")
	valid := func(number string) map[string]any {
		return map[string]any{
			"number": number, "user": map[string]any{"username": learner, "email": learner + "@example.com"},
			"lines":     []any{map[string]any{"id": "1", "product_type": "seat", "course_id": course, "mode": "verified"}},
			"placed_at": "2026-11-21T10:00:00Z",
		}
	}
	// with returns a valid order with one change.
	with := func(change func(o map[string]any)) (string, []byte) {
		n := newNumber("CORPUS")
		o := valid(n)
		change(o)
		b, err := json.Marshal(o)
		require.NoError(t, err)
		return n, b
	}
	line := func(o map[string]any) map[string]any { return o["lines"].([]any)[0].(map[string]any) }
	user := func(o map[string]any) map[string]any { return o["user"].(map[string]any) }
	jsonCT := map[string]string{"Content-Type": "application/json"}
	var cases []corpusCase
	order := func(name string, status int, change func(o map[string]any)) {
		n, b := with(change)
		cases = append(cases, corpusCase{name: name, method: http.MethodPost, path: "/api/v1/orders", header: jsonCT,
			body: b, status: status, workflows: []string{contract.OrderWorkflowID(n)}})
	}
	order("username of 151", 400, func(o map[string]any) { user(o)["username"] = strings.Repeat("u", 151) })
	order("username of dots", 400, func(o map[string]any) { user(o)["username"] = ".." })
	order("username with a slash", 400, func(o map[string]any) { user(o)["username"] = "a/../b" })
	order("email of 5,000", 400, func(o map[string]any) { user(o)["email"] = strings.Repeat("e", 5000) + "@example.com" })
	order("email of 255", 400, func(o map[string]any) {
		user(o)["email"] = strings.Repeat("e", 64) + "@" + strings.Repeat("d", 186) + ".com"
	})
	order("email with a display name", 400, func(o map[string]any) { user(o)["email"] = "Ada <ada@example.com>" })
	order("course key of 256", 400, func(o map[string]any) { line(o)["course_id"] = "course-v1:edX+X+" + strings.Repeat("r", 240) })
	order("course key not a key", 400, func(o map[string]any) { line(o)["course_id"] = "../../etc/passwd" })
	order("course uuid not a uuid", 400, func(o map[string]any) {
		o["lines"] = []any{map[string]any{"id": "1", "product_type": "entitlement", "course_uuid": courseUUID + "0"}}
	})
	order("line id of dots", 400, func(o map[string]any) { line(o)["id"] = ".." })
	order("line id of 65", 400, func(o map[string]any) { line(o)["id"] = strings.Repeat("1", 65) })
	order("sku of 101", 400, func(o map[string]any) { line(o)["sku"] = strings.Repeat("S", 101) })
	order("sku of 900 KB", 400, func(o map[string]any) { line(o)["sku"] = strings.Repeat("S", 900<<10) })
	order("sku with control characters", 400, func(o map[string]any) { line(o)["sku"] = "A\x00B" })
	order("source of 513", 400, func(o map[string]any) { o["source"] = "https://" + strings.Repeat("s", 505) })
	order("product type of 65", 400, func(o map[string]any) { line(o)["product_type"] = strings.Repeat("p", 65) })
	order("unknown mode", 400, func(o map[string]any) { line(o)["mode"] = "gold" })
	order("10,001 lines", 400, func(o map[string]any) {
		ls := make([]any, 10001)
		for i := range ls {
			ls[i] = map[string]any{"id": fmt.Sprint(i), "product_type": "donation"}
		}
		o["lines"] = ls
	})
	order("unknown field", 400, func(o map[string]any) { o["coupon"] = "FREE" })
	order("number of 129", 400, func(o map[string]any) { o["number"] = strings.Repeat("9", 129) })

	// Shapes the decoders' fuzzers found interesting, and the JSON that
	// encoding/json would take without a word.
	raw := func(name string, status int, body string, header map[string]string) {
		n := newNumber("CORPUS")
		cases = append(cases, corpusCase{name: name, method: http.MethodPost, path: "/api/v1/orders", header: header,
			body: []byte(strings.ReplaceAll(body, "NUMBER", n)), status: status, workflows: []string{contract.OrderWorkflowID(n)}})
	}
	good := func() string { _, b := with(func(map[string]any) {}); return string(b) }
	dup := `{"number":"NUMBER","number":"NUMBER-2","user":{"username":"` + learner + `"},"lines":[{"id":"1","product_type":"seat","course_id":"` + course + `","mode":"verified"}],"placed_at":"2026-11-21T10:00:00Z"}`
	raw("duplicate key", 400, dup, jsonCT)
	raw("duplicate nested key", 400, `{"number":"NUMBER","user":{"username":"`+learner+`","username":"x"},"lines":[{"id":"1","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"}`, jsonCT)
	raw("trailing document", 400, `{"number":"NUMBER","user":{"username":"ab"},"lines":[{"id":"1","product_type":"donation"}],"placed_at":"2026-11-21T10:00:00Z"} {"number":"NUMBER"}`, jsonCT)
	raw("binary", 400, "\x00\xff{", jsonCT)
	raw("null", 400, "null", jsonCT)
	raw("number as a line id", 400, `{"number":"NUMBER","lines":[{"id":1}]}`, jsonCT)
	raw("time in words", 400, `{"number":"NUMBER","placed_at":"yesterday"}`, jsonCT)
	raw("text/plain", 415, good(), map[string]string{"Content-Type": "text/plain"})
	raw("form", 415, good(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	raw("no content type", 415, good(), map[string]string{"Content-Type": ""})
	raw("latin-1 JSON", 415, good(), map[string]string{"Content-Type": "application/json; charset=iso-8859-1"})
	raw("over 1 MiB", 413, `{"number":"NUMBER","source":"`+strings.Repeat("s", 1<<20)+`"}`, jsonCT)

	// Methods a route does not serve.
	for _, m := range []struct{ method, path, allow string }{
		{http.MethodPut, "/api/v1/orders", http.MethodPost},
		{http.MethodDelete, "/api/v1/orders/CORPUS-1", http.MethodGet},
		{http.MethodPatch, "/api/v1/orders/CORPUS-1/refunds", http.MethodPost},
		{http.MethodGet, "/api/v1/orders/CORPUS-1/retry", http.MethodPost},
		{http.MethodPut, "/api/v1/webhooks/woocommerce", http.MethodPost},
		{http.MethodPost, "/healthz", http.MethodGet},
	} {
		cases = append(cases, corpusCase{name: m.method + " " + m.path, method: m.method, path: m.path, header: jsonCT,
			body: []byte(good()), status: 405, allow: m.allow})
	}

	// Refunds and retries of a real, fulfilled order of another learner.
	owner, number, o := newLearnerOrder(t, "corpusowner", "CORPUS-R")
	placeOrder(t, o)
	waitStatus(t, number, contract.OrderFulfilled, 30*time.Second)
	before := enrollment(t, owner, sandbox.DemoCourseID)
	refund := func(name string, status int, body string) {
		var req contract.RefundRequest
		_ = json.Unmarshal([]byte(body), &req) // a malformed body names no refund
		var wfs []string
		if req.RefundID != "" && contract.ValidateRefundID(req.RefundID) == nil {
			wfs = append(wfs, contract.RefundWorkflowID(number, req.RefundID))
		}
		cases = append(cases, corpusCase{name: name, method: http.MethodPost, path: "/api/v1/orders/" + number + "/refunds",
			header: jsonCT, body: []byte(body), status: status, workflows: wfs})
	}
	ids := func(n int, prefix string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d", prefix, i))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	refund("refund id of dots", 422, `{"refund_id":".."}`)
	refund("refund id of 65", 422, `{"refund_id":"`+strings.Repeat("r", 65)+`"}`)
	refund("refund id missing", 422, `{"line_ids":["1"]}`)
	refund("refund line id with a slash", 422, `{"refund_id":"CR-1","line_ids":["1/2"]}`)
	refund("10,001 refund line ids", 422, `{"refund_id":"CR-2","line_ids":`+ids(10001, "")+`}`)
	refund("5,000 unknown line ids", 422, `{"refund_id":"CR-3","line_ids":`+ids(5000, "nope")+`}`)
	refund("duplicate refund id key", 400, `{"refund_id":"CR-4","refund_id":"CR-5"}`)
	cases = append(cases,
		corpusCase{name: "retry line id of dots", method: http.MethodPost, path: "/api/v1/orders/" + number + "/retry",
			header: jsonCT, body: []byte(`{"line_ids":[".."]}`), status: 422},
		corpusCase{name: "retry as text", method: http.MethodPost, path: "/api/v1/orders/" + number + "/retry",
			header: map[string]string{"Content-Type": "text/plain"}, body: []byte(`{}`), status: 415},
		corpusCase{name: "page token made up", method: http.MethodGet, path: "/api/v1/orders?page_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", status: 422},
		corpusCase{name: "page token not base64", method: http.MethodGet, path: "/api/v1/orders?page_token=***", status: 422},
		corpusCase{name: "page size 0", method: http.MethodGet, path: "/api/v1/orders?page_size=0", status: 400},
		corpusCase{name: "unknown status", method: http.MethodGet, path: "/api/v1/orders?status=paid", status: 422},
	)

	for _, c := range cases {
		start := time.Now()
		a := sendCorpus(t, c)
		p := requireProblem(t, c.name, a, c.status)
		if c.status == http.StatusMethodNotAllowed {
			require.Contains(t, a.header.Get("Allow"), c.allow, c.name)
		}
		require.NotContains(t, string(a.body), learner+"@example.com", c.name)
		if strings.Contains(c.name, "page token") {
			require.Less(t, time.Since(start), 2*time.Second, "%s: answered at once, without asking Temporal", c.name)
		}
		if c.name == "5,000 unknown line ids" {
			require.Equal(t, problem.TypeUnknownLines, p.Type)
		}
	}

	// A page token the API did return, altered in its MAC, is refused too.
	var list api.OrderList
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders?page_size=1", nil, &list))
	require.NotEmpty(t, list.NextPageToken)
	tok := []byte(list.NextPageToken)
	tok[3] ^= 1 // still base64url: letters and digits flip within their class
	if tok[3] == '-' || tok[3] == '_' || tok[3] == ',' || tok[3] == '.' {
		tok[3] = 'A'
	}
	requireProblem(t, "altered page token", sendCorpus(t, corpusCase{method: http.MethodGet, path: "/api/v1/orders?page_token=" + string(tok)}), 422)

	wooCases := wooCorpus(t, course)

	// Nothing started, nothing written. (The check does see a workflow
	// that exists: the order refunds were sent to.)
	_, err := shared.Client.DescribeWorkflowExecution(context.Background(), contract.OrderWorkflowID(number), "")
	require.NoError(t, err)
	for _, c := range append(cases, wooCases...) {
		for _, id := range c.workflows {
			requireNoWorkflow(t, c.name, id)
		}
	}
	snap := snapshot(t, "", course)
	require.Empty(t, snap.Enrollments, "the corpus's course has no enrollment")
	require.Empty(t, snap.Allowed, "the corpus's course has no pre-enrollment")
	require.Empty(t, snapshot(t, learner, "").Entitlements)
	st := status(t, number)
	require.Empty(t, st.Refunds, "no refund was taken")
	after := enrollment(t, owner, sandbox.DemoCourseID)
	require.Equal(t, before.Writes, after.Writes, "the fulfilled learner's enrollment was not written")
	require.True(t, after.IsActive)
}

// wooCorpus sends the WooCommerce receiver's bad deliveries: the ones
// answered with a 4xx problem, and signed ones the store must not see fail
// (WooCommerce disables a webhook after a few), which are answered 200
// "rejected" and recorded. It returns the cases, with the order workflows
// none of them may start.
func wooCorpus(t *testing.T, course string) []corpusCase {
	t.Helper()
	const src = "https://corpus.example.com/"
	base := 700000 + int(orderSeq.Add(1))*100
	item := func(id, quantity int, sku string) string {
		return fmt.Sprintf(`{"id": %d, "product_id": 93, "quantity": %d, "sku": %q,
		  "meta_data": [{"key": "course_id", "value": %q}, {"key": "course_mode", "value": "verified"}]}`, id, quantity, sku, course)
	}
	body := func(id int, email string, items ...string) []byte {
		return fmt.Appendf(nil, `{"id": %d, "status": "processing", "date_created_gmt": "2026-11-21T09:58:02",
		  "billing": {"email": %q}, "line_items": [%s], "refunds": []}`, id, email, strings.Join(items, ","))
	}
	signed := func(b []byte, extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": "application/json", "X-WC-Webhook-Source": src,
			"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Signature": woocommerce.Sign(b, wooSecret), "Authorization": ""}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	number := func(id int) string { return contract.OrderWorkflowID(fmt.Sprintf("corpus.example.com-%d", id)) }
	var cases, rejected []corpusCase
	add := func(list *[]corpusCase, name string, status, id int, b []byte, extra map[string]string) {
		*list = append(*list, corpusCase{name: "woocommerce: " + name, method: http.MethodPost, path: "/api/v1/webhooks/woocommerce",
			header: signed(b, extra), body: b, status: status, workflows: []string{number(id)}})
	}
	ok := item(1, 1, "CORPUS")
	add(&cases, "unsigned", 401, base+1, body(base+1, "w@example.com", ok),
		map[string]string{"X-WC-Webhook-Signature": "bm9wZQ==", "X-WC-Webhook-Delivery-ID": "ada@example.com"})
	add(&cases, "source of 600", 400, base+2, body(base+2, "w@example.com", ok),
		map[string]string{"X-WC-Webhook-Source": "https://corpus.example.com/" + strings.Repeat("p", 600)})
	add(&cases, "source not a URL", 400, base+3, body(base+3, "w@example.com", ok), map[string]string{"X-WC-Webhook-Source": "::::"})
	add(&cases, "text/plain", 415, base+4, body(base+4, "w@example.com", ok), map[string]string{"Content-Type": "text/plain"})
	garbage := []byte(`{"id": 1, "line_items": [`)
	add(&cases, "malformed", 400, base+5, garbage, nil)
	huge := body(base+6, "w@example.com", item(1, 1, strings.Repeat("S", 1<<20)))
	add(&cases, "over 1 MiB", 413, base+6, huge, nil)
	add(&rejected, "quantity 0", 200, base+7, body(base+7, "w@example.com", item(1, 0, "CORPUS")), nil)
	add(&rejected, "quantity -1", 200, base+8, body(base+8, "w@example.com", item(1, -1, "CORPUS")), nil)
	add(&rejected, "email of 5,000", 200, base+9, body(base+9, strings.Repeat("w", 5000)+"@example.com", ok), nil)
	add(&rejected, "sku of 900 KB", 200, base+10, body(base+10, "w@example.com", item(1, 1, strings.Repeat("S", 900<<10))), nil)
	many := make([]string, 2000)
	for i := range many {
		many[i] = item(i+1, 0, "CORPUS")
	}
	add(&rejected, "2,000 broken lines", 200, base+11, body(base+11, "w@example.com", many...), nil)
	add(&rejected, "course key of 256", 200, base+12, bytes.Replace(body(base+12, "w@example.com", ok),
		[]byte(course), []byte("course-v1:edX+X+"+strings.Repeat("r", 240)), 1), nil)

	for _, c := range cases {
		requireProblem(t, c.name, sendCorpus(t, c), c.status)
	}
	var rejections struct {
		Rejections []woocommerce.Rejection `json:"rejections"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/webhooks/woocommerce/rejections", nil, &rejections))
	for _, rj := range rejections.Rejections {
		require.NotContains(t, rj.DeliveryID, "@", "an unsigned caller's delivery id is kept only when well-formed")
	}
	for _, c := range rejected {
		a := sendCorpus(t, c)
		require.Equal(t, http.StatusOK, a.code, "%s: %s", c.name, a.body)
		var r woocommerce.Reply
		require.NoError(t, json.Unmarshal(a.body, &r), c.name)
		require.Equal(t, woocommerce.ResultRejected, r.Result, "%s: %s", c.name, a.body)
		require.LessOrEqual(t, len(r.Errors), problem.MaxErrors, c.name)
		require.Less(t, len(a.body), 32<<10, "%s: the answer is bounded", c.name)
	}
	return append(cases, rejected...)
}
