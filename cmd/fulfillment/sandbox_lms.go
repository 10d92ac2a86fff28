package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// envSandboxAdminToken names the sandbox LMS admin API's token in the
// environment.
const envSandboxAdminToken = "SANDBOX_LMS_ADMIN_TOKEN"

// newSandboxLMSCommand is `fulfillment sandbox-lms`: the sandbox LMS alone,
// for trying the client, the worker or a shop against something that
// behaves like Open edX.
func newSandboxLMSCommand() *cobra.Command {
	var (
		host, stateFile, catalog, users    string
		clientID, clientSecret, apiKey     string
		adminToken                         string
		port, errorStatus, throttle        int
		autoRegister                       bool
		latency, tokenLifetime, retryAfter time.Duration
		errorRate                          float64
		logs                               logFlags
	)
	cmd := &cobra.Command{
		Use:   "sandbox-lms",
		Short: "Run the sandbox LMS (Open edX Enrollment API look-alike) on its own",
		Long: `Run the sandbox LMS: the Open edX Enrollment API v1, enrollment_allowed,
the Entitlements API v1 and the OAuth2 token endpoint, with the LMS's quirks,
plus an admin API under /sandbox/ (see docs/lms.md).

Default credentials: client id ` + sandbox.DevClientID + `, client secret ` + sandbox.DevClientSecret + `,
API key ` + sandbox.DevAPIKey + `.`,
		Example: `  fulfillment sandbox-lms --port 18000 --state-file /tmp/lms.json --auto-register
  fulfillment sandbox-lms --latency 200ms --error-rate 0.1 --error-status 503`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			if adminToken == "" {
				adminToken = os.Getenv(envSandboxAdminToken)
			}
			lms, err := sandbox.New(sandbox.Options{
				StateFile: stateFile, CatalogFile: catalog, UsersFile: users, AutoRegister: autoRegister,
				ClientID: clientID, ClientSecret: clientSecret, APIKey: apiKey,
				TokenLifetime: tokenLifetime, JWTRequestsPerMinute: throttle, AdminToken: adminToken,
				Faults: sandbox.Faults{Latency: latency, ErrorRate: errorRate, ErrorStatus: errorStatus, RetryAfter: retryAfter},
				Logger: logger.Named("sandbox-lms"),
			})
			if err != nil {
				return err
			}
			defer func() {
				if err := lms.Close(); err != nil {
					logger.Error("sandbox LMS state not saved", zap.Error(err))
				}
			}()
			addr := net.JoinHostPort(host, strconv.Itoa(port))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("port %d on %s is already in use (another sandbox-lms or LMS?); choose another with --port", port, host)
				}
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			srv := &http.Server{Handler: lms.Handler(), ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			logger.Info("sandbox LMS listening", zap.String("url", "http://"+ln.Addr().String()),
				zap.String("client_id", clientID), zap.Bool("auto_register", autoRegister), zap.String("state_file", stateFile))
			select {
			case err := <-served:
				return fmt.Errorf("sandbox LMS server: %w", err)
			case <-ctx.Done():
			}
			logger.Info("sandbox LMS shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				return fmt.Errorf("sandbox LMS shutdown: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on")
	f.IntVar(&port, "port", 18000, "port to listen on")
	f.StringVar(&stateFile, "state-file", "", "persist enrollments here (JSON) across restarts; empty keeps them in memory")
	f.StringVar(&catalog, "catalog", "", "course catalog file (JSON list of courses); empty uses the built-in catalog")
	f.StringVar(&users, "users", "", "user directory file (JSON list of {username,email}); empty uses the built-in users")
	f.BoolVar(&autoRegister, "auto-register", false, "create unknown learners on first use instead of answering 406")
	f.StringVar(&clientID, "client-id", sandbox.DevClientID, "OAuth2 client id of the staff service user")
	f.StringVar(&clientSecret, "client-secret", sandbox.DevClientSecret, "OAuth2 client secret of the staff service user")
	f.StringVar(&apiKey, "api-key", sandbox.DevAPIKey, "X-Edx-Api-Key value")
	f.StringVar(&adminToken, "admin-token", "", "token the admin API under /sandbox/ requires (default $"+envSandboxAdminToken+", which keeps it out of the process list); it answers only loopback callers either way")
	f.DurationVar(&tokenLifetime, "token-lifetime", sandbox.DefaultTokenLifetime, "lifetime of issued tokens")
	f.IntVar(&throttle, "throttle-per-minute", 0, "429 JWT callers (without the API key) above this many requests per minute; 0 = off")
	f.DurationVar(&latency, "latency", 0, "delay every LMS answer by this much")
	f.Float64Var(&errorRate, "error-rate", 0, "share (0..1) of LMS requests answered with --error-status")
	f.IntVar(&errorStatus, "error-status", 500, "status of injected errors (429 sends Retry-After)")
	f.DurationVar(&retryAfter, "retry-after", 0, "Retry-After of injected 429/503 answers")
	logs.register(cmd, "info", logConsole)
	return cmd
}
