package starter

import (
	"context"
	"errors"
	"fmt"

	"github.com/coursefulfill/fulfillment/contract"
	enumspb "go.temporal.io/api/enums/v1"
)

// Refund asks the order to refund lines (all lines not refunded yet when
// req.LineIDs is empty). While the order workflow runs this is its refund
// update; after it closed, the order's LateRefundsWorkflow takes it (started
// by this refund if it is the first after close), so refunds always work and
// no line is refunded twice. A refund id seen before answers with
// Duplicate=true and starts nothing.
func (s *Starter) Refund(ctx context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error) {
	if err := contract.ValidateRefundID(req.RefundID); err != nil {
		return contract.RefundResult{}, classifyRejection(err, "refund")
	}
	// The order, then its LateRefundsWorkflow, may close between a look and
	// a request; a second look sees where the request belongs.
	for range 3 {
		info, err := s.describeOrder(ctx, number)
		if err != nil {
			return contract.RefundResult{}, err
		}
		var res contract.RefundResult
		if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			err := s.update(ctx, contract.OrderWorkflowID(number), "refund of order "+number, contract.UpdateRefund, req, &res)
			if err == nil {
				return refundAnswer(res, req), nil
			}
			if !isClosedErr(err) {
				return contract.RefundResult{}, err
			}
			// The refund window ended between the look and the update:
			// wait for the order to close, then refund as for a closed one.
			if err := s.awaitClose(ctx, number, info.GetExecution().GetRunId()); err != nil {
				return contract.RefundResult{}, err
			}
			continue
		}
		c, err := s.closed(ctx, number, info, false)
		if err != nil {
			return contract.RefundResult{}, err
		}
		res, err = s.refundClosed(ctx, number, c, req)
		if isClosedErr(err) {
			continue
		}
		return res, err
	}
	return contract.RefundResult{}, wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is closing; try again", number))
}

// refundAnswer is the result of an accepted refund update, also when its
// result did not arrive in time.
func refundAnswer(res contract.RefundResult, req contract.RefundRequest) contract.RefundResult {
	if res.RefundID == "" {
		res.RefundID = req.RefundID
	}
	return res
}

// refundClosed hands a refund of a closed order to its LateRefundsWorkflow,
// or decides it from the order's document when that workflow has closed.
func (s *Starter) refundClosed(ctx context.Context, number string, c closedOrder, req contract.RefundRequest) (contract.RefundResult, error) {
	what := "refund of order " + number
	var res contract.RefundResult
	switch c.late {
	case lateRunning:
		err := s.update(ctx, contract.LateRefundsWorkflowID(number), what, contract.UpdateRefund, req, &res)
		return refundAnswer(res, req), err
	case lateClosed:
		// Every line is refunded, or the late refund window is over: the
		// request is a duplicate, names refunded lines, or comes too late.
		for _, r := range c.doc.Refunds {
			if r.RefundID == req.RefundID {
				return contract.RefundResult{RefundID: r.RefundID, WorkflowID: r.WorkflowID, Duplicate: true}, nil
			}
		}
		ids, err := contract.SelectRefundLines(c.doc.Lines, req.LineIDs)
		if err != nil {
			return contract.RefundResult{}, classifyRejection(err, what)
		}
		if len(ids) == 0 {
			// A store's full refund after partial ones: nothing is left.
			return contract.RefundResult{RefundID: req.RefundID}, nil
		}
		return contract.RefundResult{}, errLateClosed(what, number)
	}
	in, err := s.lateInput(ctx, number, c)
	if err != nil {
		return contract.RefundResult{}, err
	}
	err = s.updateWithStart(ctx, number, in, contract.UpdateRefund, req, &res)
	return refundAnswer(res, req), err
}

// awaitClose waits up to UpdateWait for the order's run to close, however
// it closes.
func (s *Starter) awaitClose(ctx context.Context, number, runID string) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.UpdateWait)
	defer cancel()
	err := s.c.GetWorkflow(wctx, contract.OrderWorkflowID(number), runID).Get(wctx, nil)
	switch {
	case err == nil:
		return nil
	case wctx.Err() != nil:
		return wrap(ErrUnavailable, "refund", fmt.Errorf("order %s is closing and did not close in time; try again", number))
	}
	if cerr := classify(err, "await close of order "+number); errors.Is(cerr, ErrUnavailable) {
		return cerr
	}
	// Failed, terminated or cancelled: closed all the same.
	return nil
}
