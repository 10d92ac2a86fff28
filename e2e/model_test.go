package e2e

// TestModel: a model-based test of the refund saga. Seeded random sequences
// (model_ref_test.go generates them) run one after another against the
// shared stack, through the HTTP API as a shop would and the Temporal client
// where an operator would use the Web UI (cancel, refund signal). Once the
// system has settled, the sandbox LMS's state is compared with the reference
// model of the ledger, per learner and course, and every status document
// with the LMS and with the model:
//
//   - per learner and course: active or not and mode (an inactive enrollment
//     is "no access" whatever its mode), entitlements of the order,
//     pre-enrollments (none: this stack's sandbox auto-registers learners,
//     so an order by email alone registers and enrolls them);
//   - nothing from elsewhere touched: an enrollment the learner had before
//     the order is as it was, unless the order upgraded it and was not
//     refunded; no enrollment or entitlement the sequence knows nothing of;
//   - no duplicate writes (the sandbox's per-enrollment writes counter);
//   - every status document: each line's state and refund, each refund's
//     lines and state, the order's status as docs/api.md's table derives
//     it; a fulfilled line's grant is in the LMS, a revoked, refunded or
//     failed line's access is gone (what came from elsewhere stays); no
//     learner username or email in it;
//   - the API's answers (202, 200 duplicate, 409) to refunds and retries.
//
//	go test -count=1 -run TestModel ./e2e/                      # the default seeds (90; 15 with -short)
//	go test -count=1 -run TestModel ./e2e/ -model.seed=17       # replay one sequence
//	go test -count=1 -run TestModel ./e2e/ -model.base=0 -model.seqs=200   # new seeds
//
// A seed fixes the scenario, not the timing: races (a refund sent as the
// order starts, faults drawn at random by the sandbox) may go either way on
// a replay.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/order"
)

var (
	modelSeqs = flag.Int("model.seqs", 90, "TestModel: how many sequences to run")
	modelBase = flag.Int64("model.base", 1, "TestModel: the first seed (seeds base..base+seqs-1); 0 takes one from the clock")
	modelSeed = flag.Int64("model.seed", 0, "TestModel: run only the sequence of this seed")
	modelLog  = flag.Bool("model.log", false, "TestModel: log every sequence and its journal, also when it passes")
	modelDry  = flag.Bool("model.dry", false, "TestModel: only print the sequences and what the model expects, run nothing")
)

// directRefundWindow is the refund window of orders started directly, so
// that they close during the sequence.
const directRefundWindow = 2 * time.Second

// settleTimeout bounds every wait for the system to settle.
const settleTimeout = 60 * time.Second

