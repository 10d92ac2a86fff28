package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/devserver"
)

func execute(cmd *cobra.Command, args ...string) error {
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	return cmd.Execute()
}

// worker and dev refuse the same too-short retention at start-up, before
// reading any other setting or connecting anywhere.
func TestRetentionMinimum(t *testing.T) {
	t.Setenv("LMS_URL", "") // would fail later, if the check were not first
	for name, newCmd := range map[string]func() *cobra.Command{"worker": newWorkerCommand, "dev": newDevCommand} {
		err := execute(newCmd(), "--retention", "100h")
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "--retention must be at least 720h (30 days)", name)
		require.Contains(t, err.Error(), "not 100h0m0s", name)
	}
	require.NoError(t, checkRetention(minRetention))
	require.NoError(t, checkRetention(devserver.DefaultRetention), "the default is allowed")
	require.Error(t, checkRetention(minRetention-time.Second))
}

func TestAPITokenFile(t *testing.T) {
	t.Setenv(api.EnvToken, "tok")
	t.Setenv(api.EnvToken+"_FILE", "/run/secrets/token")
	_, err := (&orderCLI{}).client()
	require.EqualError(t, err, "set only one of FULFILLMENT_API_TOKEN and FULFILLMENT_API_TOKEN_FILE")
	err = execute(newAPICommand(), "--http-port", "0")
	require.EqualError(t, err, "set only one of FULFILLMENT_API_TOKEN and FULFILLMENT_API_TOKEN_FILE")
}
