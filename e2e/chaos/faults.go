package chaos

import (
	"context"
	"net/http"
	"time"
)

// Fault kinds, as the result counts them.
const (
	FaultWorkerKill   = "worker killed (SIGKILL) and restarted"
	FaultServerCrash  = "Temporal server killed (SIGKILL) and restarted, store kept"
	FaultLMSOutage    = "LMS down (every call 503), seconds"
	FaultLMSOutage503 = "LMS answers lost to the outage"
	Fault5xx          = "LMS 5xx (10 % of calls: 500, 502, 503)"
	Fault429          = "LMS 429 with Retry-After (10 % of calls)"
	FaultLost         = "LMS lost answers (10 % of writes applied, then 504, connection dropped or held past the timeout)"
)

// lmsOutage is how long the LMS is down.
const lmsOutage = 8 * time.Second

// faultWindow is one setting of the sandbox's faults in the rotation.
type faultWindow struct {
	kind string
	json map[string]any
}

// rotation is how the LMS misbehaves all through the load, one way at a
// time.
func rotation() []faultWindow {
	return []faultWindow{
		{Fault5xx, map[string]any{"error_rate": 0.1, "error_status": 500}},
		{Fault429, map[string]any{"error_rate": 0.1, "error_status": 429, "retry_after_seconds": 1}},
		{FaultLost, map[string]any{"lost_answer_rate": 0.1, "lost_answer_mode": "504"}},
		{Fault5xx, map[string]any{"error_rate": 0.1, "error_status": 502}},
		{Fault429, map[string]any{"error_rate": 0.1, "error_status": 429, "retry_after_seconds": 2}},
		{FaultLost, map[string]any{"lost_answer_rate": 0.1, "lost_answer_mode": "drop"}},
		{Fault5xx, map[string]any{"error_rate": 0.1, "error_status": 503}},
		{FaultLost, map[string]any{"lost_answer_rate": 0.1, "lost_answer_mode": "hang"}},
	}
}

// step is one scheduled fault, run once the load's progress reaches at.
type step struct {
	at   float64
	kind string
	// worker killed (FaultWorkerKill).
	worker int
}

// schedule injects the run's faults.
type schedule struct {
	r     *run
	steps []step
	// cur is the rotation's window (-1: none), next the one after it;
	// injected the sandbox's count of injected faults when cur began.
	cur, next int
	injected  int
}

func newSchedule(r *run) *schedule {
	w := r.target.Workers()
	return &schedule{r: r, cur: -1, steps: []step{
		{at: 0.10, kind: FaultWorkerKill, worker: 0},
		{at: 0.22, kind: FaultLMSOutage},
		{at: 0.35, kind: FaultWorkerKill, worker: 1 % w},
		{at: 0.50, kind: FaultServerCrash},
		{at: 0.65, kind: FaultWorkerKill, worker: 0},
		{at: 0.80, kind: FaultWorkerKill, worker: (w - 1) % w},
	}}
}

// progress is how far the load is: orders placed and orders whose script
// has ended, each half of the way.
func (f *schedule) progress() float64 {
	n := float64(len(f.r.p.Orders))
	return (float64(f.r.placed.Load()) + float64(f.r.finished.Load())) / (2 * n)
}

// run injects faults until loadDone is closed: the rotation all along, the
// steps as the load progresses (those the load outran, right after it).
// It leaves the sandbox without faults.
func (f *schedule) run(ctx context.Context, loadDone <-chan struct{}) {
	log := f.r.cfg.Log
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastRotate := time.Time{}
	done := false
	for len(f.steps) > 0 || !done {
		select {
		case <-ctx.Done():
			return
		case <-loadDone:
			done = true
			loadDone = nil
		case <-tick.C:
		}
		if len(f.steps) > 0 && (done || f.progress() >= f.steps[0].at) {
			s := f.steps[0]
			f.steps = f.steps[1:]
			if done {
				log("fault %q after the load (it outran the schedule)", s.kind)
			}
			f.inject(ctx, s)
			lastRotate = time.Time{}
			continue
		}
		if !done && time.Since(lastRotate) >= 3*time.Second {
			f.rotate(ctx)
			lastRotate = time.Now()
		}
	}
	f.endWindow(ctx)
	f.setFaults(ctx, map[string]any{})
}

