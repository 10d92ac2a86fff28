package woocommerce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/coursefulfill/fulfillment/order"
)

// flexInt accepts a JSON number or a numeric string: WooCommerce renders
// ids as numbers, but plugins and proxies are known to stringify them.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			*f = 0
			return nil
		}
	}
	// Quantities of refunds come as -1; floats like 1.0 appear in some
	// exports.
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil || x != float64(int64(x)) {
		return errors.New("not an integer")
	}
	*f = flexInt(int64(x))
	return nil
}

// metaValue keeps a meta_data value as text when it is a JSON string or
// number; other shapes (objects, arrays) are not course data.
type metaValue string

func (m *metaValue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = metaValue(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*m = metaValue(n.String())
		return nil
	}
	*m = ""
	return nil
}

type wcMeta struct {
	Key   string    `json:"key"`
	Value metaValue `json:"value"`
}

type wcLineItem struct {
	ID          flexInt  `json:"id"`
	Name        string   `json:"name"`
	ProductID   flexInt  `json:"product_id"`
	VariationID flexInt  `json:"variation_id"`
	Quantity    flexInt  `json:"quantity"`
	SKU         string   `json:"sku"`
	MetaData    []wcMeta `json:"meta_data"`
}

func (li wcLineItem) meta(keys ...string) string {
	for _, k := range keys {
		for _, m := range li.MetaData {
			if m.Key == k && m.Value != "" {
				return string(m.Value)
			}
		}
	}
	return ""
}

type wcRefundRef struct {
	ID flexInt `json:"id"`
}

type wcOrder struct {
	ID             flexInt `json:"id"`
	Status         string  `json:"status"`
	DateCreatedGMT string  `json:"date_created_gmt"`
	// DateModifiedGMT orders the deliveries of one order: they may arrive
	// out of order, and a state older than one applied is stale.
	DateModifiedGMT string `json:"date_modified_gmt"`
	Billing         struct {
		Email string `json:"email"`
	} `json:"billing"`
	LineItems []wcLineItem  `json:"line_items"`
	Refunds   []wcRefundRef `json:"refunds"`
}

// decodeOrder decodes a webhook's order body leniently: WooCommerce sends
// far more fields than fulfillment needs, and new ones with each version.
func decodeOrder(body []byte) (wcOrder, error) {
	var o wcOrder
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&o); err != nil {
		return wcOrder{}, fmt.Errorf("the body is not a WooCommerce order: %w", err)
	}
	if dec.More() {
		return wcOrder{}, errors.New("the body is not a WooCommerce order: data after the JSON document")
	}
	if o.ID <= 0 {
		return wcOrder{}, errors.New("the order has no positive id")
	}
	return o, nil
}

// wcTime parses WooCommerce's GMT timestamps ("2026-11-21T09:58:02").
func wcTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9.-]+`)

// storeName turns X-WC-Webhook-Source ("https://Shop.Example.com/", or a
// store in a sub-directory "https://example.com/shop/") into the namespace
// of its order numbers: "shop.example.com", "example.com_shop". Two stores
// never share one, so their order 727s never collide.
func storeName(source string) (string, error) {
	source = strings.TrimSpace(source)
	if source == "" {
		return "", errors.New("the X-WC-Webhook-Source header is missing")
	}
	u, err := url.Parse(source)
	if err != nil || u.Hostname() == "" {
		return "", errors.New("the X-WC-Webhook-Source header is not the store URL")
	}
	parts := []string{strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")}
	if p := u.Port(); p != "" && p != "80" && p != "443" {
		parts = append(parts, p)
	}
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if seg != "" {
			parts = append(parts, strings.ToLower(seg))
		}
	}
	for i, p := range parts {
		parts[i] = strings.Trim(unsafeChars.ReplaceAllString(p, "-"), ".-")
	}
	name := strings.Trim(strings.Join(parts, "_"), "_")
	if name == "" {
		return "", errors.New("the X-WC-Webhook-Source header is not the store URL")
	}
	// Keep order numbers inside order.Validate's 128 characters; a hash
	// keeps truncated names distinct.
	if len(name) > 96 {
		sum := sha256.Sum256([]byte(name))
		name = strings.Trim(name[:80], "._-") + "." + hex.EncodeToString(sum[:])[:12]
	}
	return name, nil
}

// orderNumber namespaces a WooCommerce order id by its store. The id, not
// the displayed number, is used: it is what the REST API (refunds) takes,
// and sequential-number plugins may reuse or reformat display numbers.
//
// "-refund-" is reserved in order numbers (it names refund workflows); a
// store whose name holds it gets "-refund_" instead.
func orderNumber(store string, id int64) string {
	return strings.ReplaceAll(store, "-refund-", "-refund_") + "-" + formatID(id)
}

// lineProblem is a field error on a WooCommerce line item.
func lineProblem(li wcLineItem, detail string) order.FieldError {
	return order.FieldError{Field: "line_items[id=" + formatID(int64(li.ID)) + "]", Detail: detail}
}
