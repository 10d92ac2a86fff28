package worker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/coursefulfill/fulfillment/lms"
)

func TestConfigRegistry(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	cfg := Config{LMS: lms.Config{BaseURL: "http://lms.invalid", APIKey: "k"}, Logger: zap.New(core)}
	reg, err := cfg.Registry()
	require.NoError(t, err)
	require.Equal(t, []string{"donation", "entitlement", "seat", "upgrade"}, reg.ProductTypes())
	require.Zero(t, logs.Len())

	mapping := filepath.Join(t.TempDir(), "modules.yaml")
	require.NoError(t, os.WriteFile(mapping, []byte("bundle-seat: seat\n"), 0o600))
	cfg.ModulesConfig = mapping
	reg, err = cfg.Registry()
	require.NoError(t, err)
	require.Equal(t, []string{"bundle-seat"}, reg.ProductTypes())

	cfg.ModulesConfig = filepath.Join(t.TempDir(), "missing.yaml")
	_, err = cfg.Registry()
	require.ErrorContains(t, err, "modules mapping")

	cfg.ModulesConfig = ""
	cfg.LMS = lms.Config{}
	_, err = cfg.Registry()
	require.ErrorContains(t, err, "LMS client")
}