// rotate ends the current fault window and begins the next.
func (f *schedule) rotate(ctx context.Context) {
	f.endWindow(ctx)
	f.cur, f.next = f.next, (f.next+1)%len(rotation())
	f.injected = f.stats(ctx)
	f.setFaults(ctx, rotation()[f.cur].json)
}

// endWindow counts the faults the current window injected.
func (f *schedule) endWindow(ctx context.Context) {
	if f.cur < 0 {
		return
	}
	n := f.stats(ctx)
	if n < f.injected { // the sandbox restarted with the server: counted anew
		f.injected = 0
	}
	f.r.tally(func(res *Result) { res.Faults[rotation()[f.cur].kind] += n - f.injected })
	f.cur = -1
}

func (f *schedule) inject(ctx context.Context, s step) {
	r, log := f.r, f.r.cfg.Log
	f.endWindow(ctx)
	f.setFaults(ctx, map[string]any{})
	log("fault: %s (progress %.0f %%)", s.kind, 100*f.progress())
	switch s.kind {
	case FaultWorkerKill:
		// Queries of the orders the killed worker held time out until
		// Temporal gives them to another worker.
		w := r.d.openWindow()
		defer r.d.closeWindow(w, 20*time.Second)
		if err := r.target.KillWorker(s.worker); err != nil {
			r.d.problem("kill worker %d: %v", s.worker, err)
			return
		}
		sleep(ctx, 2*time.Second)
		if err := r.target.StartWorker(s.worker); err != nil {
			r.d.problem("start worker %d: %v", s.worker, err)
			return
		}
		r.tally(func(res *Result) { res.Faults[FaultWorkerKill]++ })
	case FaultLMSOutage:
		before := f.stats(ctx)
		f.setFaults(ctx, map[string]any{"outage_seconds": lmsOutage.Seconds()})
		sleep(ctx, lmsOutage+500*time.Millisecond)
		lost := f.stats(ctx) - before
		r.tally(func(res *Result) {
			res.Faults[FaultLMSOutage] += int(lmsOutage.Seconds())
			res.Faults[FaultLMSOutage503] += lost
		})
	case FaultServerCrash:
		w := r.d.openWindow()
		if err := r.target.CrashServer(); err != nil {
			r.d.problem("crash the server: %v", err)
		}
		sleep(ctx, 3*time.Second)
		began := time.Now()
		if err := r.target.StartServer(ctx); err != nil {
			r.d.problem("start the server again: %v", err)
		}
		// A request sent while it was down may wait out the API's
		// request timeout (30 s) before its 503.
		r.d.closeWindow(w, 40*time.Second)
		log("server back after %s", time.Since(began).Round(time.Millisecond))
		r.tally(func(res *Result) { res.Faults[FaultServerCrash]++ })
	}
}

func (f *schedule) setFaults(ctx context.Context, j map[string]any) {
	if err := f.r.d.lms(ctx, http.MethodPost, "/sandbox/faults", j, nil, false); err != nil {
		f.r.d.problem("set LMS faults %v: %v", j, err)
	}
}

// stats is the sandbox's count of injected faults.
func (f *schedule) stats(ctx context.Context) int {
	var s struct {
		InjectedFaults int `json:"injected_faults"`
	}
	if err := f.r.d.lms(ctx, http.MethodGet, "/sandbox/stats", nil, &s, false); err != nil {
		f.r.d.problem("LMS stats: %v", err)
	}
	return s.InjectedFaults
}
