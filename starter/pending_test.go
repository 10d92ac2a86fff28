package starter

import (
	"testing"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/stretchr/testify/require"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
)

func TestPendingAttemptsShowInStatus(t *testing.T) {
	st := contract.StatusDocument{Lines: []contract.LineStatus{
		{ID: "1", State: contract.LineRetrying, Attempts: 1, LastError: "ServerError: first"},
		{ID: "2", State: contract.LineFulfilling},
		{ID: "3", State: contract.LineFulfilled, Attempts: 1},
	}}
	withPendingAttempts(&st, []*workflowpb.PendingActivityInfo{
		{ActivityId: contract.LineActivityID("fulfill", "1", 2), Attempt: 5, LastFailure: &failurepb.Failure{
			Message:     "LMS answered 503",
			FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ServerError"}},
		}},
		{ActivityId: contract.LineActivityID("fulfill", "2", 1), Attempt: 1},
		{ActivityId: contract.LineActivityID("fulfill", "3", 1), Attempt: 3},
		{ActivityId: "7", Attempt: 9},
	})
	require.Equal(t, 5, st.Lines[0].Attempts)
	require.Equal(t, "ServerError: LMS answered 503", st.Lines[0].LastError)
	require.Equal(t, contract.LineRetrying, st.Lines[0].State)
	require.Equal(t, contract.LineFulfilling, st.Lines[1].State)
	require.Zero(t, st.Lines[1].Attempts)
	require.Equal(t, 1, st.Lines[2].Attempts, "a finished line is not changed")
}
