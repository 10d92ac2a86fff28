// Package cluster runs fulfillment as it runs in production, without
// Docker: a throwaway PostgreSQL, the Temporal schema installed by the
// server's own SQL tool (deploy/temporal/setup-schema.sh), the real Temporal
// server on deploy/temporal/config.yaml, two `fulfillment worker`
// processes, one `fulfillment api` and a sandbox LMS, all built from the
// pinned modules and talking over loopback. It drives orders, a refund and
// an operator retry through the HTTP API, checks the LMS, the metrics of
// every process and the server, then kills a worker with SIGKILL mid-order
// and sees the work finish on another.
package cluster

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/metrics"
)

// cluster is the running system under test.
type cluster struct {
	dir       string
	bins      binaries
	ports     *ports
	workerEnv []string
	// temporalEnv connects our processes to the server (mTLS).
	temporalEnv []string
	lmsSecret   string
	apiURL      string
	lmsURL      string
	token       string
	secrets     []string
	namespace   string
	serverProm  string
	pki         *pki
	// procs are our processes whose logs must hold no secret nor
	// personal data.
	procs []*process
}

func TestCluster(t *testing.T) {
	c := &cluster{dir: t.TempDir(), ports: &ports{}, namespace: "fulfillment"}
	phase := time.Now()
	lap := func(what string) {
		t.Logf("%-36s %5.1fs", what, time.Since(phase).Seconds())
		phase = time.Now()
	}
	c.bins = buildBinaries(t)
	lap("build (Go build cache)")
	pg := startPostgres(t, c.ports.next(t))
	lap("PostgreSQL initdb and start")
	c.installSchema(t, pg)
	lap("schema installed")
	// Running the schema job again (every deployment does) changes nothing.
	c.installSchema(t, pg)
	lap("schema job run again")
	c.pki = newPKI(t, c.dir)
	server := c.startServer(t, pg)
	lap("Temporal server ready")
	// The frontend speaks mTLS only: a client without a certificate of the
	// CA is turned away.
	_, err := c.pki.httpClient(true).Get(server.httpURL + "/api/v1/cluster-info")
	require.Error(t, err, "the frontend requires a client certificate")

	// Secrets reach our processes as files (the _FILE variables).
	c.token = "cluster-token-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c.lmsSecret = "cluster-lms-secret-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	c.secrets = []string{c.token, c.lmsSecret}
	tokenFile := c.secretFile(t, "api_token", c.token)
	lmsSecretFile := c.secretFile(t, "lms_client_secret", c.lmsSecret)

	lmsPort := c.ports.next(t)
	lms := start(t, c.dir, "sandbox-lms", c.bins.Fulfillment, nil, "sandbox-lms", "--host", "127.0.0.1",
		"--port", strconv.Itoa(lmsPort), "--client-id", "fulfillment-worker", "--client-secret", c.lmsSecret, "--log-format", "json")
	c.lmsURL = fmt.Sprintf("http://127.0.0.1:%d", lmsPort)
	waitHTTP(t, lms, c.lmsURL+"/sandbox/faults", 30*time.Second)

	// Our processes connect with mTLS, as configured in production:
	// contrib/envconfig's TEMPORAL_TLS_* variables.
	c.temporalEnv = []string{"TEMPORAL_ADDRESS=127.0.0.1:" + server.frontend, "TEMPORAL_NAMESPACE=" + c.namespace,
		"TEMPORAL_TLS_CLIENT_CERT_PATH=" + c.pki.ClientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH=" + c.pki.ClientKey,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH=" + c.pki.CA, "TEMPORAL_TLS_SERVER_NAME=" + frontendServerName}
	c.workerEnv = append([]string{"LMS_URL=" + c.lmsURL, "LMS_CLIENT_ID=fulfillment-worker",
		"LMS_CLIENT_SECRET_FILE=" + lmsSecretFile, "LMS_TIMEOUT=5s"}, c.temporalEnv...)
	workerA, metricsA := c.startWorker(t, "worker-a")
	workerB, metricsB := c.startWorker(t, "worker-b")

	apiPort := c.ports.next(t)
	api := start(t, c.dir, "api", c.bins.Fulfillment, append([]string{"FULFILLMENT_API_TOKEN_FILE=" + tokenFile}, c.temporalEnv...),
		"api", "--listen", "127.0.0.1", "--http-port", strconv.Itoa(apiPort), "--line-timeout", "10s")
	c.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	c.procs = append(c.procs, api)
	waitHTTP(t, api, c.apiURL+"/readyz", time.Minute)
	lap("LMS, two workers and the API ready")

	// Orders, a permanent failure and the operator's retry, a refund.
	seq := time.Now().UnixNano() % 1_000_000
	ada, bob := fmt.Sprintf("ada_cl%d", seq), fmt.Sprintf("bob_cl%d", seq)
	for _, u := range []string{ada, bob} {
		require.Less(t, doJSON(t, http.MethodPost, c.lmsURL+"/sandbox/users", "", map[string]any{"username": u, "email": u + "@example.com"}, nil), 300)
	}
	first := fmt.Sprintf("CL-%d-1", seq)
	firstOrder := order(first, ada, line("1", sandbox.DemoCourseID, "verified"), line("2", sandbox.CreditCourseID, "audit"))
	require.Equal(t, http.StatusAccepted, c.post(t, "/api/v1/orders", firstOrder))
	require.Equal(t, http.StatusOK, c.post(t, "/api/v1/orders", firstOrder), "the same order again starts nothing")
	c.waitStatus(t, first, contract.OrderFulfilled, time.Minute)
	require.Equal(t, "verified", c.enrollment(t, ada, sandbox.DemoCourseID).Mode)
	require.Equal(t, "audit", c.enrollment(t, ada, sandbox.CreditCourseID).Mode)

	second := fmt.Sprintf("CL-%d-2", seq)
	newCourse := fmt.Sprintf("course-v1:edX+Cluster%d+2026", seq)
	require.Equal(t, http.StatusAccepted, c.post(t, "/api/v1/orders", order(second, bob, line("1", newCourse, "verified"))))
	st := c.waitStatus(t, second, contract.OrderFulfillmentError, time.Minute)
	require.Equal(t, contract.ErrorType("CourseNotFound"), st.Lines[0].Result.ErrorType)
	// Support finds it through visibility on PostgreSQL (search attributes).
	require.Eventually(t, func() bool {
		var page struct {
			Orders []struct {
				OrderNumber string `json:"order_number"`
			} `json:"orders"`
		}
		require.Equal(t, http.StatusOK, doJSON(t, http.MethodGet, c.apiURL+"/api/v1/orders?status=fulfillment_error", c.token, nil, &page))
		for _, o := range page.Orders {
			if o.OrderNumber == second {
				return true
			}
		}
		return false
	}, 30*time.Second, 300*time.Millisecond, "the failed order is listed by status")
	require.Less(t, doJSON(t, http.MethodPost, c.lmsURL+"/sandbox/courses", "", map[string]any{"course_id": newCourse, "modes": []string{"audit", "verified"}}, nil), 300)
	require.Equal(t, http.StatusAccepted, c.post(t, "/api/v1/orders/"+second+"/retry", map[string]any{}))
	c.waitStatus(t, second, contract.OrderFulfilled, time.Minute)
	require.Equal(t, "verified", c.enrollment(t, bob, newCourse).Mode)

	require.Equal(t, http.StatusAccepted, c.post(t, "/api/v1/orders/"+first+"/refunds", map[string]any{"refund_id": "R-1", "line_ids": []string{"1"}}))
	st = c.waitStatus(t, first, contract.OrderPartiallyRefunded, time.Minute)
	require.Equal(t, contract.LineRevoked, st.Lines[0].State)
	require.False(t, c.enrollment(t, ada, sandbox.DemoCourseID).IsActive, "the refunded seat is unenrolled")
	require.True(t, c.enrollment(t, ada, sandbox.CreditCourseID).IsActive, "the line not refunded stays")

	// Metrics: ours on the API and both workers, the SDK's, the server's.
	apiMetrics := scrape(t, c.apiURL+"/metrics")
	started, ok := sample(apiMetrics, metrics.OrdersStarted+`{source="api"`)
	require.True(t, ok, "orders started on /metrics of the API")
	require.Equal(t, 2.0, started, "two orders started (the repeat started nothing)")
	requireSDKMetrics(t, apiMetrics)
	workers := scrape(t, metricsA) + "\n" + scrape(t, metricsB)
	fulfilled, _ := sample(workers, metrics.LinesFulfilled)
	require.GreaterOrEqual(t, fulfilled, 3.0, "lines fulfilled over both workers")
	failed, _ := sample(workers, metrics.LinesFailed+`{error_type="CourseNotFound",product_type="seat"`)
	require.GreaterOrEqual(t, failed, 1.0, "the failed line by error_type:\n%s", grep(workers, metrics.LinesFailed))
	revoked, _ := sample(workers, metrics.Revokes+`{error_type="",result="revoked"`)
	require.GreaterOrEqual(t, revoked, 1.0, "the refund's revoke:\n%s", grep(workers, metrics.Revokes))
	lmsOK, _ := sample(workers, metrics.LMSDuration+`_count{code="200"`)
	require.Greater(t, lmsOK, 0.0, "LMS calls by status:\n%s", grep(workers, metrics.LMSDuration+"_count"))
	requireSDKMetrics(t, workers)
	serverMetrics := scrape(t, c.serverProm)
	_, ok = sample(serverMetrics, "service_requests")
	require.True(t, ok, "the Temporal server's own metrics")
	lap("orders, retry, refund, metrics")

	// A worker dies mid-order: the other finishes the work. Worker B is
	// scaled in first (SIGTERM, a graceful stop), so worker A alone takes
	// the order's lines, held in flight by a slow LMS.
	workerB.stop(t)
	require.Less(t, doJSON(t, http.MethodPost, c.lmsURL+"/sandbox/faults", "", map[string]any{"latency_ms": 4000}, nil), 300)
	third := fmt.Sprintf("CL-%d-3", seq)
	require.Equal(t, http.StatusAccepted, c.post(t, "/api/v1/orders", order(third, bob,
		line("1", sandbox.DemoCourseID, "audit"), line("2", sandbox.CreditCourseID, "verified"))))
	require.Eventually(t, func() bool {
		for _, l := range c.status(t, third).Lines {
			if l.State == contract.LineFulfilling || l.State == contract.LineRetrying {
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the order's lines never started")
	workerC, metricsC := c.startWorker(t, "worker-c")
	workerA.kill9(t)
	require.Less(t, doJSON(t, http.MethodPost, c.lmsURL+"/sandbox/faults", "", map[string]any{}, nil), 300)
	c.waitStatus(t, third, contract.OrderFulfilled, 2*time.Minute)
	require.Equal(t, "audit", c.enrollment(t, bob, sandbox.DemoCourseID).Mode)
	require.Equal(t, "verified", c.enrollment(t, bob, sandbox.CreditCourseID).Mode)
	fulfilledC, _ := sample(scrape(t, metricsC), metrics.LinesFulfilled)
	require.GreaterOrEqual(t, fulfilledC, 1.0, "the surviving worker fulfilled the killed one's lines")
	lap("worker killed mid-order, order done")
	t.Logf("Temporal server peak RSS: %s", peakRSS(server.proc))

	// No process of ours logged a secret or a learner's email or username.
	for _, p := range c.procs {
		b, err := os.ReadFile(p.Log)
		require.NoError(t, err)
		for _, needle := range append([]string{ada, bob, ada + "@example.com", bob + "@example.com"}, c.secrets...) {
			require.NotContains(t, string(b), needle, "%s's log", p.Name)
		}
	}
	api.alive(t)
	server.proc.alive(t)

	// The fault-survival suite on the same server and PostgreSQL, with
	// its own LMS, API and workers (worker C polls the same task queue).
	workerC.stop(t)
	c.runChaos(t, server, tokenFile)
	lap(fmt.Sprintf("fault-survival suite, %d orders", chaosSettings.Orders()))
}

// requireSDKMetrics checks that the Temporal SDK's metrics reach /metrics.
func requireSDKMetrics(t *testing.T, text string) {
	t.Helper()
	v, ok := sample(text, "temporal_request_total")
	require.True(t, ok && v > 0, "the Temporal SDK's request counter:\n%s", grep(text, "temporal_"))
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// installSchema runs deploy/temporal/setup-schema.sh, as the compose
// file's schema job does, with the SQL tool built from the pinned module.
func (c *cluster) installSchema(t *testing.T, pg *postgres) {
	cmd := exec.Command("sh", repoFile(t, "deploy/temporal/setup-schema.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SQL_HOST=127.0.0.1", "SQL_PORT=" + strconv.Itoa(pg.Port),
		"SQL_USER=" + pg.User, "SQL_PASSWORD=" + pg.Password,
		"TEMPORAL_SQL_TOOL=" + c.bins.SQLTool, "TEMPORAL_SCHEMA_DIR=" + c.bins.SchemaDir}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "setup-schema.sh:\n%s", out)
	require.Contains(t, string(out), "schema ready")
}

// server is the running Temporal server.
type server struct {
	proc     *process
	frontend string
	httpURL  string
	// cmd is the command that starts it again (same store and ports).
	cmd func() *exec.Cmd
}

// startServer runs the Temporal server on deploy/temporal/config.yaml,
// every port its own, its frontend on mTLS, and waits for the frontend's
// HTTP API (the compose file's health check, there without TLS).
func (c *cluster) startServer(t *testing.T, pg *postgres) *server {
	p := func() string { return strconv.Itoa(c.ports.next(t)) }
	frontend, httpPort, prom := p(), p(), p()
	env := []string{
		"TEMPORAL_SERVER_CONFIG_FILE_PATH=" + repoFile(t, "deploy/temporal/config.yaml"),
		"TEMPORAL_DYNAMIC_CONFIG=" + repoFile(t, "deploy/temporal/dynamicconfig.yaml"),
		"TEMPORAL_ALLOW_NO_AUTH=true",
		"POSTGRES_HOST=127.0.0.1", "POSTGRES_PORT=" + strconv.Itoa(pg.Port), "POSTGRES_USER=" + pg.User, "POSTGRES_PWD=" + pg.Password,
		"BIND_ON_IP=127.0.0.1", "LOG_LEVEL=warn",
		"FRONTEND_TLS_CERT_FILE=" + c.pki.ServerCert, "FRONTEND_TLS_KEY_FILE=" + c.pki.ServerKey,
		"FRONTEND_TLS_CA_FILE=" + c.pki.CA, "FRONTEND_TLS_SERVER_NAME=" + frontendServerName,
		"FRONTEND_GRPC_PORT=" + frontend, "FRONTEND_HTTP_PORT=" + httpPort, "PROMETHEUS_PORT=" + prom,
		"HISTORY_GRPC_PORT=" + p(), "MATCHING_GRPC_PORT=" + p(), "WORKER_GRPC_PORT=" + p(),
		"FRONTEND_MEMBERSHIP_PORT=" + p(), "HISTORY_MEMBERSHIP_PORT=" + p(), "MATCHING_MEMBERSHIP_PORT=" + p(), "WORKER_MEMBERSHIP_PORT=" + p(),
	}
	proc := start(t, c.dir, "temporal-server", c.bins.Server, env, "start")
	httpURL := "https://127.0.0.1:" + httpPort
	waitHTTPWith(t, c.pki.httpClient(false), proc, httpURL+"/api/v1/cluster-info", 2*time.Minute)
	c.serverProm = "http://127.0.0.1:" + prom + "/metrics"
	again := func() *exec.Cmd { return command(c.dir, c.bins.Server, env, "start") }
	return &server{proc: proc, frontend: frontend, httpURL: httpURL, cmd: again}
}

// startWorker runs a `fulfillment worker` process with its production
// flags and environment and waits for its /healthz.
func (c *cluster) startWorker(t *testing.T, name string) (*process, string) {
	port := c.ports.next(t)
	env := append([]string{fmt.Sprintf("FULFILLMENT_METRICS_LISTEN=127.0.0.1:%d", port)}, c.workerEnv...)
	w := start(t, c.dir, name, c.bins.Fulfillment, env, "worker")
	c.procs = append(c.procs, w)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, w, base+"/healthz", 2*time.Minute)
	return w, base + "/metrics"
}

func (c *cluster) secretFile(t *testing.T, name, value string) string {
	p := filepath.Join(c.dir, name)
	require.NoError(t, os.WriteFile(p, []byte(value+"\n"), 0o600))
	return p
}

func (c *cluster) post(t *testing.T, path string, body any) int {
	t.Helper()
	var out map[string]any
	return doJSON(t, http.MethodPost, c.apiURL+path, c.token, body, &out)
}

func (c *cluster) status(t *testing.T, number string) contract.StatusDocument {
	t.Helper()
	var st contract.StatusDocument
	require.Equal(t, http.StatusOK, doJSON(t, http.MethodGet, c.apiURL+"/api/v1/orders/"+number, c.token, nil, &st))
	return st
}

func (c *cluster) waitStatus(t *testing.T, number string, want contract.OrderState, timeout time.Duration) contract.StatusDocument {
	t.Helper()
	var st contract.StatusDocument
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st = c.status(t, number); st.Status == want {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("order %s: status %q after %s, want %q: %+v", number, st.Status, timeout, want, st)
	return st
}

// enrollment is the sandbox LMS's one enrollment of user in course.
func (c *cluster) enrollment(t *testing.T, user, course string) sandbox.EnrollmentView {
	t.Helper()
	var snap sandbox.Snapshot
	require.Equal(t, http.StatusOK, doJSON(t, http.MethodGet, c.lmsURL+"/sandbox/enrollments?user="+url.QueryEscape(user)+"&course_id="+url.QueryEscape(course), "", nil, &snap))
	require.Len(t, snap.Enrollments, 1, "%s in %s", user, course)
	return snap.Enrollments[0]
}

func order(number, user string, lines ...map[string]any) map[string]any {
	return map[string]any{"number": number, "user": map[string]any{"username": user, "email": user + "@example.com"},
		"lines": lines, "placed_at": time.Now().UTC().Format(time.RFC3339)}
}

func line(id, course, mode string) map[string]any {
	return map[string]any{"id": id, "product_type": "seat", "course_id": course, "mode": mode}
}

// peakRSS is a running process's peak resident memory (VmHWM), for the log.
func peakRSS(p *process) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}
