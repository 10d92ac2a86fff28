package woocommerce

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coursefulfill/fulfillment/order"
)

// buildOrder maps a WooCommerce order to a fulfillment order. lineOf maps
// an order line index to its WooCommerce line item, to name problems the
// way the shop sees them.
func (rc *Receiver) buildOrder(number, source string, wo wcOrder) (order.Order, []wcLineItem, []order.FieldError) {
	var problems []order.FieldError
	o := order.Order{
		Number: number,
		User:   order.User{Email: strings.TrimSpace(wo.Billing.Email)},
		Source: strings.TrimSpace(source),
	}
	if t, ok := wcTime(wo.DateCreatedGMT); ok {
		o.PlacedAt = t
	} else {
		problems = append(problems, order.FieldError{Field: "date_created_gmt", Detail: "is missing or not a WooCommerce GMT time"})
	}
	if o.User.Email == "" {
		problems = append(problems, order.FieldError{Field: "billing.email", Detail: "is required: the learner is enrolled by billing email"})
	}
	var lineOf []wcLineItem
	for _, li := range wo.LineItems {
		line := order.Line{ID: formatID(int64(li.ID)), SKU: li.SKU}
		courseID := li.meta("course_id", "_course_id")
		mode := li.meta("course_mode", "_mode")
		mapped, inMap := rc.cfg.Products.product(li)
		switch {
		case courseID != "":
			line.ProductType = order.ProductSeat
			line.CourseID = courseID
			line.Mode = mode
			if line.Mode == "" && inMap && !mapped.NonCourse {
				line.Mode = mapped.Mode
			}
		case inMap && mapped.NonCourse:
			continue // marked as not a course by configuration
		case inMap:
			line.ProductType = mapped.ProductType
			line.CourseID = mapped.CourseID
			line.Mode = mapped.Mode
			line.CourseUUID = mapped.CourseUUID
		default:
			problems = append(problems, lineProblem(li, fmt.Sprintf(
				"product %d (sku %q) has no course_id meta and is not in the product map; add it to %s (as a course, or with \"non_course\": true)",
				int64(li.ProductID), truncate(strings.ToValidUTF8(li.SKU, ""), 64), EnvProductMap)))
			continue
		}
		if li.ID <= 0 {
			problems = append(problems, lineProblem(li, "has no id"))
			continue
		}
		// A seat bought twice is still one enrollment: quantity above 1
		// grants the line once. Below 1 nothing was bought.
		if li.Quantity < 1 {
			problems = append(problems, lineProblem(li, fmt.Sprintf("quantity must be at least 1, got %d", int64(li.Quantity))))
			continue
		}
		o.Lines = append(o.Lines, line)
		lineOf = append(lineOf, li)
	}
	return o, lineOf, problems
}

// translate renames "lines[i].x" field errors to the WooCommerce line item.
func translate(err error, lineOf []wcLineItem) []order.FieldError {
	var verr *order.ValidationError
	if !errors.As(err, &verr) {
		return []order.FieldError{{Field: "order", Detail: err.Error()}}
	}
	out := make([]order.FieldError, 0, len(verr.Errors))
	for _, fe := range verr.Errors {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(fe.Field, "lines[%d]", &i); n == 1 && i >= 0 && i < len(lineOf) {
			if k := strings.Index(fe.Field, "]"); k >= 0 {
				rest = fe.Field[k+1:]
			}
			fe.Field = "line_items[id=" + formatID(int64(lineOf[i].ID)) + "]" + rest
		}
		switch fe.Field {
		case "user", "user.email":
			fe.Field = "billing.email"
		case "placed_at":
			fe.Field = "date_created_gmt"
		}
		out = append(out, fe)
	}
	return out
}
