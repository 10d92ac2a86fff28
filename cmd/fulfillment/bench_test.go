package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, percentile(d, 50))
	require.Equal(t, 99*time.Millisecond, percentile(d, 99))
	require.Equal(t, 100*time.Millisecond, percentile(d, 100))
	require.Equal(t, time.Millisecond, percentile(d[:1], 99))
	runs := []benchRun{{OrdersPerSec: 3}, {OrdersPerSec: 1}, {OrdersPerSec: 2}}
	require.Equal(t, 2.0, median(runs, func(r benchRun) float64 { return r.OrdersPerSec }))
	require.Equal(t, 1.5, median(runs[1:], func(r benchRun) float64 { return r.OrdersPerSec }))
}

func TestMedianOf(t *testing.T) {
	vals := []float64{61.2, 58.4, 70.9}
	require.Equal(t, 61.2, medianOf(vals))
	require.Equal(t, []float64{61.2, 58.4, 70.9}, vals, "the caller's slice is not sorted")
	require.Equal(t, 59.8, medianOf(vals[:2]))
	require.Equal(t, 4.0, medianOf([]float64{4}))
	require.Equal(t, 0.0, medianOf(nil))
}

// parseBench runs `fulfillment bench args...` up to the point where it
// would start the stack, and returns the checked configuration.
func parseBench(t *testing.T, args ...string) (benchConfig, error) {
	t.Helper()
	var got benchConfig
	cmd := benchCommand(func(_ *cobra.Command, cfg benchConfig) error { got = cfg; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return got, err
}

func TestBenchFlags(t *testing.T) {
	cfg, err := parseBench(t)
	require.NoError(t, err)
	require.Equal(t, benchModeThroughput, cfg.mode, "throughput stays the default")
	require.Equal(t, 3, cfg.lines)
	require.Equal(t, 20*time.Millisecond, cfg.poll)
	require.Equal(t, 200, cfg.orders)

	cfg, err = parseBench(t, "--mode", "large")
	require.NoError(t, err)
	require.Equal(t, order.MaxLines, cfg.lines, "large defaults to the largest order")
	require.Equal(t, 250*time.Millisecond, cfg.poll)
	require.Equal(t, 3, cfg.rounds)
	require.Equal(t, contract.DefaultMaxParallelLines, cfg.maxParallelLines)
	require.Equal(t, contract.DefaultBatchSize, cfg.batchSize)
	require.Equal(t, 50*time.Millisecond, cfg.lmsLatency)

	cfg, err = parseBench(t, "--mode", "large", "--lines", "2000", "--rounds", "1", "--max-parallel-lines", "100",
		"--batch-size", "250", "--poll", "1s", "--lms-latency", "10ms")
	require.NoError(t, err)
	require.Equal(t, 2000, cfg.lines)
	require.Equal(t, 1, cfg.rounds)
	require.Equal(t, 100, cfg.maxParallelLines)
	require.Equal(t, 250, cfg.batchSize)
	require.Equal(t, time.Second, cfg.poll)
	require.Equal(t, 10*time.Millisecond, cfg.lmsLatency)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "huge"}, `--mode must be throughput or large, not "huge"`},
		{[]string{"--mode", "large", "--lines", "0"}, "--lines must be from 1 to 10000"},
		{[]string{"--mode", "large", "--lines", "10001"}, "--lines must be from 1 to 10000"},
		{[]string{"--mode", "large", "--rounds", "0"}, "--rounds must be at least 1"},
		{[]string{"--mode", "large", "--max-parallel-lines", "0"}, "--max-parallel-lines must be at least 1"},
		{[]string{"--mode", "large", "--batch-size", "0"}, "--batch-size must be from 1 to 1000"},
		{[]string{"--mode", "large", "--batch-size", "1001"}, "--batch-size must be from 1 to 1000"},
		{[]string{"--mode", "large", "--poll", "0s"}, "--poll must be positive"},
		{[]string{"--mode", "large", "--round-timeout", "0s"}, "--round-timeout must be positive"},
		{[]string{"--mode", "large", "--lms-latency", "-1ms"}, "--lms-latency must not be negative"},
		{[]string{"--mode", "large", "--orders", "5"}, "--orders does not apply to --mode large"},
		{[]string{"--mode", "large", "--runs", "5"}, "--runs does not apply to --mode large"},
		{[]string{"--mode", "large", "--json"}, "--json does not apply to --mode large"},
		{[]string{"--rounds", "2"}, "--rounds does not apply to --mode throughput"},
		{[]string{"--mode", "throughput", "--batch-size", "100"}, "--batch-size does not apply to --mode throughput"},
		{[]string{"--max-parallel-lines", "100"}, "--max-parallel-lines does not apply to --mode throughput"},
	} {
		_, err := parseBench(t, c.args...)
		require.ErrorContains(t, err, c.want, "%v", c.args)
	}
}

