package contract_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// lines builds line statuses; a state written "R:x" is a line in state x
// covered by refund R.
func lines(states ...contract.LineState) []contract.LineStatus {
	var out []contract.LineStatus
	for i, s := range states {
		l := contract.LineStatus{ID: string(rune('1' + i)), State: s}
		if rest, ok := strings.CutPrefix(string(s), "R:"); ok {
			l.State, l.RefundID = contract.LineState(rest), "R"
		}
		out = append(out, l)
	}
	return out
}

func TestDeriveOrderState(t *testing.T) {
	r := []contract.RefundStatus{{RefundID: "R"}}
	cases := []struct {
		want    contract.OrderState
		lines   []contract.LineStatus
		refunds []contract.RefundStatus
	}{
		{contract.OrderFulfilling, lines(contract.LineFulfilled, contract.LinePending), nil},
		{contract.OrderFulfilled, lines(contract.LineFulfilled), nil},
		{contract.OrderFulfillmentError, lines(contract.LineFailed, contract.LineRetrying), nil},
		{contract.OrderRevocationError, lines("R:revoke_failed", contract.LineFailed), r},
		{contract.OrderPartiallyRefunded, lines("R:revoked", contract.LineFulfilled), r},
		{contract.OrderRefunding, lines("R:revoking", contract.LineFulfilled), r},
		{contract.OrderRefunding, lines("R:revoking", "R:revoked"), r},
		{contract.OrderRefunding, lines("R:refunded_unfulfilled"), []contract.RefundStatus{{RefundID: "R", State: contract.RefundRevoking}}},
		{contract.OrderRefunded, lines("R:refunded_unfulfilled"), []contract.RefundStatus{{RefundID: "R", State: contract.RefundCompleted}}},
		{contract.OrderRefunded, lines("R:revoked", "R:refunded_unfulfilled"), r},
	}
	for _, c := range cases {
		require.Equal(t, c.want, contract.DeriveOrderState(c.lines, c.refunds), "%+v", c.lines)
	}
}

func TestSelectRefundLines(t *testing.T) {
	ls := lines(contract.LineFulfilled, "R:revoked", contract.LineFailed)
	ids, err := contract.SelectRefundLines(ls, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"1", "3"}, ids, "no ids: every line not refunded yet")

	ids, err = contract.SelectRefundLines(ls, []string{"3", "1", "3"})
	require.NoError(t, err)
	require.Equal(t, []string{"3", "1"}, ids, "named lines, each once, in the order named")

	_, err = contract.SelectRefundLines(ls, []string{"1", "9", "8"})
	var rej *contract.Rejection
	require.ErrorAs(t, err, &rej)
	require.Equal(t, contract.ErrorTypeUnknownLines, rej.Type)
	require.Equal(t, "unknown line: 9, 8", rej.Message)

	_, err = contract.SelectRefundLines(ls, []string{"2"})
	require.ErrorAs(t, err, &rej)
	require.Equal(t, contract.ErrorTypeAlreadyRefunded, rej.Type)

	ids, err = contract.SelectRefundLines(lines("R:revoked"), nil)
	require.NoError(t, err)
	require.Empty(t, ids, "a full refund after partial ones covers nothing and is not an error")
}

func TestPlanRevoke(t *testing.T) {
	line := order.Line{ID: "1", ProductType: order.ProductSeat, CourseID: "course-v1:A+B+C", Mode: "verified"}
	grant := map[string]string{"action": "created"}
	ok := &contract.Result{Status: contract.StatusSuccess, Grant: grant}
	transient := &contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Retryable: true}
	permanent := &contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound"}
	gaveUp := &contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeRetryHorizonExceeded}
	legacyTimeout := &contract.Result{Status: contract.StatusFailure, ErrorType: "Timeout"}
	cases := []struct {
		name                 string
		st                   contract.LineStatus
		fulfilled, uncertain bool
	}{
		{"fulfilled", contract.LineStatus{State: contract.LineFulfilled, Result: ok}, true, false},
		{"revoke failed after success", contract.LineStatus{State: contract.LineRevokeFailed, Result: ok}, true, false},
		{"revoke failed after an uncertain attempt", contract.LineStatus{State: contract.LineRevokeFailed, Result: transient}, false, true},
		{"running", contract.LineStatus{State: contract.LineFulfilling}, false, true},
		{"retrying", contract.LineStatus{State: contract.LineRetrying, Result: transient}, false, true},
		{"gave up", contract.LineStatus{State: contract.LineFailed, Result: gaveUp}, false, true},
		{"legacy timeout", contract.LineStatus{State: contract.LineFailed, Result: legacyTimeout}, false, true},
		{"permanent failure", contract.LineStatus{State: contract.LineFailed, Result: permanent}, false, false},
		{"never started", contract.LineStatus{State: contract.LinePending}, false, false},
		{"awaiting the account", contract.LineStatus{State: contract.LineAwaitingAccount,
			Result: &contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: grant}}, true, false},
		{"account never created", contract.LineStatus{State: contract.LineFailed,
			Result: &contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAccountNeverCreated, Grant: grant}}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rl := contract.PlanRevoke(line, c.st)
			require.Equal(t, line, rl.Line)
			require.Equal(t, c.fulfilled, rl.Fulfilled)
			require.Equal(t, c.uncertain, rl.Uncertain)
			require.Equal(t, c.fulfilled || c.uncertain, rl.Revokes())
			if c.fulfilled {
				require.Equal(t, grant, rl.Grant)
			} else {
				require.Nil(t, rl.Grant, "only a success recorded a grant")
			}
		})
	}
}

