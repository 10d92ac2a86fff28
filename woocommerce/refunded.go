package woocommerce

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
)

// Deliveries of one order can arrive out of order and be repeated, and the
// receiver keeps no database: the order's state that fulfillment applied is
// in Temporal. A paid state ("processing", "completed") is applied once,
// by starting the order's workflow, and applying it again does nothing. A
// "refunded" state is remembered in the order's refunded marker
// (contract.RefundedMarkerWorkflowID) before the order is refunded, with the
// store's date_modified_gmt of that state: it is the newest state that
// matters, since nothing after a full refund is applied. A delivery that
// would apply something reads the marker first; one that shows the order
// as of that time or earlier is stale and changes nothing.

// checkRefunded looks for the order's remembered refund before a delivery
// applies anything. done is true when the delivery must not be applied;
// code and reply are then its answer.
func (rc *Receiver) checkRefunded(ctx context.Context, d delivery, number string, wo wcOrder) (code int, reply Reply, done bool) {
	m, found, err := rc.f.RememberedRefund(ctx, number)
	if err != nil {
		code, reply = rc.unavailable(d, Rejection{OrderNumber: number,
			Reason: "whether the store refunded the order could not be read (Temporal unavailable); resend the delivery"}, err)
		return code, reply, true
	}
	if !found || !stale(wo, m) {
		return 0, Reply{}, false
	}
	code, reply = rc.staleDelivery(d, number, wo, m)
	return code, reply, true
}

// stale reports whether a delivery shows the order as of the time of its
// applied refunded state, or before it. Without both times nothing is
// stale.
func stale(wo wcOrder, m contract.RefundedMarker) bool {
	at, ok := wcTime(wo.DateModifiedGMT)
	return ok && !m.StoreModifiedAt.IsZero() && !at.After(m.StoreModifiedAt)
}

// staleDelivery answers and records a stale delivery.
func (rc *Receiver) staleDelivery(d delivery, number string, wo wcOrder, m contract.RefundedMarker) (int, Reply) {
	at, _ := wcTime(wo.DateModifiedGMT)
	reason := fmt.Sprintf("stale delivery: it shows the order %s as modified at %s, which is not after its refunded state (modified at %s) that fulfillment already applied; nothing was done",
		truncate(wo.Status, 32), at.Format(time.RFC3339), m.StoreModifiedAt.Format(time.RFC3339))
	rc.reject(&Rejection{Kind: KindStale, Store: d.store, OrderNumber: number, DeliveryID: d.id, Reason: reason})
	return http.StatusOK, Reply{Result: ResultStale, OrderNumber: number, Detail: reason}
}

// refundInFull applies a "refunded" state: it is remembered first, then
// the order is refunded in full (refund id FullRefundID).
func (rc *Receiver) refundInFull(ctx context.Context, d delivery, number string, wo wcOrder) (int, Reply) {
	at, _ := wcTime(wo.DateModifiedGMT)
	if _, err := rc.f.RememberRefunded(ctx, contract.RefundedMarker{OrderNumber: number, StoreModifiedAt: at, DeliveryID: d.id}); err != nil {
		return rc.unavailable(d, Rejection{OrderNumber: number, RefundID: FullRefundID,
			Reason: "the store's refund could not be recorded (Temporal unavailable); resend the delivery"}, err)
	}
	res, err := rc.f.Refund(ctx, number, contract.RefundRequest{RefundID: FullRefundID})
	if err != nil {
		return rc.refundError(d, number, FullRefundID, err)
	}
	reply := Reply{Result: ResultRefunded, OrderNumber: number, WorkflowID: res.WorkflowID, Refunds: []string{FullRefundID}}
	if res.Duplicate {
		reply.Result = ResultDuplicate
	} else {
		rc.log.Info("full refund accepted", zap.String("order_number", number), zap.String("delivery_id", d.id))
	}
	return http.StatusOK, reply
}
