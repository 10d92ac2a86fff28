package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// `fulfillment bench --mode throughput|latency`: rounds of each variant in
// turn, every round a closed loop of --in-flight clients for --duration.

// The variants a round runs.
const (
	variantOurs    = "ours"
	variantPoll    = "ours-poll"
	variantCeiling = "ceiling"
	variantDirect  = "direct"
)

// orderTimeout bounds one order of a throughput or latency round.
const orderTimeout = 2 * time.Minute

// roundResult is one round of one variant.
type roundResult struct {
	Variant   string
	Round     int
	Orders    int
	Errors    int
	Wall      time.Duration
	Latencies []time.Duration // sorted
	FirstErr  error
	// Duration is the round's length (--duration): no order starts after.
	Duration time.Duration
	// Done are the offsets from the round's start at which its orders
	// ended well.
	Done []time.Duration
}

// variantStats pools a variant's rounds.
type variantStats struct {
	Orders, Errors int
	OrdersPerSec   float64
	P50, P90, P99  time.Duration
}

// benchResult is the JSON object a benchmark prints as its last line. The
// latency and large fields are there only in their modes.
type benchResult struct {
	OrdersPerSec        float64  `json:"orders_per_sec"`
	LinesPerSec         float64  `json:"lines_per_sec"`
	P50Ms               float64  `json:"p50_ms"`
	P90Ms               float64  `json:"p90_ms"`
	P99Ms               float64  `json:"p99_ms"`
	CeilingOrdersPerSec float64  `json:"ceiling_orders_per_sec"`
	CeilingP50Ms        float64  `json:"ceiling_p50_ms"`
	CeilingP99Ms        float64  `json:"ceiling_p99_ms"`
	Ratio               float64  `json:"ratio"`
	Errors              int      `json:"errors"`
	DirectP50Ms         *float64 `json:"direct_p50_ms,omitempty"`
	Seconds             *float64 `json:"seconds,omitempty"`
	MaxHistoryEvents    *int     `json:"max_history_events,omitempty"`
	PeakRSSMB           *float64 `json:"peak_rss_mb,omitempty"`
	// For rounds of 2 minutes or more: ours' orders ended in the first
	// minute of its rounds and in the last minute before each round's end
	// (--duration), per second.
	FirstMinuteOrdersPerSec *float64 `json:"first_minute_orders_per_sec,omitempty"`
	LastMinuteOrdersPerSec  *float64 `json:"last_minute_orders_per_sec,omitempty"`
}

// orderFunc runs one order numbered number to its end.
type orderFunc func(ctx context.Context, number string) error

