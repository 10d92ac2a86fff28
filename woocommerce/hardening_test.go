package woocommerce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/starter/startertest"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// The store's name comes from X-WC-Webhook-Source, which the signature does
// not cover: with the stores listed, a signed delivery resent under another
// Source starts nothing.
func TestDeliveriesFromUnlistedStoresStartNothing(t *testing.T) {
	pm, err := woocommerce.ParseProductMap([]byte(productMap))
	require.NoError(t, err)
	fake := &startertest.Fake{}
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, Stores: []string{source}}, fake, zap.NewNop())
	require.NoError(t, err)
	e := &env{t: t, fake: fake, rc: rc}
	body := orderJSON(727, "processing", courseItem, "")
	require.Equal(t, http.StatusAccepted, e.deliver(body, nil).code)
	for _, other := range []string{"https://evil.example.net/", "https://shop.example.com/index.php/"} {
		a := e.deliver(body, map[string]string{"X-WC-Webhook-Source": other})
		require.Equal(t, http.StatusForbidden, a.code, a.raw)
	}
	require.Equal(t, 1, fake.Starts())
}

func TestStoreAPIMustUseHTTPS(t *testing.T) {
	env := map[string]string{
		woocommerce.EnvWebhookSecret: "s", woocommerce.EnvStoreURL: "http://shop.example.com/",
		woocommerce.EnvConsumerKey: "ck", woocommerce.EnvConsumerSecret: "cs",
	}
	_, _, err := woocommerce.ConfigFromEnv(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "https")
	env[woocommerce.EnvStoreURL] = "http://127.0.0.1:8081/"
	env[woocommerce.EnvStores] = "https://other.example.org/"
	cfg, on, err := woocommerce.ConfigFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.True(t, on)
	require.Equal(t, []string{"http://127.0.0.1:8081/", "https://other.example.org/"}, cfg.Stores)
}

// deadlineFulfiller records whether the context it got has a deadline.
type deadlineFulfiller struct {
	startertest.Fake
	hadDeadline chan bool
}

func (d *deadlineFulfiller) StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error) {
	_, ok := ctx.Deadline()
	d.hadDeadline <- ok
	return d.Fake.StartOrder(ctx, o)
}

func TestDeliveryHasADeadline(t *testing.T) {
	pm, err := woocommerce.ParseProductMap([]byte(productMap))
	require.NoError(t, err)
	f := &deadlineFulfiller{hadDeadline: make(chan bool, 1)}
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, AllowAnyStore: true}, f, zap.NewNop())
	require.NoError(t, err)
	e := &env{t: t, rc: rc}
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", courseItem, ""), nil).code)
	require.True(t, <-f.hadDeadline, "the starter was called without a deadline")
}

func refundStore(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id": 731, "line_items": [{"id": 400, "product_id": 93, "quantity": -1,
		  "meta_data": [{"key": "_refunded_item_id", "value": "315"}]}]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// An order whose later delivery conflicts (the admin fixed the billing email)
// still exists: its partial refunds apply.
func TestConflictingDeliveryStillAppliesRefunds(t *testing.T) {
	s := refundStore(t)
	e := newEnv(t, woocommerce.StoreAPI{URL: s.URL + "/", ConsumerKey: "ck", ConsumerSecret: "cs"})
	require.Equal(t, http.StatusAccepted, e.deliver(orderJSON(727, "processing", courseItem, ""), nil).code)
	body := strings.Replace(string(orderJSON(727, "completed", courseItem, `{"id": 731}`)), "ada@example.com", "ada.lovelace@example.com", 1)
	a := e.deliver([]byte(body), nil)
	require.Equal(t, http.StatusOK, a.code, a.raw)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	reqs := e.fake.RefundRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, "wc-731", reqs[0].RefundID)
}

type refundDown struct{ startertest.Fake }

func (r *refundDown) Refund(context.Context, string, contract.RefundRequest) (contract.RefundResult, error) {
	return contract.RefundResult{}, fmt.Errorf("dial: %w", starter.ErrUnavailable)
}

// A partial refund that meets a Temporal outage is answered 503, so the
// store delivers it again, on a paid order and on an on-hold one alike.
func TestPartialRefundDuringOutageIsRetriedByTheStore(t *testing.T) {
	s := refundStore(t)
	pm, err := woocommerce.ParseProductMap([]byte(productMap))
	require.NoError(t, err)
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, AllowAnyStore: true,
		Store: woocommerce.StoreAPI{URL: s.URL + "/", ConsumerKey: "ck", ConsumerSecret: "cs"}}, &refundDown{}, zap.NewNop())
	require.NoError(t, err)
	e := &env{t: t, rc: rc}
	for _, status := range []string{"completed", "on-hold"} {
		a := e.deliver(orderJSON(727, status, courseItem, `{"id": 731}`), nil)
		require.Equal(t, http.StatusServiceUnavailable, a.code, a.raw)
		require.Contains(t, a.raw, "a refund could not be applied: fulfillment is temporarily unavailable; resend the delivery", status)
	}
}

func TestStoreNamesCannotShadowRefundWorkflows(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	a := e.deliver(orderJSON(727, "processing", courseItem, ""), map[string]string{"X-WC-Webhook-Source": "https://my-refund-shop.example.com/"})
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	require.True(t, order.IsNumber(a.reply.OrderNumber), a.reply.OrderNumber)
}
