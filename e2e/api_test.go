package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// wooSecret is the WooCommerce webhook secret of the shared stack.
const wooSecret = "e2e-woo-secret"

func sample(n string) order.Order {
	return order.Order{
		Number: n,
		User:   order.User{Username: "learner_" + n[len(n)-3:]},
		Lines: []order.Line{
			{ID: "1", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "verified"},
			{ID: "2", ProductType: order.ProductSeat, CourseID: sandbox.DemoCourseID, Mode: "audit"},
		},
		PlacedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
	}
}

func TestTenConcurrentCopiesStartOneWorkflow(t *testing.T) {
	o := sample(newNumber("RACE"))
	body, err := json.Marshal(o)
	require.NoError(t, err)
	var (
		wg     sync.WaitGroup
		codes  [10]int
		bodies [10]api.OrderAccepted
	)
	for i := range 10 {
		wg.Go(func() { codes[i] = call(t, http.MethodPost, "/api/v1/orders", body, &bodies[i]) })
	}
	wg.Wait()
	accepted := 0
	for i := range 10 {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, codes[i], "%+v", bodies[i])
		if codes[i] == http.StatusAccepted {
			accepted++
		}
		require.Equal(t, bodies[0], bodies[i], "every copy names the same run")
	}
	require.Equal(t, 1, accepted)

	// Exactly one execution exists for the order's workflow ID.
	desc, err := shared.Client.DescribeWorkflowExecution(context.Background(), contract.OrderWorkflowID(o.Number), "")
	require.NoError(t, err)
	require.Equal(t, bodies[0].RunID, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	require.Eventually(t, func() bool {
		resp, err := shared.Client.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", contract.OrderWorkflowID(o.Number)),
		})
		return err == nil && resp.GetCount() == 1
	}, 10*time.Second, 100*time.Millisecond)
}

func TestSameNumberDifferentContentConflicts(t *testing.T) {
	o := sample(newNumber("CONF"))
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders", o, nil))

	// Line order and time zone do not make another order.
	same := o
	same.Lines = []order.Line{o.Lines[1], o.Lines[0]}
	same.PlacedAt = o.PlacedAt.In(time.FixedZone("CET", 3600))
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders", same, nil))

	other := sample(o.Number)
	other.Lines[1].Mode = "honor"
	var p map[string]any
	require.Equal(t, http.StatusConflict, call(t, http.MethodPost, "/api/v1/orders", other, &p))
	require.Equal(t, "urn:coursefulfill:problem:conflict", p["type"])
}

func TestStatusRefundRetryWhileOpen(t *testing.T) {
	o := sample(newNumber("OPEN"))
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders", o, nil))
	require.Equal(t, http.StatusNotFound, call(t, http.MethodGet, "/api/v1/orders/NO-SUCH-ORDER", nil, nil))

	var st contract.StatusDocument
	require.Eventually(t, func() bool {
		return call(t, http.MethodGet, "/api/v1/orders/"+o.Number, nil, &st) == http.StatusOK &&
			st.Status == contract.OrderFulfilled
	}, 20*time.Second, 50*time.Millisecond)
	require.False(t, st.Closed)

	var p map[string]any
	require.Equal(t, http.StatusConflict, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/retry", map[string]any{}, &p))
	require.Equal(t, "urn:coursefulfill:problem:nothing-to-retry", p["type"])

	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "R1", "line_ids": []string{"9"}}, &p))
	require.Equal(t, "urn:coursefulfill:problem:unknown-lines", p["type"])

	var rf api.RefundAccepted
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "R1", "line_ids": []string{"2"}}, &rf))
	require.Equal(t, contract.RefundWorkflowID(o.Number, "R1"), rf.WorkflowID)
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "R1", "line_ids": []string{"2"}}, &rf))
	require.True(t, rf.Duplicate)
	require.Equal(t, http.StatusNotFound, call(t, http.MethodPost, "/api/v1/orders/NO-SUCH-ORDER/refunds",
		map[string]any{"refund_id": "R1"}, nil))

	require.Eventually(t, func() bool {
		return call(t, http.MethodGet, "/api/v1/orders/"+o.Number, nil, &st) == http.StatusOK &&
			st.Status == contract.OrderPartiallyRefunded
	}, 20*time.Second, 50*time.Millisecond)

	// Visibility lists it by status, with its course ids.
	require.Eventually(t, func() bool {
		var list api.OrderList
		if call(t, http.MethodGet, "/api/v1/orders?status=partially_refunded&page_size=1000", nil, &list) != http.StatusOK {
			return false
		}
		for _, s := range list.Orders {
			if s.OrderNumber == o.Number {
				return s.Running && len(s.CourseIDs) == 1 && s.CourseIDs[0] == sandbox.DemoCourseID
			}
		}
		return false
	}, 20*time.Second, 200*time.Millisecond)
}

