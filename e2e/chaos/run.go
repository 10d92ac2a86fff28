package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
)

// Config sizes and bounds a run.
type Config struct {
	// Orders placed, at most Concurrency of them worked on at a time.
	Orders, Concurrency int
	// Seed fixes the orders and what is done with them (not the timing).
	Seed int64
	// Name keeps the run's learners, courses and orders apart from
	// others on the same target.
	Name string
	// ClientTimeout bounds every API call (an answer later than this is a
	// hang, and a problem).
	ClientTimeout time.Duration
	// Timeout bounds the whole run; SettleTimeout the wait for the
	// system to settle once the load has ended.
	Timeout, SettleTimeout time.Duration
	// Log receives the run's progress.
	Log func(format string, args ...any)
}

// Result is what a run did and found.
type Result struct {
	Orders, Lines    int
	LinesByProduct   map[string]int
	LearnersByKind   map[string]int
	FromElsewhere    int
	Refunds          int // accepted refunds
	RacingRefunds    int
	DuplicateRefunds int
	Retries          int
	BadRequests      int
	// Faults injected, by kind.
	Faults map[string]int
	// Codes of the API's answers, by request kind (0: no answer).
	Codes   map[string]map[int]int
	Slowest map[string]time.Duration
	// LoadTime is from the first order to the last request of the load;
	// SettleTime from then until every order was seen settled.
	LoadTime, SettleTime time.Duration
	// Settles are, for each wait of the driver, the time from an order's
	// last request (placed, refunded, retried) until it was seen settled
	// (polled every second).
	Settles []time.Duration
	// Final order statuses and line states.
	Statuses   map[contract.OrderState]int
	LineStates map[contract.LineState]int
	// ActiveGrants are enrollments (and entitlements) the orders left
	// active; Lost orders the API does not know.
	ActiveGrants, Lost int
	// Problems found; none means the run passed.
	Problems []string
}

// run is one run in progress.
type run struct {
	cfg    Config
	target Target
	d      *driver
	p      *plan
	// placed and finished orders, for the fault schedule's progress.
	placed, finished atomic.Int64
	// accepted refund ids by order number.
	mu       sync.Mutex
	accepted map[string][]string
	res      *Result
}

// Run drives the target with cfg's load and fault schedule, waits for it
// to settle and checks it. The error is for a run that could not be
// carried out; what the run found is in Result.Problems.
func Run(ctx context.Context, t Target, cfg Config) (*Result, error) {
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	for _, u := range []string{t.APIURL(), t.LMSURL()} {
		if !loopback(u) {
			return nil, fmt.Errorf("chaos: %s is not on loopback; the suite kills processes and floods what it drives, so it only drives this machine", u)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &run{cfg: cfg, target: t, d: newDriver(t, cfg.ClientTimeout, cfg.Log), p: newPlan(cfg.Seed, cfg.Orders, cfg.Name),
		accepted: map[string][]string{}, res: &Result{Faults: map[string]int{}, LinesByProduct: map[string]int{},
			LearnersByKind: map[string]int{}, Statuses: map[contract.OrderState]int{}, LineStates: map[contract.LineState]int{}}}
	setupStart := time.Now()
	prior, err := r.setup(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Log("set up %d learners' courses and enrollments from elsewhere in %s", len(r.p.Orders), time.Since(setupStart).Round(time.Millisecond))

	f := newSchedule(r)
	faultsDone := make(chan struct{})
	loadDone := make(chan struct{})
	go func() { f.run(ctx, loadDone); close(faultsDone) }()

	start := time.Now()
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	for _, o := range r.p.Orders {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done(); r.finished.Add(1) }()
			r.script(ctx, o)
		}()
	}
	wg.Wait()
	close(loadDone)
	<-faultsDone
	r.res.LoadTime = time.Since(start)
	cfg.Log("load done in %s", r.res.LoadTime.Round(time.Second))

	settleStart := time.Now()
	r.settleAll(ctx)
	r.res.SettleTime = time.Since(settleStart)
	cfg.Log("settled in %s", r.res.SettleTime.Round(time.Millisecond))
	r.check(ctx, prior)
	r.d.mu.Lock()
	r.res.Codes, r.res.Slowest = r.d.codes, r.d.slowest
	r.res.Problems = append(r.res.Problems, r.d.problems...)
	r.d.mu.Unlock()
	return r.res, nil
}

// setup creates the courses and the learners with accounts, and enrolls
// learners from elsewhere; it returns every enrollment then in the LMS.
func (r *run) setup(ctx context.Context) (map[[2]string]sandbox.EnrollmentView, error) {
	d := r.d
	if err := d.lms(ctx, http.MethodPost, "/sandbox/faults", map[string]any{}, nil, false); err != nil {
		return nil, err
	}
	for _, c := range r.p.Pool {
		if err := d.lms(ctx, http.MethodPost, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID,
			"modes": []string{"audit", "verified"}}, nil, false); err != nil {
			return nil, err
		}
	}
	for _, c := range r.p.Closed {
		if err := d.lms(ctx, http.MethodPost, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID,
			"modes": []string{"audit", "verified"}, "enrollment_end": "2020-01-01T00:00:00Z"}, nil, false); err != nil {
			return nil, err
		}
	}
	work := make(chan *orderPlan)
	errs := make(chan error, len(r.p.Orders))
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				errs <- r.setupOrder(ctx, o)
			}
		}()
	}
	for _, o := range r.p.Orders {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var snap sandbox.Snapshot
	if err := d.lms(ctx, http.MethodGet, "/sandbox/enrollments", nil, &snap, false); err != nil {
		return nil, err
	}
	prior := map[[2]string]sandbox.EnrollmentView{}
	for _, e := range snap.Enrollments {
		prior[[2]string{e.User, e.CourseID}] = e
	}
	return prior, nil
}

