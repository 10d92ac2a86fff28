package ledger

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

func TestGrant(t *testing.T) {
	activeAudit := Enroll{Exists: true, Active: true, Mode: "audit"}
	activeVerified := Enroll{Exists: true, Active: true, Mode: "verified"}
	for _, c := range []struct {
		line   Line
		want   Enroll
		writes int
	}{
		{Line{Product: order.ProductSeat, Mode: "verified"}, activeVerified, 1},
		{Line{Product: order.ProductSeat, Mode: "audit", Prior: activeVerified}, activeVerified, 0},
		{Line{Product: order.ProductSeat, Mode: "verified", Prior: activeAudit}, activeVerified, 1},
		{Line{Product: order.ProductUpgrade, Mode: "verified", Prior: activeVerified}, activeVerified, 0},
		{Line{Product: order.ProductEntitlement, Prior: activeAudit}, activeVerified, 1},
		{Line{Product: order.ProductEntitlement, Mode: "verified", Prior: activeVerified}, activeVerified, 0},
		{Line{Product: order.ProductEntitlement}, Enroll{}, 0},
		{Line{Product: order.ProductDonation}, Enroll{}, 0},
	} {
		got, writes := Grant(c.line)
		require.Equal(t, c.want, got, "%+v", c.line)
		require.Equal(t, c.writes, writes, "%+v", c.line)
	}
}

// An entitlement refunded after the learner's active enrollment from
// elsewhere was tied to it takes two writes after the grant's: the LMS
// unenrolls the run with the revoke, the module enrolls the learner back.
// The fault-survival suite found the model allowing one when the grant
// itself wrote nothing (the enrollment was already in the entitlement's
// mode).
func TestRefundedEntitlementOfAnEnrollmentFromElsewhere(t *testing.T) {
	refunded := Outcome{Fulfilled: true, Refund: "R1"}
	same := ExpectLine(Line{Product: order.ProductEntitlement, Mode: "verified",
		Prior: Enroll{Exists: true, Active: true, Mode: "verified"}}, refunded)
	require.Equal(t, 2, same.MaxWrites)
	require.Equal(t, "active verified", same.Enrollment.Access())
	require.Equal(t, []contract.LineState{contract.LineRevoked}, same.States)

	moved := ExpectLine(Line{Product: order.ProductEntitlement, Mode: "verified",
		Prior: Enroll{Exists: true, Active: true, Mode: "audit"}}, refunded)
	require.Equal(t, 3, moved.MaxWrites)
	require.Equal(t, "active audit", moved.Enrollment.Access())

	kept := ExpectLine(Line{Product: order.ProductEntitlement, Mode: "verified",
		Prior: Enroll{Exists: true, Active: true, Mode: "verified"}}, Outcome{Fulfilled: true})
	require.Equal(t, 0, kept.MaxWrites)
	require.True(t, kept.EntActive)
}

func TestOrderStatus(t *testing.T) {
	fulfilled := ExpectLine(Line{Product: order.ProductDonation}, Outcome{Fulfilled: true})
	refunded := ExpectLine(Line{Product: order.ProductDonation}, Outcome{Fulfilled: true, Refund: "R1"})
	failed := ExpectLine(Line{Product: order.ProductSeat, Mode: "verified"}, Outcome{})
	revokeFailed := ExpectLine(Line{Product: order.ProductSeat, Mode: "verified"}, Outcome{Fulfilled: true, Refund: "R1", RevokeFailed: true})
	require.Equal(t, contract.OrderFulfilled, OrderStatus([]*LineExpect{fulfilled}, 0, false))
	require.Equal(t, contract.OrderPartiallyRefunded, OrderStatus([]*LineExpect{fulfilled, refunded}, 1, false))
	require.Equal(t, contract.OrderRefunded, OrderStatus([]*LineExpect{refunded}, 1, false))
	require.Equal(t, contract.OrderFulfillmentError, OrderStatus([]*LineExpect{fulfilled, failed}, 0, false))
	require.Equal(t, contract.OrderCancelled, OrderStatus([]*LineExpect{failed}, 0, true))
	require.Equal(t, contract.OrderRevocationError, OrderStatus([]*LineExpect{revokeFailed, failed}, 1, false))
}
