package starter

import (
	"context"
	"errors"
	"fmt"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/sdk/client"
)

// update sends an update and waits for it to be accepted, then for its
// result up to UpdateWait. accepted is true once the workflow has accepted
// it, even when the result did not arrive in time.
func (s *Starter) update(ctx context.Context, number, name string, arg, result any) (accepted bool, err error) {
	id := contract.OrderWorkflowID(number)
	what := name + " on order " + number
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return false, classifyRejection(err, what)
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	if err := h.Get(waitCtx, result); err != nil {
		var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
		if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() == nil {
				// Accepted but slow: the update is durable, so report it as
				// accepted rather than failed.
				return true, nil
			}
		}
		return false, classifyRejection(err, what)
	}
	return true, nil
}

// Retry asks the running order to retry failed lines (all failed lines when
// req.LineIDs is empty).
func (s *Starter) Retry(ctx context.Context, number string, req contract.RetryRequest) (contract.RetryResult, error) {
	running, _, _, err := s.describe(ctx, number)
	if err != nil {
		return contract.RetryResult{}, err
	}
	if !running {
		return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed; its failed lines can no longer be retried", number))
	}
	var res contract.RetryResult
	accepted, err := s.update(ctx, number, contract.UpdateRetry, req, &res)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed", number))
		}
		return contract.RetryResult{}, err
	}
	if !accepted {
		res.LineIDs = req.LineIDs
	}
	return res, nil
}
