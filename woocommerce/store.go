package woocommerce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// wcRefund is the part of GET /wp-json/wc/v3/orders/{id}/refunds/{refund_id}
// fulfillment reads.
type wcRefund struct {
	ID        flexInt      `json:"id"`
	LineItems []wcLineItem `json:"line_items"`
}

// refundLines asks the store which order lines a refund covers: refund line
// items have negative quantities and name the order's line item in the
// _refunded_item_id meta; without it they are matched by product.
func (rc *Receiver) refundLines(ctx context.Context, orderID, refundID int64, wo wcOrder) ([]string, error) {
	base, err := url.Parse(rc.cfg.Store.URL)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	u := base.JoinPath("wp-json/wc/v3/orders", formatID(orderID), "refunds", formatID(refundID))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("refund request: %w", err)
	}
	req.SetBasicAuth(rc.cfg.Store.ConsumerKey, rc.cfg.Store.ConsumerSecret)
	req.Header.Set("Accept", "application/json")
	resp, err := rc.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: store answered %s", u.Redacted(), resp.Status)
	}
	var ref wcRefund
	if err := json.NewDecoder(io.LimitReader(resp.Body, MaxBodyBytes)).Decode(&ref); err != nil {
		return nil, fmt.Errorf("decode refund: %w", err)
	}
	ours := map[string]bool{}
	for _, li := range wo.LineItems {
		ours[formatID(int64(li.ID))] = true
	}
	seen := map[string]bool{}
	var lines []string
	for _, ri := range ref.LineItems {
		if ri.Quantity >= 0 {
			continue
		}
		id := ri.meta("_refunded_item_id", "refunded_item_id")
		if id == "" {
			id = matchByProduct(wo.LineItems, ri)
		}
		if id == "" || !ours[id] || seen[id] {
			continue
		}
		seen[id] = true
		lines = append(lines, id)
	}
	return rc.courseLinesOnly(lines, wo), nil
}

// matchByProduct finds the order line item a refund line item refunds when
// the store does not expose _refunded_item_id: the one with the same
// product and variation, if exactly one.
func matchByProduct(items []wcLineItem, ri wcLineItem) string {
	found := ""
	for _, li := range items {
		if li.ProductID == ri.ProductID && li.VariationID == ri.VariationID {
			if found != "" {
				return ""
			}
			found = formatID(int64(li.ID))
		}
	}
	return found
}

// courseLinesOnly drops lines that are non-course products: fulfillment
// never had them.
func (rc *Receiver) courseLinesOnly(ids []string, wo wcOrder) []string {
	out := ids[:0]
	for _, id := range ids {
		for _, li := range wo.LineItems {
			if formatID(int64(li.ID)) != id {
				continue
			}
			p, ok := rc.cfg.Products.product(li)
			if li.meta("course_id", "_course_id") == "" && ok && p.NonCourse {
				break
			}
			out = append(out, id)
			break
		}
	}
	return out
}
