package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, percentile(d, 50))
	require.Equal(t, 99*time.Millisecond, percentile(d, 99))
	require.Equal(t, 100*time.Millisecond, percentile(d, 100))
	require.Equal(t, time.Millisecond, percentile(d[:1], 99))
	require.Equal(t, time.Duration(0), percentile(nil, 50))
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
	require.Equal(t, 20, cfg.inFlight)
	require.Equal(t, 3, cfg.lines)
	require.Equal(t, 50*time.Millisecond, cfg.lmsLatency)
	require.Equal(t, 10*time.Second, cfg.duration)
	require.Equal(t, 3, cfg.rounds)
	require.Equal(t, 20*time.Millisecond, cfg.poll)

	cfg, err = parseBench(t, "--mode", "latency", "--lines", "5", "--duration", "3s", "--rounds", "2")
	require.NoError(t, err)
	require.Equal(t, 1, cfg.inFlight, "latency runs one order at a time")
	require.Equal(t, 5, cfg.lines)
	require.Equal(t, 3*time.Second, cfg.duration)
	require.Equal(t, 2, cfg.rounds)

	cfg, err = parseBench(t, "--mode", "large")
	require.NoError(t, err)
	require.Equal(t, order.MaxLines, cfg.lines, "large defaults to the largest order")
	require.Equal(t, 3, cfg.rounds)
	require.Equal(t, 0, cfg.maxParallelLines, "the product's default for the order's size")
	require.Equal(t, contract.DefaultBatchSize, cfg.batchSize)

	cfg, err = parseBench(t, "--mode", "large", "--lines", "2000", "--rounds", "1", "--max-parallel-lines", "100",
		"--batch-size", "250", "--lms-latency", "10ms")
	require.NoError(t, err)
	require.Equal(t, 2000, cfg.lines)
	require.Equal(t, 1, cfg.rounds)
	require.Equal(t, 100, cfg.maxParallelLines)
	require.Equal(t, 250, cfg.batchSize)
	require.Equal(t, 10*time.Millisecond, cfg.lmsLatency)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "huge"}, `--mode must be throughput, latency or large, not "huge"`},
		{[]string{"--lines", "0"}, "--lines must be from 1 to 10000"},
		{[]string{"--mode", "large", "--lines", "10001"}, "--lines must be from 1 to 10000"},
		{[]string{"--in-flight", "0"}, "--in-flight must be from 1 to 1000"},
		{[]string{"--in-flight", "1001"}, "--in-flight must be from 1 to 1000"},
		{[]string{"--duration", "0s"}, "--duration must be positive"},
		{[]string{"--rounds", "0"}, "--rounds must be at least 1"},
		{[]string{"--poll", "-1s"}, "--poll must not be negative"},
		{[]string{"--lms-latency", "-1ms"}, "--lms-latency must not be negative"},
		{[]string{"--mode", "large", "--max-parallel-lines", "-1"}, "--max-parallel-lines must not be negative"},
		{[]string{"--mode", "large", "--batch-size", "0"}, "--batch-size must be from 1 to 1000"},
		{[]string{"--mode", "large", "--batch-size", "1001"}, "--batch-size must be from 1 to 1000"},
		{[]string{"--mode", "large", "--round-timeout", "0s"}, "--round-timeout must be positive"},
		{[]string{"--mode", "large", "--in-flight", "5"}, "--in-flight does not apply to --mode large"},
		{[]string{"--mode", "large", "--duration", "5s"}, "--duration does not apply to --mode large"},
		{[]string{"--mode", "latency", "--in-flight", "5"}, "--in-flight does not apply to --mode latency"},
		{[]string{"--mode", "throughput", "--batch-size", "100"}, "--batch-size does not apply to --mode throughput"},
		{[]string{"--max-parallel-lines", "100"}, "--max-parallel-lines does not apply to --mode throughput"},
	} {
		_, err := parseBench(t, c.args...)
		require.ErrorContains(t, err, c.want, "%v", c.args)
	}
}

// lastJSONLine decodes the last line of out, which must be one JSON object.
func lastJSONLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), out)
	return got
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// commonFields are the JSON line's fields in every mode.
var commonFields = []string{"ceiling_orders_per_sec", "ceiling_p50_ms", "ceiling_p99_ms", "errors", "lines_per_sec",
	"orders_per_sec", "p50_ms", "p90_ms", "p99_ms", "ratio"}

func roundOf(variant string, r int, wall time.Duration, errs int, lat ...time.Duration) roundResult {
	slices.Sort(lat)
	return roundResult{Variant: variant, Round: r, Orders: len(lat), Errors: errs, Wall: wall, Latencies: lat}
}

