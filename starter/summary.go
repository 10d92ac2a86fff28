package starter

import (
	"fmt"
	"strings"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// maxDetailLines bounds the lines an order's static details list.
const maxDetailLines = 20

// orderSummary is the one-line summary the Web UI shows at the top of an
// order's workflow: its number and what it sells (never the learner).
func orderSummary(o order.Order) string {
	if len(o.Lines) == 1 {
		l := o.Lines[0]
		return fmt.Sprintf("order %s · 1 line: %s %s", o.Number, l.ProductType, strings.TrimSpace(course(l)+" "+mode(l)))
	}
	var kinds []string
	seen := map[string]bool{}
	for _, l := range o.Lines {
		if !seen[l.ProductType] {
			seen[l.ProductType] = true
			kinds = append(kinds, l.ProductType)
		}
	}
	return fmt.Sprintf("order %s · %d lines: %s", o.Number, len(o.Lines), strings.Join(kinds, ", "))
}

// orderDetails is the static details (markdown) of an order's workflow: its
// lines as placed, and where to look and what to do. No learner data.
func orderDetails(o order.Order) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Order **%s**, placed %s", o.Number, o.PlacedAt.UTC().Format("2006-01-02 15:04 UTC"))
	if o.Source != "" {
		fmt.Fprintf(&b, " from %s", o.Source)
	}
	b.WriteString(".\n\n| line | product | course | mode |\n| --- | --- | --- | --- |\n")
	for i, l := range o.Lines {
		if i == maxDetailLines {
			fmt.Fprintf(&b, "\n… and %d more line(s).\n", len(o.Lines)-i)
			break
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", l.ID, l.ProductType, dashIfEmpty(course(l)), dashIfEmpty(l.Mode))
	}
	fmt.Fprintf(&b, "\nWhy a line is not fulfilled, and what to do, is in **Current Details**; every line's state is in the `%s` query. "+
		"Act with **Send an Update**: `%s` (`{}`) once the cause is fixed, `%s` (`{\"refund_id\":\"R-1\"}`). "+
		"Never Reset or Terminate an order (docs/operations.md).", contract.QueryStatus, contract.UpdateRetry, contract.UpdateRefund)
	return b.String()
}

func course(l order.Line) string {
	if l.CourseID != "" {
		return l.CourseID
	}
	return l.CourseUUID
}

func mode(l order.Line) string {
	if l.Mode == "" {
		return ""
	}
	return "(" + l.Mode + ")"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "–"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
