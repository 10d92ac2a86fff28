package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	fworker "github.com/coursefulfill/fulfillment/worker"
)

// R9: order_failed_then_retried.json with its first FulfillLine answer
// changed to what a new activity worker answers for a learner without an
// account (AwaitingAccount, non-retryable): the history an old workflow
// worker writes during a rolling deploy (it parks the line as failed). The
// ungated awaitAccount of today's code adds a timer that history lacks.
func TestReplayAwaitingAccountFromMixedFleet(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	fworker.Register(r, nil)
	err := r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "synthetic", "awaiting_account_mixed_fleet.json"))
	t.Logf("replay: %v", err)
	require.NoError(t, err)
}
