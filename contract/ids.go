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
// one refund of an order.
func RefundWorkflowID(number, refundID string) string {
	return OrderWorkflowID(number) + "-refund-" + refundID
}

// RevokeWorkflowID is the ID of the RevokeWorkflow for in: the refund's
// workflow ID, with "~retry-<n>" for an operator's retry of failed revokes.
func RevokeWorkflowID(in RevokeInput) string {
	id := RefundWorkflowID(in.OrderNumber, in.RefundID)
	if in.Retry > 0 {
		id += fmt.Sprintf("~retry-%d", in.Retry)
	}
	return id
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
