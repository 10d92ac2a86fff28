package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	fworker "github.com/coursefulfill/fulfillment/worker"
)

// TestReplayRecordedHistories replays histories recorded from the real
// embedded server (see e2e/record_test.go) against today's workflow code. A
// change that would break running orders fails here: guard it with
// workflow.GetVersion instead.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories under testdata/")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			fworker.Register(r, nil)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
