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
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/stack"
)

// benchConfig configures `fulfillment bench`.
type benchConfig struct {
	mode        string
	orders      int
	concurrency int
	lines       int
	runs        int
	lmsLatency  time.Duration
	poll        time.Duration
	dataDir     string
	jsonOut     bool
	// --mode large only (see bench_large.go).
	rounds           int
	maxParallelLines int
	batchSize        int
	roundTimeout     time.Duration
}

// The modes of `fulfillment bench`.
const (
	benchModeThroughput = "throughput"
	benchModeLarge      = "large"
)

// benchRun is what one run measured.
type benchRun struct {
	Orders       int           `json:"orders"`
	Wall         time.Duration `json:"wall_ns"`
	OrdersPerSec float64       `json:"orders_per_sec"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	Max          time.Duration `json:"max_ns"`
}

// benchReport is the whole benchmark: every run and the medians across them.
type benchReport struct {
	Config struct {
		Orders, Concurrency, LinesPerOrder, Runs int
		LMSLatency                               string
	} `json:"config"`
	Runs               []benchRun `json:"runs"`
	MedianOrdersPerSec float64    `json:"median_orders_per_sec"`
	MedianP50          string     `json:"median_p50"`
	MedianP99          string     `json:"median_p99"`
}

func newBenchCommand() *cobra.Command {
	return benchCommand(func(cmd *cobra.Command, cfg benchConfig) error {
		if cfg.mode == benchModeLarge {
			return runLargeBench(cmd, cfg)
		}
		return runBench(cmd, cfg)
	})
}

// benchCommand is `fulfillment bench` running run with the checked flags.
func benchCommand(run func(*cobra.Command, benchConfig) error) *cobra.Command {
	var cfg benchConfig
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure end-to-end order throughput and latency, or one large order, on the embedded stack",
		Long: `Start the whole product in this process (Temporal on a fresh SQLite file with
the same settings as dev, the worker, the API and the sandbox LMS with the
given latency per call), then measure.

--mode throughput (the default): for each run, place --orders orders of
--lines seat lines each through the HTTP API from --concurrency clients.
Each order's latency runs from its POST until a status read through the API
shows it fulfilled (polled every --poll). Prints each run and the medians
across runs.

--mode large: for each of --rounds rounds, create --lines (default 10,000)
fresh course runs in the sandbox LMS (not timed), place ONE order of that
many seat lines for a fresh learner through the API, and time it from the
POST until its status reads fulfilled with every line fulfilled (polled
every --poll, 250ms unless set). Then read the largest history (in events)
among the order's workflow and its batch children. Prints a table of the
rounds, the medians, the process's peak RSS, and a JSON object as the last
line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.resolve(cmd.Flags().Changed); err != nil {
				return err
			}
			return run(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.mode, "mode", benchModeThroughput, "what to measure: throughput (many small orders) or large (one order of --lines lines)")
	f.IntVar(&cfg.orders, "orders", 200, "orders per run (throughput)")
	f.IntVar(&cfg.concurrency, "concurrency", 20, "orders in flight at once (throughput)")
	f.IntVar(&cfg.lines, "lines", 3, "seat lines per order (default 10000 with --mode large)")
	f.IntVar(&cfg.runs, "runs", 3, "runs (throughput; the report gives medians)")
	f.DurationVar(&cfg.lmsLatency, "lms-latency", 50*time.Millisecond, "latency the sandbox LMS adds to every call")
	f.DurationVar(&cfg.poll, "poll", 20*time.Millisecond, "status polling interval (default 250ms with --mode large)")
	f.StringVar(&cfg.dataDir, "data-dir", "", "directory for the benchmark's database (default: a new temporary directory)")
	f.BoolVar(&cfg.jsonOut, "json", false, "print the report as JSON (throughput; large always ends with a JSON line)")
	f.IntVar(&cfg.rounds, "rounds", 3, "rounds (large; the report gives medians)")
	f.IntVar(&cfg.maxParallelLines, "max-parallel-lines", contract.DefaultMaxParallelLines, "lines of the order fulfilled at the same time (large)")
	f.IntVar(&cfg.batchSize, "batch-size", contract.DefaultBatchSize, "most lines one execution fulfills; larger orders are split into batch children (large)")
	f.DurationVar(&cfg.roundTimeout, "round-timeout", 30*time.Minute, "how long one large order may take to be fulfilled (large)")
	return cmd
}

