package sandbox

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults are failures injected in front of every LMS path (the token
// endpoint included, the /sandbox/ admin API excluded), and the behaviour
// of an older LMS release.
type Faults struct {
	// Latency delays every answer.
	Latency time.Duration
	// ErrorRate is the share (0..1) of requests answered with ErrorStatus
	// instead of being served.
	ErrorRate float64
	// ErrorStatus is the status of injected errors (default 500). With
	// 429 (or 503) and RetryAfter, a Retry-After header is sent.
	ErrorStatus int
	// Outage answers every request with 503 for this long, counted from
	// when the faults are set (start-up, or the admin call).
	Outage time.Duration
	// RetryAfter is the Retry-After of injected 429 and 503 answers.
	RetryAfter time.Duration
	// LostAnswerRate is the share (0..1) of state-changing requests (every
	// method but GET, HEAD and OPTIONS; the token endpoint excepted) that
	// are applied and whose answer is then lost as LostAnswerMode says:
	// the LMS wrote, the caller never learns it. Reads are never affected.
	LostAnswerRate float64
	// LostAnswerMode is how an answer is lost: LostAnswer504 (the
	// default), LostAnswerDrop or LostAnswerHang.
	LostAnswerMode string
	// IgnoreEmailFilter makes the sandbox behave like an LMS older than
	// Quince: GET /api/enrollment/v1/enrollments ignores its email filter
	// (the listing holds every learner's rows) and an enrollment POST
	// without user ignores email and falls back to the caller's username.
	IgnoreEmailFilter bool
}

// How a lost answer is lost (Faults.LostAnswerMode).
const (
	// LostAnswer504 answers 504 Gateway Timeout, like a proxy that gave up
	// waiting for the LMS.
	LostAnswer504 = "504"
	// LostAnswerDrop closes the connection without an answer.
	LostAnswerDrop = "drop"
	// LostAnswerHang holds the answer until the caller gives up (at most
	// maxHang), then closes the connection.
	LostAnswerHang = "hang"
)

// maxHang bounds how long LostAnswerHang holds a connection whose caller
// has not given up.
const maxHang = time.Minute

func (f Faults) validate() error {
	switch {
	case f.Latency < 0 || f.Outage < 0 || f.RetryAfter < 0:
		return errors.New("sandbox: fault durations must not be negative")
	case f.ErrorRate < 0 || f.ErrorRate > 1 || math.IsNaN(f.ErrorRate):
		return errors.New("sandbox: error rate must be between 0 and 1")
	case f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599):
		return fmt.Errorf("sandbox: error status %d is not a 4xx or 5xx", f.ErrorStatus)
	case f.LostAnswerRate < 0 || f.LostAnswerRate > 1 || math.IsNaN(f.LostAnswerRate):
		return errors.New("sandbox: lost answer rate must be between 0 and 1")
	}
	switch f.LostAnswerMode {
	case "", LostAnswer504, LostAnswerDrop, LostAnswerHang:
	default:
		return fmt.Errorf("sandbox: lost answer mode %q is not %q, %q or %q", f.LostAnswerMode, LostAnswer504, LostAnswerDrop, LostAnswerHang)
	}
	return nil
}

// faultsJSON is the admin API's shape of Faults.
type faultsJSON struct {
	LatencyMS         int64   `json:"latency_ms"`
	ErrorRate         float64 `json:"error_rate"`
	ErrorStatus       int     `json:"error_status"`
	OutageSeconds     float64 `json:"outage_seconds"`
	RetryAfterSeconds float64 `json:"retry_after_seconds"`
	LostAnswerRate    float64 `json:"lost_answer_rate"`
	LostAnswerMode    string  `json:"lost_answer_mode"`
	IgnoreEmailFilter bool    `json:"ignore_email_filter"`
	// OutageRemainingSeconds is reported, never read.
	OutageRemainingSeconds float64 `json:"outage_remaining_seconds,omitempty"`
}