func (r *run) setupOrder(ctx context.Context, o *orderPlan) error {
	lr := &o.Learner
	if lr.hasAccount() {
		if err := r.d.lms(ctx, http.MethodPost, "/sandbox/users", map[string]any{"username": lr.Name, "email": lr.Email}, nil, false); err != nil {
			return err
		}
	}
	enroll := func(c *course, mode string, active bool) error {
		return r.d.lms(ctx, http.MethodPost, "/api/enrollment/v1/enrollment", map[string]any{"user": lr.Name, "mode": mode,
			"is_active": active, "course_details": map[string]any{"course_id": c.ID}}, nil, true)
	}
	for _, l := range o.Lines {
		if l.Prior.Exists {
			if err := enroll(l.Course, l.Prior.Mode, l.Prior.Active); err != nil {
				return err
			}
		}
	}
	if o.Bystander != nil {
		return enroll(o.Bystander, o.BystanderMode, true)
	}
	return nil
}

// script is what the driver does with one order.
func (r *run) script(ctx context.Context, o *orderPlan) {
	d, exp := r.d, o.expect()
	base := "/api/v1/orders/" + o.Number
	ord := order.Order{Number: o.Number, User: o.Learner.orderUser(), PlacedAt: time.Now().UTC().Truncate(time.Second)}
	for _, l := range o.Lines {
		ol := order.Line{ID: l.ID, ProductType: l.Product, Mode: l.Mode}
		switch {
		case l.Course == nil:
		case l.Product == order.ProductEntitlement:
			ol.CourseUUID = l.Course.UUID
		default:
			ol.CourseID = l.Course.ID
		}
		ord.Lines = append(ord.Lines, ol)
	}
	if o.Bad {
		// An order of a product nobody sells, and the status of an order
		// never placed: rejected, nothing starts.
		bad := ord
		bad.Lines = append(slices.Clone(ord.Lines), order.Line{ID: "99", ProductType: "no-such-product", CourseID: o.Lines[0].courseID()})
		d.api(ctx, reqBad, http.MethodPost, "/api/v1/orders", bad, nil, http.StatusUnprocessableEntity, http.StatusBadRequest)
		d.api(ctx, reqBad, http.MethodGet, "/api/v1/orders/"+o.Number+"-never", nil, nil, http.StatusNotFound)
		r.tally(func(res *Result) { res.BadRequests += 2 })
	}
	code, resent := d.api(ctx, reqOrder, http.MethodPost, "/api/v1/orders", ord, nil, http.StatusAccepted, http.StatusOK)
	if code == http.StatusOK && !resent {
		d.problem("order %s: answered 200 (a duplicate) on its first send", o.Number)
	}
	r.placed.Add(1)
	if code != http.StatusAccepted && code != http.StatusOK {
		return
	}
	if o.Bad {
		// A refund of a line the order does not have.
		d.api(ctx, reqBad, http.MethodPost, base+"/refunds", contract.RefundRequest{RefundID: "bad", LineIDs: []string{"99"}}, nil,
			http.StatusUnprocessableEntity)
		r.tally(func(res *Result) { res.BadRequests++ })
	}
	if o.Race != nil {
		r.refund(ctx, o, o.Race)
	}
	if !r.waitSettled(ctx, o) {
		return
	}
	if o.Retry {
		for _, l := range o.Lines {
			if l.Fix {
				// The operator fixes the cause: the course run exists and
				// takes enrollments.
				if err := d.lms(ctx, http.MethodPost, "/sandbox/courses", map[string]any{"course_id": l.Course.ID,
					"course_uuid": l.Course.UUID, "modes": []string{"audit", "verified"}}, nil, false); err != nil {
					d.problem("order %s: fix line %s: %v", o.Number, l.ID, err)
				}
			}
		}
		want := []int{exp.RetryCode}
		code, resent := d.api(ctx, reqRetry, http.MethodPost, base+"/retry", map[string]any{}, nil, http.StatusAccepted, http.StatusConflict)
		if code != exp.RetryCode && !(resent && code == http.StatusConflict) {
			d.problem("order %s: retry answered %d, the model says %v", o.Number, code, want)
		}
		r.tally(func(res *Result) { res.Retries++ })
		if !r.waitSettled(ctx, o) {
			return
		}
	}
	for i := range o.Settled {
		r.refund(ctx, o, &o.Settled[i])
	}
	if o.Conflict != nil {
		d.api(ctx, reqRefund, http.MethodPost, base+"/refunds", contract.RefundRequest{RefundID: o.Conflict.ID, LineIDs: o.Conflict.Lines},
			nil, http.StatusConflict)
	}
	r.waitSettled(ctx, o)
}

