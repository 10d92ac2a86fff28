package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// `fulfillment bench --mode large`: one order of thousands of seat lines at
// a time, timed from its POST until the API reads it fulfilled.

// largeCourseWorkers is how many sandbox courses are created at a time.
const largeCourseWorkers = 16

// largeRound is what one round of --mode large measured.
type largeRound struct {
	Number  string
	Seconds float64
	// MaxHistory is the largest history, in events, among the order's
	// executions, and MaxHistoryOf the workflow ID that has it.
	MaxHistory   int
	MaxHistoryOf string
	// PeakRSSMB is the process's peak RSS so far (VmHWM: since start-up, rounds
	// before this one included), read at the end of the round.
	PeakRSSMB float64
	// CeilingSeconds is the ceiling's time for an order of the same size.
	CeilingSeconds float64
}

func runLargeBench(cmd *cobra.Command, cfg benchConfig) error {
	ctx := cmd.Context()
	// resolve checked both options within contract.Options' bounds; a zero
	// cap takes the product's default for an order of this size.
	opts := contract.Options{MaxParallelLines: cfg.maxParallelLines, BatchSize: cfg.batchSize}
	effective := opts.ForOrder(cfg.lines).WithDefaults()
	cfg.maxParallelLines = effective.MaxParallelLines
	s, stop, err := startBenchStack(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer stop()
	c := benchClient(s.APIURL, s.APIToken, 1)
	out, progress := cmd.OutOrStdout(), cmd.ErrOrStderr()
	// Order numbers must be new in a reused --data-dir; the short stamp
	// keeps every course key short (the API takes 1 MiB of JSON).
	stamp := strconv.FormatInt(time.Now().Unix()%(36*36*36*36*36), 36)
	ceiling := ceilingInput{Lines: cfg.lines, LineTime: 2 * cfg.lmsLatency, Parallel: effective.MaxParallelLines, Batch: effective.BatchSize}
	var rounds []largeRound
	for r := range cfg.rounds {
		o := largeOrder(stamp, r, cfg.lines)
		started := time.Now()
		if err := createCourses(ctx, s.LMSURL, o.Lines, largeCourseWorkers); err != nil {
			return err
		}
		fmt.Fprintf(progress, "round %d: %d courses created in %s; placing order %s\n",
			r+1, cfg.lines, time.Since(started).Round(time.Millisecond), o.Number)
		d, err := placeAndWait(ctx, c, o, cfg.roundTimeout, progress)
		if err != nil {
			return err
		}
		round := largeRound{Number: o.Number, Seconds: roundTo(d.Seconds(), 3)}
		if round.MaxHistory, round.MaxHistoryOf, err = largestHistory(ctx, s.Client, o.Number, cfg.lines, effective.BatchSize, progress); err != nil {
			return err
		}
		if round.PeakRSSMB, err = peakRSSMB(); err != nil {
			return err
		}
		fmt.Fprintf(progress, "round %d: fulfilled in %.3fs, largest history %d events (%s)\n",
			r+1, round.Seconds, round.MaxHistory, round.MaxHistoryOf)
		cctx, cancel := context.WithTimeout(ctx, cfg.roundTimeout)
		started = time.Now()
		err = runCeiling(cctx, s.Client, "ceiling-"+o.Number, ceiling)
		cancel()
		if err != nil {
			return err
		}
		round.CeilingSeconds = roundTo(time.Since(started).Seconds(), 3)
		fmt.Fprintf(progress, "round %d: ceiling in %.3fs\n", r+1, round.CeilingSeconds)
		rounds = append(rounds, round)
	}
	return writeLargeReport(out, cfg, rounds)
}

// largeOrder is round r's order: lines seat lines in verified mode, each in
// a course run of its own, for a learner of its own. Ids and course keys
// are short: 10,000 lines must fit the API's 1 MiB body limit.
func largeOrder(stamp string, r, lines int) order.Order {
	o := order.Order{Number: fmt.Sprintf("L%s-%d", stamp, r), User: order.User{Username: fmt.Sprintf("lb%sr%d", stamp, r)},
		PlacedAt: time.Now().UTC().Truncate(time.Second), Lines: make([]order.Line, lines)}
	for i := range lines {
		o.Lines[i] = order.Line{ID: strconv.Itoa(i + 1), ProductType: order.ProductSeat,
			CourseID: fmt.Sprintf("course-v1:%sr%d+%s+R", stamp, r, strconv.FormatInt(int64(i), 36)), Mode: "verified"}
	}
	return o
}

// createCourses creates each line's course run (audit and verified) in the
// sandbox LMS, workers at a time.
func createCourses(ctx context.Context, lmsURL string, lines []order.Line, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan string)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := sandboxAdmin(ctx, lmsURL, "/sandbox/courses", map[string]any{"course_id": id, "modes": []string{"audit", "verified"}}); err != nil {
					once.Do(func() { first = fmt.Errorf("create course %s: %w", id, err); cancel() })
				}
			}
		}()
	}
