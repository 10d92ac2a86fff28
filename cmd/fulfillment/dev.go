package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// sampleOrder is the order the printed curl places.
const sampleOrder = `{"number":"EDX-100042","user":{"username":"ada","email":"ada@example.com"},` +
	`"lines":[{"id":"1","product_type":"seat","course_id":"course-v1:edX+DemoX+Demo_Course","mode":"verified"}],` +
	`"placed_at":"2026-11-21T10:00:00Z"}`

func newDevCommand() *cobra.Command {
	var (
		cfg      stack.Config
		logLevel string
		opts     orderOptionFlags
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole product in one process: Temporal server (SQLite), Web UI, worker, API and sandbox LMS",
		Long: `Run the whole product in one process: a real Temporal server persisted in SQLite
under --data-dir, the Temporal Web UI, the fulfillment worker, the HTTP API and
the sandbox LMS (or a real LMS with --lms-url). Orders survive a restart on the
same data directory. Ctrl-C stops everything cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			if cfg.Retention < 30*24*time.Hour {
				return errors.New("--retention must be at least 720h (30 days): closed orders are the status record")
			}
			cfg.Logger = logger
			cfg.APIToken = os.Getenv("FULFILLMENT_API_TOKEN")
			if cfg.Options, err = opts.options(); err != nil {
				return err
			}
			if cfg.LMSURL != "" {
				if cfg.LMS, err = lms.ConfigFromEnv(); err != nil {
					return err
				}
			}
			woo, wooOn, err := woocommerce.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			if wooOn {
				cfg.WooCommerce = woo
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "starting Temporal server, Web UI, worker, API and LMS ...")
			s, err := stack.Start(cmd.Context(), cfg)
			if err != nil {
				var pe *stack.PortError
				if errors.As(err, &pe) {
					return errors.New(pe.Error())
				}
				return err
			}
			defer s.Close()
			printBanner(cmd, s, cfg)
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "\nstopping ...")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./.fulfillment", "directory for the Temporal database and the sandbox LMS state")
	f.IntVar(&cfg.TemporalPort, "temporal-port", 7233, "Temporal frontend gRPC port")
	f.IntVar(&cfg.UIPort, "ui-port", 8233, "Temporal Web UI port")
	f.IntVar(&cfg.HTTPPort, "http-port", 8080, "fulfillment HTTP API port")
	f.IntVar(&cfg.LMSPort, "lms-port", 18000, "sandbox LMS port")
	f.StringVar(&cfg.LMSURL, "lms-url", "", "use this real LMS instead of the sandbox (credentials from LMS_* environment variables)")
	f.BoolVar(&cfg.LMSAutoRegister, "lms-auto-register", false, "sandbox LMS: unknown usernames exist")
	f.StringVar(&cfg.ModulesConfig, "modules-config", os.Getenv("FULFILLMENT_MODULES_CONFIG"), "product type to module mapping file (default: built-in mapping)")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.DurationVar(&cfg.Retention, "retention", devserver.DefaultRetention, "how long Temporal keeps closed orders (their status record; refunds after close need it)")
	opts.register(cmd)
	return cmd
}

func printBanner(cmd *cobra.Command, s *stack.Stack, cfg stack.Config) {
	out := cmd.OutOrStdout()
	compact := strings.ReplaceAll(sampleOrder, "'", `'\''`)
	fmt.Fprintf(out, `
Fulfillment is running.

  API           %s
  Temporal UI   %s/namespaces/default/workflows
  Temporal      %s (namespace default, task queue %s)
  LMS           %s%s
  Data dir      %s

  API token     %s

Place a sample order:

  curl -sS -X POST %s/api/v1/orders \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '%s'

Then read its status:

  curl -sS %s/api/v1/orders/EDX-100042 -H 'Authorization: Bearer %s'

Press Ctrl-C to stop.
`, s.APIURL, s.UIURL, s.Server.FrontendAddress(), contract.TaskQueue, s.LMSURL, sandboxNote(cfg), cfg.DataDir,
		s.APIToken, s.APIURL, s.APIToken, compact, s.APIURL, s.APIToken)
}

func sandboxNote(cfg stack.Config) string {
	if cfg.LMSURL != "" {
		return ""
	}
	return " (sandbox; enrollments at /sandbox/enrollments)"
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

func (o *orderOptionFlags) options() (contract.Options, error) {
	switch {
	case o.maxParallel < 1:
		return contract.Options{}, errors.New("--max-parallel-lines must be at least 1")
	case o.batchSize < 1 || o.batchSize > 1000:
		return contract.Options{}, errors.New("--batch-size must be between 1 and 1000 (Temporal allows 2,000 pending activities per execution)")
	case o.retryHorizon < time.Minute:
		return contract.Options{}, errors.New("--retry-horizon must be at least 1m")
	case o.refundWindow < time.Minute:
		return contract.Options{}, errors.New("--refund-window must be at least 1m")
	case o.actTimeout < time.Second:
		return contract.Options{}, errors.New("--line-timeout must be at least 1s")
	}
	return contract.Options{MaxParallelLines: o.maxParallel, BatchSize: o.batchSize, RetryHorizon: o.retryHorizon,
		RefundWindow: o.refundWindow, ActivityTimeout: o.actTimeout}, nil
}

// newLogger returns a console logger at level to stderr.
func newLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.DisableStacktrace = true
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return cfg.Build()
}
