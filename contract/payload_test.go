package contract_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// largestOrder is the largest order the API takes (a 1 MiB body) spread
// over the most lines an order may have, each seat in a course of its own.
func largestOrder(t *testing.T) order.Order {
	o := order.Order{Number: strings.Repeat("N", 128), User: order.User{Username: strings.Repeat("u", 30),
		Email: strings.Repeat("e", 60) + "@example.com"}, PlacedAt: time.Now()}
	for i := range order.MaxLines {
		o.Lines = append(o.Lines, order.Line{ID: fmt.Sprintf("L%05d", i), ProductType: order.ProductSeat,
			CourseID: fmt.Sprintf("course-v1:Org%05d+C+R", i), Mode: "verified"})
	}
	b, err := json.Marshal(o)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), 1<<20, "the API takes at most 1 MiB")
	require.Greater(t, len(b), 900<<10, "the order fills most of the API's 1 MiB")
	return o
}

func payloadSize(t *testing.T, v any) int {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return len(p.GetData())
}

// Every payload of the largest order, fulfilled with a grant and a prior
// state per line and fully refunded in ten refunds, stays within
// contract.PayloadBudget: the order's input and carried state, its status
// document and final result, each refund's revoke input and result, and the
// late-refunds workflow's input.
func TestLargestOrderPayloadsStayWithinBudget(t *testing.T) {
	o := largestOrder(t)
	var lines []contract.LineStatus
	refunds := make([]contract.RefundStatus, 10)
	var revokes []contract.RevokeInput
	for r := range refunds {
		refunds[r] = contract.RefundStatus{RefundID: fmt.Sprintf("refund-%058d", r), State: contract.RefundCompleted,
			WorkflowID: contract.RefundWorkflowID(o.Number, fmt.Sprintf("refund-%058d", r))}
		revokes = append(revokes, contract.RevokeInput{OrderNumber: o.Number, User: o.User, RefundID: refunds[r].RefundID})
	}
	for i, l := range o.Lines {
		r := i % len(refunds)
		grant := map[string]string{"action": "created", "prior_active": "false", "prior_mode": ""}
		prior := map[string]string{"prior_exists": "false"}
		lines = append(lines, contract.LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, Mode: l.Mode,
			State: contract.LineRevoked, Attempts: 1, RefundID: refunds[r].RefundID, Prior: prior,
			Result: &contract.Result{Status: contract.StatusSuccess, Grant: grant}})
		refunds[r].Lines = append(refunds[r].Lines, contract.RefundLine{ID: l.ID, State: contract.LineRevoked,
			Result: &contract.Result{Status: contract.StatusSuccess, Grant: map[string]string{"action": "deactivated"}}})
		revokes[r].Lines = append(revokes[r].Lines, contract.PlanRevoke(l, contract.LineStatus{State: contract.LineFulfilled,
			Result: lines[i].Result, Prior: prior}))
	}
	doc := contract.StatusDocument{OrderNumber: o.Number, Status: contract.OrderRefunded, Lines: lines, Refunds: refunds,
		Closed: true, RefundWindowEndsAt: time.Now()}
	all := contract.RevokeInput{OrderNumber: o.Number, User: o.User, RefundID: "all"}
	for i, l := range o.Lines {
		all.Lines = append(all.Lines, contract.PlanRevoke(l, lines[i]))
	}
	payloads := map[string]any{
		"order input":         contract.OrderInput{Order: o},
		"carried state":       contract.OrderInput{Order: o, Carry: &contract.OrderCarry{Lines: lines, Refunds: refunds, Seq: 12}},
		"status document":     doc,
		"late refunds input":  contract.LateRefundsInput{Order: o, Base: doc},
		"revoke of all lines": all,
		"revoke result":       contract.RevokeResult{RefundID: "all", State: contract.RefundCompleted, Lines: refunds[0].Lines},
		"revoke of a tenth":   revokes[0],
	}
	for name, v := range payloads {
		n := payloadSize(t, v)
		t.Logf("%-20s %7d bytes", name, n)
		require.LessOrEqual(t, n, contract.PayloadBudget, "%s takes %d bytes, over the budget of %d", name, n, contract.PayloadBudget)
	}
}

