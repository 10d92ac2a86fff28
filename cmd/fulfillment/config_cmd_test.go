package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/woocommerce"
	"github.com/coursefulfill/fulfillment/worker"
)

// env is a getenv over a map, recording every name asked for.
type env struct {
	vars map[string]string
	read map[string]bool
}

func newEnv(vars map[string]string) *env { return &env{vars: vars, read: map[string]bool{}} }

func (e *env) get(name string) string {
	e.read[name] = true
	return e.vars[name]
}

func (e *env) environ() []string {
	var out []string
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}

func secretFile(t *testing.T, value string) string {
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(value+"\n"), 0o600))
	return p
}

func TestConfigCheckWorkerMasksSecrets(t *testing.T) {
	apiKey := "temporal-api-key-3141"
	e := newEnv(map[string]string{
		lms.EnvURL: "https://lms.example.com", lms.EnvClientID: "svc", lms.EnvClientSecret: "lms-secret-2718",
		"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct",
		worker.EnvTemporalAPIKey + "_FILE": secretFile(t, apiKey), "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"),
	})
	var out bytes.Buffer
	require.NoError(t, checkConfig(&out, "worker", e.get, e.environ))
	s := out.String()
	require.NotContains(t, s, "lms-secret-2718")
	require.NotContains(t, s, apiKey)
	require.Contains(t, s, "LMS_CLIENT_SECRET=****")
	require.Contains(t, s, "LMS_URL=https://lms.example.com")
	require.Contains(t, s, "TEMPORAL_API_KEY_FILE="+e.vars["TEMPORAL_API_KEY_FILE"])
	require.Contains(t, s, "LMS_API_KEY (unset)")
	require.Contains(t, s, "address: ns.acct.tmprl.cloud:7233")
	require.Contains(t, s, "api_key: ****")
	require.Contains(t, s, "tls: true", "an API key turns TLS on")
	require.True(t, strings.HasSuffix(s, "ok\n"), s)
}

func TestConfigCheckReportsEveryProblem(t *testing.T) {
	e := newEnv(map[string]string{
		lms.EnvClientSecret: "lms-secret-2718", lms.EnvClientSecret + "_FILE": "/run/secrets/lms",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/client.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": "/nonexistent/client.key",
		"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"),
	})
	var out bytes.Buffer
	err := checkConfig(&out, "worker", e.get, e.environ)
	require.Error(t, err)
	require.Contains(t, err.Error(), "set only one of LMS_CLIENT_SECRET and LMS_CLIENT_SECRET_FILE")
	require.Contains(t, err.Error(), "/nonexistent/client.pem", "the unreadable mTLS certificate")
	require.NotContains(t, out.String()+err.Error(), "lms-secret-2718")

	e = newEnv(map[string]string{woocommerce.EnvWebhookSecret: "whsec-1618", woocommerce.EnvStores: "https://shop.example.com", "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")})
	out.Reset()
	err = checkConfig(&out, "api", e.get, e.environ)
	require.ErrorContains(t, err, "set FULFILLMENT_API_TOKEN (or FULFILLMENT_API_TOKEN_FILE)")
	require.Contains(t, out.String(), "WOOCOMMERCE_WEBHOOK_SECRET=****")
	require.NotContains(t, out.String()+err.Error(), "whsec-1618")
}

// The command as an operator runs it: reads the process environment,
// prints the API's token masked.
func TestConfigCheckCommand(t *testing.T) {
	t.Setenv(api.EnvToken, "")
	t.Setenv(api.EnvToken+"_FILE", secretFile(t, "api-token-1414"))
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"config", "check", "api"})
	require.NoError(t, root.Execute())
	require.Contains(t, out.String(), "FULFILLMENT_API_TOKEN_FILE=")
	require.NotContains(t, out.String(), "api-token-1414")
	root.SetArgs([]string{"config", "check", "sandbox"})
	require.ErrorContains(t, root.Execute(), `"sandbox" is not worker or api`)
}

// commandEnv lists every variable the configuration readers ask for, for
// every configuration shape (each reader stops early on some).
func TestCommandEnvIsComplete(t *testing.T) {
	woo := map[string]string{woocommerce.EnvWebhookSecret: "s", woocommerce.EnvStoreURL: "https://shop.example.com",
		woocommerce.EnvConsumerKey: "ck", woocommerce.EnvConsumerSecret: "cs", woocommerce.EnvStores: "https://shop.example.com"}
	for _, command := range []string{"worker", "api"} {
		listed := map[string]bool{}
		for _, v := range commandEnv(command) {
			listed[v.name] = true
			if v.file {
				listed[v.name+envconfig.FileSuffix] = true
			}
		}
		for _, vars := range []map[string]string{{}, woo, {lms.EnvURL: "https://lms.example.com", lms.EnvAPIKey: "k"}} {
			e := newEnv(vars)
			var out bytes.Buffer
			_ = checkConfig(&out, command, e.get, e.environ) // only the names read matter here
			for name := range e.read {
				require.True(t, listed[name], "%s reads %s, which commandEnv does not list", command, name)
			}
		}
	}
}

func TestHealthCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	require.NoError(t, execute(newHealthCommand(), srv.URL+"/readyz"))
	require.ErrorContains(t, execute(newHealthCommand(), srv.URL+"/other"), "answered 503")
}
