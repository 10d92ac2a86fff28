package chaos

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// remote is a target that is not this machine.
type remote struct{ *DevTarget }

func (remote) APIURL() string { return "http://203.0.113.7:8080" }

func TestRunDrivesOnlyLoopback(t *testing.T) {
	_, err := Run(context.Background(), remote{&DevTarget{}}, Config{Orders: 1, Concurrency: 1})
	require.ErrorContains(t, err, "not on loopback")
	require.True(t, loopback("http://127.0.0.1:1"))
	require.True(t, loopback("http://[::1]:1"))
	require.True(t, loopback("http://localhost:1"))
	require.False(t, loopback("http://10.0.0.1:1"))
}

// The model of one order, as the driver acts on it: a refund racing the
// fulfillment may find its line fulfilled or not; a retry of an order
// whose only failed line was refunded has nothing to retry.
func TestExpectFollowsTheDriversOrderOfActions(t *testing.T) {
	o := &orderPlan{Learner: learner{Kind: kindNewByEmail}, Lines: []line{
		{ID: "1", Product: "entitlement"}, // fails: the entitlement module needs a username
		{ID: "2", Product: "donation"},
	}, Race: &refund{ID: "R1", Lines: []string{"1"}}, Retry: true, Settled: []refund{{ID: "R2"}}}
	e := o.expect()
	require.Equal(t, 409, e.RetryCode)
	require.Equal(t, map[string][]string{"R1": {"1"}, "R2": {"2"}}, e.Refunds)
	require.Equal(t, "refunded", string(e.Status))
	require.Equal(t, "refunded_unfulfilled", string(e.Lines["1"].States[0]))
	require.Equal(t, "revoked", string(e.Lines["2"].States[0]))
}

func TestFailuresIncludeAnIncompleteSchedule(t *testing.T) {
	full := &Result{Faults: map[string]int{FaultWorkerKill: 3, FaultServerCrash: 1, FaultLMSOutage503: 1, Fault5xx: 1, Fault429: 1, FaultLost: 1},
		Codes: map[string]map[int]int{reqStatus: {200: 5, 503: 1}}}
	require.Empty(t, full.Failures())
	short := &Result{Faults: map[string]int{FaultWorkerKill: 2}, Codes: map[string]map[int]int{reqStatus: {500: 1, 0: 2}},
		Problems: []string{"order X lost"}}
	f := short.Failures()
	require.Contains(t, f, "order X lost")
	require.Contains(t, f, "only 2 worker kills, want at least 3")
	require.Contains(t, f, "status answered 500 1 times")
	require.Contains(t, f, "status answered 0 2 times")
	require.Len(t, f, 9)
}
