// Package devserver runs a complete Temporal server inside the fulfillment
// process: the same server code a production cluster runs, persisted in one
// SQLite file, plus the Temporal Web UI. It is what `fulfillment dev` and the
// end-to-end tests stand on.
package devserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	clusterName = "active"
	// DefaultNamespace is the namespace fulfillment uses.
	DefaultNamespace = "default"
	// DefaultRetention keeps closed orders' histories, which are their status
	// record, for a year and a day: refunds after the refund window are
	// built from the closed order, and a shop resending an order Temporal
	// still remembers starts nothing. The SQLite schema's own default is a
	// day.
	DefaultRetention = 366 * 24 * time.Hour
	// devClusterID identifies the embedded cluster; the server wants a UUID.
	devClusterID = "6f1c4a2e-9b8d-4c3f-a1e5-7d2b0c9f8e41"
	// dbFileName is the SQLite file under the data directory.
	dbFileName = "temporal.db"
)

// Options configures an embedded server.
type Options struct {
	// DataDir holds the SQLite file. Empty runs in memory (tests).
	DataDir string
	// IP to bind; default 127.0.0.1.
	IP string
	// FrontendPort is the gRPC port clients and workers dial (7233).
	FrontendPort int
	// UIPort serves the Web UI; 0 runs no UI.
	UIPort int
	// CodecEndpoint, when set, is the payload codec the Web UI decodes
	// payloads with, from the browser ("http://127.0.0.1:port/codec"; the
	// UI posts to its /decode and /encode).
	CodecEndpoint string
	// Namespace to create; default "default".
	Namespace string
	// Retention of closed workflows; default DefaultRetention.
	Retention time.Duration
	// Logger receives the server's logs at the logger's level: the server
	// is chatty, give it a quieter logger than the application's.
	Logger *zap.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	opts   Options
	server temporal.Server
	ui     *uiserver.Server
	uiErr  chan error
}

// PortInUseError reports that a port the server needs is taken.
type PortInUseError struct {
	Port int
	Err  error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d is already in use: %v", e.Port, e.Err)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// CheckPort fails with a *PortInUseError when ip:port cannot be bound. The
// Temporal server and the UI server do not report a busy port cleanly (one
// panics, the other exits the process), so every port is checked first.
func CheckPort(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return &PortInUseError{Port: port, Err: err}
	}
	return l.Close()
}

// FreePort returns a port that was free a moment ago on ip. It is drawn
// from below the kernel's ephemeral range: a port the kernel hands out with
// ":0" is also the kind it hands to outgoing connections, and one of those
// taking the port before the server binds it makes the Temporal server exit
// the process.
func FreePort(ip string) (int, error) {
	low := ephemeralLow()
	for range 64 {
		port := minPickedPort + rand.IntN(low-minPickedPort)
		if CheckPort(ip, port) == nil {
			return port, nil
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// minPickedPort is the lowest port FreePort draws: above the well-known and
// the commonly configured service ports.
const minPickedPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read, Linux's default).
func ephemeralLow() int {
	const fallback = 32768
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return fallback
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= minPickedPort+1000 {
		return fallback
	}
	return low
}

// Start sets up the schema on first use, creates the namespace and starts the
// server and, if asked, the Web UI. The caller must Stop it.
func Start(opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.FrontendPort == 0 {
		return nil, errors.New("devserver: FrontendPort is required")
	}
	if err := CheckPort(opts.IP, opts.FrontendPort); err != nil {
		return nil, err
	}
	if opts.UIPort != 0 {
		if err := CheckPort(opts.IP, opts.UIPort); err != nil {
			return nil, err
		}
	}

	sqlConf, err := opts.sqlConfig()
	if err != nil {
		return nil, err
	}
	conf, err := opts.serverConfig(sqlConf)
	if err != nil {
		return nil, err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	dyn := dynamicconfig.StaticClient{
		// Concurrent persistence operations per shard: with one shard on
		// SQLite this is what lets orders in flight progress together.
		dynamicconfig.ShardIOConcurrency.Key():                           16,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8192,
		// Eager start: the first workflow task runs without a round trip
		// through matching.
		dynamicconfig.EnableEagerWorkflowStart.Key(): true,
		// Eager activities: an activity scheduled by a workflow task goes
		// back to the worker that completed the task, without a round
		// trip through matching.
		dynamicconfig.EnableActivityEagerExecution.Key(): true,
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(tlog.NewZapLogger(withFatalToStderr(opts.Logger))),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start server: %w", err)
	}
	s := &Server{opts: opts, server: srv}
	if opts.UIPort != 0 {
		s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                opts.IP,
			Port:                opts.UIPort,
			TemporalGRPCAddress: s.FrontendAddress(),
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true,
			Codec: uiconfig.Codec{Endpoint: opts.CodecEndpoint,
				DefaultErrorMessage: "cannot reach the payload codec of fulfillment dev; payloads show encrypted"},
		}))
		s.uiErr = make(chan error, 1)
		go func() { s.uiErr <- s.ui.Start() }()
	}
	return s, nil
}

// withFatalToStderr makes the server's fatal messages reach stderr whatever
// logger it was given: the server ends the process after one (a port taken,
// a store it cannot open), and with a quiet logger it would end silently.
func withFatalToStderr(l *zap.Logger) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	fatal := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zap.FatalLevel)
	return l.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, fatal)
	}))
}

// FrontendAddress is the host:port clients dial.
func (s *Server) FrontendAddress() string {
	return net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.FrontendPort))
}

// UIURL is the Web UI's address, or "" when no UI runs.
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return "http://" + net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.UIPort))
}

// Namespace is the namespace the server was started with.
func (s *Server) Namespace() string { return s.opts.Namespace }

// Stop stops the UI and the server.
func (s *Server) Stop() {
	if s.ui != nil {
		s.ui.Stop()
	}
	if err := s.server.Stop(); err != nil {
		s.opts.Logger.Error("temporal server stop", zap.Error(err))
	}
}

func (o Options) sqlConfig() (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DataDir == "" {
		port := strconv.Itoa(o.FrontendPort)
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = "fulfillment-" + port
	} else {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("devserver: create data dir: %w", err)
		}
		conf.DatabaseName = filepath.Join(o.DataDir, dbFileName)
		// WAL with synchronous=NORMAL: measured more than twice the
		// throughput of the default rollback journal; a power cut can lose
		// the last transactions but never corrupts the file.
		conf.ConnectAttributes = map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
			"busy_timeout": "10000",
		}
		if _, err := os.Stat(conf.DatabaseName); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("devserver: set up schema: %w", err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("devserver: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	ns.Detail.Config.Retention = durationpb.New(o.Retention)
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}
	return conf, nil
}

func (o Options) serverConfig(sqlConf *config.SQL) (*config.Config, error) {
	frontendHTTP, err := FreePort(o.IP)
	if err != nil {
		return nil, err
	}
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = o.IP
	conf.Persistence.DefaultStore = "sqlite"
	conf.Persistence.VisibilityStore = "sqlite"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	frontend := net.JoinHostPort(o.IP, strconv.Itoa(o.FrontendPort))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            net.JoinHostPort(o.IP, strconv.Itoa(frontendHTTP)),
				ClusterID:              devClusterID,
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = o.IP
		if name == "frontend" {
			svc.RPC.GRPCPort = o.FrontendPort
			svc.RPC.HTTPPort = frontendHTTP
		} else {
			p, err := FreePort(o.IP)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf, nil
}
