package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/e2e/chaos"
)

// binaries are the programs the test runs, built from this module and the
// pinned Temporal server module (cached by the Go build cache).
type binaries struct {
	Server, SQLTool, Fulfillment string
	// SchemaDir is the pinned server module's schema directory.
	SchemaDir string
}

// buildBinaries builds the Temporal server and its SQL tool (go.mod's
// tools: `go tool -n` builds them once and keeps the executables in the Go
// build cache) and fulfillment, at the same time.
func buildBinaries(t *testing.T) binaries {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	type result struct {
		path string
		out  []byte
		err  error
	}
	run := func(args ...string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			out, err := exec.CommandContext(ctx, "go", args...).Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				out = append(out, ee.Stderr...)
			}
			ch <- result{strings.TrimSpace(string(out)), out, err}
		}()
		return ch
	}
	fulfillment := filepath.Join(dir, "fulfillment")
	own := run("build", "-o", fulfillment, "github.com/coursefulfill/fulfillment/cmd/fulfillment")
	server := run("tool", "-n", "go.temporal.io/server/cmd/server")
	sqlTool := run("tool", "-n", "go.temporal.io/server/cmd/tools/sql")
	mod := run("list", "-m", "-f", "{{.Dir}}", "go.temporal.io/server")
	var b binaries
	for _, r := range []struct {
		ch  <-chan result
		dst *string
	}{{own, nil}, {server, &b.Server}, {sqlTool, &b.SQLTool}, {mod, &b.SchemaDir}} {
		res := <-r.ch
		require.NoError(t, res.err, "go:\n%s", res.out)
		if r.dst != nil {
			*r.dst = res.path
		}
	}
	b.Fulfillment = fulfillment
	b.SchemaDir = filepath.Join(b.SchemaDir, "schema")
	return b
}

// repoFile is a file of this repository (the test runs in e2e/cluster).
func repoFile(t *testing.T, rel string) string {
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	_, err = os.Stat(p)
	require.NoError(t, err)
	return p
}

// ports hands out distinct free loopback ports below 32768: the Temporal
// server stores membership ports in a SMALLINT, and ports below the
// kernel's ephemeral range are not taken by outgoing connections between
// the check and the bind.
type ports struct{ used map[int]bool }

func (p *ports) next(t *testing.T) int {
	if p.used == nil {
		p.used = map[int]bool{}
	}
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if p.used[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		require.NoError(t, l.Close())
		p.used[port] = true
		return port
	}
	t.Fatal("no free port between 20000 and 32000")
	return 0
}

// process is one program the test started, its stderr and stdout in a
// log file.
type process struct{ *chaos.Process }

// start runs bin with args and exactly env (plus PATH), logging to a file
// under dir. It is stopped with SIGTERM (SIGKILL after 20 s) at cleanup,
// and its log's tail is shown when the test failed.
func start(t *testing.T, dir, name, bin string, env []string, args ...string) *process {
	cmd := command(dir, bin, env, args...)
	logPath := filepath.Join(dir, name+".log")
	cp, err := chaos.StartProcess(name, logPath, cmd)
	require.NoError(t, err)
	p := &process{cp}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("--- last lines of %s:\n%s", name, tail(logPath, 40))
		}
	})
	return p
}

// command is bin with args, run in dir with exactly env (plus PATH).
func command(dir, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Dir = dir
	return cmd
}

// stop ends the process gracefully (SIGTERM), killing it after 20 s.
func (p *process) stop(t *testing.T) {
	inTime, err := p.Stop(20 * time.Second)
	require.NoError(t, err)
	if !inTime {
		t.Errorf("%s did not stop within 20 s of SIGTERM; killed", p.Name)
	}
}

// kill9 ends the process at once, as a crash or an OOM kill would.
func (p *process) kill9(t *testing.T) {
	require.NoError(t, p.Kill())
}

// alive fails the test when the process has exited.
func (p *process) alive(t *testing.T) {
	select {
	case <-p.Done():
		t.Fatalf("%s exited: %v\n%s", p.Name, p.Err(), tail(p.Log, 40))
	default:
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitHTTP waits until url answers 200, failing early when p exits.
func waitHTTP(t *testing.T, p *process, url string, timeout time.Duration) {
	waitHTTPWith(t, http.DefaultClient, p, url, timeout)
}

// waitHTTPWith is waitHTTP with its own client (TLS).
func waitHTTPWith(t *testing.T, client *http.Client, p *process, url string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		p.alive(t)
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			require.NoError(t, rerr)
			require.NoError(t, resp.Body.Close())
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %s not ready after %s: %s\n%s", p.Name, url, timeout, last, tail(p.Log, 40))
}

// doJSON sends body as JSON (with a bearer token when not empty) and
// decodes a JSON answer into out (when not nil); it returns the status.
func doJSON(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "%s %s answered %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// scrape returns the Prometheus text at url.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// sample sums the samples of metric (name and exact label set prefix, e.g.
// `x_total{source="api"`) in a Prometheus text exposition.
func sample(text, metric string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, metric) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(metric):]
		if !(strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, ",") || strings.HasPrefix(rest, "}")) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}
