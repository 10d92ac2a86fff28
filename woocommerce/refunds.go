package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/starter"
)

// partialRefunds applies the refunds listed on an order that fulfillment
// has not yet seen, and returns their refund ids.
func (rc *Receiver) partialRefunds(ctx context.Context, d delivery, number string, wo wcOrder) (ids []string, worst int) {
	for _, ref := range wo.Refunds {
		if ref.ID <= 0 {
			continue
		}
		refundID := "wc-" + formatID(int64(ref.ID))
		ids = append(ids, refundID)
		key := number + "|" + refundID
		if rc.isDone(key) {
			continue
		}
		if !rc.cfg.Store.Configured() {
			rc.reject(&Rejection{Kind: KindRefundManual, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
				Reason: fmt.Sprintf("partial refund %d: which lines it covers is only known to the store API, which is not configured (%s, %s, %s); refund the lines with `fulfillment order refund %s --refund-id %s --lines ...`",
					int64(ref.ID), EnvStoreURL, EnvConsumerKey, EnvConsumerSecret, number, refundID)})
			continue
		}
		lines, err := rc.refundLines(ctx, int64(wo.ID), int64(ref.ID), wo)
		if err != nil {
			rc.log.Warn("fetch refund failed", zap.String("order_number", number), zap.String("refund_id", refundID), zap.Error(err))
			rc.reject(&Rejection{Kind: KindRefundManual, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
				Reason: "could not read the refund from the store API: " + err.Error()})
			continue
		}
		if len(lines) == 0 {
			// A refund of an amount only (or of non-course items) revokes
			// nothing; remember it so it is not fetched again.
			rc.markDone(key)
			continue
		}
		res, err := rc.f.Refund(ctx, number, contract.RefundRequest{RefundID: refundID, LineIDs: lines})
		if err != nil {
			code, _ := rc.refundError(d, number, refundID, err)
			worst = max(worst, code)
			continue
		}
		rc.markDone(key)
		if !res.Duplicate {
			rc.log.Info("partial refund accepted", zap.String("order_number", number), zap.String("refund_id", refundID), zap.Int("lines", len(lines)))
		}
	}
	return ids, worst
}

// withPartialRefunds applies the delivery's partial refunds and adds their
// ids to reply, answered with code. A refund that met a Temporal outage
// turns the answer into a 503, so the store delivers it again.
func (rc *Receiver) withPartialRefunds(ctx context.Context, d delivery, number string, wo wcOrder, code int, reply Reply) (int, Reply) {
	var worst int
	reply.Refunds, worst = rc.partialRefunds(ctx, d, number, wo)
	if worst >= 500 {
		return worst, Reply{OrderNumber: number, Detail: "a refund could not be applied: fulfillment is temporarily unavailable; resend the delivery"}
	}
	return code, reply
}

// refundError records a refund that could not be applied.
func (rc *Receiver) refundError(d delivery, number, refundID string, err error) (int, Reply) {
	reply := Reply{OrderNumber: number, Refunds: []string{refundID}}
	switch {
	case errors.Is(err, starter.ErrNotFound):
		rc.reject(&Rejection{Kind: KindRefundNoOrder, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
			Reason: "refund of an order fulfillment never started (it was rejected or never paid): nothing to revoke"})
		reply.Result = ResultIgnored
		reply.Detail = "fulfillment has no such order"
		return http.StatusOK, reply
	case errors.Is(err, starter.ErrUnknownLines), errors.Is(err, starter.ErrRejected), errors.Is(err, starter.ErrInvalidRequest):
		rc.reject(&Rejection{Kind: KindRefundFailed, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
			Reason: starter.Detail(err)})
		reply.Result = ResultRejected
		reply.Detail = starter.Detail(err)
		return http.StatusOK, reply
	default:
		return rc.unavailable(d, Rejection{OrderNumber: number, RefundID: refundID,
			Reason: "the refund could not be handed to fulfillment (Temporal unavailable); resend the delivery"}, err)
	}
}

// unavailable answers a delivery that met a Temporal outage (or another
// error Temporal gave) with a 503, so the store delivers it again, and
// records rj (its order, refund and reason) as such.
func (rc *Receiver) unavailable(d delivery, rj Rejection, err error) (int, Reply) {
	rc.log.Warn("fulfillment unavailable", zap.String("order_number", rj.OrderNumber), zap.String("refund_id", rj.RefundID),
		zap.String("delivery_id", d.id), zap.String("reason", rj.Reason), zap.Error(err))
	rj.Kind, rj.Store, rj.DeliveryID = KindUnavailable, d.store, d.id
	rc.reject(&rj)
	return http.StatusServiceUnavailable, Reply{OrderNumber: rj.OrderNumber, Detail: "fulfillment is temporarily unavailable"}
}

func (rc *Receiver) isDone(key string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.doneRefund[key]
}

func (rc *Receiver) markDone(key string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.doneRefund[key] {
		return
	}
	rc.doneRefund[key] = true
	rc.doneOrder = append(rc.doneOrder, key)
	// Bounded: forgetting an old key only costs one more store API call.
	if len(rc.doneOrder) > 10000 {
		delete(rc.doneRefund, rc.doneOrder[0])
		rc.doneOrder = rc.doneOrder[1:]
	}
}
