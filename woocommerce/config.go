package woocommerce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/order"
)

// Environment variables ConfigFromEnv reads.
const (
	EnvWebhookSecret  = "WOOCOMMERCE_WEBHOOK_SECRET"
	EnvProductMap     = "WOOCOMMERCE_PRODUCT_MAP"
	EnvStoreURL       = "WOOCOMMERCE_STORE_URL"
	EnvConsumerKey    = "WOOCOMMERCE_CONSUMER_KEY"
	EnvConsumerSecret = "WOOCOMMERCE_CONSUMER_SECRET"
	// EnvStores lists, comma-separated, the store URLs whose deliveries are
	// accepted (their X-WC-Webhook-Source). The store's name in order
	// numbers comes from that header, which the signature does not cover:
	// without the list, a signed delivery resent with another Source would
	// be taken for another store's order.
	EnvStores = "WOOCOMMERCE_STORES"
	// EnvAllowAnyStore set to "true" accepts deliveries from any store when
	// EnvStores is empty; without either the receiver does not start.
	EnvAllowAnyStore = "WOOCOMMERCE_ALLOW_ANY_STORE"
	// DefaultDeliveryTimeout bounds one delivery's handling.
	DefaultDeliveryTimeout = 30 * time.Second
)

// Product maps one store product (by variation id, product id or SKU; see
// ProductMap.product for the order) to what fulfillment grants, or marks it
// as not a course at all.
type Product struct {
	SKU string `json:"sku,omitempty"`
	// ProductID matches a line item's product_id or variation_id.
	ProductID int64 `json:"product_id,omitempty"`
	// ProductType defaults to "seat".
	ProductType string `json:"product_type,omitempty"`
	CourseID    string `json:"course_id,omitempty"`
	Mode        string `json:"mode,omitempty"`
	CourseUUID  string `json:"course_uuid,omitempty"`
	// NonCourse marks a product fulfillment ignores (a book, a T-shirt):
	// only products marked so are skipped; any other line without course
	// data rejects the order for an operator to look at.
	NonCourse bool `json:"non_course,omitempty"`
}

// ProductMap is the product map file (WOOCOMMERCE_PRODUCT_MAP):
//
//	{"products": [
//	  {"sku": "DEMOX-VERIFIED", "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "verified"},
//	  {"product_id": 93, "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "verified"},
//	  {"sku": "MUG", "non_course": true}
//	]}
type ProductMap struct {
	Products []Product `json:"products"`
}

// LoadProductMap reads and checks a product map file.
func LoadProductMap(path string) (ProductMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ProductMap{}, fmt.Errorf("product map: %w", err)
	}
	return ParseProductMap(b)
}

// ParseProductMap parses and checks a product map document.
func ParseProductMap(b []byte) (ProductMap, error) {
	var m ProductMap
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return ProductMap{}, fmt.Errorf("product map: %w", err)
	}
	var errs []error
	for i, p := range m.Products {
		where := fmt.Sprintf("product map entry %d", i)
		if p.SKU == "" && p.ProductID == 0 {
			errs = append(errs, fmt.Errorf("%s: needs sku or product_id", where))
		}
		if p.NonCourse {
			if p.CourseID != "" || p.CourseUUID != "" || p.Mode != "" {
				errs = append(errs, fmt.Errorf("%s: a non_course product cannot name a course", where))
			}
			continue
		}
		if p.ProductType == "" {
			p.ProductType = order.ProductSeat
			m.Products[i] = p
		}
		if (p.ProductType == order.ProductSeat || p.ProductType == order.ProductUpgrade) && !order.IsCourseRunKey(p.CourseID) {
			errs = append(errs, fmt.Errorf("%s: course_id %q is not a course run key", where, p.CourseID))
		}
		if p.Mode != "" && !order.IsMode(p.Mode) {
			errs = append(errs, fmt.Errorf("%s: mode %q is not a course mode", where, p.Mode))
		}
	}
	if len(errs) > 0 {
		return ProductMap{}, errors.Join(errs...)
	}
	return m, nil
}

