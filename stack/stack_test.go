package stack

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/worker"
)

// With NoWorker (`dev --worker=false`) nothing in the process polls the
// task queue: an order waits for a worker from outside, and one pointed at
// the stack's server and sandbox LMS fulfills it.
func TestNoWorkerLeavesTheWorkToSeparateWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	ctx, s := startNoWorker(t)
	require.Nil(t, s.Worker)

	number := "NOWORKER-1"
	_, _, err := s.Starter.StartOrder(ctx, order.Order{Number: number, User: order.User{Username: "ada"},
		Lines:    []order.Line{{ID: "1", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "verified"}},
		PlacedAt: time.Now().UTC()})
	require.NoError(t, err)
	pollers := func() int {
		resp, err := s.Client.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: s.Server.Namespace(), TaskQueue: &taskqueuepb.TaskQueue{Name: contract.TaskQueue},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW})
		require.NoError(t, err)
		return len(resp.GetPollers())
	}
	require.Zero(t, pollers(), "a worker polls the task queue")

	w := outsideWorker(s)
	require.NoError(t, w.Start())
	defer w.Stop()
	require.Eventually(t, func() bool {
		st, err := s.Starter.Status(ctx, number)
		return err == nil && st.Status == contract.OrderFulfilled
	}, time.Minute, 100*time.Millisecond)
	require.Positive(t, pollers())
}

// startNoWorker starts a stack without its worker for the test, with a
// context that bounds the test.
func startNoWorker(t *testing.T) (context.Context, *Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s, err := Start(ctx, Config{UIPort: -1, NoWorker: true, LMSAutoRegister: true, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return ctx, s
}

// outsideWorker is a worker of the kind `fulfillment worker` runs, pointed
// at the stack's server and sandbox LMS.
func outsideWorker(s *Stack) sdkworker.Worker {
	return worker.NewFromConfig(s.Client, worker.Config{LMS: lms.Config{BaseURL: s.LMSURL, ClientID: sandbox.DevClientID,
		ClientSecret: sandbox.DevClientSecret}, Logger: zap.NewNop()}, s.Registry)
}
