package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats of --log-format.
const (
	logJSON    = "json"    // one JSON object a line, for log collectors (worker, api)
	logConsole = "console" // for people at a terminal (dev, sandbox-lms)
)

// newLogger returns a logger to stderr at level, in format json (zap's
// production encoder, ISO 8601 times) or console (human-readable). It never
// samples: a dropped line about an order is worse than a long log.
func newLogger(level, format string) (*zap.Logger, error) {
	return newLoggerTo(zapcore.Lock(os.Stderr), level, format)
}

func newLoggerTo(w zapcore.WriteSyncer, level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var enc zapcore.EncoderConfig
	switch format {
	case logJSON:
		enc = zap.NewProductionEncoderConfig()
	case logConsole:
		enc = zap.NewDevelopmentEncoderConfig()
	default:
		return nil, fmt.Errorf("--log-format: %q is neither %s nor %s", format, logJSON, logConsole)
	}
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	encoder := zapcore.NewConsoleEncoder(enc)
	if format == logJSON {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, w, lvl), zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(os.Stderr))), nil
}
