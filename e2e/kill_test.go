package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// devProcess is one `fulfillment dev` process.
type devProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	apiURL string
	lmsURL string
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildBinary builds cmd/fulfillment once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fulfillment")
	build := exec.Command("go", "build", "-o", bin, "../cmd/fulfillment")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		p, err := devserver.FreePort("127.0.0.1")
		require.NoError(t, err)
		ports[i] = p
	}
	return ports
}

const killTestToken = "kill-test-token"

func startDev(t *testing.T, bin, dataDir string, ports []int) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir,
		"--temporal-port", strconv.Itoa(ports[0]), "--ui-port", strconv.Itoa(ports[1]),
		"--http-port", strconv.Itoa(ports[2]), "--lms-port", strconv.Itoa(ports[3]),
		"--line-timeout", "3s", "--log-level", "error")
	cmd.Env = append(os.Environ(), "FULFILLMENT_API_TOKEN="+killTestToken)
	p := &devProcess{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1),
		apiURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2]), lmsURL: fmt.Sprintf("http://127.0.0.1:%d", ports[3])}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.apiURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 90*time.Second, 100*time.Millisecond, "dev did not come up:\n%s", p.out)
	return p
}

func (p *devProcess) status(t *testing.T, number string) (contract.StatusDocument, int) {
	var st contract.StatusDocument
	code := callURL(t, http.MethodGet, p.apiURL+"/api/v1/orders/"+number, killTestToken, nil, &st)
	return st, code
}

// Killing the process in the middle of an order and starting it again on
// the same data directory completes that order, without a second write.
func TestKillMidOrderThenRestartCompletesIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and restarts it; run without -short")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	ports := freePorts(t, 4)
	p := startDev(t, bin, dataDir, ports)

	// A second instance on the same ports stops with a clear message.
	second := exec.Command(bin, "dev", "--data-dir", t.TempDir(),
		"--temporal-port", strconv.Itoa(ports[0]), "--ui-port", strconv.Itoa(ports[1]),
		"--http-port", strconv.Itoa(ports[2]), "--lms-port", strconv.Itoa(ports[3]))
	out, err := second.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), fmt.Sprintf("port %d is already in use", ports[0]))
	require.Contains(t, string(out), "--temporal-port")
	require.NotContains(t, string(out), "panic")

	// A slow LMS keeps the order's lines in flight when the process dies.
	require.Less(t, callURL(t, http.MethodPost, p.lmsURL+"/sandbox/faults", "", map[string]any{"latency_ms": 1500}, nil), 300)
	number := newNumber("KILL")
	o := map[string]any{
		"number": number,
		"user":   map[string]any{"username": "grace"},
		"lines": []map[string]any{
			{"id": "1", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "verified"},
			{"id": "2", "product_type": "seat", "course_id": sandbox.CreditCourseID, "mode": "audit"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	}
	require.Equal(t, http.StatusAccepted, callURL(t, http.MethodPost, p.apiURL+"/api/v1/orders", killTestToken, o, nil))
	time.Sleep(500 * time.Millisecond)
	st, code := p.status(t, number)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, contract.OrderFulfilling, st.Status)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done

	p = startDev(t, bin, dataDir, ports)
	require.Eventually(t, func() bool {
		st, code = p.status(t, number)
		return code == http.StatusOK && st.Status == contract.OrderFulfilled
	}, 60*time.Second, 200*time.Millisecond, "order not fulfilled after restart: %+v\n%s", st, p.out)

	var snap sandbox.Snapshot
	require.Equal(t, http.StatusOK, callURL(t, http.MethodGet, p.lmsURL+"/sandbox/enrollments?user=grace", "", nil, &snap))
	for _, course := range []string{sandbox.DemoCourseID, sandbox.CreditCourseID} {
		found := false
		for _, e := range snap.Enrollments {
			if e.User == "grace" && e.CourseID == course {
				found = true
				require.True(t, e.IsActive, course)
				require.Equal(t, 1, e.Writes, "%s written more than once across the crash", course)
			}
		}
		require.True(t, found, "no enrollment in %s", course)
	}

	// Ctrl-C stops cleanly, and the next start still has the order.
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-p.done:
		require.NoError(t, err, "dev did not exit cleanly:\n%s", p.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("dev did not stop within 30 s of Ctrl-C:\n%s", p.out)
	}
	p = startDev(t, bin, dataDir, ports)
	st, code = p.status(t, number)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, contract.OrderFulfilled, st.Status)
}
