package ledger

import (
	"math/rand/v2"
	"slices"
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
