// Package woocommerce receives a WooCommerce store's order webhooks and
// turns them into fulfillment orders and refunds.
//
// A delivery is authenticated by its X-WC-Webhook-Signature (base64 of the
// HMAC-SHA256 of the raw body with the webhook secret). An order reaching
// "processing" or "completed" (virtual-only orders skip "processing") starts
// fulfillment once, however often it is delivered; "refunded" refunds every
// line, and is remembered in Temporal so that no paid delivery of the order
// arriving later (or together with it) enrolls anyone (refunded.go); a new
// partial refund refunds the lines it covers when the store's REST API is
// configured. Deliveries showing the order as it was before its applied
// refund (date_modified_gmt) are stale and change nothing. Deliveries that cannot be acted on are answered
// 2xx (WooCommerce disables a webhook after repeated failures, which would
// stop every later order) and recorded for the operator: logged, and listed
// at GET /api/v1/webhooks/woocommerce/rejections.
package woocommerce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/internal/httpjson"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// MaxBodyBytes bounds a delivery's body.
const MaxBodyBytes = 1 << 20

// FullRefundID is the refund id of the refund every line gets when an order
// moves to "refunded".
const FullRefundID = "wc-full"

// Fulfiller is what the receiver needs from package starter.
type Fulfiller interface {
	StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error)
	Refund(ctx context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error)
	// RememberRefunded and RememberedRefund keep, in Temporal, that the
	// store refunded an order, and as of when (see refunded.go).
	RememberRefunded(ctx context.Context, m contract.RefundedMarker) (bool, error)
	RememberedRefund(ctx context.Context, number string) (contract.RefundedMarker, bool, error)
}

