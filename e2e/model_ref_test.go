package e2e

// The generator of the model test's sequences and the reference model of the
// ledger: plain Go over a generated sequence, no Temporal, no LMS. The
// driver (model_test.go) runs a sequence against the real stack and compares
// what it finds with what this file says.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/e2e/ledger"
	"github.com/coursefulfill/fulfillment/order"
)

// ---------------------------------------------------------------------------
// A sequence: learners, courses, orders and the operations on them.

// mKind is how a learner stands with the LMS (see ledger.Kind).
type mKind = ledger.Kind

const (
	kindAccount        = ledger.KindAccount
	kindAccountByEmail = ledger.KindAccountByEmail
	kindNewByEmail     = ledger.KindNewByEmail
	kindNewByUsername  = ledger.KindNewByUsername
)

// mLearner is one learner of a sequence.
type mLearner struct {
	Sym  string // L1, L2...
	Kind mKind
	// OrderEmail: a kindAccount learner's orders carry the email too.
	OrderEmail bool
	// Name and Email are given at run time (unique in the process). Name
	// is the LMS username: for kindNewByEmail the one the sandbox derives
	// from the email.
	Name, Email string
}

// orderUser is the learner as their orders name them.
func (l *mLearner) orderUser() order.User { return l.Kind.OrderUser(l.Name, l.Email, l.OrderEmail) }

func (l *mLearner) hasAccount() bool { return l.Kind.HasAccount() }

// namedByUsername: the entitlement module needs the username.
func (l *mLearner) namedByUsername() bool { return l.Kind.NamedByUsername() }

// mEnroll is an enrollment as far as access goes (the shared ledger
// model's).
type mEnroll = ledger.Enroll

// mCause is why a seat's fulfillment fails permanently until an operator
// fixes it.
type mCause int

const (
	causeNone mCause = iota
	// causeLateCourse: the course run does not exist yet when the order
	// arrives (CourseNotFound); the fix creates it.
	causeLateCourse
	// causeClosed: the run's enrollment window has closed
	// (EnrollmentClosed); the fix reopens it.
	causeClosed
)

func (c mCause) String() string {
	return [...]string{"", "course created only after the order", "enrollment window closed"}[c]
}

// mLine is one order line.
type mLine struct {
	ID      string
	Product string
	Mode    string // seat, upgrade: audit|verified; entitlement: "" (LMS client's default, verified) or verified
	Course  int    // index into mSeq.Courses; -1 for a donation
	// Prior is the learner's enrollment in Course from elsewhere (created
	// directly in the LMS before the order).
	Prior mEnroll
	Cause mCause
}

// course returns the line's course, nil for donations.
func (l *mLine) hasCourse() bool { return l.Course >= 0 }

// mCourse is one course run created for the sequence.
type mCourse struct {
	Sym      string
	ID, UUID string // given at run time
}

// mOrder is one order.
type mOrder struct {
	Key     string // A, B, ...
	Learner int
	Lines   []mLine
	// Direct orders are started with a short refund window (as
	// startDirect does), so that refunds can come after they closed.
	Direct bool
	Number string // given at run time
}

func (o *mOrder) line(id string) *mLine {
	for i := range o.Lines {
		if o.Lines[i].ID == id {
			return &o.Lines[i]
		}
	}
	return nil
}

func (o *mOrder) lineIDs() []string {
	ids := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		ids[i] = l.ID
	}
	return ids
}

type opKind int

const (
	opPlace      opKind = iota // POST /api/v1/orders, or started directly (Direct)
	opRefund                   // POST .../refunds, or the refund signal (as from the Web UI)
	opCancel                   // Temporal CancelWorkflow (Web UI)
	opFix                      // the operator fixes a line's cause in the LMS (sandbox admin API)
	opRetry                    // POST .../retry {} (every failed line)
	opWaitClosed               // wait until the order workflow has closed (its refund window is over)
	// opBreakMode takes the audit mode out of a line's course, so that
	// the revoke of a seat that moved the learner from audit fails
	// (ModeUnavailable: revoke_failed, order revocation_error).
	opBreakMode
	// opRestoreMode puts the audit mode back: the operator's fix, before a
	// retry that revokes again.
	opRestoreMode
)

