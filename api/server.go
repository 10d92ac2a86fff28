package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ShutdownGrace is how long Serve lets in-flight requests finish after its
// context is cancelled.
const ShutdownGrace = 20 * time.Second

// NewServer returns an http.Server for h with the timeouts a public
// endpoint needs: slow or stalled clients cannot hold connections open.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Handlers bound their Temporal calls by Config.RequestTimeout
		// (30 s by default); leave room to write the answer.
		WriteTimeout:   45 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
}

// Serve listens on srv.Addr and serves until ctx is cancelled, then shuts
// down gracefully, letting in-flight requests finish for ShutdownGrace.
func Serve(ctx context.Context, srv *http.Server, log *zap.Logger) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	return ServeListener(ctx, srv, ln, log)
}

// ServeListener is Serve on an existing listener (tests, port 0).
func ServeListener(ctx context.Context, srv *http.Server, ln net.Listener, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("http api listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("http api shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
