package main

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// envAPIToken names the bearer token of the API, for the server and the
// order commands alike.
const envAPIToken = "FULFILLMENT_API_TOKEN"

func newAPICommand() *cobra.Command {
	var (
		modulesConfig, listenIP string
		temporal                temporalFlags
		port                    int
		opts                    orderOptionFlags
		logs                    logFlags
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
  WOOCOMMERCE_STORES           store URLs whose deliveries are accepted
  FULFILLMENT_MODULES_CONFIG   default of --modules-config
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE
                               defaults of --temporal-address, --namespace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			token, err := envconfig.Secret(os.Getenv, envAPIToken)
			if err != nil {
				return err
			}
			if token == "" {
				return fmt.Errorf("set %s (or %s_FILE): the API refuses to serve orders without a bearer token", envAPIToken, envAPIToken)
			}
			options, err := opts.options()
			if err != nil {
				return err
			}
			// The API validates product types against the same mapping the
			// workers use; it needs no module (and no LMS) itself.
			mapping, err := modules.LoadMapping(modulesConfig)
			if err != nil {
				return err
			}
			mapped := func(pt string) bool { _, ok := mapping[pt]; return ok }
			woo, wooOn, err := woocommerce.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}

			c, err := temporal.dial(cmd.Context(), logger)
			if err != nil {
				return err
			}
			defer c.Close()

			st := starter.New(c, starter.Config{Options: options, Mapped: mapped})
			cfg := api.Config{Token: token, Mapped: mapped}
			if wooOn {
				woo.Mapped = mapped
				recv, err := woocommerce.NewReceiver(woo, st, logger.Named("woocommerce"))
				if err != nil {
					return err
				}
				cfg.WooCommerce = recv
			}
			h, err := api.New(cfg, st, logger.Named("api"))
			if err != nil {
				return err
			}
			srv := api.NewServer(net.JoinHostPort(listenIP, strconv.Itoa(port)), h)
			logger.Info("api starting", zap.String("temporal", temporal.address), zap.String("namespace", temporal.namespace),
				zap.Bool("woocommerce", wooOn))
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
	logs.register(cmd, "info", logJSON)
	opts.register(cmd)
	return cmd
}
