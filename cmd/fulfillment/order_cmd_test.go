package main

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/starter/startertest"
)

func TestOrderCommands(t *testing.T) {
	fake := &startertest.Fake{}
	h, err := api.New(api.Config{Token: "tok"}, fake, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv(api.EnvToken, "tok")

	run := func(args ...string) (string, string, error) {
		cmd := newOrderCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append(args, "--api", srv.URL))
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	file := filepath.Join(t.TempDir(), "order.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"number": "CLI-1", "user": {"username": "alice"},
	  "lines": [{"id": "1", "product_type": "seat", "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "verified"}],
	  "placed_at": "2026-11-21T09:58:02Z"}`), 0o600))

	out, _, err := run("create", "-f", file)
	require.NoError(t, err)
	require.Contains(t, out, "order CLI-1 started")
	out, _, err = run("create", "-f", file)
	require.NoError(t, err)
	require.Contains(t, out, "already submitted")

	out, _, err = run("status", "CLI-1")
	require.NoError(t, err)
	require.Contains(t, out, "order CLI-1: fulfilling")
	require.Contains(t, out, "course-v1:edX+DemoX+Demo_Course")

	out, _, err = run("refund", "CLI-1", "--refund-id", "R1", "--lines", "1")
	require.NoError(t, err)
	require.Contains(t, out, "refund R1 of order CLI-1 accepted")
	out, _, err = run("refund", "CLI-1", "--refund-id", "R1", "--lines", "1", "--json")
	require.NoError(t, err)
	require.Contains(t, out, `"duplicate": true`)

	fake.SetLineState("CLI-1", "1", contract.LineFailed)
	out, _, err = run("retry", "CLI-1")
	require.NoError(t, err)
	require.Contains(t, out, "retrying lines 1")

	out, _, err = run("list", "--status", "fulfillment_error")
	require.NoError(t, err)
	require.Contains(t, out, "CLI-1")

	// Failures exit non-zero with the problem's detail.
	_, errOut, err := run("status", "NOPE")
	var exit *exitError
	require.True(t, errors.As(err, &exit))
	require.Equal(t, 1, exit.code)
	require.Contains(t, errOut, `no order "NOPE" (HTTP 404)`)

	_, errOut, err = run("refund", "CLI-1", "--refund-id", "R2", "--lines", "9")
	require.ErrorAs(t, err, &exit)
	require.Contains(t, errOut, "unknown line")

	t.Setenv(api.EnvToken, "")
	_, _, err = run("status", "CLI-1")
	require.ErrorContains(t, err, api.EnvToken)
}
