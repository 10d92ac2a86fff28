package starter

import (
	"testing"

	"github.com/stretchr/testify/require"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/coursefulfill/fulfillment/workflows"
)

func TestPendingAttemptsShowInStatus(t *testing.T) {
	st := workflows.OrderStatus{Lines: []workflows.LineStatus{
		{ID: "1", State: workflows.LineRetrying, Attempts: 1, LastError: "ServerError: first"},
		{ID: "2", State: workflows.LineFulfilling},
		{ID: "3", State: workflows.LineFulfilled, Attempts: 1},
	}}
	withPendingAttempts(&st, []*workflowpb.PendingActivityInfo{
		{ActivityId: workflows.LineActivityID("fulfill", "1", 2), Attempt: 5, LastFailure: &failurepb.Failure{
			Message:     "LMS answered 503",
			FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ServerError"}},
		}},
		{ActivityId: workflows.LineActivityID("fulfill", "2", 1), Attempt: 1},
		{ActivityId: workflows.LineActivityID("fulfill", "3", 1), Attempt: 3},
		{ActivityId: "7", Attempt: 9},
	})
	require.Equal(t, 5, st.Lines[0].Attempts)
	require.Equal(t, "ServerError: LMS answered 503", st.Lines[0].LastError)
	require.Equal(t, workflows.LineRetrying, st.Lines[0].State)
	require.Equal(t, workflows.LineFulfilling, st.Lines[1].State)
	require.Zero(t, st.Lines[1].Attempts)
	require.Equal(t, 1, st.Lines[2].Attempts, "a finished line is not changed")
}
