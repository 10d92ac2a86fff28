package api

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// EnvToken names the API's bearer token in the environment; the file named
// by EnvToken+"_FILE" may hold it instead.
const EnvToken = "FULFILLMENT_API_TOKEN"

// BuildConfig is what Build makes the API from, the same way for
// `fulfillment api` and the embedded stack of `fulfillment dev`.
type BuildConfig struct {
	// Token is the bearer token of /api/v1 (Config.Token).
	Token string
	// Options are the fulfillment options new orders start with.
	Options contract.Options
	// Mapped reports whether a product type has a fulfillment module; nil
	// accepts every product type.
	Mapped func(productType string) bool
	// WooCommerce configures the WooCommerce receiver; a zero Secret offers
	// none.
	WooCommerce woocommerce.Config
	// Registry receives the API's metrics (and whatever else the process
	// registers, such as the Temporal SDK's) and is served at /metrics; nil
	// creates one.
	Registry *prometheus.Registry
	// Codec, when set, is served at CodecPath behind Token, for the Web UI
	// and the CLI to read encrypted payloads (CodecHandler).
	Codec *codec.Codec
	// CodecOrigins are the Web UI origins allowed to call the codec from a
	// browser (codec.EnvOrigins).
	CodecOrigins []string
}

// ConfigFromEnv reads the API's settings from the environment (getenv is
// os.Getenv outside tests): the bearer token (FULFILLMENT_API_TOKEN or
// FULFILLMENT_API_TOKEN_FILE) and the WooCommerce receiver
// (woocommerce.ConfigFromEnv). Options and Mapped are the caller's.
func ConfigFromEnv(getenv func(string) string) (BuildConfig, error) {
	var cfg BuildConfig
	var err error
	if cfg.Token, err = envconfig.Secret(getenv, EnvToken); err != nil {
		return BuildConfig{}, err
	}
	if cfg.WooCommerce, _, err = woocommerce.ConfigFromEnv(getenv); err != nil {
		return BuildConfig{}, err
	}
	cfg.CodecOrigins = codec.Origins(getenv(codec.EnvOrigins))
	return cfg, nil
}

// Build returns the API's handler over the Temporal client c: the starter
// new orders go through, the WooCommerce receiver when configured, and the
// routes (New). log is the process's logger; the API and the receiver log
// under "api" and "woocommerce".
func Build(c client.Client, cfg BuildConfig, log *zap.Logger) (http.Handler, *starter.Starter, error) {
	if log == nil {
		log = zap.NewNop()
	}
	// The starter reads order inputs and memos from history: it decodes
	// them as the client encodes them.
	st := starter.New(c, starter.Config{Options: cfg.Options, Mapped: cfg.Mapped, DataConverter: codec.DataConverter(cfg.Codec)})
	reg := cfg.Registry
	if reg == nil {
		var err error
		if reg, err = metrics.NewRegistry(); err != nil {
			return nil, nil, err
		}
	}
	m, err := metrics.NewAPI(reg)
	if err != nil {
		return nil, nil, err
	}
	apiCfg := Config{Token: cfg.Token, Mapped: cfg.Mapped, Registry: reg}
	if cfg.WooCommerce.Secret != "" {
		woo := cfg.WooCommerce
		woo.Mapped = cfg.Mapped
		recv, err := woocommerce.NewReceiver(woo, countingStarter{st, m, "woocommerce"}, log.Named("woocommerce"))
		if err != nil {
			return nil, nil, err
		}
		apiCfg.WooCommerce = recv
	}
	h, err := New(apiCfg, countingStarter{st, m, "api"}, log.Named("api"))
	if err != nil {
		return nil, nil, err
	}
	if cfg.Codec != nil {
		ch, err := CodecHandler(CodecConfig{Codec: cfg.Codec, Token: cfg.Token, Origins: cfg.CodecOrigins})
		if err != nil {
			return nil, nil, err
		}
		h = withCodec(h, ch)
	}
	return h, st, nil
}

// countingStarter counts the order workflows it starts in the API's
// metrics, by source (the API or the WooCommerce receiver).
type countingStarter struct {
	*starter.Starter
	m      *metrics.API
	source string
}

// StartOrder starts the order (starter.Starter.StartOrder) and counts it
// when a workflow started.
func (s countingStarter) StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error) {
	res, created, err := s.Starter.StartOrder(ctx, o)
	if err == nil && created {
		s.m.OrderStarted(s.source)
	}
	return res, created, err
}
