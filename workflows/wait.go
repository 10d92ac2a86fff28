package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// setWaitHandler registers the wait-settled update: its handler answers
// once the order has settled (workflow.Await on the workflow's own state,
// no polling), or at once when it already has. The answer is a few bytes,
// not the status document: every answer is written to the history, and a
// large order's document is up to megabytes. It
// also answers, unsettled, when the history asks to continue as new, so a
// waiting caller never holds the run open. Registering a handler adds no
// command: histories recorded before it replay unchanged.
func (w *orderRun) setWaitHandler(ctx workflow.Context) error {
	waiters := 0
	return workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateWaitSettled,
		func(ctx workflow.Context) (contract.WaitSettledResult, error) {
			waiters++
			defer func() { waiters-- }()
			err := workflow.Await(ctx, func() bool {
				return w.settled() || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
			})
			if err != nil {
				return contract.WaitSettledResult{}, err
			}
			res := contract.WaitSettledResult{Settled: w.settled(), Status: w.state()}
			if res.Settled && len(w.lines) <= contract.WaitDocumentMaxLines {
				doc := w.snapshot(false)
				res.Document = &doc
			}
			return res, nil
		},
		workflow.UpdateHandlerOptions{Validator: func() error {
			if waiters >= contract.MaxSettledWaiters {
				return asApplicationError(&contract.Rejection{Type: contract.ErrorTypeTooManyWaiters,
					Message: "too many callers wait for this order; read its status instead"})
			}
			return nil
		}})
}

// settled reports whether nothing moves in the order until someone acts: no
// line is pending, fulfilling, retrying or revoking and no refund revokes.
// A line awaiting the learner's account counts as settled.
func (w *orderRun) settled() bool {
	return contract.Settled(w.lines, w.refunds, w.cancelled || w.late)
}