func TestModel(t *testing.T) {
	var seeds []int64
	switch {
	case *modelSeed != 0:
		seeds = []int64{*modelSeed}
	default:
		base := *modelBase
		if base == 0 {
			base = time.Now().UnixNano()%1_000_000 + 1
		}
		n := *modelSeqs
		if testing.Short() && !flagSet("model.seqs") {
			n = min(n, 15)
		}
		for i := range n {
			seeds = append(seeds, base+int64(i))
		}
	}
	t.Logf("model: %d sequences, seeds %d..%d", len(seeds), seeds[0], seeds[len(seeds)-1])
	// Faults are global to the sandbox: whatever happens, leave none.
	t.Cleanup(func() { sandboxPost(t, "/sandbox/faults", map[string]any{}) })
	started := time.Now()
	orders, lines := 0, 0
	var failures []string
	for _, seed := range seeds {
		s := genSeq(seed)
		if *modelDry {
			t.Logf("%s%s", s.describe(), expect(s).describe(s))
			continue
		}
		orders += len(s.Orders)
		for _, o := range s.Orders {
			lines += len(o.Lines)
		}
		summary := "stopped early (see its log)"
		if !t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runModelSeq(t, s, &summary) }) {
			failures = append(failures, fmt.Sprintf("seed=%d: %s", seed, summary))
		}
	}
	t.Logf("model: %d sequences, %d orders, %d lines in %s", len(seeds), orders, lines, time.Since(started).Round(time.Millisecond))
	if len(failures) > 0 {
		t.Logf("model: %d failing sequences:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// modelRun is one sequence running against the stack.
type modelRun struct {
	t     *testing.T
	s     *mSeq
	exp   *mExpect
	start time.Time
	log   strings.Builder
	// accepted are the refund ids each order took (as far as the driver
	// knows), cancelled the orders cancelled: what settling waits for.
	accepted  map[int][]string
	cancelled map[int]bool
	placed    []int
	// prior is the enrollment each line's learner had in its course
	// before the order, as read from the LMS.
	prior map[lineRef]*sandbox.EnrollmentView
	// problems found, by line (lineRef{-1, ""} for the sequence).
	problems map[lineRef][]string
	kinds    map[string]bool
	summary  *string
}

// fatalf stops the sequence, with the reason as its summary.
func (m *modelRun) fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	*m.summary = "stopped: " + msg
	if len(*m.summary) > 300 {
		*m.summary = (*m.summary)[:300] + "..."
	}
	m.t.Fatal(msg)
}

func (m *modelRun) logf(format string, args ...any) {
	fmt.Fprintf(&m.log, "  %6.2fs  %s\n", time.Since(m.start).Seconds(), fmt.Sprintf(format, args...))
}

func (m *modelRun) problem(ref lineRef, kind, format string, args ...any) {
	m.problems[ref] = append(m.problems[ref], kind+": "+fmt.Sprintf(format, args...))
	m.kinds[kind] = true
}

// runModelSeq runs one sequence and checks it; summary gets a one-line
// account of what failed.
func runModelSeq(t *testing.T, s *mSeq, summary *string) {
	m := &modelRun{t: t, s: s, start: time.Now(), accepted: map[int][]string{}, cancelled: map[int]bool{},
		prior: map[lineRef]*sandbox.EnrollmentView{}, problems: map[lineRef][]string{}, kinds: map[string]bool{}, summary: summary}
	m.exp = expect(s)
	defer func() {
		if t.Failed() || *modelLog {
			t.Logf("%s\njournal:\n%s", s.describe(), m.log.String())
		}
	}()
	m.setFaults(nil)
	m.setup()

	for ph := 1; ph <= phaseCount; ph++ {
		switch ph {
		case phasePlace:
			m.setFaults(s.FulfillFaults)
		case phaseRefund:
			if s.RefundFaults != s.FulfillFaults {
				m.setFaults(s.RefundFaults)
			}
		}
		for i, op := range s.Ops {
			if op.Phase == ph {
				m.exec(i, op)
			}
		}
		m.settle()
	}
	m.setFaults(nil)
	m.settle()
	m.check()

	if len(m.problems) == 0 {
		*summary = ""
		return
	}
	var kinds []string
	for k := range m.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	t.Errorf("%s", m.report())
	tagSet := map[string]bool{}
	for ref := range m.problems {
		if le := m.exp.Lines[ref]; le != nil {
			for _, tg := range le.Tags {
				tagSet[strings.SplitN(tg, ":", 2)[0]] = true
			}
		}
	}
	var tagList []string
	for tg := range tagSet {
		tagList = append(tagList, tg)
	}
	sort.Strings(tagList)
	*summary = strings.Join(kinds, ", ") + "; known weaknesses: [" + strings.Join(tagList, "; ") + "]"
}

// ---------------------------------------------------------------------------
// Setting up: learners, courses, enrollments from elsewhere.

func (m *modelRun) setFaults(f *mFaults) {
	body := map[string]any{}
	if f != nil {
		body = f.JSON
	}
	sandboxPost(m.t, "/sandbox/faults", body)
	m.logf("faults: %s", f)
}

func (m *modelRun) setup() {
	t, s := m.t, m.s
	for i := range s.Learners {
		l := &s.Learners[i]
		n := orderSeq.Add(1)
		l.Name = fmt.Sprintf("mdl%dx%d", n, i+1)
		l.Email = l.Name + "@example.com"
		if l.hasAccount() {
			sandboxPost(t, "/sandbox/users", map[string]any{"username": l.Name, "email": l.Email})
		}
	}
	for i := range s.Courses {
		c := &s.Courses[i]
		n := orderSeq.Add(1)
		c.ID = fmt.Sprintf("course-v1:Model+S%dC%dN%d+2026", s.Seed, i+1, n)
		c.UUID = fmt.Sprintf("%08x-%04x-4000-9000-%012x", n, i+1, s.Seed&0xffffffffffff)
	}
	for oi := range s.Orders {
		o := &s.Orders[oi]
		lr := &s.Learners[o.Learner]
		for _, l := range o.Lines {
			if !l.hasCourse() {
				continue
			}
			c := s.Courses[l.Course]
			switch l.Cause {
			case causeLateCourse:
				// Created by the operator's fix.
			case causeClosed:
				sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID,
					"modes": []string{"audit", "verified"}, "enrollment_end": "2020-01-01T00:00:00Z"})
			default:
				sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID,
					"modes": []string{"audit", "verified"}})
			}
			if l.Prior.Exists {
				lmsEnrollElsewhere(t, lr.Name, c.ID, l.Prior.Mode, l.Prior.Active)
			}
			e := m.findEnrollment(lr.Name, c.ID)
			got := mEnroll{}
			if e != nil {
				got = mEnroll{Exists: true, Active: e.IsActive, Mode: e.Mode}
			}
			require.Equal(t, l.Prior, got, "enrollment from elsewhere of %s in %s", lr.Name, c.ID)
			m.prior[lineRef{oi, l.ID}] = e
		}
	}
	m.logf("set up %d learners, %d courses", len(s.Learners), len(s.Courses))
}