func (l *line) courseID() string {
	if l.Course == nil {
		return sandbox.DemoCourseID
	}
	return l.Course.ID
}

// refund sends one refund (twice when it is a duplicate).
func (r *run) refund(ctx context.Context, o *orderPlan, rf *refund) {
	req := contract.RefundRequest{RefundID: rf.ID, LineIDs: rf.Lines}
	code, resent := r.d.api(ctx, reqRefund, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds", req, nil,
		http.StatusAccepted, http.StatusOK)
	if code == http.StatusOK && !resent {
		r.d.problem("order %s: refund %s answered 200 (a duplicate) on its first send", o.Number, rf.ID)
	}
	if code != http.StatusAccepted && code != http.StatusOK {
		return
	}
	r.tally(func(res *Result) {
		r.accepted[o.Number] = append(r.accepted[o.Number], rf.ID)
		res.Refunds++
		if o.Race == rf {
			res.RacingRefunds++
		}
	})
	if rf.Dup {
		r.d.api(ctx, reqRefund, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds", req, nil, http.StatusOK)
		r.tally(func(res *Result) { res.DuplicateRefunds++ })
	}
}

var terminalLineStates = []contract.LineState{contract.LineFulfilled, contract.LineFailed, contract.LineRevoked,
	contract.LineRevokeFailed, contract.LineRefundedUnfulfilled}

// settled reports whether an order is idle: no line pending, fulfilling,
// retrying or revoking, no refund revoking, and every refund the driver
// had accepted in the document.
func settled(st *contract.StatusDocument, refunds []string) bool {
	for _, l := range st.Lines {
		if !slices.Contains(terminalLineStates, l.State) {
			return false
		}
	}
	for _, rf := range st.Refunds {
		if rf.State == contract.RefundRevoking {
			return false
		}
	}
	for _, id := range refunds {
		if !slices.ContainsFunc(st.Refunds, func(rf contract.RefundStatus) bool { return rf.RefundID == id }) {
			return false
		}
	}
	return true
}

// waitSettled polls the order's status until it is settled; false when it
// did not within the settle timeout.
func (r *run) waitSettled(ctx context.Context, o *orderPlan) bool {
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	var st contract.StatusDocument
	began := time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st = contract.StatusDocument{}
		code, _ := r.d.api(ctx, reqStatus, http.MethodGet, "/api/v1/orders/"+o.Number, nil, &st, http.StatusOK)
		r.mu.Lock()
		ids := slices.Clone(r.accepted[o.Number])
		r.mu.Unlock()
		if code == http.StatusOK && settled(&st, ids) {
			r.tally(func(res *Result) { res.Settles = append(res.Settles, time.Since(began)) })
			return true
		}
		sleep(ctx, time.Second)
	}
	r.d.problem("order %s never settled: status %s, lines %s", o.Number, st.Status, lineStates(&st))
	return false
}

// settleAll waits until every order is settled, once the load ended.
func (r *run) settleAll(ctx context.Context) {
	n := len(r.res.Settles)
	for _, o := range r.p.Orders {
		r.waitSettled(ctx, o)
	}
	r.tally(func(res *Result) { res.Settles = res.Settles[:n] })
}

func lineStates(st *contract.StatusDocument) string {
	s := ""
	for _, l := range st.Lines {
		s += fmt.Sprintf("%s=%s ", l.ID, l.State)
	}
	return s
}

// tally updates the result's counts under the run's lock.
func (r *run) tally(f func(res *Result)) {
	r.mu.Lock()
	f(r.res)
	r.mu.Unlock()
}

// loopback reports whether u names this machine.
func loopback(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	if pu.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(pu.Hostname())
	return ip != nil && ip.IsLoopback()
}
