package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/worker"
)

// benchConfig configures `fulfillment bench`.
type benchConfig struct {
	mode       string
	inFlight   int
	lines      int
	lmsLatency time.Duration
	duration   time.Duration
	rounds     int
	poll       time.Duration
	dataDir    string
	// --mode large only (see bench_large.go).
	maxParallelLines int
	batchSize        int
	roundTimeout     time.Duration
	// cpuProfile is a file for a CPU profile of the whole run.
	cpuProfile string
}

// The modes of `fulfillment bench`.
const (
	benchModeThroughput = "throughput"
	benchModeLatency    = "latency"
	benchModeLarge      = "large"
)

// maxInFlight bounds --in-flight.
const maxInFlight = 1000

func newBenchCommand() *cobra.Command {
	return benchCommand(func(cmd *cobra.Command, cfg benchConfig) (err error) {
		stopProfile, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopProfile()) }()
		if cfg.mode == benchModeLarge {
			return runLargeBench(cmd, cfg)
		}
		return runRoundsBench(cmd, cfg)
	})
}

// benchCommand is `fulfillment bench` running run with the checked flags.
func benchCommand(run func(*cobra.Command, benchConfig) error) *cobra.Command {
	var cfg benchConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the order path against Temporal's own ceiling on the embedded stack",
		Long: `Start the whole product in this process (Temporal on a fresh SQLite file with
the same settings as dev, the worker, the API and the sandbox LMS with the
given latency per call), and beside it the ceiling: a bare workflow of the
same shape on the same server with the same worker settings, one activity
per line that only sleeps a line's LMS time (a read and a write, 2 x
--lms-latency). Rounds of each run in turn (ours, ceiling, ours, ...) so
the machine's noise hits both.

--mode throughput (default): --in-flight clients place orders of --lines
seat lines for --duration per round, --rounds rounds. "ours" places each
order with POST /api/v1/orders?wait=10s (the API answers once the order
has settled); "ours-poll" posts and then polls its status every --poll
(--poll 0 leaves it out); "ceiling" starts the bare workflow and waits with
its wait-done update. With --duration of 2m or more, the JSON line also
has ours' orders per second in the first and in the last minute of its
rounds (does it hold its pace as its data grows?).

--mode latency: the same, one order at a time, and "direct": the same
modules called with no Temporal (the price of durability).

--mode large: per round, ONE order of --lines (default 10,000) seat lines
through the API (courses created first, not timed), then the ceiling of the
same size and batching; seconds, the largest history among the order's
executions, and the process's peak RSS.

Prints a table, then one JSON object as the last line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.resolve(cmd.Flags().Changed); err != nil {
				return err
			}
			return run(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.mode, "mode", benchModeThroughput, "throughput, latency (one order at a time) or large (one order of --lines lines)")
	f.IntVar(&cfg.inFlight, "in-flight", 20, "orders in flight at once (throughput)")
	f.IntVar(&cfg.lines, "lines", 3, "seat lines per order (default 10000 with --mode large)")
	f.DurationVar(&cfg.lmsLatency, "lms-latency", 50*time.Millisecond, "latency the sandbox LMS adds to every call")
	f.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of one round of one variant (throughput, latency)")
	f.IntVar(&cfg.rounds, "rounds", 3, "rounds of each variant, interleaved")
	f.DurationVar(&cfg.poll, "poll", 20*time.Millisecond, "status polling interval of the ours-poll variant (throughput, latency; 0 leaves that variant out)")
	f.StringVar(&cfg.cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run (Temporal, worker, API, LMS) to this file (go tool pprof)")
	f.StringVar(&cfg.dataDir, "data-dir", "", "directory for the benchmark's database (default: a new temporary directory)")
	f.IntVar(&cfg.maxParallelLines, "max-parallel-lines", 0, "lines of the order fulfilled at the same time (large; default: the product's default for the order's size)")
	f.IntVar(&cfg.batchSize, "batch-size", contract.DefaultBatchSize, "most lines one execution fulfills; larger orders are split into batch children (large)")
	f.DurationVar(&cfg.roundTimeout, "round-timeout", 30*time.Minute, "how long one large order may take to be fulfilled (large)")
	return cmd
}

// resolve checks the flags of cfg.mode and fills the defaults that depend
// on the mode. changed reports whether a flag was set on the command line.
func (cfg *benchConfig) resolve(changed func(name string) bool) error {
	var foreign []string
	switch cfg.mode {
	case benchModeThroughput:
		foreign = []string{"max-parallel-lines", "batch-size", "round-timeout"}
	case benchModeLatency:
		foreign = []string{"in-flight", "max-parallel-lines", "batch-size", "round-timeout"}
		cfg.inFlight = 1
	case benchModeLarge:
		foreign = []string{"in-flight", "duration", "poll"}
		if !changed("lines") {
			cfg.lines = order.MaxLines
		}
	default:
		return fmt.Errorf("--mode must be %s, %s or %s, not %q", benchModeThroughput, benchModeLatency, benchModeLarge, cfg.mode)
	}
	for _, name := range foreign {
		if changed(name) {
			return fmt.Errorf("--%s does not apply to --mode %s", name, cfg.mode)
		}
	}
	switch {
	case cfg.lines < 1 || cfg.lines > order.MaxLines:
		return fmt.Errorf("--lines must be from 1 to %d (the most lines of one order)", order.MaxLines)
	case cfg.inFlight < 1 || cfg.inFlight > maxInFlight:
		return fmt.Errorf("--in-flight must be from 1 to %d", maxInFlight)
	case cfg.lmsLatency < 0:
		return errors.New("--lms-latency must not be negative")
	case cfg.duration <= 0:
		return errors.New("--duration must be positive")
	case cfg.rounds < 1:
		return errors.New("--rounds must be at least 1")
	case cfg.poll < 0:
		return errors.New("--poll must not be negative")
	case cfg.maxParallelLines < 0:
		return errors.New("--max-parallel-lines must not be negative (0: the product's default)")
	case cfg.batchSize < 1 || cfg.batchSize > contract.MaxBatchSize:
		return fmt.Errorf("--batch-size must be from 1 to %d", contract.MaxBatchSize)
	case cfg.roundTimeout <= 0:
		return errors.New("--round-timeout must be positive")
	}
	return nil
}

// startBenchStack starts the whole stack in this process for a benchmark:
// Temporal on a fresh database in cfg.dataDir (a new temporary directory
// when empty), the worker, the API starting orders with opts, and the
// sandbox LMS persisted as under dev, with cfg.lmsLatency on every call. stop closes the
// stack and removes the temporary directory.
func startBenchStack(ctx context.Context, cfg benchConfig, opts contract.Options) (_ *stack.Stack, stop func(), err error) {
	dir, cleanup := cfg.dataDir, func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fulfillment-bench-")
		if err != nil {
			return nil, nil, err
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	// The order worker and the ceiling's run with the same settings.
	var wopts worker.Options
	// The sandbox LMS persists its state as under dev (its journal).
	s, err := stack.Start(ctx, stack.Config{DataDir: dir, UIPort: -1, LMSAutoRegister: true,
		Options: opts, Worker: wopts, Logger: zap.NewNop()})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	ceiling, err := startCeilingWorker(s.Client, wopts)
	if err != nil {
		s.Close()
		cleanup()
		return nil, nil, err
	}
	stop = func() { ceiling.Stop(); s.Close(); cleanup() }
	if err := sandboxAdmin(ctx, s.LMSURL, "/sandbox/faults", map[string]any{"latency_ms": cfg.lmsLatency.Milliseconds()}); err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// benchCourse is the course run of a benchmark order's l-th line.
func benchCourse(l int) string { return fmt.Sprintf("course-v1:Bench+C%d+2026", l+1) }

// sandboxAdmin posts to the sandbox LMS's admin API.
func sandboxAdmin(ctx context.Context, lmsURL, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lmsURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox LMS %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sandbox LMS %s: status %d", path, resp.StatusCode)
	}
	return nil
}

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// medianOf is the median of vals (0 for none); vals is not changed.
func medianOf(vals []float64) float64 {
	n := len(vals)
	if n == 0 {
		return 0
	}
	vals = slices.Sorted(slices.Values(vals))
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}