func TestRoundsReportEndsWithOneJSONLine(t *testing.T) {
	ms := time.Millisecond
	rounds := []roundResult{
		roundOf(variantOurs, 1, time.Second, 1, 100*ms, 200*ms, 300*ms, 400*ms),
		roundOf(variantCeiling, 1, time.Second, 0, 100*ms, 100*ms, 100*ms, 100*ms, 200*ms),
		roundOf(variantPoll, 1, time.Second, 0, 500*ms),
		roundOf(variantOurs, 2, time.Second, 0, 100*ms, 100*ms, 100*ms, 100*ms, 100*ms, 100*ms),
		roundOf(variantCeiling, 2, time.Second, 0, 100*ms, 100*ms, 100*ms, 100*ms, 100*ms),
		roundOf(variantPoll, 2, time.Second, 0, 500*ms),
	}
	cfg := benchConfig{mode: benchModeThroughput, inFlight: 20, lines: 3, lmsLatency: 50 * ms, duration: time.Second, rounds: 2}
	var out strings.Builder
	require.NoError(t, writeRoundsReport(&out, cfg, rounds, map[string]int{variantOurs: 40, variantCeiling: 20}))
	require.Contains(t, out.String(), "ours-poll", "the polling variant is in the table")
	require.Contains(t, out.String(), "ours 40, ceiling 20")
	got := lastJSONLine(t, out.String())
	require.Equal(t, commonFields, keys(got), "exactly the documented fields")
	// ours: 10 orders in 2 s; ceiling: 10 in 2 s; percentiles over every
	// latency of the variant.
	require.Equal(t, 5.0, got["orders_per_sec"])
	require.Equal(t, 15.0, got["lines_per_sec"])
	require.Equal(t, 5.0, got["ceiling_orders_per_sec"])
	require.Equal(t, 1.0, got["ratio"])
	require.Equal(t, 100.0, got["p50_ms"])
	require.Equal(t, 300.0, got["p90_ms"])
	require.Equal(t, 400.0, got["p99_ms"])
	require.Equal(t, 100.0, got["ceiling_p50_ms"])
	require.Equal(t, 200.0, got["ceiling_p99_ms"])
	require.Equal(t, 1.0, got["errors"])

	cfg.mode, cfg.inFlight = benchModeLatency, 1
	rounds = append(rounds, roundOf(variantDirect, 1, time.Second, 0, 101*ms, 103*ms, 102*ms))
	out.Reset()
	require.NoError(t, writeRoundsReport(&out, cfg, rounds, nil))
	got = lastJSONLine(t, out.String())
	want := append(slices.Clone(commonFields), "direct_p50_ms")
	slices.Sort(want)
	require.Equal(t, want, keys(got), "exactly the documented fields")
	require.Equal(t, 102.0, got["direct_p50_ms"])
}

// Rounds of 2 minutes or more also report ours' pace in their first and
// last minute.
func TestRoundsReportTheFirstAndLastMinuteOfLongRounds(t *testing.T) {
	long := roundResult{Variant: variantOurs, Round: 1, Orders: 5, Wall: 5*time.Minute + time.Second, Duration: 5 * time.Minute,
		Latencies: []time.Duration{time.Second}}
	// 120 orders in the first minute, 60 in the last, 30 in the drain after
	// the round's end (not counted), some in between.
	for i := range 120 {
		long.Done = append(long.Done, time.Duration(i)*time.Second/2)
	}
	for i := range 60 {
		long.Done = append(long.Done, 4*time.Minute+time.Duration(i)*time.Second)
	}
	for range 30 {
		long.Done = append(long.Done, 5*time.Minute+time.Millisecond)
	}
	long.Done = append(long.Done, 2*time.Minute)
	ceil := roundResult{Variant: variantCeiling, Round: 1, Orders: 1, Wall: time.Minute, Latencies: []time.Duration{time.Second}}
	cfg := benchConfig{mode: benchModeThroughput, inFlight: 20, lines: 3, lmsLatency: 50 * time.Millisecond, duration: 5 * time.Minute, rounds: 1}
	var out strings.Builder
	require.NoError(t, writeRoundsReport(&out, cfg, []roundResult{long, ceil}, nil))
	got := lastJSONLine(t, out.String())
	require.Equal(t, 2.0, got["first_minute_orders_per_sec"])
	require.Equal(t, 1.0, got["last_minute_orders_per_sec"])
	require.Contains(t, out.String(), "(0.500 of the first)")

	// Short rounds: no such fields.
	short := long
	short.Duration = time.Minute
	out.Reset()
	require.NoError(t, writeRoundsReport(&out, cfg, []roundResult{short, ceil}, nil))
	require.NotContains(t, lastJSONLine(t, out.String()), "first_minute_orders_per_sec")
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
	cfg := benchConfig{mode: benchModeLarge, lines: 2000, maxParallelLines: 200, batchSize: 500, lmsLatency: 50 * time.Millisecond}
	rounds := []largeRound{
		{Number: "La-0", Seconds: 70.5, MaxHistory: 3100, MaxHistoryOf: "order-La-0~fulfill-1~batch-0", PeakRSSMB: 600, CeilingSeconds: 50},
		{Number: "La-1", Seconds: 60.25, MaxHistory: 3300, PeakRSSMB: 650.5, CeilingSeconds: 52},
		{Number: "La-2", Seconds: 65, MaxHistory: 3000, PeakRSSMB: 640, CeilingSeconds: 48},
	}
	var out strings.Builder
	require.NoError(t, writeLargeReport(&out, cfg, rounds))
	require.Contains(t, out.String(), "median")
	got := lastJSONLine(t, out.String())
	want := append(slices.Clone(commonFields), "max_history_events", "peak_rss_mb", "seconds")
	slices.Sort(want)
	require.Equal(t, want, keys(got), "exactly the documented fields")
	require.Equal(t, 65.0, got["seconds"], "the median round")
	require.Equal(t, 3300.0, got["max_history_events"], "the largest over rounds")
	require.Equal(t, 650.5, got["peak_rss_mb"])
	require.Equal(t, 50000.0, got["ceiling_p50_ms"])
	require.Equal(t, 0.769, got["ratio"], "ceiling seconds / ours")
	require.Equal(t, 30.8, got["lines_per_sec"])
}