// Reply is the JSON body of a 2xx answer. WooCommerce shows it in the
// webhook's delivery log, so a shop admin can read what happened.
type Reply struct {
	Result      string             `json:"result"`
	OrderNumber string             `json:"order_number,omitempty"`
	WorkflowID  string             `json:"workflow_id,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	Errors      []order.FieldError `json:"errors,omitempty"`
	Refunds     []string           `json:"refunds,omitempty"`
}

// Reply results.
const (
	ResultPong      = "pong"
	ResultStarted   = "started"
	ResultDuplicate = "duplicate"
	ResultRejected  = "rejected"
	ResultIgnored   = "ignored"
	ResultRefunded  = "refund_accepted"
	// ResultStale: the delivery shows the order as it was before a state
	// fulfillment already applied; nothing is done.
	ResultStale = "stale"
	// ResultRefundRemembered: the store refunded an order fulfillment has
	// not started; the refund is kept, and the order is never fulfilled.
	ResultRefundRemembered = "refund_remembered"
)

// Receiver handles WooCommerce webhook deliveries.
type Receiver struct {
	cfg    Config
	f      Fulfiller
	log    *zap.Logger
	client *http.Client

	mu         sync.Mutex
	rejections []*Rejection // oldest first
	byKey      map[string]*Rejection
	doneRefund map[string]bool // "number|refund id" already accepted
	doneOrder  []string        // FIFO bounding doneRefund
	// stores are the accepted store names (normalised Sources); empty
	// accepts any.
	stores map[string]bool
}

// NewReceiver returns a receiver that starts orders through f. log is used
// as given: the caller names it.
func NewReceiver(cfg Config, f Fulfiller, log *zap.Logger) (*Receiver, error) {
	if cfg.Secret == "" {
		return nil, errors.New("woocommerce: a webhook secret is required")
	}
	if f == nil {
		return nil, errors.New("woocommerce: a Fulfiller is required")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.MaxRejections <= 0 {
		cfg.MaxRejections = 200
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.Store.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	stores := map[string]bool{}
	for _, src := range cfg.Stores {
		name, err := storeName(src)
		if err != nil {
			return nil, fmt.Errorf("woocommerce: store %q: %w", src, err)
		}
		stores[name] = true
	}
	if len(stores) == 0 {
		if !cfg.AllowAnyStore {
			return nil, errNoStores
		}
		log.Warn("deliveries from any store are accepted; list the stores in " + EnvStores +
			" so a signed delivery cannot be replayed under another store's name")
	}
	return &Receiver{
		cfg: cfg, f: f, log: log, client: hc,
		byKey:      map[string]*Rejection{},
		doneRefund: map[string]bool{},
		stores:     stores,
	}, nil
}

// delivery is what one request carries besides its body.
type delivery struct {
	id     string
	topic  string
	store  string
	source string
}

// ServeHTTP handles one webhook delivery.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, problem.TypeTooLarge, "the delivery exceeds 1 MiB"))
			return
		}
		problem.Write(w, r, problem.New(http.StatusBadRequest, problem.TypeMalformed, "could not read the body"))
		return
	}
	// Until the signature is checked every header is the caller's word:
	// what is kept of them is bounded and, for the record, well-formed.
	d := delivery{
		id:     safeToken(r.Header.Get("X-WC-Webhook-Delivery-ID")),
		topic:  truncate(r.Header.Get("X-WC-Webhook-Topic"), 64),
		source: r.Header.Get("X-WC-Webhook-Source"),
	}
	// The ping WooCommerce sends when a webhook is saved carries no
	// signature; it must get a 2xx or the store disables the webhook. It
	// starts nothing, so answering it unauthenticated is harmless.
	if isPing(body) {
		writeReply(w, http.StatusOK, Reply{Result: ResultPong})
		return
	}
	if !rc.signed(body, r.Header.Get("X-WC-Webhook-Signature")) {
		rc.reject(&Rejection{Kind: KindBadSignature, DeliveryID: d.id,
			Reason: "the X-WC-Webhook-Signature is missing or does not match: check that the webhook's secret equals " + EnvWebhookSecret})
		problem.Write(w, r, problem.New(http.StatusUnauthorized, problem.TypeBadSignature,
			"missing or invalid X-WC-Webhook-Signature"))
		return
	}
	if !isJSONBody(r.Header.Get("Content-Type")) {
		rc.reject(&Rejection{Kind: KindMalformed, DeliveryID: d.id, Reason: "the delivery's Content-Type is not application/json"})
		problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, problem.TypeUnsupportedMediaType,
			"a delivery's body must be JSON, sent with Content-Type: application/json"))
		return
	}
	switch d.topic {
	case "", "order.created", "order.updated", "order.restored":
	default:
		writeReply(w, http.StatusOK, Reply{Result: ResultIgnored, Detail: "topic " + strconv.Quote(d.topic) + " is not handled"})
		return
	}
	if r.Header.Get("X-WC-Webhook-Resource") != "" && r.Header.Get("X-WC-Webhook-Resource") != "order" {
		writeReply(w, http.StatusOK, Reply{Result: ResultIgnored, Detail: "only order webhooks are handled"})
		return
	}
	store, err := storeName(d.source)
	if err == nil && !order.IsSource(strings.TrimSpace(d.source)) {
		err = fmt.Errorf("the X-WC-Webhook-Source header must be a URL of at most %d characters", order.MaxSourceLength)
	}
	if err != nil {
		rc.reject(&Rejection{Kind: KindMalformed, DeliveryID: d.id, Reason: err.Error()})
		problem.Write(w, r, problem.New(http.StatusBadRequest, problem.TypeMalformed, err.Error()))
		return
	}
	if len(rc.stores) > 0 && !rc.stores[store] {
		rc.reject(&Rejection{Kind: KindUnknownStore, Store: store, DeliveryID: d.id,
			Reason: "the delivery's X-WC-Webhook-Source is not one of the stores in " + EnvStores})
		problem.Write(w, r, problem.New(http.StatusForbidden, problem.TypeBadSignature,
			"deliveries from this store are not accepted"))
		return
	}
	d.store = store
	wo, err := decodeOrder(body)
	if err != nil {
		rc.reject(&Rejection{Kind: KindMalformed, Store: store, DeliveryID: d.id, Reason: err.Error()})
		problem.Write(w, r, problem.New(http.StatusBadRequest, problem.TypeMalformed, err.Error()))
		return
	}
	// A delivery gets an answer within its time budget: a store that
	// waits too long counts the delivery as failed.
	ctx, cancel := context.WithTimeout(r.Context(), rc.cfg.DeliveryTimeout)
	defer cancel()
	code, reply := rc.handleOrder(ctx, d, wo)
	if code >= 500 {
		problem.Write(w, r, problem.New(code, problem.TypeUnavailable, reply.Detail))
		return
	}
	writeReply(w, code, reply)
}

// handleOrder acts on an authenticated order delivery.
func (rc *Receiver) handleOrder(ctx context.Context, d delivery, wo wcOrder) (int, Reply) {
	number := orderNumber(d.store, int64(wo.ID))
	reply := Reply{OrderNumber: number}
	switch wo.Status {
	case "processing", "completed":
		if code, r, done := rc.checkRefunded(ctx, d, number, wo); done {
			return code, r
		}
		code, r, exists := rc.start(ctx, d, number, wo)
		if !exists {
			return code, r
		}
		if r.Result == ResultStarted {
			if code, r, done := rc.refundedMeanwhile(ctx, d, number, r); done {
				return code, r
			}
		}
		// The order exists (started now, before, or with other content):
		// its refunds apply whatever this delivery's order looks like.
		return rc.withPartialRefunds(ctx, d, number, wo, code, r)
	case "refunded":
		if o, _, problems := rc.buildOrder(number, d.source, wo); len(problems) == 0 && len(o.Lines) == 0 {
			reply.Result = ResultIgnored
			reply.Detail = "the order has no course products"
			return http.StatusOK, reply
		}
		return rc.refundInFull(ctx, d, number, wo)
	case "on-hold", "cancelled":
		// A partial refund can come with any status; apply it if the order
		// was fulfilled.
		if len(wo.Refunds) > 0 {
			if code, r, done := rc.checkRefunded(ctx, d, number, wo); done {
				return code, r
			}
			reply.Result = ResultIgnored
			return rc.withPartialRefunds(ctx, d, number, wo, http.StatusOK, reply)
		}
	}
	reply.Result = ResultIgnored
	reply.Detail = "status " + truncate(wo.Status, 32) + " needs no fulfillment action"
	return http.StatusOK, reply
}

// start builds the order and starts its fulfillment. exists is true when
// the order's workflow exists afterwards (started now or before, also with
// other content).
func (rc *Receiver) start(ctx context.Context, d delivery, number string, wo wcOrder) (code int, reply Reply, exists bool) {
	reply = Reply{OrderNumber: number}
	o, lineOf, problems := rc.buildOrder(number, d.source, wo)
	if len(problems) == 0 && len(o.Lines) == 0 {
		reply.Result = ResultIgnored
		reply.Detail = "the order has no course products"
		return http.StatusOK, reply, false
	}
	if len(problems) == 0 {
		if err := o.Validate(rc.cfg.Mapped); err != nil {
			problems = append(problems, translate(err, lineOf)...)
		}
	}
	if len(problems) > 0 {
		rc.reject(&Rejection{Kind: KindInvalidOrder, Store: d.store, OrderNumber: number, DeliveryID: d.id,
			Reason: "the order cannot be fulfilled as sent; fix the product map or the products' course meta, then re-save the order", Errors: problems})
		reply.Result = ResultRejected
		reply.Detail = "the order cannot be fulfilled as sent; it is recorded for an operator"
		reply.Errors = problems
		return http.StatusOK, reply, false
	}
	res, created, err := rc.f.StartOrder(ctx, o)
	var verr *order.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &verr):
		problems = translate(err, lineOf)
		rc.reject(&Rejection{Kind: KindInvalidOrder, Store: d.store, OrderNumber: number, DeliveryID: d.id,
			Reason: "the order cannot be fulfilled as sent", Errors: problems})
		reply.Result = ResultRejected
		reply.Errors = problems
		return http.StatusOK, reply, false
	case errors.Is(err, starter.ErrConflict):
		rc.reject(&Rejection{Kind: KindConflict, Store: d.store, OrderNumber: number, DeliveryID: d.id,
			Reason: "the order changed after fulfillment started (" + differs(err) + "); fulfillment goes on with the first version"})
		reply.Result = ResultRejected
		reply.Detail = "the order was already submitted with different content; recorded for an operator"
		return http.StatusOK, reply, true
	default:
		code, reply = rc.unavailable(d, Rejection{OrderNumber: number,
			Reason: "fulfillment could not be started (Temporal unavailable); resend the delivery or re-save the order"}, err)
		return code, reply, false
	}
	reply.WorkflowID = res.WorkflowID
	if !created {
		reply.Result = ResultDuplicate
		return http.StatusOK, reply, true
	}
	rc.log.Info("order started", zap.String("order_number", number), zap.String("delivery_id", d.id), zap.Int("lines", len(o.Lines)))
	reply.Result = ResultStarted
	return http.StatusAccepted, reply, true
}

// isPing recognises WooCommerce's ping: a form body "webhook_id=<n>".
func isPing(body []byte) bool {
	s := strings.TrimSpace(string(body))
	v, ok := strings.CutPrefix(s, "webhook_id=")
	if !ok || v == "" || len(v) > 20 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func writeReply(w http.ResponseWriter, code int, reply Reply) {
	reply.Errors = boundErrors(reply.Errors)
	writeJSON(w, code, reply)
}

func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// deliveryIDPattern is what a delivery id is kept as: WooCommerce's are
// numbers or UUIDs.
var deliveryIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// safeToken is s when it is a well-formed, short delivery id, else "": an
// unsigned caller's header is not repeated into the record as it came.
func safeToken(s string) string {
	if deliveryIDPattern.MatchString(s) {
		return s
	}
	return ""
}

// isJSONBody reports whether a delivery's Content-Type is JSON (charset
// parameters aside) or missing: the signature, not the header, vouches for
// the body, but a body declared as something else is not an order.
func isJSONBody(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// differs names what differs between a resent order and the one
// fulfillment started with, from the starter's conflict.
func differs(err error) string {
	var c *starter.ContentConflict
	if errors.As(err, &c) && len(c.Differ) > 0 {
		return strings.Join(translateFields(c.Differ), ", ") + " differ"
	}
	return "its content differs"
}

// translateFields names order fields the way the store does.
func translateFields(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		switch f {
		case "user":
			out[i] = "billing email"
		case "placed_at":
			out[i] = "date_created_gmt"
		case "lines":
			out[i] = "line items"
		case "source":
			out[i] = "X-WC-Webhook-Source"
		default:
			out[i] = f
		}
	}
	return out
}