// Phases of a sequence, run in this order; the driver waits for the system
// to settle between them.
const (
	phasePlace        = 1 // orders placed; refunds racing the fulfillment; cancels and the refunds after them
	phaseRepair       = 2 // fixes and operator retries
	phaseRefund       = 3 // refunds of settled orders
	phaseRevokeRepair = 4 // fixes of failed revokes and operator retries
	phaseClosed       = 5 // refunds of closed orders
	phaseCount        = 5
	signalPrefix      = "signal"
)

// mOp is one operation of a sequence.
type mOp struct {
	Kind  opKind
	Phase int
	Order int
	// Refund: its id and named lines (nil: every line not refunded yet).
	RefundID string
	Lines    []string
	// Signal sends the refund as the Temporal signal (Web UI) rather than
	// through the API.
	Signal bool
	// Line is the line an opFix, opBreakMode or opRestoreMode is about.
	Line string
}

// mFaults is one setting of the sandbox's faults.
type mFaults struct {
	JSON map[string]any
}

func (f *mFaults) String() string {
	if f == nil {
		return "none"
	}
	keys := make([]string, 0, len(f.JSON))
	for k := range f.JSON {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, f.JSON[k])
	}
	return strings.Join(parts, " ")
}

func (f *mFaults) lostAnswers() bool {
	if f == nil {
		return false
	}
	r, _ := f.JSON["lost_answer_rate"].(float64)
	return r > 0
}

func (f *mFaults) outage() bool {
	if f == nil {
		return false
	}
	_, ok := f.JSON["outage_seconds"]
	return ok
}

// mSeq is one generated sequence.
type mSeq struct {
	Seed     int64
	Learners []mLearner
	Courses  []mCourse
	Orders   []mOrder
	Ops      []mOp
	// FulfillFaults are set before the orders are placed and cleared once
	// fixes and retries have settled; RefundFaults are set before the
	// refunds of settled orders and cleared before the final settle.
	FulfillFaults, RefundFaults *mFaults
}

// ---------------------------------------------------------------------------
// The generator.

