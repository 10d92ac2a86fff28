package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/internal/httpjson"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/worker"
)

func newWorkerCommand() *cobra.Command {
	var (
		modulesConfig string
		temporal      temporalFlags
		opts          worker.Options
		prepare       bool
		retention     time.Duration
		logs          logFlags
		metricsListen string
		reconcile     reconcileFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a fulfillment worker against a Temporal cluster (scale by running more)",
		Long: `Run a fulfillment worker: it polls the "fulfillment" task queue and calls the LMS
through the fulfillment modules. Run as many as the LMS and the cluster allow;
each one is stateless.

Environment (see docs/lms.md; a secret NAME can instead be read from the file
named by NAME_FILE, for Docker and Kubernetes secrets; set only one):
  LMS_URL                      LMS base URL (required)
  LMS_CLIENT_ID, LMS_CLIENT_SECRET (or LMS_CLIENT_SECRET_FILE)
                               OAuth2 client credentials of a staff service user
  LMS_API_KEY (or LMS_API_KEY_FILE)
                               the LMS's EDX_API_KEY
  LMS_TIMEOUT, LMS_RATE_LIMIT, LMS_RATE_BURST, LMS_PRE_ENROLL_BY_EMAIL
  FULFILLMENT_MODULES_CONFIG   default of --modules-config
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (or _FILE),
  TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, ...
                               the Temporal connection (docs/deployment.md)
  FULFILLMENT_CODEC_KEYS (or _FILE)
                               id:base64key,... encrypts payloads (first key; the
                               same list as the API's, docs/deployment.md)
  FULFILLMENT_METRICS_LISTEN   default of --metrics-listen

"fulfillment config check worker" validates this configuration and prints it
with its secrets masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkRetention(retention); err != nil {
				return err
			}
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			lmsCfg, err := lms.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			conn, err := temporal.connection()
			if err != nil {
				return err
			}
			reg, err := metrics.NewRegistry()
			if err != nil {
				return err
			}
			if opts.Metrics, err = metrics.NewWorker(reg); err != nil {
				return err
			}
			wcfg := worker.Config{ModulesConfig: modulesConfig, LMS: lmsCfg, Options: opts, Logger: logger, Codec: conn.Codec}
			registry, err := wcfg.Registry()
			if err != nil {
				return err
			}
			// /metrics and /healthz listen before Temporal is dialled, so a
			// busy port stops start-up at once.
			ln, err := net.Listen("tcp", metricsListen)
			if err != nil {
				return fmt.Errorf("--metrics-listen %s: %w", metricsListen, err)
			}
			c, err := dial(cmd.Context(), conn, reg, logger)
			if err != nil {
				_ = ln.Close()
				return err
			}
			defer c.Close()
			ns := conn.Profile.Namespace
			if prepare {
				if err := worker.Prepare(cmd.Context(), c, ns, retention, logger); err != nil {
					_ = ln.Close()
					return err
				}
			}
			if err := worker.EnsureReconcileSchedule(cmd.Context(), c, reconcile.config(), logger); err != nil {
				_ = ln.Close()
				return err
			}
			w := worker.NewFromConfig(c, wcfg, registry)
			if err := w.Start(); err != nil {
				_ = ln.Close()
				return fmt.Errorf("start worker: %w", err)
			}
			defer w.Stop()
			logger.Info("worker started", zap.String("temporal", conn.Profile.Address), zap.String("namespace", ns),
				zap.Strings("product_types", registry.ProductTypes()), zap.String("metrics", ln.Addr().String()))
			return api.ServeListener(cmd.Context(), api.NewServer(ln.Addr().String(), metricsHandler(reg)), ln, logger.Named("metrics"))
		},
	}
	f := cmd.Flags()
	temporal.register(cmd)
	registerModulesConfig(cmd, &modulesConfig)
	f.BoolVar(&prepare, "prepare-namespace", true, "register the search attributes and raise retention on start")
	f.DurationVar(&retention, "retention", devserver.DefaultRetention, "the least retention of closed orders, at least 720h (with --prepare-namespace, raised on start)")
	f.IntVar(&opts.MaxConcurrentActivities, "max-concurrent-lines", 0, "line activities this worker runs at once (0 = SDK default)")
	f.StringVar(&metricsListen, "metrics-listen", envOr("FULFILLMENT_METRICS_LISTEN", ":9090"), "host:port of /metrics (Prometheus) and /healthz, env FULFILLMENT_METRICS_LISTEN")
	reconcile.register(cmd, &opts.ReconcileRate)
	logs.register(cmd, "info", logJSON)
	return cmd
}

// metricsHandler serves a worker's /metrics and /healthz (the worker runs
// once it is served).
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}