// StoreAPI is the store's REST API, used to learn which lines a partial
// refund covers. The zero value means "not configured": partial refunds are
// then recorded for an operator.
type StoreAPI struct {
	// URL is the store's base URL (https://shop.example.com/).
	URL            string
	ConsumerKey    string
	ConsumerSecret string
	// HTTPClient defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Configured reports whether the store API can be called.
func (s StoreAPI) Configured() bool {
	return s.URL != "" && s.ConsumerKey != "" && s.ConsumerSecret != ""
}

// Config configures the receiver.
type Config struct {
	// Secret is the webhook secret set in the store's webhook settings.
	Secret string
	// Products maps SKUs and product ids to courses.
	Products ProductMap
	// Store is the store's REST API (optional).
	Store StoreAPI
	// Mapped reports whether a product type has a fulfillment module; nil
	// accepts every product type.
	Mapped func(productType string) bool
	// Stores are the store URLs whose deliveries are accepted (see
	// EnvStores). Empty is refused unless AllowAnyStore is set.
	Stores []string
	// AllowAnyStore accepts deliveries under any X-WC-Webhook-Source when
	// Stores is empty (a sandbox, a test): a signed delivery resent under
	// another Source is then taken for another store's order.
	AllowAnyStore bool
	// DeliveryTimeout bounds the handling of one delivery (default
	// DefaultDeliveryTimeout), below the server's write timeout.
	DeliveryTimeout time.Duration
	// MaxRejections bounds the in-memory list of rejected deliveries.
	// Defaults to 200.
	MaxRejections int
	// Now defaults to time.Now.
	Now func() time.Time
}

// ConfigFromEnv reads the receiver's configuration from the environment
// (getenv is os.Getenv outside tests). The webhook secret and the consumer
// key and secret may instead be read from the file named by the variable
// with a _FILE suffix (WOOCOMMERCE_WEBHOOK_SECRET_FILE, ...). enabled is
// false when no webhook secret is set: the receiver is then not offered.
func ConfigFromEnv(getenv func(string) string) (cfg Config, enabled bool, err error) {
	if cfg.Secret, err = envconfig.Secret(getenv, EnvWebhookSecret); err != nil || cfg.Secret == "" {
		return Config{}, false, err
	}
	if path := getenv(EnvProductMap); path != "" {
		if cfg.Products, err = LoadProductMap(path); err != nil {
			return Config{}, false, err
		}
	}
	cfg.Store.URL = getenv(EnvStoreURL)
	if cfg.Store.ConsumerKey, err = envconfig.Secret(getenv, EnvConsumerKey); err != nil {
		return Config{}, false, err
	}
	if cfg.Store.ConsumerSecret, err = envconfig.Secret(getenv, EnvConsumerSecret); err != nil {
		return Config{}, false, err
	}
	set := 0
	for _, v := range []string{cfg.Store.URL, cfg.Store.ConsumerKey, cfg.Store.ConsumerSecret} {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return Config{}, false, fmt.Errorf("woocommerce: set all of %s, %s and %s, or none", EnvStoreURL, EnvConsumerKey, EnvConsumerSecret)
	}
	if cfg.Store.URL != "" {
		u, perr := url.Parse(cfg.Store.URL)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Config{}, false, fmt.Errorf("woocommerce: %s must be the store's http(s) URL", EnvStoreURL)
		}
		// The consumer key and secret travel as Basic auth: never in the
		// clear, except to a store on this machine.
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return Config{}, false, fmt.Errorf("woocommerce: %s must use https (the consumer secret is sent with every call)", EnvStoreURL)
		}
		cfg.Stores = append(cfg.Stores, cfg.Store.URL)
	}
	for _, s := range strings.Split(getenv(EnvStores), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Stores = append(cfg.Stores, s)
		}
	}
	switch v := strings.TrimSpace(getenv(EnvAllowAnyStore)); v {
	case "", "false":
	case "true":
		cfg.AllowAnyStore = true
	default:
		return Config{}, false, fmt.Errorf("woocommerce: %s must be true or false", EnvAllowAnyStore)
	}
	if len(cfg.Stores) == 0 && !cfg.AllowAnyStore {
		return Config{}, false, errNoStores
	}
	return cfg, true, nil
}

// errNoStores refuses a receiver that would take any Source for a store.
var errNoStores = fmt.Errorf("woocommerce: list the store URLs whose deliveries are accepted in %s "+
	"(or, for a sandbox, set %s=true)", EnvStores, EnvAllowAnyStore)

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// formatID renders a WooCommerce numeric id.
func formatID(id int64) string { return strconv.FormatInt(id, 10) }