// genSeq generates the sequence of a seed.
func genSeq(seed int64) *mSeq {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)*0x9e3779b97f4a7c15+1))
	s := &mSeq{Seed: seed}
	dice := ledger.Dice{R: r}
	pct, pick := dice.Pct, dice.Pick

	// Faults: global to the sandbox, so one setting per phase.
	phase := func() (fulfill, refund bool) {
		switch pick(45, 35, 20) {
		case 0:
			return true, false
		case 1:
			return false, true
		}
		return true, true
	}
	var f *mFaults
	fp, rp := false, false
	switch pick(22, 14, 14, 10, 10, 30) {
	case 1:
		f = &mFaults{JSON: map[string]any{"outage_seconds": float64(1 + r.IntN(3))}}
		fp = pct(60)
		rp = !fp
	case 2:
		f = &mFaults{JSON: map[string]any{"error_rate": []float64{0.15, 0.25, 0.35}[r.IntN(3)], "error_status": float64([]int{500, 502, 503}[r.IntN(3)])}}
		fp, rp = phase()
	case 3:
		f = &mFaults{JSON: map[string]any{"error_rate": []float64{0.15, 0.25}[r.IntN(2)], "error_status": float64(429), "retry_after_seconds": float64(1)}}
		fp, rp = phase()
	case 4:
		f = &mFaults{JSON: map[string]any{"latency_ms": float64(50 + 50*r.IntN(5))}}
		fp, rp = true, true
	case 5:
		f = &mFaults{JSON: map[string]any{"lost_answer_rate": []float64{0.3, 0.6, 1}[r.IntN(3)], "lost_answer_mode": []string{"504", "drop"}[r.IntN(2)]}}
		if pct(25) {
			f.JSON["latency_ms"] = float64(50)
		}
		fp, rp = phase()
	}
	if fp {
		s.FulfillFaults = f
	}
	if rp {
		s.RefundFaults = f
	}

	var phases [phaseCount + 1][]mOp
	add := func(op mOp) { phases[op.Phase] = append(phases[op.Phase], op) }
	refundSeq := 0
	newRefundID := func() string { refundSeq++; return fmt.Sprintf("R%d", refundSeq) }

	nOrders := 1 + r.IntN(4)
	for oi := range nOrders {
		o := mOrder{Key: string(rune('A' + oi)), Direct: pct(20)}
		// The learner: new, or one of an earlier order (each line has a
		// course of its own, so no learner and course meet twice).
		if len(s.Learners) > 0 && pct(25) {
			o.Learner = r.IntN(len(s.Learners))
		} else {
			l := mLearner{Sym: fmt.Sprintf("L%d", len(s.Learners)+1), Kind: mKind(pick(50, 15, 20, 15))}
			l.OrderEmail = l.Kind == kindAccount && pct(40)
			s.Learners = append(s.Learners, l)
			o.Learner = len(s.Learners) - 1
		}
		lr := &s.Learners[o.Learner]
		nLines := 1 + r.IntN(3)
		for li := range nLines {
			ln := mLine{ID: fmt.Sprint(li + 1), Course: -1}
			products := []int{45, 20, 20, 15} // seat, upgrade, entitlement, donation
			if !lr.hasAccount() {
				products[1] = 0 // an upgrade needs an existing enrollment
			}
			if o.Direct && !lr.namedByUsername() {
				// Its entitlement would fail (no username) and keep the
				// order open for an operator: it would never close.
				products[2] = 0
			}
			ln.Product = []string{order.ProductSeat, order.ProductUpgrade, order.ProductEntitlement, order.ProductDonation}[pick(products...)]
			if ln.Product != order.ProductDonation {
				s.Courses = append(s.Courses, mCourse{Sym: fmt.Sprintf("C%d", len(s.Courses)+1)})
				ln.Course = len(s.Courses) - 1
			}
			ln.Mode, ln.Prior = dice.ModeAndPrior(ln.Product, lr.hasAccount())
			if ln.Product == order.ProductSeat && !ln.Prior.Exists && !o.Direct {
				ln.Cause = mCause(pick(76, 12, 12))
			}
			o.Lines = append(o.Lines, ln)
		}
		s.Orders = append(s.Orders, o)
		oIdx := len(s.Orders) - 1
		ids := o.lineIDs()
		subset := dice.Subset
		covered := map[string]bool{}
		cover := func(lines []string) {
			if lines == nil {
				lines = ids
			}
			for _, id := range lines {
				covered[id] = true
			}
		}
		uncovered := func() []string {
			var out []string
			for _, id := range ids {
				if !covered[id] {
					out = append(out, id)
				}
			}
			return out
		}
		refund := func(ph int, lines []string, signal bool) {
			id := newRefundID()
			add(mOp{Kind: opRefund, Phase: ph, Order: oIdx, RefundID: id, Lines: lines, Signal: signal})
			cover(lines)
			if pct(30) { // a duplicate: the same refund id again, the same way
				add(mOp{Kind: opRefund, Phase: ph, Order: oIdx, RefundID: id, Lines: lines, Signal: signal})
			}
		}
		// A refund naming a line another refund already covers: 409, or
		// listed in ignored_requests when it comes as a signal.
		conflict := func(ph int) {
			var c []string
			for _, id := range ids {
				if covered[id] {
					c = append(c, id)
				}
			}
			if len(c) > 0 {
				add(mOp{Kind: opRefund, Phase: ph, Order: oIdx, RefundID: newRefundID(), Lines: []string{c[r.IntN(len(c))]},
					Signal: ph != phaseClosed && pct(35)})
			}
		}
		add(mOp{Kind: opPlace, Phase: phasePlace, Order: oIdx})
		if o.Direct {
			switch pick(20, 20, 60) {
			case 1: // refunds before (or as) the window closes
				refund(phaseRefund, []string(nil), false)
			case 2: // refunds after close: the late-refunds workflow
				add(mOp{Kind: opWaitClosed, Phase: phaseClosed, Order: oIdx})
				if len(ids) > 1 && pct(50) {
					refund(phaseClosed, subset(ids), false)
				}
				if pct(20) {
					conflict(phaseClosed)
				}
				if rest := uncovered(); len(rest) > 0 {
					refund(phaseClosed, nil, false)
				}
			}
			continue
		}
		// Causes fixed (or not) by an operator, who then retries.
		retry := false
		for _, l := range o.Lines {
			if l.Cause == causeNone {
				continue
			}
			if pct(70) {
				add(mOp{Kind: opFix, Phase: phaseRepair, Order: oIdx, Line: l.ID})
				retry = true
			} else if pct(40) {
				retry = true // retried without a fix: fails again
			}
		}
		plan := pick(15, 10, 40, 35) // race, cancel, settled, none
		if plan == 1 {
			// Cancelled (Web UI) right after it was placed, then refunded
			// by signal: every line.
			add(mOp{Kind: opCancel, Phase: phasePlace, Order: oIdx})
			refund(phasePlace, nil, true)
			continue
		}
		if retry || pct(5) {
			add(mOp{Kind: opRetry, Phase: phaseRepair, Order: oIdx})
		}
		switch plan {
		case 0: // a refund racing the fulfillment, sent right after the order
			var lines []string
			if pct(50) {
				lines = subset(ids)
			}
			refund(phasePlace, lines, pct(40))
			if rest := uncovered(); len(rest) > 0 && pct(50) {
				refund(phaseRefund, nil, pct(25))
			}
		case 2: // refunds once the order has settled
			n := 1 + r.IntN(2)
			for i := range n {
				rest := uncovered()
				if len(rest) == 0 {
					break
				}
				var lines []string
				if i == 0 && len(rest) > 1 && pct(60) || i > 0 && pct(50) {
					lines = subset(rest)
				}
				refund(phaseRefund, lines, pct(25))
			}
			if pct(15) {
				conflict(phaseRefund)
			}
			// A revoke that fails for good until an operator fixes its
			// cause: a seat that moved the learner from audit goes back to
			// audit, which the course no longer offers.
			revokeRetry := false
			for _, l := range o.Lines {
				if covered[l.ID] && l.Product == order.ProductSeat && l.Mode == "verified" && l.Cause == causeNone &&
					l.Prior.Active && l.Prior.Mode == "audit" && pct(85) {
					add(mOp{Kind: opBreakMode, Phase: phaseRefund, Order: oIdx, Line: l.ID})
					if pct(70) {
						add(mOp{Kind: opRestoreMode, Phase: phaseRevokeRepair, Order: oIdx, Line: l.ID})
						revokeRetry = true
					}
				}
			}
			if revokeRetry || pct(10) {
				add(mOp{Kind: opRetry, Phase: phaseRevokeRepair, Order: oIdx})
			}
		}
	}
	if f.lostAnswers() && f.JSON["lost_answer_rate"] == 1.0 {
		// Every answer lost hides the 400 of a write that fails for good:
		// the client sees only 504s and retries (rightly) until the retry
		// horizon. Lines that fail until fixed need some answers to arrive.
		for _, o := range s.Orders {
			for _, l := range o.Lines {
				if l.Cause != causeNone {
					f.JSON["lost_answer_rate"] = 0.6
				}
			}
		}
		for _, op := range phases[phaseRefund] {
			if op.Kind == opBreakMode {
				f.JSON["lost_answer_rate"] = 0.6
			}
		}
	}
	for ph := 1; ph <= phaseCount; ph++ {
		// Fixes (and breaks) before the retries (and refunds) they are for.
		first := func(k opKind) bool { return k == opFix || k == opBreakMode || k == opRestoreMode }
		sort.SliceStable(phases[ph], func(i, j int) bool {
			return first(phases[ph][i].Kind) && !first(phases[ph][j].Kind)
		})
		s.Ops = append(s.Ops, phases[ph]...)
	}
	return s
}

