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
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	settings     = RegisterFlags(flag.CommandLine, "TestChaos", 250)
	chaosWorkers = flag.Int("chaos.workers", 2, "TestChaos: worker processes")
	chaosDir     = flag.String("chaos.dir", "", "TestChaos: keep the data and the processes' logs here (default: a temporary directory)")
)

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as five processes for minutes; run without -short")
	}
	cfg := settings.Config(t, "s")
	dir := *chaosDir
	if dir == "" {
		dir = t.TempDir()
	}
	bin := filepath.Join(dir, "fulfillment")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/fulfillment").CombinedOutput()
	require.NoError(t, err, "%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+time.Minute)
	defer cancel()
	started := time.Now()
	target, err := StartDev(ctx, DevConfig{Binary: bin, Dir: dir, Workers: *chaosWorkers, LineTimeout: 5 * time.Second,
		RetryHorizon: time.Hour})
	require.NoError(t, err)
	defer target.Close()
	t.Logf("processes up in %s (logs in %s)", time.Since(started).Round(time.Millisecond), filepath.Join(dir, "logs"))

	res, err := Run(ctx, target, cfg)
	require.NoError(t, err)
	if !settings.Check(t, res) {
		logTail(t, filepath.Join(dir, "logs"))
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
