package woocommerce_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/woocommerce"
)

// modified sets an order's date_modified_gmt, the time the store last
// changed it.
func modified(body []byte, gmt string) []byte {
	return bytes.Replace(body, []byte(`"currency"`), []byte(`"date_modified_gmt": "`+gmt+`", "currency"`), 1)
}

// A processing delivery that arrives after the refunded one, but shows the
// order before its refund, enrolls nobody: it is answered "stale" and
// recorded, as often as the store resends it.
func TestProcessingOlderThanAppliedRefundEnrollsNobody(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	refunded := modified(orderJSON(750, "refunded", courseItem, `{"id": 760, "total": "-49.00"}`), "2026-11-21T10:05:00")
	a := e.deliver(refunded, nil)
	require.Equal(t, http.StatusOK, a.code, a.raw)

	processing := modified(orderJSON(750, "processing", courseItem, ""), "2026-11-21T09:58:05")
	for range 2 {
		a = e.deliver(processing, nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultStale, a.reply.Result)
		require.Contains(t, a.reply.Detail, "modified at 2026-11-21T09:58:05Z")
		require.Contains(t, a.reply.Detail, "refunded state (modified at 2026-11-21T10:05:00Z)")
	}
	require.Zero(t, e.fake.Starts(), "nobody is enrolled")
	rj := e.rejections()
	require.Equal(t, woocommerce.KindStale, rj[0].Kind)
	require.Equal(t, "shop.example.com-750", rj[0].OrderNumber)
	require.Equal(t, 2, rj[0].Count)
}

// Once an order's refund is applied, an older delivery that still lists a
// partial refund changes nothing either: no refund, no store API call, no
// "line already refunded" rejection.
func TestStaleDeliveryOfRefundedOrderChangesNothing(t *testing.T) {
	var calls int
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		http.NotFound(w, r)
	}))
	defer store.Close()
	e := newEnv(t, woocommerce.StoreAPI{URL: store.URL + "/", ConsumerKey: "ck", ConsumerSecret: "cs"})
	items := courseItem + "," + pluginItem
	a := e.deliver(modified(orderJSON(751, "processing", items, ""), "2026-11-21T09:58:05"), nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	a = e.deliver(modified(orderJSON(751, "refunded", items, `{"id": 761}, {"id": 762}`), "2026-11-21T10:10:00"), nil)
	require.Equal(t, woocommerce.ResultRefunded, a.reply.Result)

	for _, status := range []string{"completed", "processing", "on-hold"} {
		a = e.deliver(modified(orderJSON(751, status, items, `{"id": 761}`), "2026-11-21T10:00:00"), nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultStale, a.reply.Result, status)
	}
	require.Zero(t, calls, "the store is not asked about a stale delivery's refunds")
	reqs := e.fake.RefundRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, woocommerce.FullRefundID, reqs[0].RefundID)
	for _, rj := range e.rejections() {
		require.Equal(t, woocommerce.KindStale, rj.Kind, rj.Reason)
	}
}