// ---------------------------------------------------------------------------
// The reference model.

// lineRef names one line of a sequence.
type lineRef struct {
	Order int
	ID    string
}

// mLineExp is what the model says about one line once the system settled
// (ledger.ExpectLine), and the known weaknesses that can make it differ.
type mLineExp struct {
	ledger.LineExpect
	Tags []string
}

// mOrderExp is what the model says about one order.
type mOrderExp struct {
	// Refunds are the accepted refunds and the lines each covers.
	Refunds map[string][]string
	// RefundStates are the accepted refunds' final states.
	RefundStates map[string]contract.RefundState
	Status       contract.OrderState
	Cancelled    bool
	Closed       bool
	// IgnoredRefunds are refund ids of signals the order must list in
	// ignored_requests.
	IgnoredRefunds []string
}

// mExpect is the model's answer for a sequence.
type mExpect struct {
	// Codes are the expected HTTP answers of API operations, by op index.
	Codes  map[int]int
	Lines  map[lineRef]*mLineExp
	Orders []mOrderExp
	// Ignored lists op indexes of refund signals the order should ignore.
	Ignored map[int]bool
}

func freeMode(m string) bool { return ledger.FreeMode(m) }

// ledgerLine is the line as the shared ledger model sees it.
func (l *mLine) ledgerLine() ledger.Line {
	return ledger.Line{Product: l.Product, Mode: l.Mode, Prior: l.Prior}
}

