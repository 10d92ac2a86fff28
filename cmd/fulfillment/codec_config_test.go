package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/lms"
)

func TestConfigCheckMasksCodecKeys(t *testing.T) {
	key, err := codec.NewKey("2026-11")
	require.NoError(t, err)
	secret := strings.SplitN(key, ":", 2)[1]
	for _, command := range []string{"api", "worker"} {
		vars := map[string]string{api.EnvToken: "tok", codec.EnvKeys: key, "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")}
		if command == "api" {
			vars[codec.EnvOrigins] = "https://temporal.example.com"
		} else {
			vars[lms.EnvURL], vars[lms.EnvClientID], vars[lms.EnvClientSecret] = "https://lms.example.com", "svc", "lms-secret"
		}
		e := newEnv(vars)
		var out bytes.Buffer
		require.NoError(t, checkConfig(&out, command, e.get, e.environ), out.String())
		s := out.String()
		require.Contains(t, s, codec.EnvKeys+"=****", command)
		require.Contains(t, s, "payload_codec: AES-256-GCM, encrypting with key 2026-11", command)
		require.NotContains(t, s, secret, command)
	}

	e := newEnv(map[string]string{api.EnvToken: "tok", codec.EnvKeys: "k1:c2hvcnQ=", "TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml")})
	var out bytes.Buffer
	require.Error(t, checkConfig(&out, "api", e.get, e.environ))
	require.Contains(t, out.String(), `codec key "k1"`)
	require.NotContains(t, out.String(), "c2hvcnQ=")
}