feed:
	for _, l := range lines {
		select {
		case next <- l.CourseID:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err() // the caller's cancel (our own cancel runs later)
	}
	return first
}

// placeAndWait posts o and returns the time from the POST until its status
// reads fulfilled with every line fulfilled, waiting with ?wait=.
func placeAndWait(ctx context.Context, c *api.Client, o order.Order, timeout time.Duration, progress io.Writer) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, settled, err := c.CreateOrderWait(ctx, o, api.MaxWait)
	if err != nil {
		return 0, fmt.Errorf("order %s: %w", o.Number, err)
	}
	for {
		if settled != nil {
			if largeDone(*settled, len(o.Lines)) {
				return time.Since(start), nil
			}
			if settled.Status != contract.OrderFulfilling {
				return 0, fmt.Errorf("order %s is %s: %v", o.Number, settled.Status, settled.LineCounts)
			}
		}
		st, err := c.StatusWait(ctx, o.Number, api.MaxWait)
		if unavailable(err) && ctx.Err() == nil {
			fmt.Fprintf(progress, "status of %s: %v; trying again\n", o.Number, err)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("order %s not fulfilled within %s (--round-timeout)", o.Number, timeout)
			}
			return 0, fmt.Errorf("status of %s: %w", o.Number, err)
		}
		settled = &st
	}
}

// largeDone reports whether st shows an order of lines lines fulfilled.
func largeDone(st api.OrderStatus, lines int) bool {
	return st.Status == contract.OrderFulfilled && st.LinesTotal == lines && st.LineCounts[contract.LineFulfilled] == lines
}

// largeExecutions are the workflow IDs of an order of lines lines
// fulfilled in one run: the order and, when it is larger than one batch,
// its batch children.
func largeExecutions(number string, lines, batchSize int) []string {
	id := contract.OrderWorkflowID(number)
	ids := []string{id}
	if lines <= batchSize {
		return ids
	}
	for k := range (lines + batchSize - 1) / batchSize {
		ids = append(ids, contract.BatchWorkflowID(contract.FulfillmentID(number, 1), k))
	}
	return ids
}

// largestHistory returns the most events in the history of one of the
// order's executions, and which. A batch child that is not found is
// reported on warn and skipped.
func largestHistory(ctx context.Context, c client.Client, number string, lines, batchSize int, warn io.Writer) (int, string, error) {
	most, which := 0, ""
	for _, id := range largeExecutions(number, lines, batchSize) {
		n, err := historyEvents(ctx, c, id)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) && id != contract.OrderWorkflowID(number) {
			fmt.Fprintf(warn, "warning: %s not found; its history is not counted\n", id)
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("history of %s: %w", id, err)
		}
		if n > most {
			most, which = n, id
		}
	}
	return most, which, nil
}

