// Package stack runs the whole product in one process: an embedded Temporal
// server with its Web UI, the fulfillment worker, the HTTP API and, unless a
// real LMS is named, the sandbox LMS. `fulfillment dev` and the end-to-end
// tests both start it.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/woocommerce"
	"github.com/coursefulfill/fulfillment/worker"
)

// Config configures a Stack. Zero ports pick free ones (tests).
type Config struct {
	// DataDir keeps the Temporal database and the sandbox LMS state. Empty
	// keeps everything in memory.
	DataDir      string
	IP           string
	TemporalPort int
	// UIPort serves the Web UI; negative runs none.
	UIPort   int
	HTTPPort int
	LMSPort  int
	// LMSURL names a real LMS; empty runs the sandbox LMS.
	LMSURL string
	// LMSAutoRegister makes the sandbox LMS accept unknown usernames.
	LMSAutoRegister bool
	// LMSAdminToken, when set, is required by the sandbox LMS's admin API.
	LMSAdminToken string
	// LMSInMemory keeps the sandbox LMS's state in memory even with a
	// DataDir.
	LMSInMemory bool
	// LMS configures the LMS client (credentials, timeouts, rate limit)
	// when LMSURL is set; ignored for the sandbox.
	LMS lms.Config
	// ModulesConfig is a product type → module mapping file; empty uses
	// the built-in mapping.
	ModulesConfig string
	// APIToken is the bearer token of the API; empty generates one.
	APIToken string
	// Options are the fulfillment options new orders start with.
	Options contract.Options
	// WooCommerce configures the WooCommerce receiver; a zero Secret
	// leaves the receiver unconfigured.
	WooCommerce woocommerce.Config
	// Worker tunes the fulfillment worker.
	Worker worker.Options
	// NoWorker runs no fulfillment worker in the process: separate
	// `fulfillment worker` processes, pointed at this server and LMS, do
	// the work (`fulfillment dev --worker=false`).
	NoWorker bool
	// Reconcile, when set, creates the drift sweep's schedule if missing
	// (`fulfillment dev` sets it; tests and benchmarks leave it nil).
	Reconcile *worker.ReconcileSchedule
	// CodecKeys ("id:base64key,...", codec.ParseKeys) encrypts the
	// payloads; the Web UI decodes them through a loopback endpoint
	// (Stack.CodecURL), the API serves the codec at /codec/. Empty stores
	// payloads as they are.
	CodecKeys string
	// Retention of closed orders; default devserver.DefaultRetention.
	Retention time.Duration
	Logger    *zap.Logger
}

// portUse pairs a port with the flag that sets it, for messages.
type portUse struct {
	port int
	flag string
}

// PortError reports a busy port with the flag that sets it.
type PortError struct {
	Port int
	Flag string
	Err  error
}

func (e *PortError) Error() string {
	return fmt.Sprintf("port %d is already in use; free it or choose another with %s", e.Port, e.Flag)
}

func (e *PortError) Unwrap() error { return e.Err }

// Stack is the running product.
type Stack struct {
	cfg    Config
	Server *devserver.Server
	Client client.Client
	// Worker is nil with Config.NoWorker.
	Worker   sdkworker.Worker
	Starter  *starter.Starter
	Registry *modules.Registry
	APIToken string
	APIURL   string
	LMSURL   string
	UIURL    string
	// CodecURL is the Web UI's codec endpoint; empty without CodecKeys.
	CodecURL  string
	sandbox   *sandbox.LMS
	servers   []*http.Server
	log       *zap.Logger
	listeners []net.Listener
}

