package worker

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// logThroughWrapper stands for the SDK's own logger wrappers: the workflow
// logger the SDK hands out is wrapped with sdklog.Skip(logger, 1).
func logThroughWrapper(l sdklog.Logger, msg string) { l.Info(msg, "k", "v") }

func TestSDKLoggerCallerSkipPointsAtTheCaller(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	base := NewSDKLogger(zap.New(core, zap.AddCaller()))

	base.Info("direct")
	_, _, directLine, _ := runtime.Caller(0)
	skipped := sdklog.Skip(sdklog.With(base, "workflow_id", "order-1"), 1)
	logThroughWrapper(skipped, "skipped")
	_, _, skippedLine, _ := runtime.Caller(0)
	logThroughWrapper(skipped.(sdklog.WithLogger).With("extra", 1), "with after skip")
	_, _, withLine, _ := runtime.Caller(0)

	entries := logs.All()
	require.Len(t, entries, 3)
	require.Equal(t, directLine-1, entries[0].Caller.Line, "a direct call reports its own line, not the adapter's")
	require.Equal(t, skippedLine-1, entries[1].Caller.Line, "WithCallerSkip(1) skips the wrapper frame")
	require.Equal(t, withLine-1, entries[2].Caller.Line, "With keeps the skip")
	require.Equal(t, "order-1", entries[1].ContextMap()["workflow_id"])
	require.Equal(t, "v", entries[1].ContextMap()["k"])
	require.EqualValues(t, 1, entries[2].ContextMap()["extra"])
	require.Equal(t, "order-1", entries[2].ContextMap()["workflow_id"])
}

func TestSDKLoggerOddKeyvals(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	NewSDKLogger(zap.New(core)).Warn("odd", 7, "x", "lonely")
	require.Equal(t, map[string]any{"7": "x", "lonely": "(missing)"}, logs.All()[0].ContextMap())
}
