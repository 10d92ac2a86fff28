package workflows

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/workflow"
)

// listenSignals serves the retry and refund signals, which the Web UI can
// send. Anything malformed is logged and ignored: a bad signal must never
// fail or wedge the workflow.
func (w *orderRun) listenSignals(ctx workflow.Context) {
	logger := workflow.GetLogger(ctx)
	retryCh := workflow.GetSignalChannelWithOptions(ctx, contract.SignalRetry, workflow.SignalChannelOptions{Description: descRetrySignal})
	refundCh := workflow.GetSignalChannelWithOptions(ctx, contract.SignalRefund, workflow.SignalChannelOptions{Description: descRefundSignal})
	// Plumbing: the SDK lists every channel the workflow reads in the
	// workflow's metadata (the Web UI's Send a Signal offers them), so this
	// one says it is not for people.
	outcomesCh := workflow.GetSignalChannelWithOptions(ctx, contract.SignalLineOutcomes, workflow.SignalChannelOptions{Description: descLineOutcomes})
	w.retryCh, w.refundCh = retryCh, refundCh
	// Signals are read only when they can be handled at once, so an unread
	// one stays counted in its channel (the workflow does not close or
	// continue as new over it), and one that cannot even be decoded is
	// dropped without blocking the next.
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return retryCh.Len() > 0 || refundCh.Len() > 0 || outcomesCh.Len() > 0 }); err != nil {
				return
			}
			if outcomesCh.Len() > 0 {
				var outs []LineOutcome
				if ok, _ := outcomesCh.ReceiveAsyncWithMoreFlag(&outs); !ok {
					logger.Warn("ignored undecodable line-outcomes signal")
					continue
				}
				for _, o := range outs {
					if o.Retrying {
						w.lineRetrying(ctx, o)
					} else {
						w.lineDone(ctx, o)
					}
				}
				continue
			}
			if retryCh.Len() > 0 {
				var raw json.RawMessage
				var req contract.RetryRequest
				if ok, _ := retryCh.ReceiveAsyncWithMoreFlag(&raw); !ok {
					w.ignore(ctx, contract.SignalRetry, "", "the payload is not JSON")
				} else if err := decodeSignal(raw, &req); err != nil {
					w.ignore(ctx, contract.SignalRetry, "", "not a retry request ({\"line_ids\":[...]}): "+err.Error())
				} else if ids, err := w.resolveRetry(req); err != nil {
					w.ignore(ctx, contract.SignalRetry, "", err.Error())
				} else {
					logger.Info("operator retry (signal)", "lines", len(ids))
					w.retry(ctx, ids)
				}
				continue
			}
			var raw json.RawMessage
			var req contract.RefundRequest
			if ok, _ := refundCh.ReceiveAsyncWithMoreFlag(&raw); !ok {
				w.ignore(ctx, contract.SignalRefund, "", "the payload is not JSON")
				continue
			}
			if err := decodeSignal(raw, &req); err != nil {
				w.ignore(ctx, contract.SignalRefund, "", "not a refund request ({\"refund_id\":...,\"line_ids\":[...]}): "+err.Error())
				continue
			}
			switch ids, dup, err := w.resolveRefund(req); {
			case err != nil:
				w.ignore(ctx, contract.SignalRefund, safeRefundID(req.RefundID), err.Error())
			case dup:
				logger.Info("duplicate refund signal ignored", "refund_id", req.RefundID)
			default:
				w.refund(ctx, req.RefundID, ids)
			}
		}
	})
}

// decodeSignal decodes a signal payload strictly. An empty payload is an
// empty request. JSON decoding is deterministic for the same bytes;
// workflowcheck cannot see that through encoding/json's reflection and
// caches.
//
//workflowcheck:ignore
func decodeSignal(raw json.RawMessage, v any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// safeRefundID is id if it is a valid refund id, else "": an invalid one is
// whatever the sender typed and is not repeated into logs and documents.
func safeRefundID(id string) string {
	if contract.ValidateRefundID(id) != nil {
		return ""
	}
	return id
}
