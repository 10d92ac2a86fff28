package contract_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

func TestRefundedMarkerIDIsNoOrdersID(t *testing.T) {
	id := contract.RefundedMarkerWorkflowID("shop.example.com-727")
	require.Equal(t, "order-shop.example.com-727~refunded", id)
	n, ok := contract.OrderNumberOf(id)
	require.True(t, ok)
	require.False(t, order.IsNumber(n), "no order number yields a marker's ID")
	require.False(t, strings.HasPrefix(id, contract.RefundWorkflowID("shop.example.com-727", "")))
}