func runRoundsBench(cmd *cobra.Command, cfg benchConfig) error {
	ctx := cmd.Context()
	s, stop, err := startBenchStack(ctx, cfg, contract.Options{})
	if err != nil {
		return err
	}
	defer stop()
	for l := range cfg.lines {
		if err := sandboxAdmin(ctx, s.LMSURL, "/sandbox/courses", map[string]any{"course_id": benchCourse(l), "modes": []string{"audit", "verified"}}); err != nil {
			return err
		}
	}
	c := benchClient(s.APIURL, s.APIToken, cfg.inFlight)
	lineTime := 2 * cfg.lmsLatency
	ceiling := ceilingInput{Lines: cfg.lines, LineTime: lineTime, Parallel: contract.DefaultMaxParallelLines, Batch: contract.DefaultBatchSize}
	variants := []struct {
		name string
		run  orderFunc
	}{
		{variantOurs, func(ctx context.Context, n string) error { return oursWait(ctx, c, benchOrder(n, cfg.lines)) }},
		{variantCeiling, func(ctx context.Context, n string) error { return runCeiling(ctx, s.Client, "ceiling-"+n, ceiling) }},
	}
	if cfg.poll > 0 {
		variants = append(variants, struct {
			name string
			run  orderFunc
		}{variantPoll, func(ctx context.Context, n string) error { return oursPoll(ctx, c, benchOrder(n, cfg.lines), cfg.poll) }})
	}
	if cfg.mode == benchModeLatency {
		variants = append(variants, struct {
			name string
			run  orderFunc
		}{variantDirect, func(ctx context.Context, n string) error { return direct(ctx, s.Registry, benchOrder(n, cfg.lines)) }})
	}
	// Order numbers must be new in a reused --data-dir.
	stamp := strconv.FormatInt(time.Now().Unix()%(36*36*36*36*36), 36)
	progress := cmd.ErrOrStderr()
	// A short warm-up of each variant, not counted: the first orders pay
	// for caches and connections.
	for _, v := range variants {
		if err := v.run(ctx, fmt.Sprintf("W%s-%s", stamp, strings.ReplaceAll(v.name, "-", ""))); err != nil {
			return fmt.Errorf("warm-up of %s: %w", v.name, err)
		}
	}
	var rounds []roundResult
	for r := range cfg.rounds {
		for vi, v := range variants {
			prefix := fmt.Sprintf("B%s-%d%c", stamp, r, 'a'+rune(vi))
			res := runRound(ctx, cfg.inFlight, cfg.duration, prefix, v.run)
			res.Variant, res.Round = v.name, r+1
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(progress, "round %d %-9s %5d orders %7.1f/s p50 %s p99 %s errors %d\n", r+1, v.name, res.Orders,
				float64(res.Orders)/res.Wall.Seconds(), percentile(res.Latencies, 50).Round(time.Millisecond),
				percentile(res.Latencies, 99).Round(time.Millisecond), res.Errors)
			if res.FirstErr != nil {
				fmt.Fprintf(progress, "  first error: %v\n", res.FirstErr)
			}
			rounds = append(rounds, res)
		}
	}
	events := map[string]int{}
	for _, v := range []string{variantOurs, variantCeiling} {
		id := contract.OrderWorkflowID(fmt.Sprintf("W%s-%s", stamp, v))
		if v == variantCeiling {
			id = "ceiling-" + fmt.Sprintf("W%s-%s", stamp, v)
		}
		if events[v], err = historyEvents(ctx, s.Client, id); err != nil {
			return fmt.Errorf("history of %s: %w", id, err)
		}
	}
	return writeRoundsReport(cmd.OutOrStdout(), cfg, rounds, events)
}

