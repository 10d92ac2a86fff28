package woocommerce_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/woocommerce"
)

func seatItem(id, quantity int, sku string) string {
	return fmt.Sprintf(`{"id": %d, "product_id": 93, "quantity": %d, "sku": %q,
  "meta_data": [{"key": "course_id", "value": "course-v1:edX+DemoX+Demo_Course"}, {"key": "course_mode", "value": "verified"}]}`, id, quantity, sku)
}

// A line item bought zero or fewer times enrolls nobody; one bought twice
// is one enrollment.
func TestQuantity(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	for i, q := range []int{0, -1} {
		a := e.deliver(orderJSON(900+i, "processing", seatItem(1, q, "S"), ""), nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
		require.Contains(t, a.reply.Errors[0].Detail, "quantity must be at least 1")
	}
	require.Zero(t, e.fake.Starts())
	a := e.deliver(orderJSON(910, "processing", seatItem(1, 2, "S"), ""), nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	o, ok := e.fake.Order(a.reply.OrderNumber)
	require.True(t, ok)
	require.Len(t, o.Lines, 1)
}

// Values longer than the LMS (or WooCommerce) could hold are rejected at
// the door, never started.
func TestOversizedValuesAreRejected(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	long := strings.Repeat("a", 5000) + "@example.com"
	body := bytes.Replace(orderJSON(920, "processing", courseItem, ""), []byte("ada@example.com"), []byte(long), 1)
	a := e.deliver(body, nil)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result, a.raw)
	require.NotContains(t, a.raw, long)

	for i, n := range []int{101, 900 << 10} {
		a = e.deliver(orderJSON(921+i, "processing", seatItem(1, 1, strings.Repeat("S", n)), ""), nil)
		require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
		require.Equal(t, "line_items[id=1].sku", a.reply.Errors[0].Field)
		require.Less(t, len(a.raw), 4096)
	}

	a = e.deliver(orderJSON(923, "processing", courseItem, ""), map[string]string{"X-WC-Webhook-Source": "https://shop.example.com/" + strings.Repeat("p", 600)})
	require.Equal(t, http.StatusBadRequest, a.code, a.raw)

	// 5,000 broken lines: the answer and the record hold 100 problems.
	items := make([]string, 5000)
	for i := range items {
		items[i] = seatItem(i+1, 0, "S")
	}
	a = e.deliver(orderJSON(924, "processing", strings.Join(items, ","), ""), nil)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	require.Len(t, a.reply.Errors, 100)
	require.Len(t, e.rejections()[0].Errors, 100)
	require.Zero(t, e.fake.Starts())
}

// An unsigned caller's delivery id is kept only when it looks like one.
func TestUnsignedDeliveryIDIsSanitised(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	for id, kept := range map[string]string{
		"4d1c7e2a-1111-4f00-8000-000000000001": "4d1c7e2a-1111-4f00-8000-000000000001",
		"ada@example.com":                      "",
		strings.Repeat("9", 65):                "",
		"<script>":                             "",
	} {
		a := e.deliver(orderJSON(930, "processing", courseItem, ""), map[string]string{
			"X-WC-Webhook-Signature": "bad", "X-WC-Webhook-Delivery-ID": id})
		require.Equal(t, http.StatusUnauthorized, a.code)
		require.Equal(t, kept, e.rejections()[0].DeliveryID, id)
	}
}

// A redelivery whose Source differs only in case is the same order; a
// changed order's record says what changed.
func TestContentComparison(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	body := orderJSON(940, "processing", courseItem, "")
	require.Equal(t, http.StatusAccepted, e.deliver(body, nil).code)
	a := e.deliver(body, map[string]string{"X-WC-Webhook-Source": strings.ToLower(source)})
	require.Equal(t, woocommerce.ResultDuplicate, a.reply.Result, a.raw)

	changed := bytes.Replace(body, []byte("ada@example.com"), []byte("eve@example.com"), 1)
	a = e.deliver(changed, nil)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result, a.raw)
	rj := e.rejections()[0]
	require.Equal(t, woocommerce.KindConflict, rj.Kind)
	require.Contains(t, rj.Reason, "billing email differ")
	require.NotContains(t, rj.Reason, "line items")
	require.NotContains(t, rj.Reason, "eve@example.com")

	moved := bytes.Replace(body, []byte("2026-11-21T09:58:02"), []byte("2026-11-22T09:58:02"), 1)
	e.deliver(moved, nil)
	require.Contains(t, e.rejections()[0].Reason, "date_created_gmt differ")
	require.Equal(t, 1, e.fake.Starts())
}

func TestNonJSONDeliveryIs415(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver(orderJSON(950, "processing", courseItem, ""), map[string]string{"Content-Type": "text/plain"})
	require.Equal(t, http.StatusUnsupportedMediaType, a.code)
	require.Zero(t, e.fake.Starts())
}

// Without a store list the receiver starts only when told to accept any
// store.
func TestReceiverNeedsStoresOrExplicitAnyStore(t *testing.T) {
	_, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret}, newEnv(t, woocommerce.StoreAPI{}).fake, zap.NewNop())
	require.ErrorContains(t, err, woocommerce.EnvStores)
	env := map[string]string{woocommerce.EnvWebhookSecret: "s"}
	getenv := func(k string) string { return env[k] }
	_, _, err = woocommerce.ConfigFromEnv(getenv)
	require.ErrorContains(t, err, woocommerce.EnvAllowAnyStore)
	env[woocommerce.EnvAllowAnyStore] = "yes"
	_, _, err = woocommerce.ConfigFromEnv(getenv)
	require.ErrorContains(t, err, "must be true or false")
	env[woocommerce.EnvAllowAnyStore] = "true"
	cfg, on, err := woocommerce.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.True(t, on && cfg.AllowAnyStore)
}