func TestClosedOrder(t *testing.T) {
	// A second starter whose orders close after two seconds.
	short := starter.New(shared.Client, starter.Config{Options: contract.Options{RefundWindow: 2 * time.Second}})
	o := sample(newNumber("CLOSED"))
	res, created, err := short.StartOrder(context.Background(), o)
	require.NoError(t, err)
	require.True(t, created)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var final contract.StatusDocument
	require.NoError(t, shared.Client.GetWorkflow(ctx, res.WorkflowID, res.RunID).Get(ctx, &final))
	require.True(t, final.Closed)

	// The same order again: still a duplicate, never a second run.
	again, created, err := short.StartOrder(ctx, o)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, res.RunID, again.RunID)
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders", o, nil))

	var st contract.StatusDocument
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+o.Number, nil, &st))
	require.True(t, st.Closed)
	require.Equal(t, contract.OrderFulfilled, st.Status)

	var p map[string]any
	require.Equal(t, http.StatusConflict, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/retry", nil, &p))
	require.Equal(t, "urn:coursefulfill:problem:order-closed", p["type"])
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "LATE", "line_ids": []string{"7"}}, &p))

	var rf api.RefundAccepted
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "LATE", "line_ids": []string{"1"}}, &rf))
	var rev contract.RevokeResult
	workflowResult(t, rf.WorkflowID, &rev)
	require.Equal(t, contract.RefundCompleted, rev.State)
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds",
		map[string]any{"refund_id": "LATE", "line_ids": []string{"1"}}, &rf))
	require.True(t, rf.Duplicate)

	desc, err := shared.Client.DescribeWorkflowExecution(ctx, res.WorkflowID, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())
}

func TestWooCommerceDeliveryStartsOnce(t *testing.T) {
	id := 100000 + orderSeq.Add(1)
	body := fmt.Appendf(nil, `{"id": %d, "status": "processing", "date_created_gmt": "2026-11-21T09:58:02",
	  "billing": {"email": "wc-%d@example.com"},
	  "line_items": [{"id": 315, "product_id": 93, "quantity": 1, "sku": "DEMOX",
	    "meta_data": [{"key": "course_id", "value": %q}, {"key": "course_mode", "value": "verified"}]}],
	  "refunds": []}`, id, id, sandbox.DemoCourseID)
	deliver := func(b []byte, sig string) (int, woocommerce.Reply) {
		req, err := http.NewRequest(http.MethodPost, shared.APIURL+"/api/v1/webhooks/woocommerce", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("X-WC-Webhook-Source", "https://shop.example.com/")
		req.Header.Set("X-WC-Webhook-Topic", "order.updated")
		req.Header.Set("X-WC-Webhook-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var r woocommerce.Reply
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if resp.StatusCode < 300 {
			require.NoError(t, json.Unmarshal(data, &r), "%s", data)
		}
		return resp.StatusCode, r
	}
	code, _ := deliver(body, woocommerce.Sign(body, "wrong"))
	require.Equal(t, http.StatusUnauthorized, code)
	num := fmt.Sprintf("shop.example.com-%d", id)
	require.Equal(t, http.StatusNotFound, call(t, http.MethodGet, "/api/v1/orders/"+num, nil, nil), "a bad signature starts nothing")

	code, r := deliver(body, woocommerce.Sign(body, wooSecret))
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, woocommerce.ResultStarted, r.Result)
	require.Equal(t, num, r.OrderNumber)
	code, r = deliver(body, woocommerce.Sign(body, wooSecret))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, woocommerce.ResultDuplicate, r.Result)

	var st contract.StatusDocument
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, "/api/v1/orders/"+num, nil, &st))
	require.Equal(t, num, st.OrderNumber)

	refunded := bytes.Replace(body, []byte(`"processing"`), []byte(`"refunded"`), 1)
	code, r = deliver(refunded, woocommerce.Sign(refunded, wooSecret))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, woocommerce.ResultRefunded, r.Result)
	code, r = deliver(refunded, woocommerce.Sign(refunded, wooSecret))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, woocommerce.ResultDuplicate, r.Result)
}
