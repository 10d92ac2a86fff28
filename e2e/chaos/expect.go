package chaos

import (
	"net/http"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/e2e/ledger"
	"github.com/coursefulfill/fulfillment/order"
)

// orderExpect is what the ledger model says about one order.
type orderExpect struct {
	Lines  map[string]*ledger.LineExpect
	Status contract.OrderState
	// Refunds are the accepted refunds and the lines each covers.
	Refunds map[string][]string
	// RetryCode is the API's answer to the operator's retry.
	RetryCode int
}

// fulfills reports whether a fulfillment attempt of the line succeeds,
// its cause fixed or not.
func (o *orderPlan) fulfills(l *line, fixed bool) bool {
	switch l.Product {
	case order.ProductEntitlement:
		// The entitlement module needs the username.
		return o.Learner.namedByUsername()
	case order.ProductSeat, order.ProductUpgrade:
		return l.Cause == causeNone || fixed
	}
	return true
}

// expect runs the ledger model over the order's plan, in the order the
// driver acts: placed, maybe refunded at once, fixed and retried once
// settled, then refunded.
func (o *orderPlan) expect() *orderExpect {
	ok := map[string]bool{}
	outcome := map[string]*ledger.Outcome{}
	for i := range o.Lines {
		l := &o.Lines[i]
		ok[l.ID] = o.fulfills(l, false)
		outcome[l.ID] = &ledger.Outcome{}
	}
	e := &orderExpect{Lines: map[string]*ledger.LineExpect{}, Refunds: map[string][]string{}}
	accept := func(r *refund, raced bool) {
		sel := r.Lines
		if sel == nil {
			sel = []string{}
			for _, l := range o.Lines {
				if outcome[l.ID].Refund == "" {
					sel = append(sel, l.ID)
				}
			}
		}
		e.Refunds[r.ID] = sel
		for _, id := range sel {
			outcome[id].Refund, outcome[id].Raced = r.ID, raced
		}
	}
	if o.Race != nil {
		accept(o.Race, true)
	}
	if o.Retry {
		e.RetryCode = http.StatusConflict
		for i := range o.Lines {
			l := &o.Lines[i]
			if !ok[l.ID] && outcome[l.ID].Refund == "" {
				e.RetryCode = http.StatusAccepted
				ok[l.ID] = o.fulfills(l, l.Fix)
			}
		}
	}
	for i := range o.Settled {
		accept(&o.Settled[i], false)
	}
	var all []*ledger.LineExpect
	for i := range o.Lines {
		l := &o.Lines[i]
		out := outcome[l.ID]
		out.Fulfilled = ok[l.ID]
		le := ledger.ExpectLine(l.ledgerLine(), *out)
		e.Lines[l.ID] = le
		all = append(all, le)
	}
	e.Status = ledger.OrderStatus(all, len(e.Refunds), false)
	return e
}