// historyEvents counts the events of a workflow's latest run.
func historyEvents(ctx context.Context, c client.Client, workflowID string) (int, error) {
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// peakRSSMB is this process's peak resident set size (VmHWM), in MiB.
func peakRSSMB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	kb, err := parseVmHWM(string(b))
	if err != nil {
		return 0, err
	}
	return roundTo(float64(kb)/1024, 1), nil
}

// parseVmHWM reads the VmHWM line of a /proc/<pid>/status text, in kB.
func parseVmHWM(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("peak RSS: cannot read %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("peak RSS: cannot read %q", strings.TrimSpace(line))
		}
		return kb, nil
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc/self/status")
}

// largeSummary is the JSON line of rounds: the medians and percentiles of
// the rounds' seconds (one order per round), ours and the ceiling's, the
// largest history and the peak RSS over all rounds.
func largeSummary(cfg benchConfig, rounds []largeRound) benchResult {
	var ours, ceil []time.Duration
	var secs []float64
	res := benchResult{}
	hist, rss := 0, 0.0
	for _, r := range rounds {
		ours = append(ours, time.Duration(r.Seconds*float64(time.Second)))
		ceil = append(ceil, time.Duration(r.CeilingSeconds*float64(time.Second)))
		secs = append(secs, r.Seconds)
		hist, rss = max(hist, r.MaxHistory), max(rss, r.PeakRSSMB)
	}
	slices.Sort(ours)
	slices.Sort(ceil)
	seconds := roundTo(medianOf(secs), 3)
	ceilSeconds := roundTo(medianOf(func() []float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = r.CeilingSeconds
		}
		return v
	}()), 3)
	if seconds > 0 {
		res.OrdersPerSec = roundTo(1/seconds, 4)
		res.LinesPerSec = roundTo(float64(cfg.lines)/seconds, 1)
	}
	if ceilSeconds > 0 {
		res.CeilingOrdersPerSec = roundTo(1/ceilSeconds, 4)
	}
	if seconds > 0 && ceilSeconds > 0 {
		res.Ratio = roundTo(ceilSeconds/seconds, 3)
	}
	res.P50Ms, res.P90Ms, res.P99Ms = ms(percentile(ours, 50)), ms(percentile(ours, 90)), ms(percentile(ours, 99))
	res.CeilingP50Ms, res.CeilingP99Ms = ms(percentile(ceil, 50)), ms(percentile(ceil, 99))
	res.Seconds, res.MaxHistoryEvents, res.PeakRSSMB = &seconds, &hist, &rss
	return res
}

// writeLargeReport prints a table of the rounds, the medians, and the
// report as one JSON object on the last line.
func writeLargeReport(w io.Writer, cfg benchConfig, rounds []largeRound) error {
	rep := largeSummary(cfg, rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "round\torder\tlines\tseconds\tlines/s\tceiling seconds\tmax history events\tpeak RSS so far MiB\n")
	for i, r := range rounds {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%.1f\t%.3f\t%d\t%.1f\n", i+1, r.Number, cfg.lines, r.Seconds,
			float64(cfg.lines)/r.Seconds, r.CeilingSeconds, r.MaxHistory, r.PeakRSSMB)
	}
	ceiling := make([]float64, len(rounds))
	for i, r := range rounds {
		ceiling[i] = r.CeilingSeconds
	}
	fmt.Fprintf(tw, "median\t\t%d\t%.3f\t%.1f\t%.3f\t%d\t%.1f\n", cfg.lines, *rep.Seconds, rep.LinesPerSec,
		medianOf(ceiling), *rep.MaxHistoryEvents, *rep.PeakRSSMB)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d lines, --max-parallel-lines %d, --batch-size %d, LMS latency %s; ratio (ceiling / ours seconds) %.3f; peak RSS %.1f MiB\n",
		cfg.lines, cfg.maxParallelLines, cfg.batchSize, cfg.lmsLatency, rep.Ratio, *rep.PeakRSSMB)
	return writeJSONLine(w, rep)
}

// roundTo rounds x to n decimals.
func roundTo(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}