func TestValidateRefundID(t *testing.T) {
	require.NoError(t, contract.ValidateRefundID("R-1.a_b"))
	for _, bad := range []string{"", "a/b", "a~b", strings.Repeat("x", 65)} {
		err := contract.ValidateRefundID(bad)
		var rej *contract.Rejection
		require.ErrorAs(t, err, &rej, bad)
		require.Equal(t, contract.ErrorTypeBadRequest, rej.Type)
	}
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, contract.Options{}.Validate(), "zero options take the defaults")
	require.NoError(t, contract.Options{BatchSize: 1000, RefundWindow: time.Second}.Validate())
	for field, o := range map[string]contract.Options{
		"max_parallel_lines": {MaxParallelLines: -1},
		"batch_size":         {BatchSize: 1001},
		"retry_horizon":      {RetryHorizon: time.Millisecond},
		"refund_window":      {RefundWindow: -time.Second},
		"activity_timeout":   {ActivityTimeout: 10 * time.Millisecond},
	} {
		var oe *contract.OptionError
		require.ErrorAs(t, o.Validate(), &oe, field)
		require.Equal(t, field, oe.Field)
	}
	d := contract.Options{MaxRetryInterval: time.Millisecond}.WithDefaults()
	require.Equal(t, contract.DefaultInitialRetryInterval, d.MaxRetryInterval, "max interval is never below the initial one")
}

func TestIDs(t *testing.T) {
	require.Equal(t, "order-A1", contract.OrderWorkflowID("A1"))
	n, ok := contract.OrderNumberOf("order-A1")
	require.True(t, ok)
	require.Equal(t, "A1", n)
	require.Equal(t, "order-A1~refund-R", contract.RefundWorkflowID("A1", "R"))
	require.Equal(t, "order-A1-refund-R", contract.LegacyRefundWorkflowID("A1", "R"))
	require.Equal(t, "order-A1~refund-R~retry-3", contract.RevokeRetryWorkflowID(contract.RefundWorkflowID("A1", "R"), 3))
	require.Equal(t, "order-A1~late-refunds", contract.LateRefundsWorkflowID("A1"))
	id := contract.LineActivityID(contract.ActionRevoke, "7", 2)
	require.Equal(t, "revoke/7/r2", id)
	a, l, ok := contract.ParseLineActivityID(id)
	require.True(t, ok)
	require.Equal(t, contract.ActionRevoke, a)
	require.Equal(t, "7", l)
	_, _, ok = contract.ParseLineActivityID("5")
	require.False(t, ok)
	require.Equal(t, contract.ActivityRevokeLine, contract.ActionRevoke.Activity())
	require.Equal(t, contract.ActivityFulfillLine, contract.ActionFulfill.Activity())
}

// No two (order, refund) pairs share a refund workflow ID, however their
// order numbers and refund ids are chosen within what the API accepts; the
// ID parses back to its pair, also with a retry or batch suffix.
func TestRefundWorkflowIDsNeverCollide(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Fragments that made the legacy scheme collide, and the separators.
	parts := []string{"refund", "-refund-", "-refund", "refund-", "-", ".", "_", "R", "1", "X", "order-", "a", ":", "+"}
	gen := func(allowed func(string) bool) string {
		for {
			var b strings.Builder
			for n := 1 + rng.IntN(5); n > 0; n-- {
				b.WriteString(parts[rng.IntN(len(parts))])
			}
			if s := b.String(); allowed(s) {
				return s
			}
		}
	}
	// Order numbers as the API accepts them (IsNumber reserves "-refund-"
	// for the legacy scheme; the new scheme does not rely on it).
	validNumber := func(s string) bool { return order.IsNumber(strings.ReplaceAll(s, "-refund-", "-x-")) }
	validRefund := func(s string) bool { return contract.ValidateRefundID(s) == nil }
	seen := map[string][2]string{}
	for range 20000 {
		n, r := gen(validNumber), gen(validRefund)
		id := contract.RefundWorkflowID(n, r)
		if prev, ok := seen[id]; ok {
			require.Equal(t, prev, [2]string{n, r}, "two refunds share workflow ID %s", id)
		}
		seen[id] = [2]string{n, r}
		for _, wid := range []string{id, contract.RevokeRetryWorkflowID(id, 2), id + "~batch-0"} {
			gn, gr, ok := contract.ParseRefundWorkflowID(wid)
			require.True(t, ok, wid)
			require.Equal(t, [2]string{n, r}, [2]string{gn, gr}, wid)
		}
	}
	// The pair that collided in the legacy scheme.
	require.Equal(t, contract.LegacyRefundWorkflowID("X", "refund-1"), contract.LegacyRefundWorkflowID("X-refund", "1"))
	require.NotEqual(t, contract.RefundWorkflowID("X", "refund-1"), contract.RefundWorkflowID("X-refund", "1"))
}
