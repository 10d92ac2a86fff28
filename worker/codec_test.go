package worker

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/codec"
)

func TestConnectionCodec(t *testing.T) {
	noFile := filepath.Join(t.TempDir(), "none.toml")
	conn, err := ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile}), nil)
	require.NoError(t, err)
	require.Nil(t, conn.Codec)
	opts, err := conn.ClientOptions()
	require.NoError(t, err)
	require.Nil(t, opts.DataConverter, "no key: the SDK's default converter")
	require.Equal(t, "(unset)", conn.Describe()["payload_codec"])

	key, err := codec.NewKey("2026-11")
	require.NoError(t, err)
	conn, err = ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile, codec.EnvKeys: key}), nil)
	require.NoError(t, err)
	require.NotNil(t, conn.Codec)
	opts, err = conn.ClientOptions()
	require.NoError(t, err)
	p, err := opts.DataConverter.ToPayload("ada@example.com")
	require.NoError(t, err)
	require.Equal(t, codec.EncodingEncrypted, string(p.Metadata[codec.MetadataEncoding]))
	d := conn.Describe()["payload_codec"]
	require.Contains(t, d, "2026-11")
	require.NotContains(t, d, strings.SplitN(key, ":", 2)[1])

	_, err = ConnectionFromEnv(getenv(map[string]string{"TEMPORAL_CONFIG_FILE": noFile, codec.EnvKeys: "k:c2hvcnQ="}), nil)
	require.ErrorContains(t, err, `codec key "k"`)
	require.NotContains(t, err.Error(), "c2hvcnQ=")
}
