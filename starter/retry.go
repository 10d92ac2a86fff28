package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
)

// Retry asks the order to retry its failed lines (all of them when
// req.LineIDs is empty): the order workflow's retry update while it runs;
// after it closed, the retry of failed revokes goes to its
// LateRefundsWorkflow.
func (s *Starter) Retry(ctx context.Context, number string, req contract.RetryRequest) (contract.RetryResult, error) {
	desc, err := s.c.DescribeWorkflowExecution(ctx, contract.OrderWorkflowID(number), "")
	if err != nil {
		return contract.RetryResult{}, classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	what := "retry on order " + number
	var res contract.RetryResult
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		accepted, err := s.update(ctx, contract.OrderWorkflowID(number), what, contract.UpdateRetry, req, &res)
		if isLateClosed(err) {
			return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed; try again to retry its failed revokes", number))
		}
		if err == nil && !accepted {
			res.LineIDs = req.LineIDs
		}
		return res, err
	}
	c, err := s.closed(ctx, number, info)
	if err != nil {
		return contract.RetryResult{}, err
	}
	switch c.late {
	case lateRunning:
		accepted, err := s.update(ctx, contract.LateRefundsWorkflowID(number), what, contract.UpdateRetry, req, &res)
		if err == nil && !accepted {
			res.LineIDs = req.LineIDs
		}
		return res, err
	case lateNone:
		// Refunds taken after close by earlier versions may have failed
		// revokes: the order's LateRefundsWorkflow takes them over.
		for _, l := range c.doc.Lines {
			if l.State == contract.LineRevokeFailed {
				in, err := s.lateInput(ctx, number, c)
				if err != nil {
					return contract.RetryResult{}, err
				}
				accepted, err := s.updateWithStart(ctx, number, in, contract.UpdateRetry, req, &res)
				if err == nil && !accepted {
					res.LineIDs = req.LineIDs
				}
				return res, err
			}
		}
	}
	return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed with no failed line to retry", number))
}

// update sends an update to a workflow and waits for it to be accepted, then
// for its result up to UpdateWait. accepted is true once the workflow has
// accepted it, even when the result did not arrive in time.
func (s *Starter) update(ctx context.Context, workflowID, what, name string, arg, result any) (accepted bool, err error) {
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return false, classifyRejection(err, what)
	}
	return s.awaitUpdate(ctx, h, what, result)
}

// updateWithStart sends an update to the order's LateRefundsWorkflow,
// starting it with in if it does not run: concurrent callers start one
// execution, and every update lands on it.
func (s *Starter) updateWithStart(ctx context.Context, number string, in contract.LateRefundsInput, name string, arg, result any) (accepted bool, err error) {
	what := name + " of closed order " + number
	start := s.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:        contract.LateRefundsWorkflowID(number),
		TaskQueue: s.cfg.TaskQueue,
		// One execution per order, ever: once it closed, the starter
		// answers from its result.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.OrderNumberKey.ValueSet(number),
			contract.OrderStatusKey.ValueSet(string(in.Base.Status)),
			contract.CourseIDsKey.ValueSet(contract.CourseIDsAttr(in.Order)),
		),
		StaticSummary: "refunds of order " + number + " after it closed",
	}, contract.WorkflowLateRefunds, in)
	h, err := s.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   name,
			Args:         []any{arg},
			WaitForStage: client.WorkflowUpdateStageAccepted,
		},
	})
	if err != nil {
		return false, classifyRejection(err, what)
	}
	return s.awaitUpdate(ctx, h, what, result)
}

// awaitUpdate waits up to UpdateWait for an accepted update's result.
func (s *Starter) awaitUpdate(ctx context.Context, h client.WorkflowUpdateHandle, what string, result any) (bool, error) {
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