func (j faultsJSON) faults() Faults {
	return Faults{
		Latency:           time.Duration(j.LatencyMS) * time.Millisecond,
		ErrorRate:         j.ErrorRate,
		ErrorStatus:       j.ErrorStatus,
		Outage:            time.Duration(j.OutageSeconds * float64(time.Second)),
		RetryAfter:        time.Duration(j.RetryAfterSeconds * float64(time.Second)),
		LostAnswerRate:    j.LostAnswerRate,
		LostAnswerMode:    j.LostAnswerMode,
		IgnoreEmailFilter: j.IgnoreEmailFilter,
	}
}

type faultState struct {
	Faults
	outageUntil time.Time
}

// SetFaults replaces the injected faults; the zero Faults clears them.
func (l *LMS) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	l.setFaults(f)
	return nil
}

func (l *LMS) setFaults(f Faults) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = faultState{Faults: f}
	if f.Outage > 0 {
		l.faults.outageUntil = l.now().Add(f.Outage)
	}
}

func (l *LMS) faultsJSON() faultsJSON {
	f := l.faults
	j := faultsJSON{
		LatencyMS:         f.Latency.Milliseconds(),
		ErrorRate:         f.ErrorRate,
		ErrorStatus:       f.ErrorStatus,
		OutageSeconds:     f.Outage.Seconds(),
		RetryAfterSeconds: f.RetryAfter.Seconds(),
		LostAnswerRate:    f.LostAnswerRate,
		LostAnswerMode:    f.LostAnswerMode,
		IgnoreEmailFilter: f.IgnoreEmailFilter,
	}
	if rem := f.outageUntil.Sub(l.now()); rem > 0 {
		j.OutageRemainingSeconds = rem.Seconds()
	}
	return j
}

// withFaults injects the configured faults in front of next.
func (l *LMS) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		f := l.faults
		now := l.now()
		l.stats.Requests++
		closed := l.closed
		l.mu.Unlock()
		if closed {
			http.Error(w, "sandbox LMS closed", http.StatusServiceUnavailable)
			return
		}
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if rem := f.outageUntil.Sub(now); rem > 0 {
			l.countFault()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rem.Seconds()))))
			writeHTML(w, http.StatusServiceUnavailable, "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>")
			return
		}
		if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
			l.countFault()
			status := f.ErrorStatus
			if status == 0 {
				status = http.StatusInternalServerError
			}
			secs := int(math.Ceil(f.RetryAfter.Seconds()))
			switch {
			case status == http.StatusTooManyRequests:
				if secs < 1 {
					secs = 1
				}
				writeThrottled(w, secs)
			case status >= 500:
				if status == http.StatusServiceUnavailable && secs > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(secs))
				}
				writeHTML(w, status, "<h1>Server Error ("+strconv.Itoa(status)+")</h1>")
			default:
				writeJSON(w, status, map[string]any{"message": "Injected fault " + strconv.Itoa(status) + "."})
			}
			return
		}
		if f.LostAnswerRate > 0 && isWrite(r) && rand.Float64() < f.LostAnswerRate {
			l.countFault()
			next.ServeHTTP(discard{header: http.Header{}}, r) // the write happens
			l.loseAnswer(w, r, f.LostAnswerMode)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isWrite reports a state-changing LMS request. Token requests are not: a
// lost token costs the caller nothing but another token request.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return r.URL.Path != tokenPath
}

// loseAnswer stands in for the answer of a request that has been served.
func (l *LMS) loseAnswer(w http.ResponseWriter, r *http.Request, mode string) {
	switch mode {
	case LostAnswerDrop:
		hangUp(w)
	case LostAnswerHang:
		t := time.NewTimer(maxHang)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-l.closing:
		case <-t.C:
		}
		hangUp(w)
	default:
		writeHTML(w, http.StatusGatewayTimeout, "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>")
	}
}

// hangUp closes the connection without an answer: hijacked where the
// server allows it, else by aborting the handler (HTTP/2 resets the stream).
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// discard is the ResponseWriter of a request whose answer is lost.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

func (l *LMS) countFault() {
	l.mu.Lock()
	l.stats.InjectedFaults++
	l.mu.Unlock()
}

func writeHTML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = strings.NewReader(body).WriteTo(w)
}
