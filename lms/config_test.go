package lms

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("s3cret\n"), 0o600))
	t.Setenv("LMS_URL", "https://lms.example.com/")
	t.Setenv("LMS_CLIENT_ID", "worker")
	t.Setenv("LMS_CLIENT_SECRET", "")
	t.Setenv("LMS_CLIENT_SECRET_FILE", secretFile)
	t.Setenv("LMS_API_KEY", "key")
	t.Setenv("LMS_API_KEY_FILE", "")
	t.Setenv("LMS_TIMEOUT", "3s")
	t.Setenv("LMS_RATE_LIMIT", "2.5")
	t.Setenv("LMS_RATE_BURST", "")
	t.Setenv("LMS_PRE_ENROLL_BY_EMAIL", "true")
	cfg, err := ConfigFromEnv(os.Getenv)
	require.NoError(t, err)
	require.Equal(t, "https://lms.example.com/", cfg.BaseURL)
	require.Equal(t, "worker", cfg.ClientID)
	require.Equal(t, "s3cret", cfg.ClientSecret)
	require.Equal(t, "key", cfg.APIKey)
	require.Equal(t, 3*time.Second, cfg.Timeout)
	require.Equal(t, 2.5, cfg.RateLimit)
	require.True(t, cfg.PreEnrollByEmail)
	require.NoError(t, cfg.Validate())
	c, err := New(cfg)
	require.NoError(t, err)
	require.Equal(t, "https://lms.example.com", c.cfg.BaseURL)
	require.Equal(t, 1, c.cfg.Burst)

	t.Setenv("LMS_TIMEOUT", "7")
	cfg, err = ConfigFromEnv(os.Getenv)
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, cfg.Timeout)

	t.Setenv("LMS_CLIENT_SECRET", "also-set")
	t.Setenv("LMS_TIMEOUT", "soon")
	_, err = ConfigFromEnv(os.Getenv)
	require.ErrorContains(t, err, "set only one of LMS_CLIENT_SECRET and LMS_CLIENT_SECRET_FILE")
	require.ErrorContains(t, err, "LMS_TIMEOUT")
	require.NotContains(t, err.Error(), "also-set")
	require.NotContains(t, err.Error(), "s3cret")

	t.Setenv("LMS_CLIENT_SECRET", "")
	t.Setenv("LMS_CLIENT_SECRET_FILE", filepath.Join(dir, "missing"))
	t.Setenv("LMS_TIMEOUT", "")
	_, err = ConfigFromEnv(os.Getenv)
	require.ErrorContains(t, err, "LMS_CLIENT_SECRET_FILE")
}

func TestConfigValidate(t *testing.T) {
	ok := Config{BaseURL: "http://lms:8000", APIKey: "k"}
	require.NoError(t, ok.Validate())
	require.NoError(t, Config{BaseURL: "http://lms", ClientID: "id", ClientSecret: "s"}.Validate())

	cases := map[string]Config{
		"BaseURL (LMS_URL) is required":    {APIKey: "k"},
		"absolute http(s) URL":             {BaseURL: "lms.example.com", APIKey: "k"},
		"must not carry credentials":       {BaseURL: "https://u:p@lms", APIKey: "k"},
		"credentials are required":         {BaseURL: "http://lms"},
		"ClientSecret (LMS_CLIENT_SECRET)": {BaseURL: "http://lms", ClientID: "id"},
		"ClientID (LMS_CLIENT_ID)":         {BaseURL: "http://lms", ClientSecret: "very-secret"},
		"Timeout must not be negative":     {BaseURL: "http://lms", APIKey: "k", Timeout: -1},
		"RateLimit must not be negative":   {BaseURL: "http://lms", APIKey: "k", RateLimit: -1},
	}
	for want, cfg := range cases {
		err := cfg.Validate()
		require.ErrorContains(t, err, want)
		require.NotContains(t, err.Error(), "very-secret")
		_, err = New(cfg)
		require.Error(t, err)
	}
}

func TestRefreshTime(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Equal(t, at.Add(55*time.Minute), refreshTime(at, at.Add(time.Hour), 5*time.Minute))
	require.Equal(t, at.Add(30*time.Second), refreshTime(at, at.Add(time.Minute), 5*time.Minute), "never more than half the lifetime early")
	require.Equal(t, at.Add(55*time.Minute), refreshTime(at, time.Time{}, 5*time.Minute))
}
