package contract_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
)

func TestOptionsDurationsAreReadableAndOldInputsStillDecode(t *testing.T) {
	o := contract.Options{MaxParallelLines: 20, RetryHorizon: 10 * time.Minute, RefundWindow: 336 * time.Hour,
		ActivityTimeout: 15 * time.Second, InitialRetryInterval: 100 * time.Millisecond, MaxRetryInterval: 90 * time.Second}
	data, err := json.Marshal(o)
	require.NoError(t, err)
	require.JSONEq(t, `{"max_parallel_lines":20,"retry_horizon":"10m","refund_window":"336h","activity_timeout":"15s",
		"initial_retry_interval":"100ms","max_retry_interval":"1m30s"}`, string(data))
	var back contract.Options
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, o, back)

	// The form of inputs written before: integers of nanoseconds.
	var old contract.Options
	require.NoError(t, json.Unmarshal([]byte(`{"retry_horizon":600000000000,"refund_window":3600000000000,"batch_size":3}`), &old))
	require.Equal(t, contract.Options{RetryHorizon: 10 * time.Minute, RefundWindow: time.Hour, BatchSize: 3}, old)

	for _, bad := range []string{`{"retry_horizon":"ten minutes"}`, `{"retry_horizon":true}`, `{"retry_horizon":1.5}`} {
		require.Error(t, json.Unmarshal([]byte(bad), &old), bad)
	}
	require.Equal(t, "1h30m", contract.FormatDuration(90*time.Minute))
	require.Equal(t, "0s", contract.FormatDuration(0))
	require.Equal(t, "2h0m5s", contract.FormatDuration(2*time.Hour+5*time.Second))
}
