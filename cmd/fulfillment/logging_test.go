package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestNewLoggerFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLoggerTo(zapcore.AddSync(&buf), "info", logJSON)
	require.NoError(t, err)
	log.Named("api").Debug("hidden")
	log.Named("api").Info("order started", zap.String("order_number", "EDX-1"))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), "one JSON line: %s", buf.String())
	require.Equal(t, "info", line["level"])
	require.Equal(t, "api", line["logger"])
	require.Equal(t, "order started", line["msg"])
	require.Equal(t, "EDX-1", line["order_number"])
	require.Contains(t, line["caller"], "logging_test.go")
	_, err = time.Parse("2006-01-02T15:04:05.000Z0700", line["ts"].(string))
	require.NoError(t, err, "ISO 8601 time: %v", line["ts"])

	buf.Reset()
	log, err = newLoggerTo(zapcore.AddSync(&buf), "debug", logConsole)
	require.NoError(t, err)
	log.Debug("shown", zap.String("k", "v"))
	require.Contains(t, buf.String(), "DEBUG")
	require.Contains(t, buf.String(), `{"k": "v"}`)

	_, err = newLoggerTo(zapcore.AddSync(&buf), "loud", logJSON)
	require.ErrorContains(t, err, "--log-level")
	_, err = newLoggerTo(zapcore.AddSync(&buf), "info", "xml")
	require.ErrorContains(t, err, "--log-format")
}
