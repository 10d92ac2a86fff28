package contract

import (
	"strings"

	"github.com/coursefulfill/fulfillment/order"
)

// RetryRequest is the payload of the retry signal and update. An empty list
// retries every failed line.
type RetryRequest struct {
	LineIDs []string `json:"line_ids"`
}

// RetryResult answers an accepted retry update.
type RetryResult struct {
	LineIDs []string `json:"line_ids"`
}

// RefundRequest is the payload of the refund signal and update. An empty list
// refunds every line not refunded yet.
type RefundRequest struct {
	RefundID string   `json:"refund_id"`
	LineIDs  []string `json:"line_ids"`
}

// RefundResult answers an accepted refund.
type RefundResult struct {
	RefundID   string `json:"refund_id"`
	WorkflowID string `json:"workflow_id"`
	// Duplicate is true when this refund id had already been accepted.
	Duplicate bool `json:"duplicate"`
}

// MaxRefundIDLength bounds a refund id: it becomes part of a workflow ID.
const MaxRefundIDLength = order.MaxRefundIDLength

// ValidateRefundID checks a refund id's shape: it becomes part of a workflow
// ID. The error is a *Rejection of type ErrorTypeBadRequest.
func ValidateRefundID(id string) error {
	if id == "" || len(id) > MaxRefundIDLength {
		return reject(ErrorTypeBadRequest, "refund_id must be 1-64 characters")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return reject(ErrorTypeBadRequest, "refund_id may hold only letters, digits and ._-")
		}
	}
	return nil
}
