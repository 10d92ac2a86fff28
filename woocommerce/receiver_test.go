package woocommerce_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/starter/startertest"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

const secret = "wc-secret"

const source = "https://Shop.Example.com/"

// orderJSON renders a WooCommerce order like the REST API does.
func orderJSON(id int, status string, items string, refunds string) []byte {
	return fmt.Appendf(nil, `{"id": %d, "number": "%d", "status": %q, "currency": "USD",
  "date_created_gmt": "2026-11-21T09:58:02", "date_paid_gmt": "2026-11-21T09:58:05",
  "customer_id": 12, "billing": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
  "line_items": [%s], "refunds": [%s]}`, id, id, status, items, refunds)
}

const courseItem = `{"id": 315, "name": "Demo Course (verified)", "product_id": 93, "variation_id": 0,
  "quantity": 1, "sku": "DEMOX-VERIFIED", "price": 49, "total": "49.00",
  "meta_data": [{"id": 4410, "key": "course_id", "value": "course-v1:edX+DemoX+Demo_Course"},
                {"id": 4411, "key": "course_mode", "value": "verified"}]}`

const pluginItem = `{"id": 316, "name": "Other", "product_id": 94, "quantity": 1, "sku": "",
  "meta_data": [{"id": 1, "key": "_course_id", "value": "course-v1:edX+Other+2026"},
                {"id": 2, "key": "_mode", "value": "audit"}, {"id": 3, "key": "_x", "value": {"a": 1}}]}`

const mappedItem = `{"id": 317, "name": "Mapped", "product_id": 95, "quantity": 1, "sku": "MAPPED-1", "meta_data": []}`

const mugItem = `{"id": 318, "name": "Mug", "product_id": 96, "quantity": 2, "sku": "MUG", "meta_data": []}`

const unknownItem = `{"id": 319, "name": "Mystery", "product_id": 97, "quantity": 1, "sku": "MYSTERY", "meta_data": []}`

const productMap = `{"products": [
  {"sku": "MAPPED-1", "course_id": "course-v1:edX+Mapped+2026", "mode": "verified"},
  {"product_id": 98, "course_id": "course-v1:edX+ById+2026", "mode": "honor"},
  {"sku": "MUG", "non_course": true}
]}`

type env struct {
	t    *testing.T
	fake *startertest.Fake
	rc   *woocommerce.Receiver
}

func newEnv(t *testing.T, store woocommerce.StoreAPI) *env {
	t.Helper()
	pm, err := woocommerce.ParseProductMap([]byte(productMap))
	require.NoError(t, err)
	fake := &startertest.Fake{}
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, Store: store, AllowAnyStore: true}, fake, zap.NewNop())
	require.NoError(t, err)
	return &env{t: t, fake: fake, rc: rc}
}

type answer struct {
	code  int
	reply woocommerce.Reply
	raw   string
}

func (e *env) deliver(body []byte, hdr map[string]string) answer {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/woocommerce", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WC-Webhook-Source", source)
	req.Header.Set("X-WC-Webhook-Topic", "order.updated")
	req.Header.Set("X-WC-Webhook-Resource", "order")
	req.Header.Set("X-WC-Webhook-Delivery-ID", "d-1")
	req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(body, secret))
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.rc.ServeHTTP(rec, req)
	a := answer{code: rec.Code, raw: rec.Body.String()}
	if rec.Code < 300 {
		require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &a.reply), rec.Body.String())
	}
	return a
}

func (e *env) rejections() []woocommerce.Rejection { return e.rc.Rejections() }

func TestPing(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver([]byte("webhook_id=12"), map[string]string{"X-WC-Webhook-Signature": "", "Content-Type": "application/x-www-form-urlencoded", "X-WC-Webhook-Topic": ""})
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultPong, a.reply.Result)
	require.Zero(t, e.fake.Starts())
}

