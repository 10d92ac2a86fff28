package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/api/workflowservice/v1"
)

// Status returns the order's status document: the answer of the status
// query while the workflow runs; once it has closed, its final document with
// the refunds taken after close.
func (s *Starter) Status(ctx context.Context, number string) (contract.StatusDocument, error) {
	id := contract.OrderWorkflowID(number)
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return contract.StatusDocument{}, classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		c, err := s.closed(ctx, number, info, true)
		return c.doc, err
	}
	st, err := s.query(ctx, id, info.GetExecution().GetRunId())
	if err == nil {
		withPendingAttempts(&st, desc.GetPendingActivities())
	}
	return st, err
}

// withPendingAttempts adds what only the server knows to the status
// document: the attempt a line's pending activity is on and the error of its
// last failed attempt. Temporal retries those attempts without telling the
// workflow, so its own document shows the first failure only.
func withPendingAttempts(st *contract.StatusDocument, pending []*workflowpb.PendingActivityInfo) {
	for _, pa := range pending {
		action, lineID, ok := contract.ParseLineActivityID(pa.GetActivityId())
		if !ok || (action != contract.ActionFulfill && action != contract.ActionObserve) {
			continue
		}
		for i := range st.Lines {
			l := &st.Lines[i]
			if l.ID != lineID || (l.State != contract.LineFulfilling && l.State != contract.LineRetrying) {
				continue
			}
			if extra := int(pa.GetAttempt()) - 1; extra > 0 {
				l.Attempts += extra
			}
			if f := pa.GetLastFailure(); f != nil {
				l.State = contract.LineRetrying
				l.LastError = f.GetMessage()
				if t := f.GetApplicationFailureInfo().GetType(); t != "" {
					l.LastError = t + ": " + f.GetMessage()
				}
			}
		}
	}
}

func (s *Starter) query(ctx context.Context, id, runID string) (contract.StatusDocument, error) {
	var st contract.StatusDocument
	v, err := s.c.QueryWorkflow(ctx, id, runID, contract.QueryStatus)
	// The SDK gives one query call at most 10 s, whatever the caller's
	// deadline: a query that waited that long for a busy or restarting
	// worker is asked again while the caller's time lasts.
	for err != nil && queryCallTimedOut(ctx, err) {
		v, err = s.c.QueryWorkflow(ctx, id, runID, contract.QueryStatus)
	}
	if err != nil {
		return st, classify(err, "query "+id)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", id, err)
	}
	return st, nil
}

// queryCallTimedOut reports whether err is one query call's own timeout
// while ctx has a deadline more than a second away.
func queryCallTimedOut(ctx context.Context, err error) bool {
	deadline, ok := ctx.Deadline()
	if !ok || ctx.Err() != nil || time.Until(deadline) < time.Second {
		return false
	}
	var exceeded *serviceerror.DeadlineExceeded
	return errors.As(err, &exceeded) || errors.Is(err, context.DeadlineExceeded)
}

// result is the final status document of a closed run: its result, or the
// details of its cancellation (a cancelled order closes with its document).
func (s *Starter) result(ctx context.Context, id, runID string) (contract.StatusDocument, error) {
	var st contract.StatusDocument
	err := s.c.GetWorkflow(ctx, id, runID).Get(ctx, &st)
	var cancelled *temporal.CanceledError
	if errors.As(err, &cancelled) {
		if !cancelled.HasDetails() {
			// Cancelled under an earlier version, which closed without its
			// document: the query replays the run to where it ended.
			st, err = s.query(ctx, id, runID)
			st.Closed, st.Cancelled = true, true
			return st, err
		}
		if derr := cancelled.Details(&st); derr != nil {
			return st, fmt.Errorf("decode the final status of %s: %w", id, derr)
		}
		return st, nil
	}
	if err != nil {
		return st, classify(err, "result of "+id)
	}
	return st, nil
}

// withLegacyLateRefunds adds to a closed order's final document the refunds
// that earlier versions took after it closed by starting their
// RevokeWorkflows directly (order-<number>-refund-<id>), found in visibility
// by OrderNumber. Refunds after close now go through the order's
// LateRefundsWorkflow, which holds them itself.
func (s *Starter) withLegacyLateRefunds(ctx context.Context, number string, st *contract.StatusDocument) error {
	known := map[string]bool{}
	for _, r := range st.Refunds {
		known[r.RefundID] = true
	}
	prefix := contract.LegacyRefundWorkflowID(number, "")
	query := fmt.Sprintf("WorkflowType = %q AND %s = %q", contract.WorkflowRevoke, contract.SearchAttrOrderNumber, number)
	var token []byte
	for {
		resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return classify(err, "refunds of order "+number)
		}
		for _, ex := range resp.GetExecutions() {
			wid := ex.GetExecution().GetWorkflowId()
			refundID, ok := strings.CutPrefix(wid, prefix)
			if !ok || strings.Contains(refundID, "~") || known[refundID] {
				continue
			}
			var res contract.RevokeResult
			if ex.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				if err := s.c.GetWorkflow(ctx, wid, ex.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
					return classify(err, "refund "+refundID+" of order "+number)
				}
			} else {
				v, err := s.c.QueryWorkflow(ctx, wid, ex.GetExecution().GetRunId(), contract.QueryStatus)
				if err != nil {
					return classify(err, "refund "+refundID+" of order "+number)
				}
				if err := v.Get(&res); err != nil {
					return fmt.Errorf("decode refund %s of order %s: %w", refundID, number, err)
				}
			}
			known[refundID] = true
			st.Refunds = append(st.Refunds, contract.RefundStatus{RefundID: refundID, WorkflowID: wid, State: res.State, Lines: res.Lines})
			for _, rl := range res.Lines {
				for i := range st.Lines {
					if st.Lines[i].ID == rl.ID {
						st.Lines[i].RefundID, st.Lines[i].State = refundID, rl.State
					}
				}
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	st.Status = contract.DeriveOrderState(st.Lines, st.Refunds)
	return nil
}