// runRound keeps inFlight orders going for d, each numbered prefix-<i>, and
// returns once the last has ended.
func runRound(ctx context.Context, inFlight int, d time.Duration, prefix string, run orderFunc) roundResult {
	var (
		mu   sync.Mutex
		res  roundResult
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d && ctx.Err() == nil {
				n := fmt.Sprintf("%s-%d", prefix, next.Add(1))
				octx, cancel := context.WithTimeout(ctx, orderTimeout)
				t0 := time.Now()
				err := run(octx, n)
				took := time.Since(t0)
				cancel()
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
				} else {
					res.Orders++
					res.Latencies = append(res.Latencies, took)
					res.Done = append(res.Done, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Wall, res.Duration = time.Since(start), d
	slices.Sort(res.Latencies)
	return res
}

// benchOrder is an order of lines verified seats, one course each, for a
// learner of its own.
func benchOrder(number string, lines int) order.Order {
	user := "bench" + strings.ReplaceAll(strings.ToLower(number), "-", "")
	o := order.Order{Number: number, User: order.User{Username: user}, PlacedAt: time.Now().UTC()}
	for l := range lines {
		o.Lines = append(o.Lines, order.Line{ID: strconv.Itoa(l + 1), ProductType: order.ProductSeat,
			CourseID: benchCourse(l), Mode: "verified"})
	}
	return o
}

// oursWait places o with ?wait= and, if it has not settled by the answer,
// waits on its status with ?wait= until it has.
func oursWait(ctx context.Context, c *api.Client, o order.Order) error {
	_, settled, err := c.CreateOrderWait(ctx, o, api.MaxWait)
	if err != nil {
		return fmt.Errorf("order %s: %w", o.Number, err)
	}
	for settled == nil || settled.Status == contract.OrderFulfilling {
		st, err := c.StatusWait(ctx, o.Number, api.MaxWait)
		if unavailable(err) && ctx.Err() == nil {
			continue // the API asks to try again shortly
		}
		if err != nil {
			return fmt.Errorf("status of %s: %w", o.Number, err)
		}
		settled = &st
	}
	return fulfilled(*settled)
}

// oursPoll places o and reads its status every poll until it is fulfilled.
func oursPoll(ctx context.Context, c *api.Client, o order.Order, poll time.Duration) error {
	if _, err := c.CreateOrder(ctx, o); err != nil {
		return fmt.Errorf("order %s: %w", o.Number, err)
	}
	for {
		st, err := c.Status(ctx, o.Number)
		if err != nil {
			return fmt.Errorf("status of %s: %w", o.Number, err)
		}
		if st.Status != contract.OrderFulfilling {
			return fulfilled(st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// unavailable reports whether err is the API's 503: Temporal was too busy
// to answer in time; the order is fine, the client tries again.
func unavailable(err error) bool {
	p, ok := api.AsProblem(err)
	return ok && p.Status == http.StatusServiceUnavailable
}

func fulfilled(st api.OrderStatus) error {
	if st.Status != contract.OrderFulfilled {
		return fmt.Errorf("order %s is %s: %v", st.OrderNumber, st.Status, st.LineCounts)
	}
	return nil
}

// direct fulfills o the old synchronous way: every line's module called
// in parallel in this process (observe, then fulfill), no Temporal.
func direct(ctx context.Context, reg *modules.Registry, o order.Order) error {
	errs := make([]error, len(o.Lines))
	var wg sync.WaitGroup
	for i, l := range o.Lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, ok := reg.Module(l.ProductType)
			if !ok {
				errs[i] = fmt.Errorf("no module for %s", l.ProductType)
				return
			}
			req := modules.Request{OrderNumber: o.Number, User: o.User, Line: l}
			if obs, ok := m.(modules.Observer); ok {
				r := obs.Observe(ctx, req)
				if !r.OK() {
					errs[i] = fmt.Errorf("observe line %s: %s", l.ID, r.ErrorType)
					return
				}
				// As the workflow does: the fulfill that follows at once
				// writes from the observation.
				req.Prior, req.PriorFresh = r.Grant, true
			}
			if r := m.Fulfill(ctx, req); !r.OK() {
				errs[i] = fmt.Errorf("fulfill line %s: %s", l.ID, r.ErrorType)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pool is a variant's rounds pooled: orders over the summed wall time, and
// the percentiles of every latency.
func pool(rounds []roundResult, variant string) variantStats {
	var (
		st   variantStats
		wall time.Duration
		all  []time.Duration
	)
	for _, r := range rounds {
		if r.Variant != variant {
			continue
		}
		st.Orders += r.Orders
		st.Errors += r.Errors
		wall += r.Wall
		all = append(all, r.Latencies...)
	}
	slices.Sort(all)
	if wall > 0 {
		st.OrdersPerSec = float64(st.Orders) / wall.Seconds()
	}
	st.P50, st.P90, st.P99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
	return st
}

// roundsResult is the JSON line of a throughput or latency benchmark.
func roundsResult(cfg benchConfig, rounds []roundResult) benchResult {
	ours, ceil := pool(rounds, variantOurs), pool(rounds, variantCeiling)
	res := benchResult{
		OrdersPerSec: roundTo(ours.OrdersPerSec, 2), LinesPerSec: roundTo(ours.OrdersPerSec*float64(cfg.lines), 2),
		P50Ms: ms(ours.P50), P90Ms: ms(ours.P90), P99Ms: ms(ours.P99),
		CeilingOrdersPerSec: roundTo(ceil.OrdersPerSec, 2), CeilingP50Ms: ms(ceil.P50), CeilingP99Ms: ms(ceil.P99),
		Errors: ours.Errors,
	}
	if ceil.OrdersPerSec > 0 {
		res.Ratio = roundTo(ours.OrdersPerSec/ceil.OrdersPerSec, 3)
	}
	if cfg.mode == benchModeLatency {
		d := ms(pool(rounds, variantDirect).P50)
		res.DirectP50Ms = &d
	}
	if first, last, ok := minuteRates(rounds, variantOurs); ok {
		res.FirstMinuteOrdersPerSec, res.LastMinuteOrdersPerSec = &first, &last
	}
	return res
}

// minuteRates are the orders per second a variant ended in the first
// minute of its rounds and in the last minute before each round's end,
// over its rounds of at least two minutes (ok is false without one): does
// it hold its pace, or slow as its data grows?
func minuteRates(rounds []roundResult, variant string) (first, last float64, ok bool) {
	var n, inFirst, inLast int
	for _, r := range rounds {
		if r.Variant != variant || r.Duration < 2*time.Minute {
			continue
		}
		n++
		for _, d := range r.Done {
			if d < time.Minute {
				inFirst++
			}
			if d >= r.Duration-time.Minute && d < r.Duration {
				inLast++
			}
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	per := float64(n) * time.Minute.Seconds()
	return roundTo(float64(inFirst)/per, 2), roundTo(float64(inLast)/per, 2), true
}

// writeRoundsReport prints a table of the rounds and of each variant
// pooled, the events of one order of ours and of the ceiling, then the JSON
// line.
func writeRoundsReport(w io.Writer, cfg benchConfig, rounds []roundResult, events map[string]int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tvariant\torders\torders/s\tp50 ms\tp90 ms\tp99 ms\terrors\t")
	for _, r := range rounds {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%d\t\n", r.Round, r.Variant, r.Orders, float64(r.Orders)/r.Wall.Seconds(),
			ms(percentile(r.Latencies, 50)), ms(percentile(r.Latencies, 90)), ms(percentile(r.Latencies, 99)), r.Errors)
	}
	seen := map[string]bool{}
	for _, r := range rounds {
		if seen[r.Variant] {
			continue
		}
		seen[r.Variant] = true
		st := pool(rounds, r.Variant)
		fmt.Fprintf(tw, "all\t%s\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%d\t\n", r.Variant, st.Orders, st.OrdersPerSec, ms(st.P50), ms(st.P90), ms(st.P99), st.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	res := roundsResult(cfg, rounds)
	fmt.Fprintf(w, "%s: %d in flight, %d seat lines, LMS latency %s, %d rounds of %s; ratio (ours / ceiling orders/s) %.3f\n",
		cfg.mode, cfg.inFlight, cfg.lines, cfg.lmsLatency, cfg.rounds, cfg.duration, res.Ratio)
	if len(events) > 0 {
		fmt.Fprintf(w, "history events of one order: ours %d, ceiling %d\n", events[variantOurs], events[variantCeiling])
	}
	if res.FirstMinuteOrdersPerSec != nil && *res.FirstMinuteOrdersPerSec > 0 {
		fmt.Fprintf(w, "ours: %.1f orders/s in the first minute, %.1f in the last (%.3f of the first)\n",
			*res.FirstMinuteOrdersPerSec, *res.LastMinuteOrdersPerSec, *res.LastMinuteOrdersPerSec / *res.FirstMinuteOrdersPerSec)
	}
	return writeJSONLine(w, res)
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 { return roundTo(float64(d)/float64(time.Millisecond), 1) }

// benchClient is an API client that keeps a connection per client in
// flight, as a shop's HTTP client pool would (Go's default keeps 2).
func benchClient(url, token string, inFlight int) *api.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 2*inFlight, 2*inFlight
	return &api.Client{BaseURL: url, Token: token, HTTPClient: &http.Client{Transport: t, Timeout: 60 * time.Second}}
}
