package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/coursefulfill/fulfillment/e2e/ledger"
	"github.com/coursefulfill/fulfillment/order"
)

// kind is how a learner stands with the LMS (see ledger.Kind).
type kind = ledger.Kind

const (
	kindAccount        = ledger.KindAccount
	kindAccountByEmail = ledger.KindAccountByEmail
	kindNewByEmail     = ledger.KindNewByEmail
	kindNewByUsername  = ledger.KindNewByUsername
)

// learner is an order's learner. Name is the LMS username.
type learner struct {
	Name, Email string
	Kind        kind
	OrderEmail  bool
}

func (l *learner) hasAccount() bool { return l.Kind.HasAccount() }

func (l *learner) namedByUsername() bool { return l.Kind.NamedByUsername() }

func (l *learner) orderUser() order.User { return l.Kind.OrderUser(l.Name, l.Email, l.OrderEmail) }

// cause is why a seat fails for good until an operator fixes it.
type cause int

const (
	causeNone cause = iota
	// causeLateCourse: the course run does not exist until the fix.
	causeLateCourse
	// causeClosed: the run's enrollment has closed until the fix.
	causeClosed
)

// course is a course run of the sandbox.
type course struct {
	ID, UUID string
}

// line is one order line.
type line struct {
	ID      string
	Product string
	Mode    string
	Course  *course // nil for a donation
	Prior   ledger.Enroll
	Cause   cause
	// Fix: the operator fixes the cause before retrying.
	Fix bool
}

func (l *line) ledgerLine() ledger.Line {
	return ledger.Line{Product: l.Product, Mode: l.Mode, Prior: l.Prior}
}

// refund is one refund the driver sends.
type refund struct {
	ID string
	// Lines named; nil refunds every line not refunded yet.
	Lines []string
	// Dup sends it twice (the second answer is 200, a duplicate).
	Dup bool
}

// orderPlan is one order and what the driver does with it.
type orderPlan struct {
	Number  string
	Learner learner
	Lines   []line
	// Bad sends deliberately bad requests about the order (4xx, nothing
	// changes).
	Bad bool
	// Race is refunded right after it is placed, while it is fulfilled.
	Race *refund
	// Retry: the operator retries once the order settled (after fixes).
	Retry bool
	// Settled are refunded once the order has settled (after retries).
	Settled []refund
	// Conflict refunds, under a new id, a line already refunded: 409.
	Conflict *refund
	// Bystander is an enrollment from elsewhere in a course the order
	// does not touch: it must stay as it is.
	Bystander *course
	// BystanderMode of the bystander enrollment.
	BystanderMode string
}

func (o *orderPlan) lineIDs() []string {
	ids := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		ids[i] = l.ID
	}
	return ids
}

func (o *orderPlan) line(id string) *line {
	for i := range o.Lines {
		if o.Lines[i].ID == id {
			return &o.Lines[i]
		}
	}
	return nil
}

// plan is every order of a run, and the courses they use.
type plan struct {
	Orders []*orderPlan
	// Pool are open courses shared by the orders (no order uses one
	// twice); Late and Closed are each one line's course with a cause.
	Pool, Late, Closed []*course
}

// newPlan generates n orders from seed; run names learners, courses and
// order numbers apart from other runs.
func newPlan(seed int64, n int, run string) *plan {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)*0x9e3779b97f4a7c15+1))
	dice := ledger.Dice{R: r}
	pct, pick := dice.Pct, dice.Pick
	p := &plan{}
	courseN := 0
	newCourse := func() *course {
		courseN++
		return &course{ID: fmt.Sprintf("course-v1:Chaos+%sC%d+2026", run, courseN),
			UUID: fmt.Sprintf("%08x-%04x-4000-9000-%012x", courseN, len(run), seed&0xffffffffffff)}
	}
	for range 16 {
		p.Pool = append(p.Pool, newCourse())
	}
	refundN := 0
	newRefund := func(lines []string) *refund {
		refundN++
		return &refund{ID: fmt.Sprintf("R%d", refundN), Lines: lines, Dup: pct(25)}
	}
	for i := range n {
		name := fmt.Sprintf("chx%sn%d", run, i+1)
		o := &orderPlan{Number: fmt.Sprintf("CHX-%s-%d", run, i+1),
			Learner: learner{Name: name, Email: name + "@example.com", Kind: kind(pick(45, 15, 20, 20))}}
		lr := &o.Learner
		lr.OrderEmail = lr.Kind == kindAccount && pct(40)
		perm := r.Perm(len(p.Pool))
		nLines := 1 + r.IntN(3)
		for li := range nLines {
			ln := line{ID: fmt.Sprint(li + 1)}
			products := []int{45, 20, 20, 15} // seat, upgrade, entitlement, donation
			if !lr.hasAccount() {
				products[1] = 0 // an upgrade needs an existing enrollment
			}
			ln.Product = []string{order.ProductSeat, order.ProductUpgrade, order.ProductEntitlement, order.ProductDonation}[pick(products...)]
			if ln.Product != order.ProductDonation {
				ln.Course = p.Pool[perm[li]]
			}
			ln.Mode, ln.Prior = dice.ModeAndPrior(ln.Product, lr.hasAccount())
			if ln.Product == order.ProductSeat {
				if !ln.Prior.Exists {
					ln.Cause = cause(pick(90, 5, 5))
				}
				switch ln.Cause {
				case causeLateCourse:
					ln.Course = newCourse()
					p.Late = append(p.Late, ln.Course)
				case causeClosed:
					ln.Course = newCourse()
					p.Closed = append(p.Closed, ln.Course)
				}
				ln.Fix = ln.Cause != causeNone && pct(70)
			}
			o.Lines = append(o.Lines, ln)
		}
		if lr.hasAccount() && pct(25) {
			o.Bystander = p.Pool[perm[len(perm)-1]]
			o.BystanderMode = []string{"audit", "verified"}[r.IntN(2)]
		}
		o.Bad = pct(5)
		ids := o.lineIDs()
		subset := dice.Subset
		fixable := slices.ContainsFunc(o.Lines, func(l line) bool { return l.Cause != causeNone })
		o.Retry = fixable && pct(80) || pct(4)
		switch pick(15, 40, 45) { // a refund racing the fulfillment, refunds once settled, none
		case 0:
			var lines []string
			if pct(50) {
				lines = subset(ids)
			}
			o.Race = newRefund(lines)
		case 1:
			if len(ids) > 1 && pct(50) {
				first := subset(ids)
				o.Settled = append(o.Settled, *newRefund(first))
				if pct(50) {
					o.Settled = append(o.Settled, *newRefund(nil))
				}
			} else {
				o.Settled = append(o.Settled, *newRefund(nil))
			}
			if pct(15) {
				o.Conflict = newRefund([]string{o.Settled[0].linesOr(ids)[0]})
				o.Conflict.Dup = false
			}
		}
		p.Orders = append(p.Orders, o)
	}
	return p
}

func (r *refund) linesOr(all []string) []string {
	if r.Lines == nil {
		return all
	}
	return r.Lines
}
