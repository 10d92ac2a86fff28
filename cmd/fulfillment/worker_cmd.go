package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/lms"
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
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE
                               defaults of --temporal-address, --namespace`,
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
			wcfg := worker.Config{ModulesConfig: modulesConfig, LMS: lmsCfg, Options: opts, Logger: logger}
			registry, err := wcfg.Registry()
			if err != nil {
				return err
			}
			c, err := temporal.dial(cmd.Context(), logger)
			if err != nil {
				return err
			}
			defer c.Close()
			if prepare {
				if err := worker.PrepareNamespace(cmd.Context(), c, temporal.namespace, retention, logger); err != nil {
					return err
				}
			}
			w := worker.NewFromConfig(c, wcfg, registry)
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			logger.Info("worker started", zap.String("temporal", temporal.address), zap.String("namespace", temporal.namespace),
				zap.Strings("product_types", registry.ProductTypes()))
			<-cmd.Context().Done()
			w.Stop()
			return nil
		},
	}
	f := cmd.Flags()
	temporal.register(cmd)
	registerModulesConfig(cmd, &modulesConfig)
	f.BoolVar(&prepare, "prepare-namespace", true, "register the search attributes and raise retention on start")
	f.DurationVar(&retention, "retention", devserver.DefaultRetention, "the least retention of closed orders, at least 720h (with --prepare-namespace, raised on start)")
	f.IntVar(&opts.MaxConcurrentActivities, "max-concurrent-lines", 0, "line activities this worker runs at once (0 = SDK default)")
	logs.register(cmd, "info", logJSON)
	return cmd
}