// Start starts every part, in dependency order, and returns once the API
// accepts orders. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Stack{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// Every port is checked (and held) before anything starts: the
	// Temporal and UI servers do not fail cleanly on a busy port.
	uses := []portUse{{cfg.TemporalPort, "--temporal-port"}, {cfg.HTTPPort, "--http-port"}}
	if cfg.UIPort >= 0 {
		uses = append(uses, portUse{cfg.UIPort, "--ui-port"})
	}
	if cfg.LMSURL == "" {
		uses = append(uses, portUse{cfg.LMSPort, "--lms-port"})
	}
	for _, u := range uses {
		if u.port == 0 {
			continue
		}
		if err := devserver.CheckPort(cfg.IP, u.port); err != nil {
			return nil, &PortError{Port: u.port, Flag: u.flag, Err: err}
		}
	}
	if cfg.TemporalPort == 0 {
		if cfg.TemporalPort, err = devserver.FreePort(cfg.IP); err != nil {
			return nil, err
		}
	}
	if cfg.UIPort == 0 {
		if cfg.UIPort, err = devserver.FreePort(cfg.IP); err != nil {
			return nil, err
		}
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}

	// The LMS: the sandbox unless a real one is named.
	lmsCfg := cfg.LMS
	if cfg.LMSURL == "" {
		ln, err := s.listen(cfg.LMSPort, "--lms-port")
		if err != nil {
			return nil, err
		}
		opts := sandbox.Options{
			AutoRegister: cfg.LMSAutoRegister,
			ClientID:     sandbox.DevClientID,
			ClientSecret: sandbox.DevClientSecret,
			APIKey:       sandbox.DevAPIKey,
			AdminToken:   cfg.LMSAdminToken,
			Logger:       cfg.Logger.Named("sandbox-lms"),
		}
		if cfg.DataDir != "" && !cfg.LMSInMemory {
			opts.StateFile = filepath.Join(cfg.DataDir, "sandbox-lms.json")
		}
		if s.sandbox, err = sandbox.New(opts); err != nil {
			return nil, fmt.Errorf("sandbox LMS: %w", err)
		}
		s.LMSURL = "http://" + ln.Addr().String()
		s.serve(ln, s.sandbox.Handler())
		lmsCfg = lms.Config{BaseURL: s.LMSURL, ClientID: sandbox.DevClientID, ClientSecret: sandbox.DevClientSecret,
			Timeout: cfg.LMS.Timeout, PreEnrollByEmail: cfg.LMS.PreEnrollByEmail}
	} else {
		lmsCfg.BaseURL = cfg.LMSURL
		s.LMSURL = cfg.LMSURL
	}
	// One /metrics (the API's) for the whole process: the API's and the
	// worker's business metrics.
	reg, err := metrics.NewRegistry()
	if err != nil {
		return nil, err
	}
	if cfg.Worker.Metrics, err = metrics.NewWorker(reg); err != nil {
		return nil, err
	}
	wcfg := worker.Config{ModulesConfig: cfg.ModulesConfig, LMS: lmsCfg, Options: cfg.Worker, Logger: cfg.Logger}
	if s.Registry, err = wcfg.Registry(); err != nil {
		return nil, err
	}

	// Temporal.
	uiPort := cfg.UIPort
	if uiPort < 0 {
		uiPort = 0
	}
	cs, err := s.startCodec(cfg, uiPort)
	if err != nil {
		return nil, err
	}
	if s.Server, err = devserver.Start(devserver.Options{
		DataDir: cfg.DataDir, IP: cfg.IP, FrontendPort: cfg.TemporalPort, UIPort: uiPort, Retention: cfg.Retention,
		CodecEndpoint: s.CodecURL,
		// The embedded server gets a logger of its own, quieter than the
		// product's: at info it narrates its internals.
		Logger: cfg.Logger.Named("temporal-server").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)),
	}); err != nil {
		var pe *devserver.PortInUseError
		if errors.As(err, &pe) {
			flag := "--temporal-port"
			if pe.Port == cfg.UIPort {
				flag = "--ui-port"
			}
			return nil, &PortError{Port: pe.Port, Flag: flag, Err: err}
		}
		return nil, err
	}
	s.UIURL = s.Server.UIURL()
	if s.Client, err = worker.DialCodec(ctx, s.Server.FrontendAddress(), s.Server.Namespace(), cs.get(), cfg.Logger); err != nil {
		return nil, err
	}
	retention := cfg.Retention
	if retention <= 0 {
		retention = devserver.DefaultRetention
	}
	if err := worker.PrepareNamespace(ctx, s.Client, s.Server.Namespace(), retention, cfg.Logger); err != nil {
		return nil, err
	}
	if cfg.Reconcile != nil {
		if err := worker.EnsureReconcileSchedule(ctx, s.Client, *cfg.Reconcile, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if !cfg.NoWorker {
		wcfg.Codec = cs.get()
		s.Worker = worker.NewFromConfig(s.Client, wcfg, s.Registry)
		if err := s.Worker.Start(); err != nil {
			s.Worker = nil
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}

	// The API.
	s.APIToken = cfg.APIToken
	if s.APIToken == "" {
		s.APIToken = newToken()
	}
	h, st, err := api.Build(s.Client, api.BuildConfig{Token: s.APIToken, Options: cfg.Options, Mapped: s.Registry.Mapped,
		WooCommerce: cfg.WooCommerce, Registry: reg, Codec: cs.get(), CodecOrigins: cs.origins()}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if err := s.serveUICodec(cs); err != nil {
		return nil, err
	}
	s.Starter = st
	ln, err := s.listen(cfg.HTTPPort, "--http-port")
	if err != nil {
		return nil, err
	}
	s.APIURL = "http://" + ln.Addr().String()
	s.serve(ln, h)
	return s, nil
}

func (s *Stack) listen(port int, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.IP, strconv.Itoa(port)))
	if err != nil {
		return nil, &PortError{Port: port, Flag: flag, Err: err}
	}
	s.listeners = append(s.listeners, ln)
	return ln, nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := api.NewServer(ln.Addr().String(), h)
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", zap.String("addr", ln.Addr().String()), zap.Error(err))
		}
	}()
}

// Close stops everything: HTTP servers first (no new work), then the
// worker, the Temporal client and server, and the sandbox LMS last.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(s.servers) - 1; i >= 0; i-- {
		if err := s.servers[i].Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown", zap.Error(err))
		}
	}
	for _, ln := range s.listeners {
		// Listeners never served (start-up failed half-way) still hold
		// their port; closing a served one again is harmless.
		_ = ln.Close()
	}
	if s.Worker != nil {
		s.Worker.Stop()
	}
	if s.Client != nil {
		s.Client.Close()
	}
	if s.Server != nil {
		s.Server.Stop()
	}
	if s.sandbox != nil {
		if err := s.sandbox.Close(); err != nil {
			s.log.Warn("sandbox LMS close", zap.Error(err))
		}
	}
}

func newToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return hex.EncodeToString(b)
}
