package starter

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/coursefulfill/fulfillment/contract"
)

// lateState says how far an order's LateRefundsWorkflow has come.
type lateState int

const (
	lateNone    lateState = iota // never started
	lateRunning                  // takes refunds and retries
	lateClosed                   // every line refunded, or its window over
)

// closedOrder is what the starter knows of an order whose workflow closed.
type closedOrder struct {
	// doc is the order's status: its final document, with the refunds
	// taken after close (the LateRefundsWorkflow's document supersedes it).
	// Not read when the LateRefundsWorkflow runs and the caller only sends
	// it a request.
	doc contract.StatusDocument
	// closedAt is when the order workflow closed.
	closedAt time.Time
	// firstRunID is the order workflow's first run, whose input holds the
	// order.
	firstRunID string
	late       lateState
}

// closed reads the status of an order whose workflow has closed (however it
// closed), given its description.
func (s *Starter) closed(ctx context.Context, number string, info *workflowpb.WorkflowExecutionInfo, needDoc bool) (closedOrder, error) {
	c := closedOrder{firstRunID: info.GetFirstRunId()}
	if c.firstRunID == "" {
		c.firstRunID = info.GetExecution().GetRunId()
	}
	if t := info.GetCloseTime(); t != nil {
		c.closedAt = t.AsTime()
	}
	lateID := contract.LateRefundsWorkflowID(number)
	desc, err := s.c.DescribeWorkflowExecution(ctx, lateID, "")
	switch {
	case isNotFound(err):
		id, runID := contract.OrderWorkflowID(number), info.GetExecution().GetRunId()
		switch info.GetStatus() {
		case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
			c.doc, err = s.result(ctx, id, runID)
		default:
			// Terminated, failed or timed out: the query replays the run
			// to where it ended.
			c.doc, err = s.query(ctx, id, runID)
			c.doc.Closed = true
		}
		if err != nil {
			return c, err
		}
		// Refunds after close taken by earlier versions, if any.
		return c, s.withLegacyLateRefunds(ctx, number, &c.doc)
	case err != nil:
		return c, classify(err, "late refunds of order "+number)
	}
	// The LateRefundsWorkflow started from the order's document and holds
	// every refund taken since: its document is the order's.
	linfo := desc.GetWorkflowExecutionInfo()
	lateRunID := linfo.GetExecution().GetRunId()
	switch linfo.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		c.late = lateRunning
		if !needDoc {
			// Requests go to the running workflow, which decides them.
			return c, nil
		}
		c.doc, err = s.query(ctx, lateID, lateRunID)
		if err == nil {
			withPendingAttempts(&c.doc, desc.GetPendingActivities())
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		c.late = lateClosed
		c.doc, err = s.result(ctx, lateID, lateRunID)
	default:
		c.late = lateClosed
		c.doc, err = s.query(ctx, lateID, lateRunID)
	}
	return c, err
}

// lateInput is the input of a new LateRefundsWorkflow for a closed order. A
// refund an earlier version started after close and that still revokes
// would not be followed by the new workflow: until it has ended, the
// request is refused as "try again".
func (s *Starter) lateInput(ctx context.Context, number string, c closedOrder) (contract.LateRefundsInput, error) {
	for _, r := range c.doc.Refunds {
		if r.State == contract.RefundRevoking {
			return contract.LateRefundsInput{}, wrap(ErrUnavailable, "late refunds of order "+number,
				fmt.Errorf("refund %s of order %s is still being revoked; try again when it has ended", r.RefundID, number))
		}
	}
	in, err := s.input(ctx, contract.OrderWorkflowID(number), c.firstRunID)
	if err != nil {
		return contract.LateRefundsInput{}, err
	}
	return contract.LateRefundsInput{Order: in.Order, Options: in.Options, Base: c.doc, Until: c.closedAt.Add(contract.LateRefundWindow),
		Flow: contract.CurrentFlow}, nil
}

// errLateClosed is the answer to a request a closed order can no longer take.
func errLateClosed(what, number string) error {
	return wrap(ErrClosed, what, fmt.Errorf("order %s has closed and no longer takes this request", number))
}

// isClosedErr reports whether err says the workflow a request was sent to
// (the order's, or its LateRefundsWorkflow) closed between the starter's
// look and the request.
func isClosedErr(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrClosed)
}
