package cluster

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/e2e/chaos"
)

// The fault-survival suite's flags, as e2e/chaos names them:
//
//	go test -count=1 -run TestCluster ./e2e/cluster/                   # the CI size
//	go test -count=1 -run TestCluster ./e2e/cluster/ -chaos.orders=1000 -timeout 60m -v \
//	    -chaos.report=/tmp/chaos-cluster.md                            # the full size
var chaosSettings = chaos.RegisterFlags(flag.CommandLine, "TestCluster", 120)

// clusterTarget is chaos.Target on the cluster's processes: the Temporal
// server on PostgreSQL (a crash is SIGKILL, and it starts again on the
// same database and ports), two `fulfillment worker` processes, a
// `fulfillment api` and a sandbox LMS process of its own that stays up
// through a server crash.
type clusterTarget struct {
	dir, bin          string
	apiURL, lmsURL    string
	token             string
	workerEnv         []string
	workerMetricsPort []int
	// server is how to start the Temporal server again, and its health
	// check (the frontend's HTTP API, with mTLS).
	serverCmd    func() *exec.Cmd
	serverHealth string
	tlsClient    *http.Client

	mu      sync.Mutex
	server  *chaos.Process
	workers []*chaos.Process
}

// runChaos runs the fault-survival suite against the cluster's server and
// PostgreSQL: its own sandbox LMS (learners registered on first use), API
// (5 s line timeout, as the suite's model assumes) and two workers. The
// scenario's workers must have stopped: they poll the same task queue.
func (c *cluster) runChaos(t *testing.T, srv *server, tokenFile string) {
	lmsPort := c.ports.next(t)
	lms := start(t, c.dir, "chaos-lms", c.bins.Fulfillment, nil, "sandbox-lms", "--host", "127.0.0.1",
		"--port", strconv.Itoa(lmsPort), "--client-id", "fulfillment-worker", "--client-secret", c.lmsSecret,
		"--auto-register", "--log-format", "json")
	lmsURL := fmt.Sprintf("http://127.0.0.1:%d", lmsPort)
	waitHTTP(t, lms, lmsURL+"/sandbox/faults", 30*time.Second)

	apiPort := c.ports.next(t)
	api := start(t, c.dir, "chaos-api", c.bins.Fulfillment, append([]string{"FULFILLMENT_API_TOKEN_FILE=" + tokenFile}, c.temporalEnv...),
		"api", "--listen", "127.0.0.1", "--http-port", strconv.Itoa(apiPort), "--line-timeout", "5s", "--retry-horizon", "1h", "--log-level", "warn")
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	waitHTTP(t, api, apiURL+"/readyz", time.Minute)

	var env []string
	for _, kv := range c.workerEnv {
		if !strings.HasPrefix(kv, "LMS_URL=") {
			env = append(env, kv)
		}
	}
	ct := &clusterTarget{dir: c.dir, bin: c.bins.Fulfillment, apiURL: apiURL, lmsURL: lmsURL, token: c.token,
		workerEnv:         append(env, "LMS_URL="+lmsURL, "LMS_PRE_ENROLL_BY_EMAIL=false"),
		workerMetricsPort: []int{c.ports.next(t), c.ports.next(t)},
		serverCmd:         srv.cmd, serverHealth: srv.httpURL + "/api/v1/cluster-info", tlsClient: c.pki.httpClient(false),
		server: srv.proc.Process, workers: make([]*chaos.Process, 2)}
	t.Cleanup(ct.Close)
	for i := range ct.workers {
		require.NoError(t, ct.StartWorker(i))
	}

	cfg := chaosSettings.Config(t, "cl")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+time.Minute)
	defer cancel()
	res, err := chaos.Run(ctx, ct, cfg)
	require.NoError(t, err)
	chaosSettings.Check(t, res)
}

// APIURL is the chaos phase's `fulfillment api`.
func (ct *clusterTarget) APIURL() string { return ct.apiURL }

// APIToken is the API's bearer token.
func (ct *clusterTarget) APIToken() string { return ct.token }

// LMSURL is the chaos phase's sandbox LMS process.
func (ct *clusterTarget) LMSURL() string { return ct.lmsURL }

// Workers is the number of worker processes.
func (ct *clusterTarget) Workers() int { return len(ct.workers) }

// KillWorker kills worker i with SIGKILL.
func (ct *clusterTarget) KillWorker(i int) error {
	ct.mu.Lock()
	p := ct.workers[i]
	ct.workers[i] = nil
	ct.mu.Unlock()
	return p.Kill()
}

// StartWorker starts worker i with the production environment, its
// metrics on its own port.
func (ct *clusterTarget) StartWorker(i int) error {
	name := fmt.Sprintf("chaos-worker-%d", i)
	cmd := command(ct.dir, ct.bin, append([]string{fmt.Sprintf("FULFILLMENT_METRICS_LISTEN=127.0.0.1:%d", ct.workerMetricsPort[i])},
		ct.workerEnv...), "worker", "--log-level", "warn")
	p, err := chaos.StartProcess(name, filepath.Join(ct.dir, name+".log"), cmd)
	if err != nil {
		return err
	}
	ct.mu.Lock()
	ct.workers[i] = p
	ct.mu.Unlock()
	return nil
}

// CrashServer kills the Temporal server with SIGKILL; PostgreSQL keeps
// its store.
func (ct *clusterTarget) CrashServer() error {
	ct.mu.Lock()
	p := ct.server
	ct.server = nil
	ct.mu.Unlock()
	return p.Kill()
}

// StartServer starts the Temporal server again on the same PostgreSQL and
// ports and returns once its frontend serves.
func (ct *clusterTarget) StartServer(ctx context.Context) error {
	p, err := chaos.StartProcess("temporal-server", filepath.Join(ct.dir, "temporal-server.log"), ct.serverCmd())
	if err != nil {
		return err
	}
	ct.mu.Lock()
	ct.server = p
	ct.mu.Unlock()
	return chaos.WaitHealthy(ctx, ct.tlsClient, ct.serverHealth, p)
}

// Close kills the workers and the server (the API and the LMS are the
// test's, stopped at its cleanup).
func (ct *clusterTarget) Close() {
	ct.mu.Lock()
	ps := append([]*chaos.Process{ct.server}, ct.workers...)
	ct.mu.Unlock()
	for _, p := range ps {
		if p != nil {
			_ = p.Kill() // killing a process that has exited is no error
		}
	}
}
