package starter

import (
	"context"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"go.temporal.io/api/workflowservice/v1"
)

// Status returns the order's status document: the answer of the status
// query while the workflow runs, its result once it has closed.
func (s *Starter) Status(ctx context.Context, number string) (contract.StatusDocument, error) {
	id := contract.OrderWorkflowID(number)
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return contract.StatusDocument{}, classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		st, err := s.result(ctx, id, runID)
		if err != nil {
			return st, err
		}
		return st, s.withLateRefunds(ctx, number, &st)
	}
	// Running, or closed abnormally (terminated, failed...): a query works
	// on both (a closed workflow is replayed by a worker).
	st, err := s.query(ctx, id, runID)
	if err == nil && info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
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
		if !ok || action != "fulfill" {
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
	if err != nil {
		return st, classify(err, "query "+id)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", id, err)
	}
	return st, nil
}

func (s *Starter) result(ctx context.Context, id, runID string) (contract.StatusDocument, error) {
	var st contract.StatusDocument
	if err := s.c.GetWorkflow(ctx, id, runID).Get(ctx, &st); err != nil {
		return st, classify(err, "result of "+id)
	}
	return st, nil
}

// describe returns whether the order workflow runs, and its run ids.
func (s *Starter) describe(ctx context.Context, number string) (running bool, runID, firstRunID string, err error) {
	desc, err := s.c.DescribeWorkflowExecution(ctx, contract.OrderWorkflowID(number), "")
	if err != nil {
		return false, "", "", classify(err, "order "+number)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID = info.GetExecution().GetRunId()
	firstRunID = info.GetFirstRunId()
	if firstRunID == "" {
		firstRunID = runID
	}
	return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, runID, firstRunID, nil
}

// withLateRefunds adds to a closed order's final document the refunds
// started after it closed: their RevokeWorkflows, found in visibility by
// OrderNumber. Retries of a refund the order ran itself are part of that
// refund already.
func (s *Starter) withLateRefunds(ctx context.Context, number string, st *contract.StatusDocument) error {
	known := map[string]bool{}
	for _, r := range st.Refunds {
		known[r.RefundID] = true
	}
	prefix := contract.RefundWorkflowID(number, "")
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
