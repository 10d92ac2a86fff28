package ledger

import (
	"math/rand/v2"
	"slices"

	"github.com/coursefulfill/fulfillment/order"
)

// Dice draws the random choices of a seeded scenario generator, so the
// model test and the fault-survival suite draw them the same way and a seed
// always means the same scenario.
type Dice struct{ R *rand.Rand }

// Pct is true with probability p percent.
func (d Dice) Pct(p int) bool { return d.R.IntN(100) < p }

// Pick returns an index into weights, each index with its weight's share.
func (d Dice) Pick(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	k := d.R.IntN(total)
	for i, w := range weights {
		if k < w {
			return i
		}
		k -= w
	}
	return len(weights) - 1
}

// Subset returns a proper, non-empty subset of from (from itself when it
// has one element or none).
func (d Dice) Subset(from []string) []string {
	if len(from) <= 1 {
		return slices.Clone(from)
	}
	var out []string
	for _, id := range from {
		if d.Pct(50) {
			out = append(out, id)
		}
	}
	if len(out) == 0 || len(out) == len(from) {
		out = []string{from[d.R.IntN(len(from))]}
	}
	return out
}

// Priors are a learner's possible enrollments in a course before an order:
// none, active in audit, active in verified, inactive in audit, inactive
// in verified.
var Priors = [...]Enroll{{}, {Exists: true, Active: true, Mode: "audit"}, {Exists: true, Active: true, Mode: "verified"},
	{Exists: true, Mode: "audit"}, {Exists: true, Mode: "verified"}}

// ModeAndPrior draws the mode of a line of product and the learner's
// enrollment in its course before the order (none for a learner without an
// account, and for a donation). Upgrades are of an active enrollment only:
// with none, the upgrade module's documented revoke ("back to audit") is
// not the state before the order.
func (d Dice) ModeAndPrior(product string, hasAccount bool) (mode string, prior Enroll) {
	switch product {
	case order.ProductSeat:
		mode = []string{"audit", "verified"}[d.Pick(35, 65)]
		if hasAccount {
			prior = Priors[d.Pick(45, 20, 15, 10, 10)]
		}
	case order.ProductUpgrade:
		mode, prior = "verified", Priors[d.Pick(0, 75, 25, 0, 0)]
	case order.ProductEntitlement:
		mode = []string{"", "verified"}[d.R.IntN(2)]
		if hasAccount {
			prior = Priors[d.Pick(70, 15, 5, 5, 5)]
		}
	}
	return mode, prior
}
