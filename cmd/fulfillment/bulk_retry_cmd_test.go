package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/starter/startertest"
)

// bulkFake answers bulk retries with fixed counts and records the request.
type bulkFake struct {
	*startertest.Fake
	got starter.BulkRetryRequest
}

func (b *bulkFake) BulkRetry(_ context.Context, req starter.BulkRetryRequest) (starter.BulkRetryResult, error) {
	b.got = req
	return starter.BulkRetryResult{Matched: 3, Retried: 2, Failed: 1,
		Failures: []starter.BulkRetryFailure{{OrderNumber: "A-1", Error: "nothing to retry: no line is failed"}}}, nil
}

func TestRetryAllPrintsCounts(t *testing.T) {
	fake := &bulkFake{Fake: &startertest.Fake{}}
	h, err := api.New(api.Config{Token: "tok"}, fake, nil)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv(api.EnvToken, "tok")
	run := func(args ...string) (string, error) {
		cmd := newOrderCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--api", srv.URL))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run("retry", "--all", "--course", "course-v1:edX+DemoX+Demo_Course", "--per-second", "2")
	require.NoError(t, err)
	require.Contains(t, out, "matched 3, retried 2, failed 1")
	require.Contains(t, out, "order A-1: nothing to retry")
	require.Equal(t, starter.BulkRetryRequest{CourseID: "course-v1:edX+DemoX+Demo_Course", PerSecond: 2}, fake.got)

	_, err = run("retry", "--all")
	require.ErrorContains(t, err, "--all needs --course, --query or both")
	_, err = run("retry", "X-1", "--all", "--course", "c")
	require.ErrorContains(t, err, "give no order number")
	_, err = run("retry", "X-1", "--course", "c")
	require.ErrorContains(t, err, "select orders for --all")
}