// grant is the learner's enrollment after the line was fulfilled, given
// the enrollment from elsewhere, and how many writes that took.
func grant(l *mLine) (mEnroll, int) { return ledger.Grant(l.ledgerLine()) }

// fulfills reports whether a fulfillment attempt of the line succeeds once
// its cause has (or has not) been fixed.
func fulfills(s *mSeq, o *mOrder, l *mLine, fixed bool) bool {
	switch l.Product {
	case order.ProductEntitlement:
		return s.Learners[o.Learner].namedByUsername()
	case order.ProductSeat, order.ProductUpgrade:
		return l.Cause == causeNone || fixed
	}
	return true
}

// expect runs the reference model over a sequence.
func expect(s *mSeq) *mExpect {
	e := &mExpect{Codes: map[int]int{}, Lines: map[lineRef]*mLineExp{}, Ignored: map[int]bool{}}
	type lineState struct {
		ok       bool   // the last fulfillment attempt succeeded
		refund   string // the refund covering it
		raced    bool   // covered while its fulfillment may still run
		fixed    bool
		attempts int
		// broken: the course lacks the audit mode; revokeFailed: the
		// line's revoke failed for good (so far).
		broken, revokeFailed bool
	}
	type orderState struct {
		lines     map[string]*lineState
		refunds   map[string][]string
		cancelled bool
		closed    bool
		ignored   []string
	}
	ords := make([]*orderState, len(s.Orders))
	for i := range s.Orders {
		st := &orderState{lines: map[string]*lineState{}, refunds: map[string][]string{}}
		for _, l := range s.Orders[i].Lines {
			st.lines[l.ID] = &lineState{}
		}
		ords[i] = st
	}
	for i, op := range s.Ops {
		o, st := &s.Orders[op.Order], ords[op.Order]
		switch op.Kind {
		case opPlace:
			for j := range o.Lines {
				l := &o.Lines[j]
				ls := st.lines[l.ID]
				ls.ok, ls.attempts = fulfills(s, o, l, false), 1
			}
			if !o.Direct {
				e.Codes[i] = 202
			}
		case opCancel:
			st.cancelled, st.closed = true, true
		case opFix:
			st.lines[op.Line].fixed = true
		case opWaitClosed:
			st.closed = true
		case opBreakMode:
			st.lines[op.Line].broken = true
		case opRestoreMode:
			st.lines[op.Line].broken = false
		case opRetry:
			var failed, revokeFailed []string
			for _, l := range o.Lines {
				ls := st.lines[l.ID]
				switch {
				case ls.revokeFailed:
					revokeFailed = append(revokeFailed, l.ID)
				case !ls.ok && ls.refund == "":
					failed = append(failed, l.ID)
				}
			}
			if st.cancelled || len(failed)+len(revokeFailed) == 0 {
				e.Codes[i] = 409
				continue
			}
			e.Codes[i] = 202
			for _, id := range failed {
				ls := st.lines[id]
				ls.ok, ls.attempts = fulfills(s, o, o.line(id), ls.fixed), ls.attempts+1
			}
			for _, id := range revokeFailed {
				st.lines[id].revokeFailed = st.lines[id].broken
			}
		case opRefund:
			code := 202
			var sel []string
			switch {
			case st.refunds[op.RefundID] != nil:
				code = 200
			case op.Lines == nil:
				for _, l := range o.Lines {
					if st.lines[l.ID].refund == "" {
						sel = append(sel, l.ID)
					}
				}
			default:
				for _, id := range op.Lines {
					if st.lines[id].refund != "" {
						code = 409
					}
				}
				if code == 202 {
					sel = slices.Clone(op.Lines)
				}
			}
			// A signal has no answer; the code is what the API would say
			// (the driver falls back to it when the order has closed).
			e.Codes[i] = code
			if op.Signal && code == 409 {
				e.Ignored[i] = true
				st.ignored = append(st.ignored, op.RefundID)
			}
			if code != 202 {
				continue
			}
			if sel == nil {
				sel = []string{}
			}
			st.refunds[op.RefundID] = sel
			for _, id := range sel {
				ls := st.lines[id]
				ls.refund = op.RefundID
				// Refunds sent as the order starts, or after a cancel,
				// may stop a line before or while it runs.
				ls.raced = op.Phase == phasePlace
				// Going back to audit fails while the course lacks it.
				if _, writes := grant(o.line(id)); ls.broken && ls.ok && writes > 0 {
					ls.revokeFailed = true
				}
			}
		}
	}

	for oi := range s.Orders {
		o, st := &s.Orders[oi], ords[oi]
		oe := mOrderExp{Refunds: st.refunds, Cancelled: st.cancelled, Closed: st.closed, IgnoredRefunds: st.ignored,
			RefundStates: map[string]contract.RefundState{}}
		for id, lines := range st.refunds {
			oe.RefundStates[id] = contract.RefundCompleted
			for _, l := range lines {
				if st.lines[l].revokeFailed {
					oe.RefundStates[id] = contract.RefundRevocationError
				}
			}
		}
		var lineExps []*ledger.LineExpect
		for j := range o.Lines {
			l := &o.Lines[j]
			ls := st.lines[l.ID]
			le := &mLineExp{LineExpect: *ledger.ExpectLine(l.ledgerLine(),
				ledger.Outcome{Fulfilled: ls.ok, Refund: ls.refund, Raced: ls.raced, RevokeFailed: ls.revokeFailed})}
			_, writes := grant(l)
			le.Tags = tags(s, o, l, ls.refund != "", ls.raced, ls.ok, writes)
			e.Lines[lineRef{oi, l.ID}] = le
			lineExps = append(lineExps, &le.LineExpect)
		}
		oe.Status = ledger.OrderStatus(lineExps, len(st.refunds), st.cancelled)
		e.Orders = append(e.Orders, oe)
	}
	return e
}

