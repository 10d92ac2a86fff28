package worker

import (
	"fmt"

	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"
)

// SDKLogger adapts a zap logger to the Temporal SDK's logger, so the SDK's
// and workflows' logs land in the same stream as everything else. It
// implements the SDK's optional WithLogger and WithSkipCallers: the SDK asks
// it to skip its own frames, so a workflow log's caller is the workflow code
// that logged, not the SDK's logger wrapper.
type SDKLogger struct {
	z *zap.SugaredLogger
}

var (
	_ sdklog.Logger          = SDKLogger{}
	_ sdklog.WithLogger      = SDKLogger{}
	_ sdklog.WithSkipCallers = SDKLogger{}
)

// NewSDKLogger returns z as a Temporal SDK logger.
func NewSDKLogger(z *zap.Logger) SDKLogger {
	return SDKLogger{z: z.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

// Debug logs at debug level.
func (l SDKLogger) Debug(msg string, keyvals ...interface{}) { l.z.Debugw(msg, fields(keyvals)...) }

// Info logs at info level.
func (l SDKLogger) Info(msg string, keyvals ...interface{}) { l.z.Infow(msg, fields(keyvals)...) }

// Warn logs at warn level.
func (l SDKLogger) Warn(msg string, keyvals ...interface{}) { l.z.Warnw(msg, fields(keyvals)...) }

// Error logs at error level.
func (l SDKLogger) Error(msg string, keyvals ...interface{}) { l.z.Errorw(msg, fields(keyvals)...) }

// With returns a logger that adds keyvals to every entry.
func (l SDKLogger) With(keyvals ...interface{}) sdklog.Logger {
	return SDKLogger{z: l.z.With(fields(keyvals)...)}
}

// WithCallerSkip returns a logger that reports the caller depth frames
// further up the stack.
func (l SDKLogger) WithCallerSkip(depth int) sdklog.Logger {
	return SDKLogger{z: l.z.WithOptions(zap.AddCallerSkip(depth))}
}

// fields makes sure keys are strings, as zap's sugared logger wants.
func fields(keyvals []interface{}) []interface{} {
	out := make([]interface{}, 0, len(keyvals))
	for i := 0; i < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		if i+1 < len(keyvals) {
			out = append(out, key, keyvals[i+1])
		} else {
			out = append(out, key, "(missing)")
		}
	}
	return out
}
