package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/worker"
)

// `fulfillment reconcile --now` on a real stack: it triggers the schedule
// the stack created, waits for the sweep and prints the drifted line with
// what to do, exiting 3.
func TestReconcileNowTriggersTheScheduleAndPrintsDrift(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{UIPort: -1, LMSAutoRegister: true, Logger: zap.NewNop(),
		Reconcile: &worker.ReconcileSchedule{}})
	require.NoError(t, err)
	defer s.Close()

	o := order.Order{Number: "RECON-1", User: order.User{Username: "grace"}, PlacedAt: time.Now().UTC(),
		Lines: []order.Line{{ID: "1", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "verified"}}}
	_, _, err = s.Starter.StartOrder(ctx, o)
	require.NoError(t, err)
	doc, settled, err := s.Starter.WaitSettled(ctx, o.Number, time.Minute)
	require.NoError(t, err)
	require.True(t, settled)
	require.Equal(t, contract.OrderFulfilled, doc.Status)
	// The enrollment is removed by hand in the LMS.
	body, err := json.Marshal(map[string]any{"user": "grace", "mode": "verified", "is_active": false,
		"course_details": map[string]any{"course_id": sandbox.DemoCourseID}})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.LMSURL+"/api/enrollment/v1/enrollment", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Edx-Api-Key", sandbox.DevAPIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Visibility shows the order as fulfilled a moment after its query does.
	require.Eventually(t, func() bool {
		resp, err := s.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: contract.SearchAttrOrderStatus + " = 'fulfilled'"})
		return err == nil && resp.GetCount() == 1
	}, 20*time.Second, 100*time.Millisecond)

	var out bytes.Buffer
	cmd := newReconcileCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--now", "--temporal-address", s.Server.FrontendAddress(), "--namespace", s.Server.Namespace()})
	start := time.Now()
	err = cmd.ExecuteContext(ctx)
	var exit *exitError
	require.ErrorAs(t, err, &exit, "%s", &out)
	require.Equal(t, 3, exit.code, "not clean: exit 3")
	t.Logf("reconcile --now took %s", time.Since(start))
	require.Contains(t, out.String(), ": drift — 1 order(s), 1 line(s) checked, 1 drifted, 0 unread.")
	require.Contains(t, out.String(), "RECON-1/1 (access_missing): if the access was removed on purpose")
	require.NotContains(t, out.String(), "grace")
}
