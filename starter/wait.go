package starter

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/contract"
)

// WaitSettled waits up to wait for the order to settle (see
// contract.UpdateWaitSettled) and returns its status document and whether
// it has settled. An order that has settled is answered from the status
// query alone; otherwise the order workflow gets the wait-settled update,
// which answers as soon as the order settles — the workflow does the
// waiting, no one polls — and the document is then read once. When the
// update cannot answer in time (the order is still moving, it has closed,
// its workers predate the update, or too many callers wait) the document
// is read as Status reads it.
func (s *Starter) WaitSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error) {
	st, err := s.Status(ctx, number)
	if err != nil || st.Settled() || st.Closed || wait <= 0 {
		return st, err == nil && st.Settled(), err
	}
	return s.WaitNewSettled(ctx, number, wait)
}

// WaitNewSettled is WaitSettled for an order the caller has just started:
// it cannot have settled yet, so the wait-settled update goes out at once,
// without a status read first. An order the update says has settled runs
// nothing that only the server knows of (no line is fulfilling or
// retrying), so its document is the one the update answered (small
// orders) or the status query's answer alone; otherwise, or when the
// update could not answer, it is read as Status reads it.
func (s *Starter) WaitNewSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error) {
	id := contract.OrderWorkflowID(number)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h, err := s.c.UpdateWorkflow(wctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   contract.UpdateWaitSettled,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res contract.WaitSettledResult
	// An earlier worker's answer (the whole document) decodes too, without
	// Settled: the document is then read as Status reads it.
	if err == nil && h.Get(wctx, &res) == nil && res.Settled {
		if res.Document != nil && res.Document.Settled() {
			return *res.Document, true, nil
		}
		if st, err := s.query(ctx, id, ""); err == nil && st.Settled() && !st.Closed {
			return st, true, nil
		}
	}
	st, err := s.Status(ctx, number)
	if err != nil {
		return contract.StatusDocument{}, false, err
	}
	return st, st.Settled(), nil
}
