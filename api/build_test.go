package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
)

func TestConfigFromEnvAndBuild(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(secretFile, []byte("file-token\n"), 0o600))
	env := map[string]string{api.EnvToken + "_FILE": secretFile}
	getenv := func(k string) string { return env[k] }

	cfg, err := api.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.Equal(t, "file-token", cfg.Token)
	require.Empty(t, cfg.WooCommerce.Secret, "no webhook secret: no receiver")

	webhook := func(cfg api.BuildConfig) int {
		h, st, err := api.Build(nil, cfg, nil)
		require.NoError(t, err)
		require.NotNil(t, st)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/woocommerce", strings.NewReader(`{}`)))
		return rec.Code
	}
	require.Equal(t, http.StatusServiceUnavailable, webhook(cfg))

	env["WOOCOMMERCE_WEBHOOK_SECRET"] = "whsec"
	_, err = api.ConfigFromEnv(getenv)
	require.ErrorContains(t, err, "WOOCOMMERCE_STORES", "no store list and no explicit opt-out: no start")
	env["WOOCOMMERCE_STORES"] = "https://shop.example.com/"
	cfg, err = api.ConfigFromEnv(getenv)
	require.NoError(t, err)
	require.Equal(t, "whsec", cfg.WooCommerce.Secret)
	require.Equal(t, http.StatusUnauthorized, webhook(cfg), "the receiver is mounted and checks the signature")

	env[api.EnvToken] = "env-token"
	_, err = api.ConfigFromEnv(getenv)
	require.EqualError(t, err, "set only one of FULFILLMENT_API_TOKEN and FULFILLMENT_API_TOKEN_FILE")

	_, _, err = api.Build(nil, api.BuildConfig{}, nil)
	require.Error(t, err, "no token")
}
