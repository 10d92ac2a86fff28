package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// resolveRetry returns the lines a retry request names, or every line that
// waits for an operator. A request that cannot be honoured is a
// *contract.Rejection.
func (w *orderRun) resolveRetry(req contract.RetryRequest) ([]string, error) {
	if w.cancelled {
		return nil, &contract.Rejection{Type: contract.ErrorTypeOrderCancelled,
			Message: "the order was cancelled: its lines are not fulfilled again (refunds are still taken)"}
	}
	if len(req.LineIDs) == 0 {
		var ids []string
		for _, l := range w.lines {
			if l.State == contract.LineFailed && l.RefundID == "" && !w.late || l.State == contract.LineRevokeFailed {
				ids = append(ids, l.ID)
			}
		}
		if len(ids) == 0 {
			return nil, &contract.Rejection{Type: contract.ErrorTypeNothingToRetry, Message: "nothing to retry: no line is failed"}
		}
		return ids, nil
	}
	var unknown, ids []string
	for _, id := range req.LineIDs {
		if w.line(id) == nil {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, contract.UnknownLines(unknown)
	}
	for _, id := range req.LineIDs {
		if slices.Contains(ids, id) {
			continue
		}
		l := w.line(id)
		if w.late && l.State == contract.LineFailed {
			return nil, &contract.Rejection{Type: contract.ErrorTypeNothingToRetry,
				Message: "nothing to retry: line " + id + " was not fulfilled and the order has closed"}
		}
		if !l.State.NeedsOperator() && l.State != contract.LineAwaitingAccount {
			return nil, &contract.Rejection{Type: contract.ErrorTypeNothingToRetry,
				Message: "nothing to retry: line " + id + " is " + string(l.State) + ", not failed"}
		}
		if l.State == contract.LineFailed && l.RefundID != "" {
			return nil, &contract.Rejection{Type: contract.ErrorTypeNothingToRetry,
				Message: "nothing to retry: line " + id + " is being refunded"}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (w *orderRun) validateRetry(req contract.RetryRequest) error {
	_, err := w.resolveRetry(req)
	return asApplicationError(err)
}

func (w *orderRun) handleRetry(ctx workflow.Context, req contract.RetryRequest) (contract.RetryResult, error) {
	ids, err := w.resolveRetry(req)
	if err != nil {
		return contract.RetryResult{}, asApplicationError(err)
	}
	workflow.GetLogger(ctx).Info("operator retry", "lines", len(ids))
	w.retry(ctx, ids)
	return contract.RetryResult{LineIDs: ids}, nil
}

// retry runs failed lines again: fulfillment for lines that failed to be
// fulfilled, the revoke for lines whose revoke failed.
func (w *orderRun) retry(ctx workflow.Context, ids []string) {
	var fulfill, revoke []string
	for _, id := range ids {
		if w.line(id).State == contract.LineRevokeFailed {
			revoke = append(revoke, id)
		} else {
			fulfill = append(fulfill, id)
		}
	}
	if len(fulfill) > 0 {
		for _, id := range fulfill {
			if w.awaiting[id] {
				// An operator's nudge: check now, and start the backoff
				// over.
				delete(w.awaiting, id)
				w.accountWait = w.opts.AccountCheckInterval
			}
		}
		w.fulfill(ctx, fulfill)
	}
	if len(revoke) > 0 {
		w.revokeAgain(ctx, revoke)
	}
}
