package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCommand is `fulfillment health URL`: a health check for
// containers without a shell or curl (the image is distroless). It exits 0
// when URL answers 2xx within the timeout.
func newHealthCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "health URL",
		Short:   "Exit 0 when URL answers 2xx (container health checks)",
		Example: "  fulfillment health http://127.0.0.1:8080/readyz\n  fulfillment health http://127.0.0.1:9090/healthz",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			defer func() { _ = resp.Body.Close() }() // read-only probe
			if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
				return fmt.Errorf("health: %w", err)
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("health: %s answered %d", args[0], resp.StatusCode)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}