// The compact wire forms read back to exactly what was written, and the
// plain form of earlier versions still reads.
func TestWireFormsRoundTrip(t *testing.T) {
	o := largestOrder(t)
	o.Lines = o.Lines[:3]
	o.Lines[1].CourseUUID, o.Lines[2].SKU = "0a1b2c3d-0000-4000-8000-000000000001", "SKU-1"
	res := &contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Message: "m", Retryable: true}
	doc := contract.StatusDocument{OrderNumber: "A", Status: contract.OrderRefunding, Closed: true, Cancelled: true,
		Lines: []contract.LineStatus{
			{ID: "1", ProductType: "seat", CourseID: "c", Mode: "verified", State: contract.LineRetrying, Result: res, Attempts: 3, LastError: "x", Prior: map[string]string{"p": "1"}},
			{ID: "2", State: contract.LineRevoking, RefundID: "R"},
		},
		Refunds:            []contract.RefundStatus{{RefundID: "R", WorkflowID: "w", State: contract.RefundRevoking, Lines: []contract.RefundLine{{ID: "2", State: contract.LineRevoking, Result: res}}}},
		IgnoredRequests:    []contract.IgnoredRequest{{Signal: "retry", Reason: "r", At: time.Unix(5, 0).UTC()}},
		RefundWindowEndsAt: time.Unix(9, 0).UTC(),
	}
	roundTrip := func(in, out any) {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, out))
	}
	var gotDoc contract.StatusDocument
	roundTrip(doc, &gotDoc)
	require.Equal(t, doc, gotDoc)

	revoke := contract.RevokeInput{OrderNumber: "A", User: o.User, RefundID: "R", WorkflowID: "w", Retry: 2, Lines: []contract.RevokeLine{
		{Line: o.Lines[0], Fulfilled: true, Grant: map[string]string{"action": "created"}},
		{Line: o.Lines[1], Uncertain: true, Prior: map[string]string{"prior_exists": "false"}},
		{Line: o.Lines[2]},
	}}
	var gotRevoke contract.RevokeInput
	roundTrip(revoke, &gotRevoke)
	require.Equal(t, revoke, gotRevoke)

	carry := contract.OrderCarry{Lines: doc.Lines, Refunds: doc.Refunds, Deadline: time.Unix(7, 0).UTC(), Seq: 4, IgnoredRequests: doc.IgnoredRequests}
	var gotCarry contract.OrderCarry
	roundTrip(carry, &gotCarry)
	contract.FillFromOrder(gotCarry.Lines, order.Order{Lines: []order.Line{{ID: "1", ProductType: "seat", CourseID: "c", Mode: "verified"}}})
	require.Equal(t, carry, gotCarry, "a carry leaves out what its order holds, and gets it back from the order")

	// The plain form, as earlier versions wrote it and the API serves it.
	var legacy contract.StatusDocument
	require.NoError(t, json.Unmarshal([]byte(`{"order_number":"A","status":"fulfilled","closed":false,
		"lines":[{"id":"1","product_type":"seat","state":"fulfilled","attempts":1,"result":{"status":"success"}}],
		"refunds":[{"refund_id":"R","workflow_id":"w","state":"completed","lines":[{"id":"1","state":"revoked"}]}]}`), &legacy))
	require.Equal(t, contract.LineFulfilled, legacy.Lines[0].State)
	require.Equal(t, contract.LineRevoked, legacy.Refunds[0].Lines[0].State)
	var legacyRevoke contract.RevokeInput
	require.NoError(t, json.Unmarshal([]byte(`{"order_number":"A","refund_id":"R","lines":[{"line":{"id":"1","product_type":"seat"},"fulfilled":true,"grant":{"action":"created"}}]}`), &legacyRevoke))
	require.True(t, legacyRevoke.Lines[0].Fulfilled)
	require.Equal(t, "created", legacyRevoke.Lines[0].Grant["action"])

	var bad contract.StatusDocument
	require.Error(t, json.Unmarshal([]byte(`{"line_table":{"ids":["1"],"columns":[[0,1],[0,1],[0,1],[0,1],[0,1],[7,1]]}}`), &bad), "an index out of its table is an error")
}
