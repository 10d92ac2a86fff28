// Package chaos is the fault-survival suite: a load driver that pushes
// orders of mixed lines, refunds and operator retries through the HTTP API
// while a fault schedule kills worker processes, crashes and restarts the
// Temporal server, takes the LMS down and makes it answer with 5xx, 429
// and lost answers; then, once the system has settled, it checks from the
// outside that every order reached the status the reference ledger model
// (package ledger) predicts, that none was lost, and that the sandbox LMS
// holds exactly the expected enrollments, written no more often than
// needed.
//
// The system under test is a Target: where its API and LMS are and how to
// kill and start its workers and its server. DevTarget runs `fulfillment
// dev --worker=false`, a `fulfillment api` and worker processes on
// loopback; a cluster plugs in by implementing Target.
package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// Target is the system under test. What the model assumes of it: the
// sandbox LMS registers unknown learners on first use (--auto-register),
// the workers do not pre-enroll by email (LMS_PRE_ENROLL_BY_EMAIL unset or
// false), and the API gives orders a short line timeout (DevTarget: 5 s)
// so that an attempt on a killed worker is retried soon. A cluster target
// runs the suite with
//
//	res, err := chaos.Run(ctx, target, chaos.Config{Orders: 250, Concurrency: 31, Seed: 1, Name: "c1",
//		ClientTimeout: 45 * time.Second, Timeout: 10 * time.Minute, SettleTimeout: 3 * time.Minute})
//
// and fails on res.Failures() (what the run found, and a fault schedule
// that did not run in full).
type Target interface {
	// APIURL and APIToken: where the driver sends orders, refunds and
	// retries, and its bearer token.
	APIURL() string
	APIToken() string
	// LMSURL is the sandbox LMS (its admin API under /sandbox/ sets up
	// learners and courses, injects faults and lists enrollments).
	LMSURL() string
	// Workers is how many worker processes run.
	Workers() int
	// KillWorker kills worker i with SIGKILL; StartWorker starts it again.
	KillWorker(i int) error
	StartWorker(i int) error
	// CrashServer kills the Temporal server's process with SIGKILL (its
	// store is kept); StartServer starts it again and returns once it
	// serves. A target whose sandbox LMS lives in the server's process
	// loses it for as long (its state is persisted).
	CrashServer() error
	StartServer(ctx context.Context) error
	// Close stops every process.
	Close()
}

// DevTarget runs the product as separate processes on loopback:
// `fulfillment dev --worker=false` (Temporal on SQLite, the sandbox LMS),
// `fulfillment api` against it, and Workers `fulfillment worker`
// processes.
type DevTarget struct {
	bin, dataDir, token      string
	temporalPort, devAPIPort int
	apiPort, lmsPort         int
	// Options are flags of the order options (they travel in each order)
	// given to `fulfillment api`.
	options []string
	logDir  string

	mu      sync.Mutex
	dev     *Process
	api     *Process
	workers []*Process
}

// DevConfig configures a DevTarget.
type DevConfig struct {
	// Binary is the fulfillment binary.
	Binary string
	// Dir holds the data directory and the processes' logs.
	Dir     string
	Workers int
	// LineTimeout and RetryHorizon are the orders' --line-timeout and
	// --retry-horizon.
	LineTimeout, RetryHorizon time.Duration
}

