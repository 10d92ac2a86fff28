package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDevWorkerFlag(t *testing.T) {
	cmd := newDevCommand()
	f := cmd.Flags().Lookup("worker")
	require.NotNil(t, f)
	require.Equal(t, "true", f.DefValue, "dev runs its worker unless told not to")
	require.NoError(t, cmd.Flags().Parse([]string{"--worker=false"}))
	require.Equal(t, "false", f.Value.String())
	require.Equal(t, "worker, ", workerPart(true))
	require.Empty(t, workerPart(false))
}

func TestWorkerHintNamesWhatAWorkerNeeds(t *testing.T) {
	var out strings.Builder
	writeWorkerHint(&out, "http://127.0.0.1:18000", "127.0.0.1:7233", false)
	for _, want := range []string{"LMS_URL=http://127.0.0.1:18000", "LMS_CLIENT_ID=", "LMS_CLIENT_SECRET=",
		"fulfillment worker --temporal-address 127.0.0.1:7233"} {
		require.Contains(t, out.String(), want)
	}
	out.Reset()
	writeWorkerHint(&out, "https://lms.example.com", "127.0.0.1:7233", true)
	require.Contains(t, out.String(), "LMS_URL=https://lms.example.com")
	require.NotContains(t, out.String(), "LMS_CLIENT_SECRET=", "a real LMS's secret is the operator's")
}