// lmsEnrollElsewhere enrolls a learner directly in the LMS (as staff or
// another system would), before any order: the enrollment from elsewhere.
func lmsEnrollElsewhere(t *testing.T, user, course, mode string, active bool) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"user": user, "mode": mode, "is_active": active,
		"course_details": map[string]any{"course_id": course}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, shared.LMSURL+"/api/enrollment/v1/enrollment", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Edx-Api-Key", sandbox.DevAPIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "enroll %s in %s from elsewhere: %s", user, course, data)
}

func (m *modelRun) snapshotOf(user string) sandbox.Snapshot {
	var s sandbox.Snapshot
	q := url.Values{"user": {user}}
	require.Equal(m.t, http.StatusOK, callURL(m.t, http.MethodGet, shared.LMSURL+"/sandbox/enrollments?"+q.Encode(), "", nil, &s))
	return s
}

func (m *modelRun) findEnrollment(user, course string) *sandbox.EnrollmentView {
	for _, e := range snapshot(m.t, user, course).Enrollments {
		if e.User == user && e.CourseID == course {
			return &e
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Running the operations.

func (m *modelRun) exec(i int, op mOp) {
	t, s := m.t, m.s
	o := &s.Orders[op.Order]
	m.logf("#%d %s", i, s.opText(op))
	switch op.Kind {
	case opPlace:
		o.Number = newNumber("MDL" + o.Key)
		lr := &s.Learners[o.Learner]
		ord := order.Order{Number: o.Number, User: lr.orderUser(), PlacedAt: time.Now().UTC().Truncate(time.Second)}
		for _, l := range o.Lines {
			ol := order.Line{ID: l.ID, ProductType: l.Product, Mode: l.Mode}
			if l.hasCourse() {
				if l.Product == order.ProductEntitlement {
					ol.CourseUUID = s.Courses[l.Course].UUID
				} else {
					ol.CourseID = s.Courses[l.Course].ID
				}
			}
			ord.Lines = append(ord.Lines, ol)
		}
		if o.Direct {
			opts := testOptions
			opts.RefundWindow = directRefundWindow
			startDirect(t, ord, opts)
		} else {
			var res map[string]any
			code := call(t, http.MethodPost, "/api/v1/orders", ord, &res)
			require.Equal(t, http.StatusAccepted, code, "place order %s: %v", o.Key, res)
		}
		m.placed = append(m.placed, op.Order)
		m.logf("   order %s is %s", o.Key, o.Number)
	case opCancel:
		require.NoError(t, shared.Client.CancelWorkflow(context.Background(), contract.OrderWorkflowID(o.Number), ""))
		m.cancelled[op.Order] = true
	case opFix, opRestoreMode:
		c := s.Courses[o.line(op.Line).Course]
		sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID, "modes": []string{"audit", "verified"}})
	case opBreakMode:
		c := s.Courses[o.line(op.Line).Course]
		sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": c.ID, "course_uuid": c.UUID, "modes": []string{"verified"}})
	case opRetry:
		var res map[string]any
		code := call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/retry", map[string]any{}, &res)
		m.logf("   answered %d %v", code, res)
		if want := m.exp.Codes[i]; code != want {
			m.problem(lineRef{op.Order, ""}, "API answer", "#%d %s answered %d, the model says %d (%v)", i, s.opText(op), code, want, res)
		}
	case opWaitClosed:
		m.waitClosed(op.Order)
	case opRefund:
		req := contract.RefundRequest{RefundID: op.RefundID, LineIDs: op.Lines}
		want := m.exp.Codes[i]
		if op.Signal {
			err := shared.Client.SignalWorkflow(context.Background(), contract.OrderWorkflowID(o.Number), "", contract.SignalRefund, req)
			if err == nil {
				switch {
				case want == http.StatusAccepted:
					m.accepted[op.Order] = append(m.accepted[op.Order], op.RefundID)
					m.waitShown(op.Order, op.RefundID, false)
				case m.exp.Ignored[i]:
					m.waitShown(op.Order, op.RefundID, true)
				}
				return
			}
			// The order closed already (a cancelled order whose lines had
			// all ended): the operator refunds through the API.
			m.logf("   signal refused (%v): refund through the API instead", err)
		}
		var res map[string]any
		code := call(t, http.MethodPost, "/api/v1/orders/"+o.Number+"/refunds", req, &res)
		m.logf("   answered %d %v", code, res)
		if code != want {
			m.problem(lineRef{op.Order, ""}, "API answer", "#%d %s answered %d, the model says %d (%v)", i, s.opText(op), code, want, res)
		}
		if code == http.StatusAccepted {
			m.accepted[op.Order] = append(m.accepted[op.Order], op.RefundID)
		}
	}
}

// waitShown waits until the order's status shows a refund sent by signal
// (or, ignored, lists it in ignored_requests), so that the operations
// after it meet it in the order.
func (m *modelRun) waitShown(oi int, id string, ignored bool) {
	o := &m.s.Orders[oi]
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, ok := m.status(o.Number)
		switch {
		case !ok:
		case !ignored && slices.ContainsFunc(st.Refunds, func(r contract.RefundStatus) bool { return r.RefundID == id }):
			return
		case ignored && slices.ContainsFunc(st.IgnoredRequests, func(r contract.IgnoredRequest) bool { return r.RefundID == id }):
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	what := "in its refunds"
	if ignored {
		what = "in its ignored_requests"
	}
	m.fatalf("refund %s of order %s (by signal) never showed %s", id, o.Key, what)
}

func (m *modelRun) waitClosed(oi int) {
	o := &m.s.Orders[oi]
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		desc, err := shared.Client.DescribeWorkflowExecution(context.Background(), contract.OrderWorkflowID(o.Number), "")
		require.NoError(m.t, err)
		if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			m.logf("   order %s closed", o.Key)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := m.status(o.Number)
	m.fatalf("order %s never closed: %s", o.Key, docText(st))
}

func (m *modelRun) status(number string) (contract.StatusDocument, bool) {
	var st contract.StatusDocument
	code := call(m.t, http.MethodGet, "/api/v1/orders/"+number, nil, &st)
	return st, code == http.StatusOK
}

var terminalLineStates = []contract.LineState{contract.LineFulfilled, contract.LineFailed, contract.LineRevoked,
	contract.LineRevokeFailed, contract.LineRefundedUnfulfilled}

// settledDoc reports whether an order is idle: no line pending,
// fulfilling, retrying or revoking, no refund revoking, every refund the
// driver knows accepted in the document, and a cancel seen.
func settledDoc(st contract.StatusDocument, refunds []string, cancelled bool) bool {
	for _, l := range st.Lines {
		if !slices.Contains(terminalLineStates, l.State) {
			return false
		}
	}
	for _, r := range st.Refunds {
		if r.State == contract.RefundRevoking {
			return false
		}
	}
	for _, id := range refunds {
		if !slices.ContainsFunc(st.Refunds, func(r contract.RefundStatus) bool { return r.RefundID == id }) {
			return false
		}
	}
	return !cancelled || st.Cancelled
}

// settle waits until every order placed so far is idle.
func (m *modelRun) settle() {
	began := time.Now()
	for _, oi := range m.placed {
		o := &m.s.Orders[oi]
		var st contract.StatusDocument
		for {
			var ok bool
			if st, ok = m.status(o.Number); ok && settledDoc(st, m.accepted[oi], m.cancelled[oi]) {
				break
			}
			if time.Since(began) > settleTimeout {
				m.fatalf("order %s never settled: %s", o.Key, docText(st))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	m.logf("settled (%s)", time.Since(began).Round(time.Millisecond))
}

// ---------------------------------------------------------------------------
// Checking.

// docStatus is the order status docs/api.md's table gives the document's
// lines and refunds.
func docStatus(st contract.StatusDocument) contract.OrderState {
	has := func(s contract.LineState) bool {
		return slices.ContainsFunc(st.Lines, func(l contract.LineStatus) bool { return l.State == s })
	}
	switch {
	case has(contract.LineRevokeFailed): // a revoke failed and waits for an operator's retry
		return contract.OrderRevocationError
	case st.Cancelled && (has(contract.LineFailed) || has(contract.LinePending) || has(contract.LineFulfilling) || has(contract.LineRetrying)):
		return contract.OrderCancelled // cancelled before its lines were fulfilled
	case has(contract.LineFailed): // a line failed and waits for an operator's retry
		return contract.OrderFulfillmentError
	case has(contract.LinePending) || has(contract.LineFulfilling) || has(contract.LineRetrying):
		return contract.OrderFulfilling
	case has(contract.LineRevoking) || slices.ContainsFunc(st.Refunds, func(r contract.RefundStatus) bool { return r.State == contract.RefundRevoking }):
		return contract.OrderRefunding
	case len(st.Refunds) == 0: // every line is fulfilled; nothing refunded
		return contract.OrderFulfilled
	}
	for _, l := range st.Lines {
		if l.RefundID == "" { // refunds have ended; some lines are not refunded
			return contract.OrderPartiallyRefunded
		}
	}
	return contract.OrderRefunded // every line is refunded and every revoke has ended
}

func docText(st contract.StatusDocument) string {
	b, _ := json.Marshal(st)
	return string(b)
}

func enrollText(e *sandbox.EnrollmentView) string {
	if e == nil {
		return "no enrollment"
	}
	state := "inactive"
	if e.IsActive {
		state = "active"
	}
	return fmt.Sprintf("%s %s (writes %d)", state, e.Mode, e.Writes)
}

func accessOf(e *sandbox.EnrollmentView) string {
	if e == nil || !e.IsActive {
		return "no access"
	}
	return "active " + e.Mode
}

func (m *modelRun) check() {
	s := m.s
	docs := make([]contract.StatusDocument, len(s.Orders))
	for oi := range s.Orders {
		o := &s.Orders[oi]
		st, ok := m.status(o.Number)
		require.True(m.t, ok, "status of order %s", o.Key)
		docs[oi] = st
		m.logf("order %s: %s", o.Key, docText(st))
		m.checkDoc(oi, st)
	}
	// The LMS, learner by learner.
	for li := range s.Learners {
		lr := &s.Learners[li]
		snap := m.snapshotOf(lr.Name)
		byEmail := m.snapshotOf(lr.Email)
		m.logf("LMS of %s: %d enrollments, %d entitlements, %d pre-enrollments", lr.Sym, len(snap.Enrollments), len(snap.Entitlements), len(byEmail.Allowed))
		known := map[string]bool{}
		knownEnt := map[string]bool{}
		for oi := range s.Orders {
			o := &s.Orders[oi]
			if o.Learner != li {
				continue
			}
			for j := range o.Lines {
				l := &o.Lines[j]
				if !l.hasCourse() {
					continue
				}
				c := s.Courses[l.Course]
				known[c.ID] = true
				knownEnt[o.Number+" "+c.UUID] = true
				m.checkLine(oi, l, &docs[oi], snap)
			}
		}
		for _, e := range snap.Enrollments {
			if !known[e.CourseID] {
				m.problem(lineRef{-1, ""}, "LMS touched elsewhere", "%s has an enrollment no line of the sequence is about: %s in %s", lr.Sym, enrollText(&e), e.CourseID)
			}
		}
		for _, e := range snap.Entitlements {
			if !knownEnt[e.OrderNumber+" "+e.CourseUUID] {
				m.problem(lineRef{-1, ""}, "LMS touched elsewhere", "%s has an entitlement no line of the sequence is about: %+v", lr.Sym, e)
			}
		}
		for _, a := range byEmail.Allowed {
			m.problem(lineRef{-1, ""}, "model≠LMS", "%s has a pre-enrollment the model does not expect (this stack auto-registers learners): %+v", lr.Sym, a)
		}
	}
}

// checkDoc compares an order's status document with the model and with
// docs/api.md's status table.
func (m *modelRun) checkDoc(oi int, st contract.StatusDocument) {
	o, oe := &m.s.Orders[oi], m.exp.Orders[oi]
	ref := lineRef{oi, ""}
	// No personal data in the status record (docs/architecture.md: the
	// LMS client redacts the learner's email and username from the LMS's
	// messages; the document shows in the API, histories and the Web UI).
	lr := &m.s.Learners[o.Learner]
	if text := strings.ToLower(docText(st)); strings.Contains(text, strings.ToLower(lr.Email)) || strings.Contains(text, strings.ToLower(lr.Name)) {
		m.problem(ref, "personal data", "order %s's status document names learner %s (username %q or email %q): %s", o.Key, lr.Sym, lr.Name, lr.Email, docText(st))
	}
	if got := docStatus(st); st.Status != got {
		m.problem(ref, "status derivation", "order %s is %q, but its lines and refunds make it %q by docs/api.md's table", o.Key, st.Status, got)
	}
	if st.Status != oe.Status {
		m.problem(ref, "status≠model", "order %s is %q, the model says %q", o.Key, st.Status, oe.Status)
	}
	if st.Cancelled != oe.Cancelled {
		m.problem(ref, "status≠model", "order %s cancelled=%v, the model says %v", o.Key, st.Cancelled, oe.Cancelled)
	}
	if oe.Closed && !st.Closed {
		m.problem(ref, "status≠model", "order %s is not closed, the model says it is", o.Key)
	}
	got := map[string][]string{}
	for _, r := range st.Refunds {
		var ids []string
		for _, l := range r.Lines {
			ids = append(ids, l.ID)
		}
		got[r.RefundID] = ids
		if want, ok := oe.RefundStates[r.RefundID]; ok && r.State != want {
			m.problem(ref, "status≠model", "order %s refund %s is %q, the model says %q", o.Key, r.RefundID, r.State, want)
		}
	}
	for id, want := range oe.Refunds {
		g, ok := got[id]
		switch {
		case !ok:
			m.problem(ref, "status≠model", "order %s has no refund %s; the model says it covers lines %v", o.Key, id, want)
		case !sameSet(g, want):
			m.problem(ref, "status≠model", "order %s refund %s covers lines %v, the model says %v", o.Key, id, g, want)
		}
	}
	for id := range got {
		if _, ok := oe.Refunds[id]; !ok {
			m.problem(ref, "status≠model", "order %s has a refund %s the model does not know", o.Key, id)
		}
	}
	var ignored []string
	for _, ig := range st.IgnoredRequests {
		if ig.Signal != contract.SignalRefund {
			m.problem(ref, "status≠model", "order %s ignored a %s signal: %s", o.Key, ig.Signal, ig.Reason)
			continue
		}
		ignored = append(ignored, ig.RefundID)
		if !slices.Contains(oe.IgnoredRefunds, ig.RefundID) {
			m.problem(ref, "status≠model", "order %s ignored refund signal %s: %s", o.Key, ig.RefundID, ig.Reason)
		}
	}
	for _, id := range oe.IgnoredRefunds {
		if !slices.Contains(ignored, id) {
			m.problem(ref, "status≠model", "order %s does not list refund signal %s (of a line already refunded) in ignored_requests", o.Key, id)
		}
	}
	for _, l := range st.Lines {
		le := m.exp.Lines[lineRef{oi, l.ID}]
		if le == nil {
			m.problem(ref, "status≠model", "order %s has a line %s the order does not", o.Key, l.ID)
			continue
		}
		if !slices.Contains(le.States, l.State) {
			m.problem(lineRef{oi, l.ID}, "status≠model", "line is %q (%s), the model says %v", l.State, resultText(l), le.States)
		}
		if l.RefundID != le.RefundID {
			m.problem(lineRef{oi, l.ID}, "status≠model", "line's refund is %q, the model says %q", l.RefundID, le.RefundID)
		}
	}
}

func resultText(l contract.LineStatus) string {
	if l.Result == nil {
		return "no result"
	}
	b, _ := json.Marshal(l.Result)
	return string(b)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkLine compares one line's course in the LMS with the model and with
// the line's state in its status document.
func (m *modelRun) checkLine(oi int, l *mLine, st *contract.StatusDocument, snap sandbox.Snapshot) {
	s := m.s
	o := &s.Orders[oi]
	ref := lineRef{oi, l.ID}
	le := m.exp.Lines[ref]
	c := s.Courses[l.Course]
	var e *sandbox.EnrollmentView
	for i := range snap.Enrollments {
		if snap.Enrollments[i].CourseID == c.ID {
			e = &snap.Enrollments[i]
		}
	}
	var ents []sandbox.EntitlementView
	active := 0
	for _, en := range snap.Entitlements {
		if en.CourseUUID == c.UUID && en.OrderNumber == o.Number {
			ents = append(ents, en)
			if en.ExpiredAt == nil {
				active++
			}
		}
	}
	prior := m.prior[ref]
	priorWrites := 0
	if prior != nil {
		priorWrites = prior.Writes
	}
	lmsText := enrollText(e)
	if len(ents) > 0 {
		lmsText += fmt.Sprintf(", %d entitlements of the order (%d active)", len(ents), active)
	}

	// The model against the LMS.
	if got, want := accessOf(e), le.Enrollment.Access(); got != want {
		m.problem(ref, "model≠LMS", "the LMS has %s, the model says %s (from elsewhere before the order: %s)", lmsText, want, l.Prior)
	}
	if e != nil && e.Writes-priorWrites > le.MaxWrites {
		m.problem(ref, "unintended writes", "the enrollment was written %d times for the order, the model allows %d: each write the fulfillment and its revoke mean to make, once (%s)", e.Writes-priorWrites, le.MaxWrites, lmsText)
	}
	if len(ents) > le.EntMax && (l.Product == order.ProductEntitlement || len(ents) > 0) {
		m.problem(ref, "unintended writes", "%d entitlements of this order for the course, the model allows %d", len(ents), le.EntMax)
	}
	if wantActive := map[bool]int{true: 1, false: 0}[le.EntActive]; active != wantActive {
		m.problem(ref, "model≠LMS", "%d active entitlements of this order for the course, the model says %d", active, wantActive)
	}

	// The status document against the LMS.
	var ls *contract.LineStatus
	for i := range st.Lines {
		if st.Lines[i].ID == l.ID {
			ls = &st.Lines[i]
		}
	}
	if ls == nil {
		return
	}
	switch ls.State {
	case contract.LineFulfilled:
		switch l.Product {
		case order.ProductEntitlement:
			if active != 1 {
				m.problem(ref, "status≠LMS", "the line is fulfilled, the LMS has %d active entitlements of the order", active)
			}
		default:
			if e == nil || !e.IsActive || e.Mode != l.Mode && !(freeMode(l.Mode) && !freeMode(e.Mode)) {
				m.problem(ref, "status≠LMS", "the line is fulfilled (%s %s), the LMS has %s", l.Product, l.Mode, lmsText)
			}
		}
	case contract.LineRevoked, contract.LineRefundedUnfulfilled, contract.LineFailed:
		// What the order granted is gone; what came from elsewhere stays.
		if got, want := accessOf(e), l.Prior.Access(); got != want || active > 0 {
			m.problem(ref, "status≠LMS", "the line is %s, the LMS has %s; before the order the learner had %s", ls.State, lmsText, l.Prior)
		}
	}
}

// report is the failure message of a sequence: its problems, line by line.
func (m *modelRun) report() string {
	s := m.s
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: the system disagrees with the model (replay: -model.seed=%d)\n", s.Seed, s.Seed)
	refs := make([]lineRef, 0, len(m.problems))
	for ref := range m.problems {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Order != refs[j].Order {
			return refs[i].Order < refs[j].Order
		}
		return refs[i].ID < refs[j].ID
	})
	for _, ref := range refs {
		switch {
		case ref.Order < 0:
			b.WriteString("  sequence:\n")
		case ref.ID == "":
			fmt.Fprintf(&b, "  order %s:\n", s.Orders[ref.Order].Key)
		default:
			o := &s.Orders[ref.Order]
			l := o.line(ref.ID)
			fmt.Fprintf(&b, "  order %s %s (learner %s: %s):\n", o.Key, s.lineText(o, l), s.Learners[o.Learner].Sym, s.Learners[o.Learner].Kind)
			for _, tg := range m.exp.Lines[ref].Tags {
				fmt.Fprintf(&b, "    known weakness: %s\n", tg)
			}
		}
		for _, p := range m.problems[ref] {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	return b.String()
}
