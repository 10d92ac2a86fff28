package woocommerce

import (
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/order"
)

// Rejection kinds.
const (
	KindBadSignature  = "bad_signature"
	KindUnknownStore  = "unknown_store"
	KindMalformed     = "malformed"
	KindInvalidOrder  = "invalid_order"
	KindConflict      = "conflict"
	KindUnavailable   = "unavailable"
	KindRefundManual  = "refund_needs_operator"
	KindRefundFailed  = "refund_failed"
	KindRefundNoOrder = "refund_of_unknown_order"
	// KindStale: the delivery shows the order as it was before a state
	// fulfillment already applied, and was not applied.
	KindStale = "stale"
	// KindRefundedOrder: a paid delivery of an order whose refund
	// fulfillment applied; nobody is enrolled.
	KindRefundedOrder = "refunded_order"
)

// Rejection records a delivery fulfillment could not act on. It holds no
// personal data: no emails, names or addresses.
type Rejection struct {
	Kind        string             `json:"kind"`
	Store       string             `json:"store,omitempty"`
	OrderNumber string             `json:"order_number,omitempty"`
	RefundID    string             `json:"refund_id,omitempty"`
	DeliveryID  string             `json:"delivery_id,omitempty"`
	Reason      string             `json:"reason"`
	Errors      []order.FieldError `json:"errors,omitempty"`
	FirstAt     time.Time          `json:"first_at"`
	LastAt      time.Time          `json:"last_at"`
	// Count is how many deliveries hit this rejection: a store resends.
	Count int `json:"count"`
}

// reject records a rejection (deduplicated by kind, store, order and
// refund) and logs it.
func (rc *Receiver) reject(rj *Rejection) {
	now := rc.cfg.Now().UTC()
	rj.Errors = boundErrors(rj.Errors)
	rc.log.Warn("woocommerce delivery rejected",
		zap.String("kind", rj.Kind),
		zap.String("store", rj.Store),
		zap.String("order_number", rj.OrderNumber),
		zap.String("refund_id", rj.RefundID),
		zap.String("delivery_id", rj.DeliveryID),
		zap.String("reason", rj.Reason),
		zap.Any("errors", rj.Errors),
	)
	key := rj.Kind + "|" + rj.Store + "|" + rj.OrderNumber + "|" + rj.RefundID
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if old, ok := rc.byKey[key]; ok {
		old.Count++
		old.LastAt = now
		old.DeliveryID = rj.DeliveryID
		old.Reason = rj.Reason
		old.Errors = rj.Errors
		// Move to the newest end.
		for i, r := range rc.rejections {
			if r == old {
				rc.rejections = append(rc.rejections[:i], rc.rejections[i+1:]...)
				break
			}
		}
		rc.rejections = append(rc.rejections, old)
		return
	}
	rj.FirstAt, rj.LastAt, rj.Count = now, now, 1
	rc.rejections = append(rc.rejections, rj)
	rc.byKey[key] = rj
	for len(rc.rejections) > rc.cfg.MaxRejections {
		oldest := rc.rejections[0]
		rc.rejections = rc.rejections[1:]
		for k, v := range rc.byKey {
			if v == oldest {
				delete(rc.byKey, k)
				break
			}
		}
	}
}

// Rejections returns the recorded rejections, newest first.
func (rc *Receiver) Rejections() []Rejection {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Rejection, 0, len(rc.rejections))
	for i := len(rc.rejections) - 1; i >= 0; i-- {
		r := *rc.rejections[i]
		r.Errors = append([]order.FieldError(nil), r.Errors...)
		out = append(out, r)
	}
	return out
}

// ServeRejections answers GET /api/v1/webhooks/woocommerce/rejections.
func (rc *Receiver) ServeRejections(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rejections": rc.Rejections()})
}

// boundErrors keeps at most problem.MaxErrors field errors, the last of
// them counting the ones left out: a delivery of 10,000 broken lines is
// recorded and answered in a few kilobytes.
func boundErrors(errs []order.FieldError) []order.FieldError {
	if len(errs) <= problem.MaxErrors {
		return errs
	}
	out := append([]order.FieldError(nil), errs[:problem.MaxErrors-1]...)
	return append(out, order.FieldError{Field: "...", Detail: strconv.Itoa(len(errs)-problem.MaxErrors+1) + " more problems not shown"})
}