// tags name the known weaknesses that can make a line's outcome differ
// from the model, for the diagnosis of a failure.
func tags(s *mSeq, o *mOrder, l *mLine, refunded, raced, ok bool, writes int) []string {
	var t []string
	if !refunded || !l.hasCourse() {
		return nil
	}
	if raced && l.Product == order.ProductEntitlement && !s.Learners[o.Learner].namedByUsername() {
		t = append(t, "entitlement of an order without username refunded while queued or running: "+
			"the revoke without a grant needs the username (InvalidLine, revoke_failed)")
	}
	if ok && writes > 0 && s.FulfillFaults.lostAnswers() {
		t = append(t, "lost answers while fulfilling: a retry that finds its own write records it as the learner's prior state")
	}
	if raced && l.Prior.Active && l.Product != order.ProductEntitlement {
		t = append(t, "refund raced the fulfillment: a revoke without a grant undoes the line's mode whatever the learner had before")
	}
	if raced && l.Prior.Active && l.Product == order.ProductSeat && s.FulfillFaults.outage() {
		t = append(t, "refund of a seat the learner has from elsewhere during an outage")
	}
	return t
}

// ---------------------------------------------------------------------------
// Describing a sequence, for failure messages.

func (s *mSeq) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sequence seed=%d (replay: go test -count=1 -run TestModel ./e2e/ -model.seed=%d)\n", s.Seed, s.Seed)
	fmt.Fprintf(&b, "  faults while fulfilling (and retrying): %s; while refunding: %s\n", s.FulfillFaults, s.RefundFaults)
	for _, l := range s.Learners {
		fmt.Fprintf(&b, "  %s: %s", l.Sym, l.Kind)
		if l.OrderEmail {
			b.WriteString(", order by username and email")
		}
		if l.Name != "" {
			fmt.Fprintf(&b, " (username %s, email %s)", l.Name, l.Email)
		}
		b.WriteString("\n")
	}
	for _, o := range s.Orders {
		fmt.Fprintf(&b, "  order %s for %s", o.Key, s.Learners[o.Learner].Sym)
		if o.Number != "" {
			fmt.Fprintf(&b, " (%s)", o.Number)
		}
		if o.Direct {
			b.WriteString(", started directly with a 2s refund window")
		}
		b.WriteString(":\n")
		for _, l := range o.Lines {
			fmt.Fprintf(&b, "    %s\n", s.lineText(&o, &l))
		}
	}
	b.WriteString("  operations:\n")
	for i, op := range s.Ops {
		fmt.Fprintf(&b, "    #%d %s\n", i, s.opText(op))
	}
	return b.String()
}

