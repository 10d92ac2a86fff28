package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coursefulfill/fulfillment/lms/sandbox"
)

// Request kinds, as the result counts them.
const (
	reqOrder  = "place order"
	reqRefund = "refund"
	reqRetry  = "retry"
	reqStatus = "status"
	reqBad    = "bad request"
)

// driver sends the load's requests and accounts for every answer.
type driver struct {
	target Target
	hc     *http.Client
	log    func(format string, args ...any)

	mu       sync.Mutex
	codes    map[string]map[int]int
	slowest  map[string]time.Duration
	problems []string
	// down are the windows in which Temporal or a worker was down (and a
	// while after): 503s are expected in them only.
	down []window
}

type window struct{ from, to time.Time }

func newDriver(t Target, timeout time.Duration, log func(string, ...any)) *driver {
	return &driver{target: t, hc: &http.Client{Timeout: timeout}, log: log,
		codes: map[string]map[int]int{}, slowest: map[string]time.Duration{}}
}

func (d *driver) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.problems = append(d.problems, msg)
	d.mu.Unlock()
	d.log("PROBLEM: %s", msg)
}

// openWindow opens a window in which 503s are expected: Temporal is down,
// or a worker was killed (a running order's status is a query that the
// worker holding the order answers; until Temporal gives the order to
// another worker, it times out). closeWindow closes it a grace period
// later (a request sent just before may wait out the API's request
// timeout).
func (d *driver) openWindow() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = append(d.down, window{from: time.Now(), to: time.Now().Add(time.Hour)})
	return len(d.down) - 1
}

func (d *driver) closeWindow(i int, grace time.Duration) {
	d.mu.Lock()
	d.down[i].to = time.Now().Add(grace)
	d.mu.Unlock()
}

func (d *driver) inDownWindow(sent, answered time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.down {
		if !answered.Before(w.from) && !sent.After(w.to) {
			return true
		}
	}
	return false
}

// api sends one request to the API as a shop would: a 503 is retried
// after its Retry-After, a 500 or a transport error (a hang past the
// client timeout among them) is a problem and retried after a second. It
// returns the final answer's code and whether the request was sent more
// than once (its effect may have happened on an earlier send). want are
// the acceptable codes; any other is a problem.
func (d *driver) api(ctx context.Context, kind, method, path string, body, out any, want ...int) (int, bool) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			d.problem("%s %s: %v", method, path, err)
			return 0, false
		}
	}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil || attempt > 40 {
			d.problem("%s %s: gave up after %d attempts", method, path, attempt)
			return 0, attempt > 1
		}
		req, err := http.NewRequestWithContext(ctx, method, d.target.APIURL()+path, bytes.NewReader(payload))
		if err != nil {
			d.problem("%s %s: %v", method, path, err)
			return 0, false
		}
		req.Header.Set("Authorization", "Bearer "+d.target.APIToken())
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		sent := time.Now()
		resp, err := d.hc.Do(req)
		took := time.Since(sent)
		if err != nil {
			if ctx.Err() != nil {
				return 0, attempt > 0
			}
			d.count(kind, 0, took)
			d.problem("%s %s: no answer after %s: %v", method, path, took.Round(time.Millisecond), err)
			sleep(ctx, time.Second)
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d.count(kind, resp.StatusCode, took)
		if err != nil {
			d.problem("%s %s: reading the answer: %v", method, path, err)
			sleep(ctx, time.Second)
			continue
		}
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || ra < 0 {
				d.problem("%s %s: 503 without a Retry-After: %s", method, path, data)
				ra = 1
			}
			if !d.inDownWindow(sent, time.Now()) {
				d.problem("%s %s: 503 while Temporal and every worker were up: %s", method, path, data)
			}
			sleep(ctx, time.Duration(min(ra, 10))*time.Second)
			continue
		case resp.StatusCode >= 500:
			d.problem("%s %s: %d: %s", method, path, resp.StatusCode, data)
			sleep(ctx, time.Second)
			continue
		}
		if len(want) > 0 && !slices.Contains(want, resp.StatusCode) {
			d.problem("%s %s: answered %d, want %v: %s", method, path, resp.StatusCode, want, data)
		}
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(data, out); err != nil {
				d.problem("%s %s: %v: %s", method, path, err, data)
			}
		}
		return resp.StatusCode, attempt > 0
	}
}

func (d *driver) count(kind string, code int, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.codes[kind] == nil {
		d.codes[kind] = map[int]int{}
	}
	d.codes[kind][code]++
	d.slowest[kind] = max(d.slowest[kind], took)
}

// lms sends one request to the sandbox LMS's admin API (or, with the API
// key, its LMS API), retrying while it is unreachable (its process may be
// restarting) for up to two minutes.
func (d *driver) lms(ctx context.Context, method, path string, body, out any, apiKey bool) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := d.lmsOnce(ctx, method, path, payload, body != nil, out, apiKey)
		if err == nil || errors.Is(err, errRefused) || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// errRefused is an answer of the sandbox that retrying does not change.
var errRefused = errors.New("refused")

func (d *driver) lmsOnce(ctx context.Context, method, path string, payload []byte, hasBody bool, out any, apiKey bool) error {
	req, err := http.NewRequestWithContext(ctx, method, d.target.LMSURL()+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiKey {
		req.Header.Set("X-Edx-Api-Key", sandbox.DevAPIKey)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, data, errRefused)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
