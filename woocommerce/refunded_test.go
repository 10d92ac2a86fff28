package woocommerce_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/starter/startertest"
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
		require.Contains(t, a.reply.Detail, "processing (modified at 2026-11-21T09:58:05Z)")
		require.Contains(t, a.reply.Detail, "refunded state fulfillment already applied (modified at 2026-11-21T10:05:00Z)")
		require.Contains(t, a.reply.Detail, "nobody was enrolled")
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

// A refund delivered before the order's paid delivery is remembered: the
// paid delivery, however often resent, enrolls nobody and says so.
func TestRefundBeforeOrderIsRemembered(t *testing.T) {
	e := newEnv(t, woocommerce.StoreAPI{})
	refunded := orderJSON(752, "refunded", courseItem, `{"id": 763, "total": "-49.00"}`)
	for range 2 {
		a := e.deliver(refunded, nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultRefundRemembered, a.reply.Result, "a resend gets the same answer")
		require.Equal(t, []string{woocommerce.FullRefundID}, a.reply.Refunds)
		require.Contains(t, a.reply.Detail, "the refund is remembered")
	}
	rj := e.rejections()
	require.Len(t, rj, 1)
	require.Equal(t, woocommerce.KindRefundNoOrder, rj[0].Kind)

	// Undated deliveries cannot be ordered: the paid one is not stale, but
	// the order is refunded all the same.
	for _, status := range []string{"processing", "processing", "completed"} {
		a := e.deliver(orderJSON(752, status, courseItem, ""), nil)
		require.Equal(t, http.StatusOK, a.code, a.raw)
		require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
		require.Contains(t, a.reply.Detail, "a refunded order is not fulfilled: nobody was enrolled")
	}
	require.Zero(t, e.fake.Starts())
	require.Empty(t, e.fake.RefundRequests())
	rj = e.rejections()
	require.Equal(t, woocommerce.KindRefundedOrder, rj[0].Kind)
	require.Equal(t, "shop.example.com-752", rj[0].OrderNumber)
	require.Equal(t, 3, rj[0].Count)
	require.Contains(t, rj[0].Reason, "nobody was enrolled")

	// A paid state the store sets after the refund does not enroll either.
	e2 := newEnv(t, woocommerce.StoreAPI{})
	e2.deliver(modified(refunded, "2026-11-21T10:05:00"), nil)
	a := e2.deliver(modified(orderJSON(752, "processing", courseItem, ""), "2026-11-22T08:00:00"), nil)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	require.Zero(t, e2.fake.Starts())
}

// racingFulfiller lets a test run something between the receiver's look
// for a remembered refund and its start of the order, and fail a refund.
type racingFulfiller struct {
	startertest.Fake
	beforeStart    func()
	failNextRefund bool
}

func (r *racingFulfiller) StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error) {
	if f := r.beforeStart; f != nil {
		r.beforeStart = nil
		f()
	}
	return r.Fake.StartOrder(ctx, o)
}

func (r *racingFulfiller) Refund(ctx context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error) {
	if r.failNextRefund {
		r.failNextRefund = false
		return contract.RefundResult{}, fmt.Errorf("dial: %w", starter.ErrUnavailable)
	}
	return r.Fake.Refund(ctx, number, req)
}

func newRacingEnv(t *testing.T) (*env, *racingFulfiller) {
	pm, err := woocommerce.ParseProductMap([]byte(productMap))
	require.NoError(t, err)
	f := &racingFulfiller{}
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, AllowAnyStore: true}, f, zap.NewNop())
	require.NoError(t, err)
	return &env{t: t, rc: rc}, f
}

// The refunded delivery is handled completely between the paid delivery's
// look for a refund and its start: the refund finds no order, and the paid
// delivery finds the refund right after starting the order and refunds it.
func TestRefundArrivingWhileOrderStartsIsApplied(t *testing.T) {
	e, f := newRacingEnv(t)
	refunded := modified(orderJSON(753, "refunded", courseItem, ""), "2026-11-21T10:05:00")
	processing := modified(orderJSON(753, "processing", courseItem, ""), "2026-11-21T09:58:05")
	var during answer
	f.beforeStart = func() { during = e.deliver(refunded, nil) }

	a := e.deliver(processing, nil)
	require.Equal(t, woocommerce.ResultRefundRemembered, during.reply.Result, during.raw)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	require.Equal(t, woocommerce.ResultStarted, a.reply.Result)
	require.Equal(t, []string{woocommerce.FullRefundID}, a.reply.Refunds)
	require.Contains(t, a.reply.Detail, "refunded the order while fulfillment was starting it")
	reqs := f.RefundRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, woocommerce.FullRefundID, reqs[0].RefundID)

	// Resends: the refund is a duplicate now, the paid delivery stale.
	require.Equal(t, woocommerce.ResultDuplicate, e.deliver(refunded, nil).reply.Result)
	require.Equal(t, woocommerce.ResultStale, e.deliver(processing, nil).reply.Result)
	require.Equal(t, 1, f.Starts())
	require.Len(t, f.RefundRequests(), 1)
}

// When the paid delivery cannot refund the order it just started, it is
// answered 503; the store's resend refunds it.
func TestRefundMissedWhileOrderStartsIsRepairedByTheResend(t *testing.T) {
	e, f := newRacingEnv(t)
	refunded := orderJSON(754, "refunded", courseItem, "")
	processing := orderJSON(754, "processing", courseItem, "")
	f.beforeStart = func() {
		e.deliver(refunded, nil)
		f.failNextRefund = true
	}
	a := e.deliver(processing, nil)
	require.Equal(t, http.StatusServiceUnavailable, a.code, a.raw)
	require.Equal(t, 1, f.Starts())
	require.Empty(t, f.RefundRequests())

	a = e.deliver(processing, nil)
	require.Equal(t, http.StatusOK, a.code, a.raw)
	require.Equal(t, woocommerce.ResultRejected, a.reply.Result)
	reqs := f.RefundRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, woocommerce.FullRefundID, reqs[0].RefundID)
}

// A refunded and a paid delivery of one order arriving at the same time
// never leave a started order unrefunded.
func TestRefundAndPaymentArrivingTogether(t *testing.T) {
	for i := range 100 {
		e := newEnv(t, woocommerce.StoreAPI{})
		id := 2000 + i
		refunded := modified(orderJSON(id, "refunded", courseItem, ""), "2026-11-21T10:05:00")
		processing := modified(orderJSON(id, "processing", courseItem, ""), "2026-11-21T09:58:05")
		var wg sync.WaitGroup
		for _, b := range [][]byte{refunded, processing} {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/woocommerce", bytes.NewReader(b))
			req.Header.Set("X-WC-Webhook-Source", source)
			req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(b, secret))
			wg.Go(func() { e.rc.ServeHTTP(httptest.NewRecorder(), req) })
		}
		wg.Wait()
		if e.fake.Starts() == 0 {
			continue
		}
		reqs := e.fake.RefundRequests()
		require.Len(t, reqs, 1, "run %d: the started order is refunded", i)
		require.Equal(t, woocommerce.FullRefundID, reqs[0].RefundID)
	}
}
