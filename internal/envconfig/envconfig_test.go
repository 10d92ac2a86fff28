package envconfig

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	got, err := Secret(env(nil), "TOKEN")
	require.NoError(t, err)
	require.Equal(t, "", got, "unset is empty, not an error")

	got, err = Secret(env(map[string]string{"TOKEN": " s3cret "}), "TOKEN")
	require.NoError(t, err)
	require.Equal(t, " s3cret ", got, "a value is used as it is")

	got, err = Secret(env(map[string]string{"TOKEN_FILE": write("crlf", "s3cret\r\n")}), "TOKEN")
	require.NoError(t, err)
	require.Equal(t, "s3cret", got, "the file's trailing newline is not part of the secret")

	got, err = Secret(env(map[string]string{"TOKEN_FILE": write("lf", " two words \n\n")}), "TOKEN")
	require.NoError(t, err)
	require.Equal(t, " two words ", got)

	_, err = Secret(env(map[string]string{"TOKEN": "from-env", "TOKEN_FILE": write("both", "from-file\n")}), "TOKEN")
	require.EqualError(t, err, "set only one of TOKEN and TOKEN_FILE")

	_, err = Secret(env(map[string]string{"TOKEN_FILE": filepath.Join(dir, "missing")}), "TOKEN")
	require.ErrorContains(t, err, "TOKEN_FILE")
	require.ErrorIs(t, err, os.ErrNotExist)

	_, err = Secret(env(map[string]string{"TOKEN_FILE": write("empty", "\n")}), "TOKEN")
	require.ErrorContains(t, err, "TOKEN_FILE")
	require.ErrorContains(t, err, "is empty")
}
