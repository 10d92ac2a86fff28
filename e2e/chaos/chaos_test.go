package chaos

// TestChaos runs the fault-survival suite against `fulfillment dev
// --worker=false`, a `fulfillment api` and two `fulfillment worker`
// processes on loopback:
//
//	go test -count=1 -run TestChaos ./e2e/chaos/                       # the CI size
//	go test -count=1 -run TestChaos ./e2e/chaos/ -chaos.orders=1000 -timeout 60m -v \
//	    -chaos.report=/tmp/chaos.md                                    # the full size
//
// The seed fixes the orders and what is done with them, not the timing.

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	chaosOrders      = flag.Int("chaos.orders", 250, "TestChaos: orders to place (the full size is 1000)")
	chaosConcurrency = flag.Int("chaos.concurrency", 0, "TestChaos: orders worked on at a time (0: orders/8, at most 64)")
	chaosSeed        = flag.Int64("chaos.seed", 1, "TestChaos: the seed of the orders")
	chaosWorkers     = flag.Int("chaos.workers", 2, "TestChaos: worker processes")
	chaosTimeout     = flag.Duration("chaos.timeout", 0, "TestChaos: bound of the run (0: 4 min + 1 s an order)")
	chaosDir         = flag.String("chaos.dir", "", "TestChaos: keep the data and the processes' logs here (default: a temporary directory)")
	chaosReport      = flag.String("chaos.report", "", "TestChaos: write the result tables (Markdown) to this file")
)

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as five processes for minutes; run without -short")
	}
	n := *chaosOrders
	conc := *chaosConcurrency
	if conc == 0 {
		conc = min(max(n/8, 8), 64)
	}
	timeout := *chaosTimeout
	if timeout == 0 {
		timeout = 4*time.Minute + time.Duration(n)*time.Second
	}
	dir := *chaosDir
	if dir == "" {
		dir = t.TempDir()
	}
	bin := filepath.Join(dir, "fulfillment")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/fulfillment").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	started := time.Now()
	target, err := StartDev(ctx, DevConfig{Binary: bin, Dir: dir, Workers: *chaosWorkers, LineTimeout: 5 * time.Second,
		RetryHorizon: time.Hour})
	require.NoError(t, err)
	defer target.Close()
	t.Logf("processes up in %s (logs in %s)", time.Since(started).Round(time.Millisecond), filepath.Join(dir, "logs"))

	res, err := Run(ctx, target, Config{Orders: n, Concurrency: conc, Seed: *chaosSeed, Name: "s" + strconv.FormatInt(*chaosSeed, 10),
		ClientTimeout: 45 * time.Second, Timeout: timeout, SettleTimeout: 3 * time.Minute,
		Log: func(format string, args ...any) { t.Logf(format, args...) }})
	require.NoError(t, err)
	table := res.Markdown()
	t.Logf("result:\n%s", table)
	if *chaosReport != "" {
		require.NoError(t, os.WriteFile(*chaosReport, []byte(table), 0o644))
	}

	require.Equal(t, n, res.Orders)
	require.Zero(t, res.Lost, "orders lost")
	if failures := res.Failures(); len(failures) > 0 {
		logTail(t, filepath.Join(dir, "logs"))
		t.Errorf("%d failures:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
}

// logTail logs the processes' last warnings and errors.
func logTail(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "error") || strings.Contains(l, "warn") || strings.Contains(l, "panic") {
				lines = append(lines, l)
			}
		}
		lines = lines[max(0, len(lines)-15):]
		t.Logf("%s, last warnings and errors:\n%s", filepath.Base(f), strings.Join(lines, "\n"))
	}
}
