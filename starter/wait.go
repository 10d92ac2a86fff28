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
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h, err := s.c.UpdateWorkflow(wctx, client.UpdateWorkflowOptions{
		WorkflowID:   contract.OrderWorkflowID(number),
		UpdateName:   contract.UpdateWaitSettled,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		// The answer is not needed beyond its arrival: the document read
		// next says whether the order settled. An earlier worker's answer
		// (the whole document) decodes as well.
		_ = h.Get(wctx, nil)
	}
	if st, err = s.Status(ctx, number); err != nil {
		return contract.StatusDocument{}, false, err
	}
	return st, st.Settled(), nil
}
