package starter

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/contract"
)

// WaitSettled waits up to wait for the order to settle (see
// contract.UpdateWaitSettled) and returns its status document and whether
// it has settled. It sends the order workflow the wait-settled update, which
// answers as soon as the order settles; the workflow does the waiting, no
// one polls. When the update cannot answer in time (the order is still
// moving, it has closed, its workers predate the update, or too many
// callers wait) the document is read as Status reads it, once.
func (s *Starter) WaitSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h, err := s.c.UpdateWorkflow(wctx, client.UpdateWorkflowOptions{
		WorkflowID:   contract.OrderWorkflowID(number),
		UpdateName:   contract.UpdateWaitSettled,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var st contract.StatusDocument
		if err = h.Get(wctx, &st); err == nil && st.Settled() {
			return st, true, nil
		}
	}
	st, err := s.Status(ctx, number)
	if err != nil {
		return contract.StatusDocument{}, false, err
	}
	return st, st.Settled(), nil
}