func TestParseVmHWM(t *testing.T) {
	const sample = `Name:	fulfillment
Umask:	0022
State:	S (sleeping)
Tgid:	41213
VmPeak:	 3871428 kB
VmSize:	 3806916 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	  812344 kB
VmRSS:	  640112 kB
RssAnon:	  598016 kB
Threads:	28
`
	kb, err := parseVmHWM(sample)
	require.NoError(t, err)
	require.Equal(t, int64(812344), kb)
	_, err = parseVmHWM("Name:\tx\nVmRSS:\t 1 kB\n")
	require.ErrorContains(t, err, "no VmHWM")
	_, err = parseVmHWM("VmHWM:\t  lots kB\n")
	require.ErrorContains(t, err, "cannot read")
	_, err = parseVmHWM("VmHWM:\t  12 MB\n")
	require.ErrorContains(t, err, "cannot read")

	mb, err := peakRSSMB()
	require.NoError(t, err, "this test runs on Linux")
	require.Positive(t, mb)
}

func TestLargeOrderFitsTheAPI(t *testing.T) {
	o := largeOrder("zzzzz", 99, order.MaxLines)
	require.NoError(t, o.Validate(nil))
	b, err := json.Marshal(o)
	require.NoError(t, err)
	require.Less(t, len(b), api.MaxBodyBytes, "the largest order must fit the API's body limit")
	courses := map[string]bool{}
	for _, l := range o.Lines {
		courses[l.CourseID] = true
	}
	require.Len(t, courses, order.MaxLines, "one course per line")
	require.NotEqual(t, o.Lines[0].CourseID, largeOrder("zzzzz", 98, 1).Lines[0].CourseID, "each round has fresh courses")
	require.NotEqual(t, o.User.Username, largeOrder("zzzzz", 98, 1).User.Username, "each round has a fresh learner")
}

func TestLargeExecutions(t *testing.T) {
	require.Equal(t, []string{"order-N"}, largeExecutions("N", 500, 500), "one batch runs in the order itself")
	require.Equal(t, []string{"order-N", "order-N~fulfill-1~batch-0", "order-N~fulfill-1~batch-1", "order-N~fulfill-1~batch-2"},
		largeExecutions("N", 1001, 500))
	require.Len(t, largeExecutions("N", 10000, 500), 21)
}

func TestLargeDone(t *testing.T) {
	st := api.OrderStatus{Status: contract.OrderFulfilled, LinesTotal: 3,
		LineCounts: map[contract.LineState]int{contract.LineFulfilled: 3}}
	require.True(t, largeDone(st, 3))
	require.False(t, largeDone(st, 4))
	st.LineCounts = map[contract.LineState]int{contract.LineFulfilled: 2, contract.LineFulfilling: 1}
	require.False(t, largeDone(st, 3))
	st = api.OrderStatus{Status: contract.OrderFulfilling, LinesTotal: 3,
		LineCounts: map[contract.LineState]int{contract.LineFulfilled: 3}}
	require.False(t, largeDone(st, 3))
}

func TestLargeReportEndsWithOneJSONLine(t *testing.T) {
	cfg := benchConfig{lines: 2000, maxParallelLines: 20, batchSize: 500, lmsLatency: 50 * time.Millisecond}
	rounds := []largeRound{
		{Number: "La-0", Seconds: 70.5, MaxHistory: 3100, MaxHistoryOf: "order-La-0~fulfill-1~batch-0", PeakRSSMB: 600},
		{Number: "La-1", Seconds: 60.25, MaxHistory: 3300, PeakRSSMB: 650.5},
		{Number: "La-2", Seconds: 65, MaxHistory: 3000, PeakRSSMB: 640},
	}
	var out strings.Builder
	require.NoError(t, writeLargeReport(&out, cfg, rounds))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Contains(t, lines[0], "seconds")
	require.Contains(t, out.String(), "median")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), out.String())
	require.Equal(t, map[string]any{"mode": "large", "lines": 2000.0, "rounds": 3.0, "seconds": 65.0,
		"seconds_runs": []any{70.5, 60.25, 65.0}, "max_history_events": 3300.0, "peak_rss_mb": 650.5,
		"max_parallel_lines": 20.0, "batch_size": 500.0}, got)
}
