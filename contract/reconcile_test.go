package contract

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/order"
)

func TestExpectLine(t *testing.T) {
	seat := order.Line{ID: "1", ProductType: order.ProductSeat, CourseID: "c", Mode: "verified"}
	upgrade := order.Line{ID: "2", ProductType: order.ProductUpgrade, CourseID: "c", Mode: "verified"}
	ent := order.Line{ID: "3", ProductType: order.ProductEntitlement, CourseUUID: "u"}
	ok := func(g map[string]string) *Result { return &Result{Status: StatusSuccess, Grant: g} }
	fresh := map[string]string{KeyPriorExists: "false", KeyPriorActive: "false"}
	cases := []struct {
		name string
		line order.Line
		st   LineStatus
		want Expectation
	}{
		{"fulfilled seat", seat, LineStatus{State: LineFulfilled, Result: ok(nil)}, Expectation{Check: true, Want: WantActive, Mode: "verified"}},
		{"fulfilled entitlement", ent, LineStatus{State: LineFulfilled, Result: ok(map[string]string{KeyEntitlementUUID: "e1"})},
			Expectation{Check: true, Want: WantEntitlementActive, EntitlementUUID: "e1"}},
		{"revoked seat, new to the course", seat, LineStatus{State: LineRevoked, RefundID: "r", Prior: fresh, Result: ok(fresh)},
			Expectation{Check: true, Want: WantNotActive}},
		{"revoked seat the learner had before", seat, LineStatus{State: LineRevoked, RefundID: "r",
			Result: ok(map[string]string{KeyGrantAction: "none", KeyPriorActive: "true"})}, Expectation{Why: "the learner had access before the order"}},
		{"revoked seat of an order from before observation", seat, LineStatus{State: LineRevoked, RefundID: "r"},
			Expectation{Why: "no record of the learner's state before the order"}},
		{"revoked upgrade from audit", upgrade, LineStatus{State: LineRevoked, RefundID: "r",
			Result: ok(map[string]string{KeyPriorExists: "true", KeyPriorActive: "true", KeyPriorMode: "audit"})},
			Expectation{Check: true, Want: WantNotInMode, Mode: "verified"}},
		{"revoked upgrade the learner had", upgrade, LineStatus{State: LineRevoked, RefundID: "r",
			Prior: map[string]string{KeyPriorExists: "true", KeyPriorActive: "true", KeyPriorMode: "verified"}},
			Expectation{Why: "the learner had that mode before the order"}},
		{"revoked entitlement of the order", ent, LineStatus{State: LineRevoked, RefundID: "r", Prior: map[string]string{KeyPriorEntitlements: ""},
			Result: ok(map[string]string{KeyEntitlementUUID: "e1", KeyGrantCreated: "true"})},
			Expectation{Check: true, Want: WantEntitlementNotActive, EntitlementUUID: "e1"}},
		{"revoked entitlement the learner had", ent, LineStatus{State: LineRevoked, RefundID: "r", Prior: map[string]string{KeyPriorEntitlements: "e0,E1"},
			Result: ok(map[string]string{KeyEntitlementUUID: "e1"})}, Expectation{Why: "no entitlement of the order's own to check"}},
		{"refunded before fulfilled", seat, LineStatus{State: LineRefundedUnfulfilled, RefundID: "r"},
			Expectation{Why: "nothing to check in state refunded_unfulfilled"}},
		{"failed", seat, LineStatus{State: LineFailed}, Expectation{Why: "nothing to check in state failed"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, ExpectLine(c.line, c.st), c.name)
	}
}

func TestLineDrift(t *testing.T) {
	up := order.Line{ID: "2", ProductType: order.ProductUpgrade, CourseID: "c", Mode: "verified"}
	notIn := Expectation{Check: true, Want: WantNotInMode, Mode: "verified"}
	_, drift := LineDrift("N", ReconcileLine{Line: up, Expect: notIn, Found: &LMSState{Exists: true, Active: true, Mode: "audit"}})
	require.False(t, drift, "a revoked upgrade back in audit is what the refund left")
	row, drift := LineDrift("N", ReconcileLine{Line: up, Expect: notIn, Found: &LMSState{Exists: true, Active: true, Mode: "verified"}})
	require.True(t, drift)
	require.Equal(t, DriftRow{OrderNumber: "N", LineID: "2", ProductType: "upgrade", Course: "c", Kind: DriftAccessAfterRefund,
		Expected: "not enrolled in the line's mode (verified)", Found: "active enrollment (verified)", Options: row.Options}, row)

	ent := order.Line{ID: "3", ProductType: order.ProductEntitlement, CourseUUID: "u"}
	want := Expectation{Check: true, Want: WantEntitlementActive, EntitlementUUID: "e1"}
	_, drift = LineDrift("N", ReconcileLine{Line: ent, Expect: want, Found: &LMSState{ActiveEntitlements: []string{"E1"}}})
	require.False(t, drift)
	row, drift = LineDrift("N", ReconcileLine{Line: ent, Expect: want, Found: &LMSState{}})
	require.True(t, drift)
	require.Equal(t, "u", row.Course)
	require.Equal(t, DriftAccessMissing, row.Kind)
	require.Equal(t, "entitlement not active", row.Found)

	_, drift = LineDrift("N", ReconcileLine{Line: ent, Expect: want})
	require.False(t, drift, "an unread line is not drift")
	seat := order.Line{ID: "1", ProductType: order.ProductSeat, CourseID: "c", Mode: "audit"}
	_, drift = LineDrift("N", ReconcileLine{Line: seat, Expect: Expectation{Check: true, Want: WantActive, Mode: "audit"},
		Found: &LMSState{Exists: true, Active: true, Mode: "verified", Satisfies: true}})
	require.False(t, drift, "a paid mode satisfies a free seat")
}
