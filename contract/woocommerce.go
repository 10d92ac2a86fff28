package contract

import "time"

// WorkflowRefundedMarker is the workflow type of an order's refunded
// marker: the durable record that a shop refunded the order in full, kept
// by Temporal instead of a database. The WooCommerce receiver starts one
// (workflow ID RefundedMarkerWorkflowID) whenever it applies a store's
// "refunded" state, before it refunds the order; the marker exists whether
// or not fulfillment has seen the order yet. A delivery that would fulfill
// the order looks for it first and then starts nothing.
//
// The workflow does nothing: it takes a RefundedMarker as input and
// completes at once with it as its result. What the receiver reads is the
// execution's existence and its memo (MemoRefundedMarker), both set when it
// is started, so reading needs no worker. Temporal keeps it, like the
// orders, for the namespace's retention.
const WorkflowRefundedMarker = "RefundedMarkerWorkflow"

// MemoRefundedMarker is the memo key under which a refunded marker carries
// its RefundedMarker.
const MemoRefundedMarker = "refunded_marker"

// RefundedMarkerWorkflowID is the ID of the refunded marker of an order:
// "order-<number>~refunded". "~" cannot occur in an order number, so no
// order's, refund's or batch's workflow ID is ever a marker's.
func RefundedMarkerWorkflowID(number string) string {
	return OrderWorkflowID(number) + "~refunded"
}

// RefundedMarker is the input, result and memo of a refunded marker. It
// holds no personal data (it is kept in a memo).
type RefundedMarker struct {
	OrderNumber string `json:"order_number"`
	// StoreModifiedAt is the time the shop last modified the order in the
	// refunded state that was applied (WooCommerce's date_modified_gmt);
	// zero when the delivery did not say. A delivery showing the order as
	// of this time or earlier is stale.
	StoreModifiedAt time.Time `json:"store_modified_at,omitzero"`
	// DeliveryID names the delivery that applied the refunded state.
	DeliveryID string `json:"delivery_id,omitempty"`
}
