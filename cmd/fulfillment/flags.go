package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/worker"
)

// envOr is the value of the environment variable name, or def when it is
// unset or empty: the default of a flag that the environment may set.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// registerModulesConfig adds --modules-config (env FULFILLMENT_MODULES_CONFIG).
func registerModulesConfig(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "modules-config", envOr("FULFILLMENT_MODULES_CONFIG", ""),
		"product type to module mapping file, env FULFILLMENT_MODULES_CONFIG (default: built-in mapping)")
}

// minRetention is the least --retention `dev` and `worker` accept: closed
// orders are the status record, and refunds after close are built from
// them.
const minRetention = 30 * 24 * time.Hour

// checkRetention reports a --retention below minRetention.
func checkRetention(d time.Duration) error {
	if d < minRetention {
		return fmt.Errorf("--retention must be at least %.0fh (%.0f days), not %s: closed orders are the status record",
			minRetention.Hours(), minRetention.Hours()/24, d)
	}
	return nil
}

// logFlags are --log-level and --log-format, with per-command defaults.
type logFlags struct {
	level, format string
}

func (l *logFlags) register(cmd *cobra.Command, level, format string) {
	f := cmd.Flags()
	f.StringVar(&l.level, "log-level", level, "log level: debug, info, warn, error")
	f.StringVar(&l.format, "log-format", format, "log format: json (one object a line, for log collectors) or console (for people)")
}

func (l *logFlags) logger() (*zap.Logger, error) { return newLogger(l.level, l.format) }

// temporalFlags say where the production Temporal cluster is; the rest of
// the connection (TLS, mTLS, API key) comes from the environment
// (worker.ConnectionFromEnv).
type temporalFlags struct {
	address   string
	namespace string
}

func (t *temporalFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.address, "temporal-address", "", "Temporal frontend host:port (default: env TEMPORAL_ADDRESS, or "+worker.DefaultAddress+")")
	f.StringVar(&t.namespace, "namespace", "", "Temporal namespace (default: env TEMPORAL_NAMESPACE, or default)")
}

// connection is the Temporal connection the environment and the flags say.
func (t *temporalFlags) connection() (worker.Connection, error) {
	conn, err := worker.ConnectionFromEnv(os.Getenv, os.Environ)
	if err != nil {
		return worker.Connection{}, err
	}
	if t.address != "" {
		conn.Profile.Address = t.address
	}
	if t.namespace != "" {
		conn.Profile.Namespace = t.namespace
	}
	return conn, nil
}

// dial connects to the cluster with the SDK's metrics in reg, logging
// through logger.
func dial(ctx context.Context, conn worker.Connection, reg prometheus.Registerer, logger *zap.Logger) (client.Client, error) {
	handler, err := metrics.SDKHandler(reg, logger.Named("metrics"))
	if err != nil {
		return nil, err
	}
	return worker.DialConnection(ctx, conn, func(o *client.Options) { o.MetricsHandler = handler }, logger)
}

// orderOptionFlags are the flags that set the options new orders start with.
type orderOptionFlags struct {
	maxParallel  int
	batchSize    int
	retryHorizon time.Duration
	refundWindow time.Duration
	actTimeout   time.Duration
}

func (o *orderOptionFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&o.maxParallel, "max-parallel-lines", contract.DefaultMaxParallelLines, "lines of one order fulfilled at the same time")
	f.IntVar(&o.batchSize, "batch-size", contract.DefaultBatchSize, "orders with more lines are split into child workflows of this many lines")
	f.DurationVar(&o.retryHorizon, "retry-horizon", contract.DefaultRetryHorizon, "how long transient LMS errors are retried before a line waits for an operator")
	f.DurationVar(&o.refundWindow, "refund-window", contract.DefaultRefundWindow, "how long an order stays open for refunds")
	f.DurationVar(&o.actTimeout, "line-timeout", contract.DefaultActivityTimeout, "time limit of one attempt at one line")
}

// optionFlags names the flag of each order option, for messages.
var optionFlags = map[string]string{
	"max_parallel_lines": "--max-parallel-lines",
	"batch_size":         "--batch-size",
	"retry_horizon":      "--retry-horizon",
	"refund_window":      "--refund-window",
	"activity_timeout":   "--line-timeout",
}

// options returns the order options the flags set, validated by the one
// rule every entry point applies (contract.Options.Validate).
func (o *orderOptionFlags) options() (contract.Options, error) {
	opts := contract.Options{MaxParallelLines: o.maxParallel, BatchSize: o.batchSize, RetryHorizon: o.retryHorizon,
		RefundWindow: o.refundWindow, ActivityTimeout: o.actTimeout}
	if err := opts.Validate(); err != nil {
		var oe *contract.OptionError
		if errors.As(err, &oe) && optionFlags[oe.Field] != "" {
			return contract.Options{}, fmt.Errorf("%s %s", optionFlags[oe.Field], oe.Reason)
		}
		return contract.Options{}, err
	}
	return opts, nil
}
