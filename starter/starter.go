// Package starter holds the typed operations the HTTP API, the WooCommerce
// receiver and the dev command perform on order workflows over a Temporal
// client: start an order exactly once, read its status, refund, retry and
// list orders. Temporal itself is the only store of order state: duplicates
// are recognised by the workflow ID and compared against the running or
// closed workflow's own input from its history.
package starter

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/coursefulfill/fulfillment/contract"
)

// Defaults.
const (
	DefaultUpdateWait = 10 * time.Second
	DefaultPageSize   = 50
	MaxPageSize       = 1000
)

// Config configures a Starter. The zero value works.
type Config struct {
	// TaskQueue defaults to contract.TaskQueue.
	TaskQueue string
	// Options are the fulfillment options every new order starts with.
	Options contract.Options
	// Mapped reports whether a product type has a fulfillment module; nil
	// accepts every product type.
	Mapped func(productType string) bool
	// DataConverter must match the client's, since the starter decodes
	// workflow inputs read from history. Defaults to the SDK's default.
	DataConverter converter.DataConverter
	// UpdateWait bounds how long Refund and Retry wait for the workflow's
	// answer once the update was accepted. Defaults to DefaultUpdateWait.
	UpdateWait time.Duration
}

// Starter performs typed operations on order workflows.
type Starter struct {
	c   client.Client
	cfg Config
}

// New returns a Starter over c.
func New(c client.Client, cfg Config) *Starter {
	if cfg.TaskQueue == "" {
		cfg.TaskQueue = contract.TaskQueue
	}
	if cfg.DataConverter == nil {
		cfg.DataConverter = converter.GetDefaultDataConverter()
	}
	if cfg.UpdateWait <= 0 {
		cfg.UpdateWait = DefaultUpdateWait
	}
	return &Starter{c: c, cfg: cfg}
}

// CheckHealth reports whether the Temporal frontend answers.
func (s *Starter) CheckHealth(ctx context.Context) error {
	if _, err := s.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return classify(err, "temporal health check")
	}
	return nil
}