func TestProcessingStartsOnceHoweverOftenDelivered(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	body := orderJSON(727, "processing", courseItem+","+pluginItem+","+mappedItem+","+mugItem, "")
	a := e.deliver(body, nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	require.Equal(t, woocommerce.ResultStarted, a.reply.Result)
	require.Equal(t, "shop.example.com-727", a.reply.OrderNumber)
	require.Equal(t, "order-shop.example.com-727", a.reply.WorkflowID)

	o, ok := e.fake.Order("shop.example.com-727")
	require.True(t, ok)
	require.NoError(t, o.Validate(nil))
	require.Equal(t, order.User{Email: "ada@example.com"}, o.User)
	require.Equal(t, []order.Line{
		{ID: "315", ProductType: "seat", CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified", SKU: "DEMOX-VERIFIED"},
		{ID: "316", ProductType: "seat", CourseID: "course-v1:edX+Other+2026", Mode: "audit"},
		{ID: "317", ProductType: "seat", CourseID: "course-v1:edX+Mapped+2026", Mode: "verified", SKU: "MAPPED-1"},
	}, o.Lines, "the mug is not a course and is skipped")

	// The replayed delivery, and the move to completed, start nothing new.
	for _, b := range [][]byte{body, orderJSON(727, "completed", courseItem+","+pluginItem+","+mappedItem+","+mugItem, "")} {
		a = e.deliver(b, nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultDuplicate, a.reply.Result)
	}
	require.Equal(t, 1, e.fake.Starts())
	require.Empty(t, e.rejections())
}

func TestCompletedVirtualOrderStarts(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver(orderJSON(800, "completed", `{"id": 1, "product_id": 98, "quantity": 1, "meta_data": []}`, ""), nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	o, ok := e.fake.Order("shop.example.com-800")
	require.True(t, ok)
	require.Equal(t, "course-v1:edX+ById+2026", o.Lines[0].CourseID)
}

func TestOtherStatusesStartNothing(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	for _, st := range []string{"pending", "on-hold", "cancelled", "failed", "checkout-draft"} {
		a := e.deliver(orderJSON(801, st, courseItem, ""), nil)
		require.Equal(t, http.StatusOK, a.code)
		require.Equal(t, woocommerce.ResultIgnored, a.reply.Result)
	}
	a := e.deliver(orderJSON(802, "processing", courseItem, ""), map[string]string{"X-WC-Webhook-Topic": "order.deleted"})
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultIgnored, a.reply.Result)
	require.Zero(t, e.fake.Starts())
}

func TestLineWithoutCourseIsRejectedAndRecorded(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	body := orderJSON(900, "processing", courseItem+","+unknownItem, "")
	for range 2 {
		a := e.deliver(body, nil)
		require.Equal(t, http.StatusOK, a.code, "a 2xx keeps the store from disabling the webhook")
		require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
		require.Equal(t, "line_items[id=319]", a.reply.Errors[0].Field)
	}
	require.Zero(t, e.fake.Starts(), "a partial order is not fulfilled")
	rj := e.rejections()
	require.Len(t, rj, 1)
	require.Equal(t, woocommerce.KindInvalidOrder, rj[0].Kind)
	require.Equal(t, "shop.example.com-900", rj[0].OrderNumber)
	require.Equal(t, 2, rj[0].Count)

	// The rejections list holds no personal data.
	rec := httptest.NewRecorder()
	e.rc.ServeRejections(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.NotContains(t, rec.Body.String(), "@")
	require.NotContains(t, rec.Body.String(), "Lovelace")
}

func TestInvalidCourseDataIsRejected(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	bad := `{"id": 5, "product_id": 1, "quantity": 1, "meta_data": [{"key": "course_id", "value": "nope"}]}`
	a := e.deliver(orderJSON(901, "processing", bad, ""), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	var fields []string
	for _, fe := range a.reply.Errors {
		fields = append(fields, fe.Field)
	}
	require.Contains(t, fields, "line_items[id=5].course_id")
	require.Contains(t, fields, "line_items[id=5].mode")

	noEmail := bytes.Replace(orderJSON(902, "processing", courseItem, ""), []byte("ada@example.com"), nil, 1)
	a = e.deliver(noEmail, nil)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	require.Equal(t, "billing.email", a.reply.Errors[0].Field)
	require.Zero(t, e.fake.Starts())
}

func TestOnlyNonCourseProductsIsIgnored(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver(orderJSON(903, "processing", mugItem, ""), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultIgnored, a.reply.Result)
	require.Zero(t, e.fake.Starts())
	require.Empty(t, e.rejections())
}

func TestSignatureFailuresStartNothing(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	body := orderJSON(727, "processing", courseItem, "")
	altered := bytes.Replace(body, []byte("727"), []byte("728"), 1)
	cases := map[string]map[string]string{
		"missing header": {"X-WC-Webhook-Signature": ""},
		"wrong secret":   {"X-WC-Webhook-Signature": woocommerce.Sign(body, "other")},
		"not base64":     {"X-WC-Webhook-Signature": "%%%"},
		"altered body":   {"X-WC-Webhook-Signature": woocommerce.Sign(body, secret)},
	}
	for name, hdr := range cases {
		t.Run(name, func(t *testing.T) {
			b := body
			if name == "altered body" {
				b = altered
			}
			a := e.deliver(b, hdr)
			require.Equal(t, http.StatusUnauthorized, a.code, a.raw)
			require.Contains(t, a.raw, "urn:coursefulfill:problem:bad-signature")
		})
	}
	require.Zero(t, e.fake.Starts())
	rj := e.rejections()
	require.Len(t, rj, 1)
	require.Equal(t, woocommerce.KindBadSignature, rj[0].Kind)
	require.Equal(t, len(cases), rj[0].Count)
}

func TestTwoStoresNeverCollide(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	body := orderJSON(727, "processing", courseItem, "")
	for _, src := range []string{"https://shop.example.com/", "https://other.example.org/", "https://example.com/shop/", "http://www.shop.example.com:8443/"} {
		a := e.deliver(body, map[string]string{"X-WC-Webhook-Source": src})
		require.Equal(t, http.StatusAccepted, a.code, "%s: %s", src, a.raw)
	}
	require.Equal(t, 4, e.fake.Starts())
	for _, n := range []string{"shop.example.com-727", "other.example.org-727", "example.com_shop-727", "shop.example.com_8443-727"} {
		_, ok := e.fake.Order(n)
		require.True(t, ok, n)
	}
	// A very long source still yields a valid order number.
	long := "https://" + strings.Repeat("a", 60) + ".example.com/" + strings.Repeat("sub/", 30)
	a := e.deliver(body, map[string]string{"X-WC-Webhook-Source": long})
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	o, ok := e.fake.Order(a.reply.OrderNumber)
	require.True(t, ok)
	require.NoError(t, o.Validate(nil))

	a = e.deliver(body, map[string]string{"X-WC-Webhook-Source": ""})
	require.Equal(t, http.StatusBadRequest, a.code)
}

func TestRefundedRefundsEveryLineOnce(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", courseItem+","+pluginItem, ""), nil).code)
	body := orderJSON(727, "refunded", courseItem+","+pluginItem, `{"id": 730, "reason": "", "total": "-98.00"}`)
	a := e.deliver(body, nil)
	require.Equal(t, http.StatusOK, a.code, a.raw)
	require.Equal(t, woocommerce.ResultRefunded, a.reply.Result)
	a = e.deliver(body, nil)
	require.Equal(t, woocommerce.ResultDuplicate, a.reply.Result)
	reqs := e.fake.RefundRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, woocommerce.FullRefundID, reqs[0].RefundID)
	require.Empty(t, reqs[0].LineIDs, "every line")

	// A refund of an order fulfillment never had is recorded, not an error.
	a = e.deliver(orderJSON(999, "refunded", courseItem, ""), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.KindRefundNoOrder, e.rejections()[0].Kind)
}

func TestRefundOfNonCourseOrderIsIgnored(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver(orderJSON(904, "refunded", mugItem, `{"id": 1}`), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultIgnored, a.reply.Result)
	require.Empty(t, e.rejections())
}

func TestPartialRefundWithoutStoreAPINeedsOperator(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	items := courseItem + "," + pluginItem
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", items, ""), nil).code)
	a := e.deliver(orderJSON(727, "completed", items, `{"id": 731, "total": "-49.00"}`), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, []string{"wc-731"}, a.reply.Refunds)
	require.Empty(t, e.fake.RefundRequests())
	rj := e.rejections()
	require.Len(t, rj, 1)
	require.Equal(t, woocommerce.KindRefundManual, rj[0].Kind)
	require.Equal(t, "wc-731", rj[0].RefundID)
	require.Contains(t, rj[0].Reason, "fulfillment order refund shop.example.com-727 --refund-id wc-731")
}

func TestPartialRefundReadsLinesFromStoreAPI(t *testing.T) {
	var calls int
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		user, pass, ok := r.BasicAuth()
		if !ok || user != "ck_1" || pass != "cs_1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/wp-json/wc/v3/orders/727/refunds/731":
			fmt.Fprint(w, `{"id": 731, "amount": "49.00", "line_items": [
			  {"id": 400, "product_id": 94, "quantity": -1, "refund_total": -49,
			   "meta_data": [{"key": "_refunded_item_id", "value": "316"}]}]}`)
		case "/wp-json/wc/v3/orders/727/refunds/732":
			// No _refunded_item_id: matched by product.
			fmt.Fprint(w, `{"id": 732, "line_items": [{"id": 401, "product_id": 93, "variation_id": 0, "quantity": -1, "meta_data": []}]}`)
		case "/wp-json/wc/v3/orders/727/refunds/733":
			// An amount-only refund revokes nothing.
			fmt.Fprint(w, `{"id": 733, "line_items": []}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer store.Close()
	e := newEnv(t, woocommerce.StoreAPI{URL: store.URL + "/", ConsumerKey: "ck_1", ConsumerSecret: "cs_1"})
	items := courseItem + "," + pluginItem
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", items, ""), nil).code)

	body := orderJSON(727, "completed", items, `{"id": 733}, {"id": 732}, {"id": 731}`)
	a := e.deliver(body, nil)
	require.Equal(t, http.StatusOK, a.code, a.raw)
	reqs := e.fake.RefundRequests()
	require.Len(t, reqs, 2)
	require.Equal(t, "wc-732", reqs[0].RefundID)
	require.Equal(t, []string{"315"}, reqs[0].LineIDs)
	require.Equal(t, "wc-731", reqs[1].RefundID)
	require.Equal(t, []string{"316"}, reqs[1].LineIDs)
	require.Empty(t, e.rejections())
	require.Equal(t, 3, calls)

	// Redelivered: nothing new, and the store is not asked again.
	a = e.deliver(body, nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Len(t, e.fake.RefundRequests(), 2)
	require.Equal(t, 3, calls)
}

func TestConflictAndUnavailable(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", courseItem, ""), nil).code)
	a := e.deliver(orderJSON(727, "processing", courseItem+","+pluginItem, ""), nil)
	require.Equal(t, http.StatusOK, a.code)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	require.Equal(t, woocommerce.KindConflict, e.rejections()[0].Kind)

	e.fake.Err = fmt.Errorf("dial: %w", starter.ErrUnavailable)
	a = e.deliver(orderJSON(728, "processing", courseItem, ""), nil)
	require.Equal(t, http.StatusServiceUnavailable, a.code)
	require.Equal(t, woocommerce.KindUnavailable, e.rejections()[0].Kind)
}

func TestMalformedAndOversizedDeliveries(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	for _, b := range []string{`not json`, `{"id": "abc"}`, `{"id": 0}`, `{"id": 1} {"id": 2}`, `[]`, `{"id": 7, "line_items": {"x": 1}}`} {
		a := e.deliver([]byte(b), nil)
		require.Equal(t, http.StatusBadRequest, a.code, b)
	}
	big := bytes.Repeat([]byte(" "), woocommerce.MaxBodyBytes+1)
	a := e.deliver(big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, a.code)
	require.Zero(t, e.fake.Starts())
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	_, enabled, err := woocommerce.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.False(t, enabled)

	env[woocommerce.EnvWebhookSecret] = "s"
	env[woocommerce.EnvStoreURL] = "https://shop.example.com"
	_, _, err = woocommerce.ConfigFromEnv(getenv)
	require.Error(t, err, "store URL without credentials")

	env[woocommerce.EnvConsumerKey] = "ck"
	env[woocommerce.EnvConsumerSecret] = "cs"
	path := t.TempDir() + "/map.json"
	require.NoError(t, writeFile(path, productMap))
	env[woocommerce.EnvProductMap] = path
	cfg, enabled, err := woocommerce.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.True(t, enabled)
	require.True(t, cfg.Store.Configured())
	require.Len(t, cfg.Products.Products, 3)

	// Secrets may come from files instead (Docker/Kubernetes secrets).
	dir := t.TempDir()
	for name, value := range map[string]string{woocommerce.EnvWebhookSecret: "s-file", woocommerce.EnvConsumerSecret: "cs-file"} {
		require.NoError(t, writeFile(dir+"/"+name, value+"\n"))
		env[name], env[name+"_FILE"] = "", dir+"/"+name
	}
	cfg, enabled, err = woocommerce.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.True(t, enabled)
	require.Equal(t, "s-file", cfg.Secret)
	require.Equal(t, "cs-file", cfg.Store.ConsumerSecret)
	env[woocommerce.EnvConsumerSecret] = "cs"
	_, _, err = woocommerce.ConfigFromEnv(getenv)
	require.ErrorContains(t, err, "set only one of "+woocommerce.EnvConsumerSecret+" and "+woocommerce.EnvConsumerSecret+"_FILE")
	require.NotContains(t, err.Error(), "cs-file")

	_, err = woocommerce.ParseProductMap([]byte(`{"products": [{"sku": "X", "course_id": "bad"}]}`))
	require.Error(t, err)
	_, err = woocommerce.ParseProductMap([]byte(`{"products": [{"course_id": "course-v1:a+b+c"}]}`))
	require.Error(t, err)
	_, err = woocommerce.ParseProductMap([]byte(`{"products": [], "extra": 1}`))
	require.Error(t, err)
}

func FuzzWooCommerceWebhook(f *testing.F) {
	f.Add(orderJSON(727, "processing", courseItem+","+mugItem, ""), source, "order.updated")
	f.Add(orderJSON(727, "refunded", courseItem, `{"id": 1}`), "https://a.b/", "order.created")
	f.Add(orderJSON(1, "completed", unknownItem, ""), "http://x", "")
	f.Add([]byte(`{"id": 1e3, "line_items": [{"id": "2", "meta_data": [{"key": "course_id", "value": 5}]}]}`), "https://[::1]:80/", "order.updated")
	f.Add([]byte("webhook_id=1"), "", "")
	f.Add([]byte(`{"id": 99999999999999999999}`), "::::", "order.updated")
	f.Fuzz(func(t *testing.T, body []byte, src, topic string) {
		e := newEnv(t, woocommerce.StoreAPI{})
		req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/woocommerce", bytes.NewReader(body))
		req.Header.Set("X-WC-Webhook-Source", src)
		req.Header.Set("X-WC-Webhook-Topic", topic)
		req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(body, secret))
		rec := httptest.NewRecorder()
		e.rc.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		// Whatever was started is a valid order.
		if rec.Code == http.StatusAccepted {
			var r woocommerce.Reply
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
			o, ok := e.fake.Order(r.OrderNumber)
			require.True(t, ok)
			require.NoError(t, o.Validate(nil))
		}
	})
}
