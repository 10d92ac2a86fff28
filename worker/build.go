package worker

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/modules"
)

// Config is what a fulfillment worker is built from, the same way by
// `fulfillment worker` and by the embedded stack of `fulfillment dev`.
type Config struct {
	// ModulesConfig is the product type → module mapping file; empty uses
	// the built-in mapping.
	ModulesConfig string
	// LMS configures the client the modules call (its Logger is set by
	// Registry).
	LMS lms.Config
	// Options tune the worker.
	Options Options
	// Logger is the process's logger: each part logs under its own name
	// ("lms", "modules.<module>", "activities"). Nil logs nothing.
	Logger *zap.Logger
	// Codec is the payload codec of the worker's client (nil: none): the
	// drift sweep reads order inputs from history with it.
	Codec *codec.Codec
}

func (cfg Config) logger() *zap.Logger {
	if cfg.Logger == nil {
		return zap.NewNop()
	}
	return cfg.Logger
}

// Registry builds the LMS client and the module registry from the mapping
// file, the LMS configuration and the logger. Call it before connecting to
// Temporal: a bad mapping or LMS configuration stops start-up at once.
func (cfg Config) Registry() (*modules.Registry, error) {
	mapping, err := modules.LoadMapping(cfg.ModulesConfig)
	if err != nil {
		return nil, err
	}
	log := cfg.logger()
	lmsCfg := cfg.LMS
	lmsCfg.Logger = log.Named("lms")
	if cfg.Options.Metrics != nil {
		lmsCfg.HTTPClient = cfg.Options.Metrics.InstrumentLMS(lmsCfg.HTTPClient)
	}
	lmsClient, err := lms.New(lmsCfg)
	if err != nil {
		return nil, fmt.Errorf("LMS client: %w", err)
	}
	return modules.NewRegistry(mapping, modules.Deps{LMS: lmsClient, Logger: log.Named("modules")})
}

// NewFromConfig returns a worker on c for the fulfillment task queue, every
// workflow registered, whose line activities call the modules of reg (from
// cfg.Registry). Start it with Run or Start.
func NewFromConfig(c client.Client, cfg Config, reg *modules.Registry) sdkworker.Worker {
	return New(c, &activities.Activities{Modules: reg, Logger: cfg.logger().Named("activities"),
		Reconciler: activities.NewReconciler(c, codec.DataConverter(cfg.Codec), reg, cfg.Options.ReconcileRate, cfg.logger().Named("reconcile"))}, cfg.Options)
}

// Dial connects to the Temporal frontend at hostPort. The SDK, and through
// it the workflows, log through log under the name "temporal", at log's
// level.
func Dial(ctx context.Context, hostPort, namespace string, log *zap.Logger) (client.Client, error) {
	return DialCodec(ctx, hostPort, namespace, nil, log)
}

// DialCodec is Dial with payloads encrypted by cdc (codec.DataConverter);
// nil cdc stores them as they are.
func DialCodec(ctx context.Context, hostPort, namespace string, cdc *codec.Codec, log *zap.Logger) (client.Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: hostPort, Namespace: namespace,
		Logger: NewSDKLogger(log.Named("temporal")), DataConverter: codec.DataConverter(cdc)})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", hostPort, err)
	}
	return c, nil
}
