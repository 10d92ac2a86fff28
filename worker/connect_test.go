package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func getenv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestConnectionFromEnv(t *testing.T) {
	noFile := filepath.Join(t.TempDir(), "none.toml")
	conn, err := ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile}), nil)
	require.NoError(t, err)
	require.Equal(t, DefaultAddress, conn.Profile.Address)
	require.Equal(t, "default", conn.Profile.Namespace)
	opts, err := conn.ClientOptions()
	require.NoError(t, err)
	require.Nil(t, opts.ConnectionOptions.TLS, "plain connection by default")
	require.Equal(t, "false", conn.Describe()["tls"])

	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte("api-key-42\n"), 0o600))
	conn, err = ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile,
		"TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct", EnvTemporalAPIKey + "_FILE": keyFile}), nil)
	require.NoError(t, err)
	require.Equal(t, "api-key-42", conn.Profile.APIKey)
	opts, err = conn.ClientOptions()
	require.NoError(t, err)
	require.NotNil(t, opts.ConnectionOptions.TLS, "an API key turns TLS on")
	require.NotNil(t, opts.Credentials)
	d := conn.Describe()
	require.Equal(t, "****", d["api_key"])
	require.Equal(t, "true", d["tls"])
	require.NotContains(t, d, "api-key-42")

	_, err = ConnectionFromEnv(getenv(map[string]string{EnvTemporalAPIKey: "k", EnvTemporalAPIKey + "_FILE": keyFile}), nil)
	require.EqualError(t, err, "set only one of TEMPORAL_API_KEY and TEMPORAL_API_KEY_FILE")

	// mTLS: files that do not load fail ClientOptions, naming the file.
	conn, err = ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile,
		"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/cert.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": "/nonexistent/key.pem"}), nil)
	require.NoError(t, err)
	require.Equal(t, "true", conn.Describe()["mtls"])
	_, err = conn.ClientOptions()
	require.ErrorContains(t, err, "/nonexistent/cert.pem")

	// Headers from TEMPORAL_GRPC_META_*.
	conn, err = ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile}),
		func() []string { return []string{"TEMPORAL_GRPC_META_X_TENANT=school"} })
	require.NoError(t, err)
	require.Equal(t, map[string]string{"x-tenant": "school"}, conn.Profile.GRPCMeta)
}

// Prepare stops at once when the connection may not manage the namespace,
// and keeps trying while the namespace is not ready.
func TestRefused(t *testing.T) {
	require.True(t, refused(fmt.Errorf("list search attributes: %w", serviceerror.NewPermissionDenied("no", ""))))
	require.True(t, refused(fmt.Errorf("register namespace: %w", status.Error(codes.Unauthenticated, "bad key"))))
	require.False(t, refused(fmt.Errorf("list search attributes: %w", serviceerror.NewNamespaceNotFound("fulfillment"))))
	require.False(t, refused(fmt.Errorf("describe namespace: %w", serviceerror.NewUnavailable("starting"))))
}
