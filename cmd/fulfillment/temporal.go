package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/worker"
)

// temporalFlags say where the production Temporal cluster is.
type temporalFlags struct {
	address   string
	namespace string
}

func (t *temporalFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.address, "temporal-address", envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port")
	f.StringVar(&t.namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace")
}

// dial connects to the cluster, logging through logger.
func (t *temporalFlags) dial(ctx context.Context, logger *zap.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: t.address, Namespace: t.namespace,
		Logger: worker.NewSDKLogger(logger.Named("temporal"))})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", t.address, err)
	}
	return c, nil
}