func runBench(cmd *cobra.Command, cfg benchConfig) error {
	if cfg.orders < 1 || cfg.concurrency < 1 || cfg.lines < 1 || cfg.runs < 1 {
		return errors.New("--orders, --concurrency, --lines and --runs must be at least 1")
	}
	ctx := cmd.Context()
	s, stop, err := startBenchStack(ctx, cfg, contract.Options{})
	if err != nil {
		return err
	}
	defer stop()
	for l := range cfg.lines {
		if err := sandboxAdmin(ctx, s.LMSURL, "/sandbox/courses", map[string]any{"course_id": benchCourse(l), "modes": []string{"audit", "verified"}}); err != nil {
			return err
		}
	}
	c := &api.Client{BaseURL: s.APIURL, Token: s.APIToken}
	report := benchReport{}
	report.Config.Orders, report.Config.Concurrency, report.Config.LinesPerOrder, report.Config.Runs =
		cfg.orders, cfg.concurrency, cfg.lines, cfg.runs
	report.Config.LMSLatency = cfg.lmsLatency.String()
	stamp := time.Now().UnixNano()
	for r := range cfg.runs {
		run, err := benchOnce(ctx, c, cfg, fmt.Sprintf("B%d-%d", stamp%1_000_000_000, r))
		if err != nil {
			return err
		}
		report.Runs = append(report.Runs, run)
		if !cfg.jsonOut {
			fmt.Fprintf(cmd.ErrOrStderr(), "run %d: %d orders in %s: %.1f orders/s, p50 %s, p99 %s, max %s\n",
				r+1, run.Orders, run.Wall.Round(time.Millisecond), run.OrdersPerSec,
				run.P50.Round(time.Millisecond), run.P99.Round(time.Millisecond), run.Max.Round(time.Millisecond))
		}
	}
	report.MedianOrdersPerSec = median(report.Runs, func(r benchRun) float64 { return r.OrdersPerSec })
	report.MedianP50 = time.Duration(median(report.Runs, func(r benchRun) float64 { return float64(r.P50) })).Round(time.Millisecond).String()
	report.MedianP99 = time.Duration(median(report.Runs, func(r benchRun) float64 { return float64(r.P99) })).Round(time.Millisecond).String()
	if cfg.jsonOut {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "median of %d runs (%d orders x %d lines, %d in flight, LMS latency %s): %.1f orders/s, p50 %s, p99 %s\n",
		cfg.runs, cfg.orders, cfg.lines, cfg.concurrency, cfg.lmsLatency, report.MedianOrdersPerSec, report.MedianP50, report.MedianP99)
	return nil
}

// benchOnce places cfg.orders orders from cfg.concurrency clients and waits
// until every one is fulfilled.
func benchOnce(ctx context.Context, c *api.Client, cfg benchConfig, prefix string) (benchRun, error) {
	latencies := make([]time.Duration, cfg.orders)
	next := make(chan int)
	errs := make(chan error, cfg.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := benchOrder(ctx, c, cfg, fmt.Sprintf("%s-%d", prefix, i))
				if err != nil {
					errs <- err
					return
				}
				latencies[i] = d
			}
		}()
	}
	var err error
feed:
	for i := range cfg.orders {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return benchRun{}, err
	}
	wall := time.Since(start)
	slices.Sort(latencies)
	return benchRun{Orders: cfg.orders, Wall: wall, OrdersPerSec: float64(cfg.orders) / wall.Seconds(),
		P50: percentile(latencies, 50), P99: percentile(latencies, 99), Max: latencies[len(latencies)-1]}, nil
}

func benchOrder(ctx context.Context, c *api.Client, cfg benchConfig, number string) (time.Duration, error) {
	user := "bench" + strings.ReplaceAll(strings.ToLower(number), "-", "")
	o := order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now().UTC()}
	for l := range cfg.lines {
		o.Lines = append(o.Lines, order.Line{ID: fmt.Sprint(l + 1), ProductType: order.ProductSeat,
			CourseID: benchCourse(l), Mode: "verified"})
	}
	start := time.Now()
	if _, err := c.CreateOrder(ctx, o); err != nil {
		return 0, fmt.Errorf("order %s: %w", number, err)
	}
	deadline := start.Add(2 * time.Minute)
	for {
		st, err := c.Status(ctx, number)
		if err != nil {
			return 0, fmt.Errorf("status of %s: %w", number, err)
		}
		switch st.Status {
		case contract.OrderFulfilled:
			return time.Since(start), nil
		case contract.OrderFulfillmentError:
			return 0, fmt.Errorf("order %s failed: %+v", number, st.Lines)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("order %s not fulfilled within 2 minutes", number)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(cfg.poll):
		}
	}
}

// startBenchStack starts the whole stack in this process for a benchmark:
// Temporal on a fresh database in cfg.dataDir (a new temporary directory
// when empty), the worker, the API starting orders with opts, and the
// sandbox LMS in memory with cfg.lmsLatency on every call. stop closes the
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
	s, err := stack.Start(ctx, stack.Config{DataDir: dir, UIPort: -1, LMSAutoRegister: true, LMSInMemory: true,
		Options: opts, Logger: zap.NewNop()})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	stop = func() { s.Close(); cleanup() }
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

func median(runs []benchRun, f func(benchRun) float64) float64 {
	vals := make([]float64, len(runs))
	for i, r := range runs {
		vals[i] = f(r)
	}
	return medianOf(vals)
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
