package stack

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
)

// A status read is a query that a worker answers. The SDK gives one query
// call at most 10 s whatever the caller's deadline; a worker busier than
// that (the first burst of the fault-survival suite on the PostgreSQL
// cluster) or gone for as long must not turn the read into "unavailable"
// while the caller's own time lasts: the read waits for the worker that
// comes back 12 s later.
func TestStatusWaitsForAWorkerWithinTheCallersTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and waits out a query call")
	}
	ctx, s := startNoWorker(t)
	newWorker := func() sdkworker.Worker { return outsideWorker(s) }
	// A worker has polled (the task queue has pollers seen recently) and
	// is gone when the order arrives.
	first := newWorker()
	require.NoError(t, first.Start())
	number := "SLOWQUERY-1"
	_, _, err := s.Starter.StartOrder(ctx, order.Order{Number: "SLOWQUERY-0", User: order.User{Username: "ada"},
		Lines:    []order.Line{{ID: "1", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "audit"}},
		PlacedAt: time.Now().UTC()})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := s.Starter.Status(ctx, "SLOWQUERY-0")
		return err == nil && st.Status == contract.OrderFulfilled
	}, time.Minute, 100*time.Millisecond)
	first.Stop()

	_, _, err = s.Starter.StartOrder(ctx, order.Order{Number: number, User: order.User{Username: "ada"},
		Lines:    []order.Line{{ID: "1", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "verified"}},
		PlacedAt: time.Now().UTC()})
	require.NoError(t, err)
	back := make(chan sdkworker.Worker, 1)
	go func() {
		time.Sleep(12 * time.Second)
		w := newWorker()
		if err := w.Start(); err != nil {
			t.Errorf("second worker: %v", err)
		}
		back <- w
	}()
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second) // the API's request timeout
	defer rcancel()
	st, err := s.Starter.Status(rctx, number)
	require.NoError(t, err, "the status read gave up before the caller's deadline")
	require.Equal(t, number, st.OrderNumber)
	(<-back).Stop()
}
