package contract

import (
	"fmt"
	"strings"
)

// OrderWorkflowID returns the ID of the workflow that fulfills the order with
// this number. The ID is derived from the business key so the same order can
// never run twice.
func OrderWorkflowID(number string) string { return "order-" + number }

// OrderNumberOf returns the order number of an order workflow ID.
func OrderNumberOf(workflowID string) (string, bool) {
	return strings.CutPrefix(workflowID, "order-")
}

// RefundWorkflowID returns the ID of the workflow that revokes the lines of
// one refund of an order: "order-<number>~refund-<refund id>". "~" can appear
// in neither an order number nor a refund id, so no two (order, refund)
// pairs share an ID (ParseRefundWorkflowID inverts it).
func RefundWorkflowID(number, refundID string) string {
	return OrderWorkflowID(number) + "~refund-" + refundID
}

// ParseRefundWorkflowID returns the order number and refund id of a
// RefundWorkflowID, also one with a suffix ("~retry-<n>", "~batch-<k>").
func ParseRefundWorkflowID(id string) (number, refundID string, ok bool) {
	rest, ok := OrderNumberOf(id)
	if !ok {
		return "", "", false
	}
	number, rest, ok = strings.Cut(rest, "~refund-")
	if !ok || number == "" || strings.Contains(number, "~") {
		return "", "", false
	}
	refundID, _, _ = strings.Cut(rest, "~")
	return number, refundID, refundID != ""
}

// LegacyRefundWorkflowID is the refund workflow ID of earlier versions,
// "order-<number>-refund-<refund id>", which two (order, refund) pairs could
// share. Orders that were running when the scheme changed keep it, and
// refunds started with it are still found.
func LegacyRefundWorkflowID(number, refundID string) string {
	return OrderWorkflowID(number) + "-refund-" + refundID
}

// RevokeRetryWorkflowID is the ID of an operator's n-th retry of the failed
// revokes of the refund whose workflow ID is refundWorkflowID.
func RevokeRetryWorkflowID(refundWorkflowID string, n int) string {
	return fmt.Sprintf("%s~retry-%d", refundWorkflowID, n)
}

// LateRefundsWorkflowID is the ID of the workflow that takes an order's
// refunds once the order workflow has closed: "order-<number>~late-refunds".
func LateRefundsWorkflowID(number string) string {
	return OrderWorkflowID(number) + "~late-refunds"
}

// LineActivityID is the activity ID of one round of one action on one line:
// "fulfill/<line>/r<round>". Line ids cannot contain "/". A readable ID lets
// the API match a pending attempt (its live attempt count and last failure)
// to its line.
func LineActivityID(action Action, lineID string, round int) string {
	return fmt.Sprintf("%s/%s/r%d", action, lineID, round)
}

// ParseLineActivityID is the inverse of LineActivityID.
func ParseLineActivityID(id string) (action Action, lineID string, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "r") {
		return "", "", false
	}
	return Action(parts[0]), parts[1], true
}

// FulfillmentID names the n-th fulfillment run of an order's lines, the
// prefix of its batches: "order-<number>~fulfill-<n>".
func FulfillmentID(number string, n int) string {
	return fmt.Sprintf("%s~fulfill-%d", OrderWorkflowID(number), n)
}

// BatchWorkflowID is the ID of the k-th batch (LinesWorkflow) of the
// fulfillment or revoke named prefix: "<prefix>~batch-<k>".
func BatchWorkflowID(prefix string, k int) string {
	return fmt.Sprintf("%s~batch-%d", prefix, k)
}