func (s *mSeq) lineText(o *mOrder, l *mLine) string {
	t := fmt.Sprintf("line %s: %s", l.ID, l.Product)
	if l.Mode != "" {
		t += " " + l.Mode
	}
	if l.hasCourse() {
		c := s.Courses[l.Course]
		t += " " + c.Sym
		if c.ID != "" {
			t += " (" + c.ID + ")"
		}
	}
	if l.Prior.Exists {
		t += "; from elsewhere: " + l.Prior.String()
	}
	if l.Cause != causeNone {
		t += "; " + l.Cause.String()
	}
	return t
}

func (s *mSeq) opText(op mOp) string {
	o := &s.Orders[op.Order]
	ph := [...]string{"", "placing", "repair", "refunds", "revoke repair", "after close"}[op.Phase]
	switch op.Kind {
	case opPlace:
		if o.Direct {
			return fmt.Sprintf("[%s] start order %s directly (refund window 2s)", ph, o.Key)
		}
		return fmt.Sprintf("[%s] place order %s (POST /api/v1/orders)", ph, o.Key)
	case opCancel:
		return fmt.Sprintf("[%s] cancel order %s (Temporal CancelWorkflow)", ph, o.Key)
	case opFix:
		return fmt.Sprintf("[%s] fix line %s/%s: %s", ph, o.Key, op.Line, map[mCause]string{causeLateCourse: "create the course", causeClosed: "reopen enrollment"}[o.line(op.Line).Cause])
	case opRetry:
		return fmt.Sprintf("[%s] retry order %s (POST .../retry {})", ph, o.Key)
	case opWaitClosed:
		return fmt.Sprintf("[%s] wait until order %s has closed", ph, o.Key)
	case opBreakMode:
		return fmt.Sprintf("[%s] take the audit mode out of line %s/%s's course", ph, o.Key, op.Line)
	case opRestoreMode:
		return fmt.Sprintf("[%s] fix line %s/%s's revoke: put the audit mode back", ph, o.Key, op.Line)
	case opRefund:
		lines := "all lines not refunded yet"
		if op.Lines != nil {
			lines = "lines " + strings.Join(op.Lines, ",")
		}
		via := "API"
		if op.Signal {
			via = signalPrefix
		}
		return fmt.Sprintf("[%s] refund %s of order %s: %s, via %s", ph, op.RefundID, o.Key, lines, via)
	}
	return "?"
}

// describe is the model's expectation, for -model.dry.
func (e *mExpect) describe(s *mSeq) string {
	var b strings.Builder
	b.WriteString("  the model expects:\n")
	for i, op := range s.Ops {
		if c, ok := e.Codes[i]; ok && !op.Signal || e.Ignored[i] {
			fmt.Fprintf(&b, "    #%d answered %d (ignored signal: %v)\n", i, c, e.Ignored[i])
		}
	}
	for oi, o := range s.Orders {
		oe := e.Orders[oi]
		fmt.Fprintf(&b, "    order %s: %s, refunds %v %v\n", o.Key, oe.Status, oe.Refunds, oe.RefundStates)
		for _, l := range o.Lines {
			le := e.Lines[lineRef{oi, l.ID}]
			fmt.Fprintf(&b, "      line %s: %v, LMS %s, entitlement active %v, writes <= %d\n", l.ID, le.States, le.Enrollment.Access(), le.EntActive, le.MaxWrites)
		}
	}
	return b.String()
}
