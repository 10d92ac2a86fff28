package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/starter"
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
// as of that time or earlier is stale and changes nothing. A paid delivery
// of an order with a marker enrolls nobody, whatever its time: a refunded
// order is not fulfilled (with an order fulfillment has seen, a later paid
// state starts nothing either).
//
// The marker is also what keeps a refund that arrives before the order's
// paid delivery, or together with it: the refunded delivery remembers
// first and refunds second, the paid one looks for the marker before and
// after it starts the order. Whatever the interleaving, either the paid
// delivery sees the marker and starts nothing, or the refund finds the
// order, or the paid delivery finds the marker right after it started the
// order and refunds it itself. Temporal's workflow-ID uniqueness makes
// each of these steps once-only.

// checkRefunded looks for the order's remembered refund before a delivery
// applies anything. done is true when the order was refunded, and the
// delivery is not applied; code and reply are then its answer.
func (rc *Receiver) checkRefunded(ctx context.Context, d delivery, number string, wo wcOrder) (code int, reply Reply, done bool) {
	m, found, err := rc.f.RememberedRefund(ctx, number)
	if err != nil {
		code, reply = rc.unavailable(d, Rejection{OrderNumber: number,
			Reason: "whether the store refunded the order could not be read (Temporal unavailable); resend the delivery"}, err)
		return code, reply, true
	}
	if !found {
		return 0, Reply{}, false
	}
	// Make sure the refund reached the order, if it exists: a no-op once
	// it has, and the repair of a paid delivery that started the order but
	// could not refund it (see refundedMeanwhile).
	if _, err := rc.f.Refund(ctx, number, contract.RefundRequest{RefundID: FullRefundID}); err != nil && !errors.Is(err, starter.ErrNotFound) {
		code, reply = rc.refundError(d, number, FullRefundID, err)
		return code, reply, true
	}
	switch {
	case stale(wo, m):
		code, reply = rc.staleDelivery(d, number, wo, m)
	case paid(wo.Status):
		reason := fmt.Sprintf("the store refunded this order (%s) and fulfillment keeps that refund; this delivery shows it %s (%s), but a refunded order is not fulfilled: nobody was enrolled; to enroll the learner, place a new order",
			modifiedText(m.StoreModifiedAt), truncate(wo.Status, 32), modifiedText(deliveryTime(wo)))
		rc.reject(&Rejection{Kind: KindRefundedOrder, Store: d.store, OrderNumber: number, DeliveryID: d.id, Reason: reason})
		code, reply = http.StatusOK, Reply{Result: ResultRejected, OrderNumber: number, Detail: reason}
	default:
		code, reply = http.StatusOK, Reply{Result: ResultIgnored, OrderNumber: number,
			Detail: "the store refunded this order in full (" + modifiedText(m.StoreModifiedAt) + ") and fulfillment applied the refund; this delivery changes nothing"}
	}
	return code, reply, true
}

// refundedMeanwhile looks for the order's marker again right after a paid
// delivery started the order: a refunded delivery that remembered its
// refund between the first look and the start found no order to refund,
// so the refund is applied here. done is true when it was (or could not
// be); started is the start's answer.
func (rc *Receiver) refundedMeanwhile(ctx context.Context, d delivery, number string, started Reply) (code int, reply Reply, done bool) {
	_, found, err := rc.f.RememberedRefund(ctx, number)
	if err != nil {
		// The store resends, and the resend's first look repairs it.
		code, reply = rc.unavailable(d, Rejection{OrderNumber: number, RefundID: FullRefundID,
			Reason: "the order was started, but whether the store refunded it meanwhile could not be read (Temporal unavailable); resend the delivery"}, err)
		return code, reply, true
	}
	if !found {
		return 0, Reply{}, false
	}
	if _, err := rc.f.Refund(ctx, number, contract.RefundRequest{RefundID: FullRefundID}); err != nil {
		code, reply = rc.refundError(d, number, FullRefundID, err)
		return code, reply, true
	}
	rc.log.Info("order refunded while it was started", zap.String("order_number", number), zap.String("delivery_id", d.id))
	started.Refunds = []string{FullRefundID}
	started.Detail = "the store refunded the order while fulfillment was starting it: every line is refunded (refund " + FullRefundID + ")"
	return http.StatusAccepted, started, true
}

// paid reports whether a status is one fulfillment starts an order for.
func paid(status string) bool { return status == "processing" || status == "completed" }

// deliveryTime is the delivery's date_modified_gmt, zero when missing.
func deliveryTime(wo wcOrder) time.Time {
	at, _ := wcTime(wo.DateModifiedGMT)
	return at
}

// modifiedText renders a store modification time for a reason.
func modifiedText(at time.Time) string {
	if at.IsZero() {
		return "no date_modified_gmt"
	}
	return "modified at " + at.Format(time.RFC3339)
}

// stale reports whether a delivery shows the order as of the time of its
// applied refunded state, or before it. Without both times nothing is
// stale.
func stale(wo wcOrder, m contract.RefundedMarker) bool {
	at := deliveryTime(wo)
	return !at.IsZero() && !m.StoreModifiedAt.IsZero() && !at.After(m.StoreModifiedAt)
}

// staleDelivery answers and records a stale delivery.
func (rc *Receiver) staleDelivery(d delivery, number string, wo wcOrder, m contract.RefundedMarker) (int, Reply) {
	reason := fmt.Sprintf("stale delivery: it shows the order %s (%s), not later than the refunded state fulfillment already applied (%s): this delivery changed nothing, nobody was enrolled",
		truncate(wo.Status, 32), modifiedText(deliveryTime(wo)), modifiedText(m.StoreModifiedAt))
	rc.reject(&Rejection{Kind: KindStale, Store: d.store, OrderNumber: number, DeliveryID: d.id, Reason: reason})
	return http.StatusOK, Reply{Result: ResultStale, OrderNumber: number, Detail: reason}
}

// refundInFull applies a "refunded" state: it is remembered first, then
// the order is refunded in full (refund id FullRefundID).
func (rc *Receiver) refundInFull(ctx context.Context, d delivery, number string, wo wcOrder) (int, Reply) {
	m := contract.RefundedMarker{OrderNumber: number, StoreModifiedAt: deliveryTime(wo), DeliveryID: d.id}
	if _, err := rc.f.RememberRefunded(ctx, m); err != nil {
		return rc.unavailable(d, Rejection{OrderNumber: number, RefundID: FullRefundID,
			Reason: "the store's refund could not be recorded (Temporal unavailable); resend the delivery"}, err)
	}
	res, err := rc.f.Refund(ctx, number, contract.RefundRequest{RefundID: FullRefundID})
	switch {
	case errors.Is(err, starter.ErrNotFound):
		// Not paid yet, its paid delivery is late, or it was rejected: the
		// marker keeps the refund, every resend gets the same answer.
		reason := "refund of an order fulfillment has not started (it is not paid yet, its paid delivery is late, or it was rejected): the refund is remembered, and no later delivery of this order enrolls anyone"
		rc.reject(&Rejection{Kind: KindRefundNoOrder, Store: d.store, OrderNumber: number, RefundID: FullRefundID, DeliveryID: d.id, Reason: reason})
		return http.StatusOK, Reply{Result: ResultRefundRemembered, OrderNumber: number, Refunds: []string{FullRefundID}, Detail: reason}
	case err != nil:
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