// StartDev starts a DevTarget and returns once its API serves.
func StartDev(ctx context.Context, cfg DevConfig) (_ *DevTarget, err error) {
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = devserver.FreePort("127.0.0.1"); err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
	}
	d := &DevTarget{bin: cfg.Binary, dataDir: filepath.Join(cfg.Dir, "data"), logDir: filepath.Join(cfg.Dir, "logs"),
		token: "chaos-token", temporalPort: ports[0], devAPIPort: ports[1], apiPort: ports[2], lmsPort: ports[3],
		options: []string{"--line-timeout", cfg.LineTimeout.String(), "--retry-horizon", cfg.RetryHorizon.String()},
		workers: make([]*Process, cfg.Workers)}
	if err := os.MkdirAll(d.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err := d.StartServer(ctx); err != nil {
		return nil, err
	}
	api, err := d.start("api", []string{"api", "--temporal-address", d.temporalAddr(), "--listen", "127.0.0.1",
		"--http-port", strconv.Itoa(d.apiPort), "--log-level", "warn"}, d.options...)
	if err != nil {
		return nil, err
	}
	d.api = api
	if err := WaitHealthy(ctx, nil, d.APIURL()+"/readyz", api); err != nil {
		return nil, fmt.Errorf("api: %w (log in %s)", err, d.logDir)
	}
	for i := range d.workers {
		if err := d.StartWorker(i); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *DevTarget) temporalAddr() string { return "127.0.0.1:" + strconv.Itoa(d.temporalPort) }

// APIURL is the `fulfillment api` process's.
func (d *DevTarget) APIURL() string { return "http://127.0.0.1:" + strconv.Itoa(d.apiPort) }

// APIToken is the API's bearer token.
func (d *DevTarget) APIToken() string { return d.token }

// LMSURL is the sandbox LMS of the dev process.
func (d *DevTarget) LMSURL() string { return "http://127.0.0.1:" + strconv.Itoa(d.lmsPort) }

// Workers is the number of worker processes.
func (d *DevTarget) Workers() int { return len(d.workers) }

// StartServer starts `fulfillment dev --worker=false` on the data
// directory and waits until its API serves.
func (d *DevTarget) StartServer(ctx context.Context) error {
	p, err := d.start("dev", []string{"dev", "--worker=false", "--data-dir", d.dataDir,
		"--temporal-port", strconv.Itoa(d.temporalPort), "--ui-port", "-1", "--http-port", strconv.Itoa(d.devAPIPort),
		"--lms-port", strconv.Itoa(d.lmsPort), "--lms-auto-register", "--log-level", "error"})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.dev = p
	d.mu.Unlock()
	if err := WaitHealthy(ctx, nil, "http://127.0.0.1:"+strconv.Itoa(d.devAPIPort)+"/readyz", p); err != nil {
		return fmt.Errorf("dev: %w (log in %s)", err, d.logDir)
	}
	return nil
}

// CrashServer kills the dev process with SIGKILL.
func (d *DevTarget) CrashServer() error {
	d.mu.Lock()
	p := d.dev
	d.dev = nil
	d.mu.Unlock()
	return p.Kill()
}

// KillWorker kills worker i with SIGKILL.
func (d *DevTarget) KillWorker(i int) error {
	d.mu.Lock()
	p := d.workers[i]
	d.workers[i] = nil
	d.mu.Unlock()
	return p.Kill()
}

// StartWorker starts worker i against the dev server and its sandbox LMS.
func (d *DevTarget) StartWorker(i int) error {
	p, err := d.start(fmt.Sprintf("worker-%d", i), []string{"worker", "--temporal-address", d.temporalAddr(),
		"--prepare-namespace=false", "--log-level", "warn", "--metrics-listen", "127.0.0.1:0"})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.workers[i] = p
	d.mu.Unlock()
	return nil
}

// start starts the binary with args, its output appended to a log file of
// its name.
func (d *DevTarget) start(name string, args []string, extra ...string) (*Process, error) {
	cmd := exec.Command(d.bin, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "FULFILLMENT_API_TOKEN="+d.token, "LMS_URL="+d.LMSURL(),
		"LMS_CLIENT_ID="+sandbox.DevClientID, "LMS_CLIENT_SECRET="+sandbox.DevClientSecret, "LMS_PRE_ENROLL_BY_EMAIL=false")
	return StartProcess(name, filepath.Join(d.logDir, name+".log"), cmd)
}

// Close kills every process.
func (d *DevTarget) Close() {
	d.mu.Lock()
	ps := append([]*Process{d.api, d.dev}, d.workers...)
	d.mu.Unlock()
	for _, p := range ps {
		if p != nil {
			_ = p.Kill()
		}
	}
}
