package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
)

// Retry asks the order to retry its failed lines (all of them when
// req.LineIDs is empty): the order workflow's retry update while it runs;
// after it closed, the retry of failed revokes goes to its
// LateRefundsWorkflow.
func (s *Starter) Retry(ctx context.Context, number string, req contract.RetryRequest) (contract.RetryResult, error) {
	info, err := s.describeOrder(ctx, number)
	if err != nil {
		return contract.RetryResult{}, err
	}
	what := "retry on order " + number
	var res contract.RetryResult
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		err := s.update(ctx, contract.OrderWorkflowID(number), what, contract.UpdateRetry, req, &res)
		if isClosedErr(err) {
			return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed; try again to retry its failed revokes", number))
		}
		return res, err
	}
	c, err := s.closed(ctx, number, info, false)
	if err != nil {
		return contract.RetryResult{}, err
	}
	switch c.late {
	case lateRunning:
		err := s.update(ctx, contract.LateRefundsWorkflowID(number), what, contract.UpdateRetry, req, &res)
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
				err = s.updateWithStart(ctx, number, in, contract.UpdateRetry, req, &res)
				return res, err
			}
		}
	}
	return contract.RetryResult{}, wrap(ErrClosed, "retry", fmt.Errorf("order %s has closed with no failed line to retry", number))
}

// update sends an update to a workflow and waits for it to be accepted, then
// for its result up to UpdateWait. An update accepted whose result did not
// arrive in time is no error: it is durable, and result stays as it was.
func (s *Starter) update(ctx context.Context, workflowID, what, name string, arg, result any) error {
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return classifyRejection(err, what)
	}
	return s.awaitUpdate(ctx, h, what, result)
}

// updateWithStart sends an update to the order's LateRefundsWorkflow,
// starting it with in if it does not run: concurrent callers start one
// execution, and every update lands on it.
func (s *Starter) updateWithStart(ctx context.Context, number string, in contract.LateRefundsInput, name string, arg, result any) error {
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
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			// The late-refunds workflow closed since the caller looked (one
			// execution per order, ever): ErrClosed sends it to look again.
			return wrap(ErrClosed, what, err)
		}
		return classifyRejection(err, what)
	}
	return s.awaitUpdate(ctx, h, what, result)
}

// awaitUpdate waits up to UpdateWait for an accepted update's result.
func (s *Starter) awaitUpdate(ctx context.Context, h client.WorkflowUpdateHandle, what string, result any) error {
	waitCtx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	if err := h.Get(waitCtx, result); err != nil {
		var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
		if errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded) {
			if ctx.Err() == nil {
				// Accepted but slow: the update is durable, so report it as
				// accepted rather than failed.
				return nil
			}
		}
		return classifyRejection(err, what)
	}
	return nil
}

// describeOrder describes the order's workflow.
func (s *Starter) describeOrder(ctx context.Context, number string) (*workflowpb.WorkflowExecutionInfo, error) {
	desc, err := s.c.DescribeWorkflowExecution(ctx, contract.OrderWorkflowID(number), "")
	if err != nil {
		return nil, classify(err, "order "+number)
	}
	return desc.GetWorkflowExecutionInfo(), nil
}
