package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Markdown is the result as the tables of docs/reliability.md.
func (res *Result) Markdown() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	b.WriteString("| load | |\n| --- | --- |\n")
	row("orders", res.Orders)
	row("lines", fmt.Sprintf("%d (%s)", res.Lines, counts(res.LinesByProduct)))
	row("learners", counts(res.LearnersByKind))
	row("lines whose learner was enrolled from elsewhere", res.FromElsewhere)
	row("refunds accepted", fmt.Sprintf("%d (%d racing the fulfillment, the rest once settled); %d duplicates sent", res.Refunds,
		res.RacingRefunds, res.DuplicateRefunds))
	row("operator retries", res.Retries)
	row("deliberately bad requests", res.BadRequests)
	b.WriteString("\n| faults injected | count |\n| --- | --- |\n")
	for _, k := range slices.Sorted(maps.Keys(res.Faults)) {
		row(k, res.Faults[k])
	}
	b.WriteString("\n| outcome | |\n| --- | --- |\n")
	row("load (first order to last request)", res.LoadTime.Round(time.Second))
	row("an order's time to settle after its last request (median, 99th percentile, max; polled every second)", percentiles(res.Settles))
	row("every order seen settled, after the load's last request", res.SettleTime.Round(100*time.Millisecond))
	row("orders lost", res.Lost)
	row("final order statuses", counts(res.Statuses))
	row("final line states", counts(res.LineStates))
	row("problems found (status or LMS ≠ model, extra writes, unexpected answers)", len(res.Problems))
	b.WriteString("\n| API answers by request | codes (count) | slowest |\n| --- | --- | --- |\n")
	for _, k := range slices.Sorted(maps.Keys(res.Codes)) {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(res.Codes[k])) {
			name := fmt.Sprint(c)
			if c == 0 {
				name = "no answer"
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", name, res.Codes[k][c]))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", k, strings.Join(parts, ", "), res.Slowest[k].Round(time.Millisecond))
	}
	return b.String()
}

// counts renders a count by key, largest first.
func counts[K ~string](m map[K]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b K) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(string(a), string(b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// percentiles renders the median, 99th percentile and maximum of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Millisecond)
	}
	return fmt.Sprintf("%s, %s, %s", at(0.5), at(0.99), s[len(s)-1].Round(100*time.Millisecond))
}

// Failures are why the run fails: the problems it found, and a fault
// schedule that did not run in full (every fault at least once, a worker
// killed at least three times, the server once).
func (res *Result) Failures() []string {
	out := slices.Clone(res.Problems)
	if n := res.Faults[FaultWorkerKill]; n < 3 {
		out = append(out, fmt.Sprintf("only %d worker kills, want at least 3", n))
	}
	if n := res.Faults[FaultServerCrash]; n != 1 {
		out = append(out, fmt.Sprintf("%d server crashes, want 1", n))
	}
	for _, k := range []string{FaultLMSOutage503, Fault5xx, Fault429, FaultLost} {
		if res.Faults[k] == 0 {
			out = append(out, fmt.Sprintf("no fault of kind %q injected", k))
		}
	}
	for kind, codes := range res.Codes {
		for code := range codes {
			if code < 200 || code >= 500 && code != 503 {
				out = append(out, fmt.Sprintf("%s answered %d %d times", kind, code, codes[code]))
			}
		}
	}
	return out
}
