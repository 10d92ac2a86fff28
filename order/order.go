// Package order holds the order a shop hands to fulfillment: its number, the
// learner and the lines to fulfill, with the validation every entry point
// (HTTP API, WooCommerce receiver, CLI) applies before anything starts.
package order

import (
	"time"
)

// Product types known to the built-in module mapping. The mapping itself is
// configuration (see package modules); these names are only the defaults.
const (
	ProductSeat        = "seat"
	ProductUpgrade     = "upgrade"
	ProductEntitlement = "entitlement"
	ProductDonation    = "donation"
)

// User identifies the learner. At least one of Username and Email is set; the
// LMS enrolls by username and falls back to a pre-enrollment by email when the
// learner has no account yet.
type User struct {
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
}

// Line is one purchasable item of an order. Which fields matter depends on
// the product type: a seat or an upgrade names a course run and a mode, an
// entitlement names a course (CourseUUID, or a course key in CourseID), a
// donation needs nothing.
type Line struct {
	ID          string `json:"id"`
	ProductType string `json:"product_type"`
	CourseID    string `json:"course_id,omitempty"`
	Mode        string `json:"mode,omitempty"`
	CourseUUID  string `json:"course_uuid,omitempty"`
	SKU         string `json:"sku,omitempty"`
}

// Order is what a shop hands to fulfillment once it has been paid.
type Order struct {
	Number   string    `json:"number"`
	User     User      `json:"user"`
	Lines    []Line    `json:"lines"`
	PlacedAt time.Time `json:"placed_at"`
	// Source names the shop the order came from (for example a WooCommerce
	// store URL). Empty for orders posted directly to the API.
	Source string `json:"source,omitempty"`
}

// LineIDs returns the ids of the order's lines in order.
func (o Order) LineIDs() []string {
	ids := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		ids[i] = l.ID
	}
	return ids
}

// CourseIDs returns the distinct course ids of the order's lines, in first
// appearance order.
func (o Order) CourseIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, l := range o.Lines {
		if l.CourseID != "" && !seen[l.CourseID] {
			seen[l.CourseID] = true
			ids = append(ids, l.CourseID)
		}
	}
	return ids
}
