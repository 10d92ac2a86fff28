package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/worker"
)

func newAPICommand() *cobra.Command {
	var (
		modulesConfig, listenIP string
		temporal                temporalFlags
		port                    int
		opts                    orderOptionFlags
		logs                    logFlags
		prepare                 bool
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (and the WooCommerce webhook) against a Temporal cluster",
		Long: `Serve the fulfillment HTTP API against a Temporal cluster; see docs/api.md.
The API is stateless: run several behind a load balancer. Workers run apart
("fulfillment worker").

Environment (a secret NAME can instead be read from the file named by
NAME_FILE, for Docker and Kubernetes secrets; set only one):
  FULFILLMENT_API_TOKEN (or FULFILLMENT_API_TOKEN_FILE)
                               bearer token of /api/v1 (required)
  WOOCOMMERCE_WEBHOOK_SECRET (or WOOCOMMERCE_WEBHOOK_SECRET_FILE)
                               enables POST /api/v1/webhooks/woocommerce
  WOOCOMMERCE_PRODUCT_MAP      product map file (SKU / product id -> course)
  WOOCOMMERCE_STORE_URL, WOOCOMMERCE_CONSUMER_KEY (or _FILE),
  WOOCOMMERCE_CONSUMER_SECRET (or _FILE)
                               store REST API, to learn the lines of partial refunds
  WOOCOMMERCE_STORES           store URLs whose deliveries are accepted (required
                               with the receiver, unless WOOCOMMERCE_ALLOW_ANY_STORE=true)
  FULFILLMENT_MODULES_CONFIG   default of --modules-config
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (or _FILE),
  TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, ...
                               the Temporal connection (docs/deployment.md)
  FULFILLMENT_CODEC_KEYS (or _FILE)
                               id:base64key,... encrypts payloads (first key) and
                               serves /codec/ behind the token (docs/deployment.md)
  FULFILLMENT_CODEC_CORS_ORIGINS
                               Web UI origins allowed to call /codec/ from a browser

/metrics serves the API's and the Temporal SDK's metrics in Prometheus form.
"fulfillment config check api" validates this configuration and prints it
with its secrets masked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			cfg, err := api.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			if cfg.Token == "" {
				return fmt.Errorf("set %s (or %s_FILE): the API refuses to serve orders without a bearer token", api.EnvToken, api.EnvToken)
			}
			if cfg.Options, err = opts.options(); err != nil {
				return err
			}
			// The API validates product types against the same mapping the
			// workers use; it needs no module (and no LMS) itself.
			mapping, err := modules.LoadMapping(modulesConfig)
			if err != nil {
				return err
			}
			cfg.Mapped = func(pt string) bool { _, ok := mapping[pt]; return ok }

			conn, err := temporal.connection()
			if err != nil {
				return err
			}
			if cfg.Registry, err = metrics.NewRegistry(); err != nil {
				return err
			}
			c, err := dial(cmd.Context(), conn, cfg.Registry, logger)
			if err != nil {
				return err
			}
			defer c.Close()
			if prepare {
				// Search attributes the orders set must exist before the
				// first order: the API may start before any worker.
				if err := worker.Prepare(cmd.Context(), c, conn.Profile.Namespace, 0, logger); err != nil {
					return err
				}
			}
			cfg.Codec = conn.Codec
			h, _, err := api.Build(c, cfg, logger)
			if err != nil {
				return err
			}
			srv := api.NewServer(net.JoinHostPort(listenIP, strconv.Itoa(port)), h)
			logger.Info("api starting", zap.String("temporal", conn.Profile.Address), zap.String("namespace", conn.Profile.Namespace),
				zap.Bool("woocommerce", cfg.WooCommerce.Secret != ""))
			if err := api.Serve(cmd.Context(), srv, logger); err != nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	temporal.register(cmd)
	f.StringVar(&listenIP, "listen", "", "IP address to listen on (default: all)")
	f.IntVar(&port, "http-port", 8080, "HTTP port")
	registerModulesConfig(cmd, &modulesConfig)
	f.BoolVar(&prepare, "prepare-namespace", true, "create the namespace if missing and register the search attributes on start")
	logs.register(cmd, "info", logJSON)
	opts.register(cmd)
	return cmd
}
