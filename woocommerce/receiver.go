// Package woocommerce receives a WooCommerce store's order webhooks and
// turns them into fulfillment orders and refunds.
//
// A delivery is authenticated by its X-WC-Webhook-Signature (base64 of the
// HMAC-SHA256 of the raw body with the webhook secret). An order reaching
// "processing" or "completed" (virtual-only orders skip "processing") starts
// fulfillment once, however often it is delivered; "refunded" refunds every
// line; a new partial refund refunds the lines it covers when the store's
// REST API is configured. Deliveries that cannot be acted on are answered
// 2xx (WooCommerce disables a webhook after repeated failures, which would
// stop every later order) and recorded for the operator: logged, and listed
// at GET /api/v1/webhooks/woocommerce/rejections.
package woocommerce

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/internal/httpjson"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
	"github.com/coursefulfill/fulfillment/workflows"
)

// MaxBodyBytes bounds a delivery's body.
const MaxBodyBytes = 1 << 20

// FullRefundID is the refund id of the refund every line gets when an order
// moves to "refunded".
const FullRefundID = "wc-full"

// Fulfiller is what the receiver needs from package starter.
type Fulfiller interface {
	StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error)
	Refund(ctx context.Context, number string, req workflows.RefundRequest) (workflows.RefundResult, error)
}

// Rejection kinds.
const (
	KindBadSignature  = "bad_signature"
	KindUnknownStore  = "unknown_store"
	KindMalformed     = "malformed"
	KindInvalidOrder  = "invalid_order"
	KindConflict      = "conflict"
	KindUnavailable   = "unavailable"
	KindRefundManual  = "refund_needs_operator"
	KindRefundFailed  = "refund_failed"
	KindRefundNoOrder = "refund_of_unknown_order"
)

// Rejection records a delivery fulfillment could not act on. It holds no
// personal data: no emails, names or addresses.
type Rejection struct {
	Kind        string             `json:"kind"`
	Store       string             `json:"store,omitempty"`
	OrderNumber string             `json:"order_number,omitempty"`
	RefundID    string             `json:"refund_id,omitempty"`
	DeliveryID  string             `json:"delivery_id,omitempty"`
	Reason      string             `json:"reason"`
	Errors      []order.FieldError `json:"errors,omitempty"`
	FirstAt     time.Time          `json:"first_at"`
	LastAt      time.Time          `json:"last_at"`
	// Count is how many deliveries hit this rejection: a store resends.
	Count int `json:"count"`
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
	d := delivery{
		id:     truncate(r.Header.Get("X-WC-Webhook-Delivery-ID"), 64),
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
	switch d.topic {
	case "", "order.created", "order.updated", "order.restored":
	default:
		writeReply(w, http.StatusOK, Reply{Result: ResultIgnored, Detail: "topic " + d.topic + " is not handled"})
		return
	}
	if r.Header.Get("X-WC-Webhook-Resource") != "" && r.Header.Get("X-WC-Webhook-Resource") != "order" {
		writeReply(w, http.StatusOK, Reply{Result: ResultIgnored, Detail: "only order webhooks are handled"})
		return
	}
	store, err := storeName(d.source)
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
		code, r, exists := rc.start(ctx, d, number, wo)
		if !exists {
			return code, r
		}
		// The order exists (started now, before, or with other content):
		// its refunds apply whatever this delivery's order looks like.
		var worst int
		r.Refunds, worst = rc.partialRefunds(ctx, d, number, wo)
		if worst >= 500 {
			return worst, Reply{OrderNumber: number, Detail: "a refund could not be applied: fulfillment is temporarily unavailable; resend the delivery"}
		}
		return code, r
	case "refunded":
		if o, _, problems := rc.buildOrder(number, d.source, wo); len(problems) == 0 && len(o.Lines) == 0 {
			reply.Result = ResultIgnored
			reply.Detail = "the order has no course products"
			return http.StatusOK, reply
		}
		res, err := rc.f.Refund(ctx, number, workflows.RefundRequest{RefundID: FullRefundID})
		if err != nil {
			return rc.refundError(d, number, FullRefundID, err)
		}
		reply.Result = ResultRefunded
		if res.Duplicate {
			reply.Result = ResultDuplicate
		}
		reply.WorkflowID = res.WorkflowID
		reply.Refunds = []string{FullRefundID}
		if !res.Duplicate {
			rc.log.Info("full refund accepted", zap.String("order_number", number), zap.String("delivery_id", d.id))
		}
		return http.StatusOK, reply
	case "on-hold", "cancelled":
		// A partial refund can come with any status; apply it if the order
		// was fulfilled.
		if len(wo.Refunds) > 0 {
			reply.Result = ResultIgnored
			var worst int
			reply.Refunds, worst = rc.partialRefunds(ctx, d, number, wo)
			if worst >= 500 {
				return worst, Reply{OrderNumber: number, Detail: "a refund could not be applied: fulfillment is temporarily unavailable; resend the delivery"}
			}
			return http.StatusOK, reply
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
			Reason: "the order changed after fulfillment started (lines, billing email or date differ); fulfillment goes on with the first version"})
		reply.Result = ResultRejected
		reply.Detail = "the order was already submitted with different content; recorded for an operator"
		return http.StatusOK, reply, true
	default:
		rc.log.Warn("start order failed", zap.String("order_number", number), zap.String("delivery_id", d.id), zap.Error(err))
		rc.reject(&Rejection{Kind: KindUnavailable, Store: d.store, OrderNumber: number, DeliveryID: d.id,
			Reason: "fulfillment could not be started (Temporal unavailable); resend the delivery or re-save the order"})
		reply.Detail = "fulfillment is temporarily unavailable"
		return http.StatusServiceUnavailable, reply, false
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
		mapped, inMap := rc.cfg.Products.lookup(li.SKU, int64(li.ProductID), int64(li.VariationID))
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
				int64(li.ProductID), truncate(li.SKU, 64), EnvProductMap)))
			continue
		}
		if li.ID <= 0 {
			problems = append(problems, lineProblem(li, "has no id"))
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

// partialRefunds applies the refunds listed on an order that fulfillment
// has not yet seen, and returns their refund ids.
func (rc *Receiver) partialRefunds(ctx context.Context, d delivery, number string, wo wcOrder) (ids []string, worst int) {
	for _, ref := range wo.Refunds {
		if ref.ID <= 0 {
			continue
		}
		refundID := "wc-" + formatID(int64(ref.ID))
		ids = append(ids, refundID)
		key := number + "|" + refundID
		if rc.isDone(key) {
			continue
		}
		if !rc.cfg.Store.Configured() {
			rc.reject(&Rejection{Kind: KindRefundManual, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
				Reason: fmt.Sprintf("partial refund %d: which lines it covers is only known to the store API, which is not configured (%s, %s, %s); refund the lines with `fulfillment order refund %s --refund-id %s --lines ...`",
					int64(ref.ID), EnvStoreURL, EnvConsumerKey, EnvConsumerSecret, number, refundID)})
			continue
		}
		lines, err := rc.refundLines(ctx, int64(wo.ID), int64(ref.ID), wo)
		if err != nil {
			rc.log.Warn("fetch refund failed", zap.String("order_number", number), zap.String("refund_id", refundID), zap.Error(err))
			rc.reject(&Rejection{Kind: KindRefundManual, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
				Reason: "could not read the refund from the store API: " + err.Error()})
			continue
		}
		if len(lines) == 0 {
			// A refund of an amount only (or of non-course items) revokes
			// nothing; remember it so it is not fetched again.
			rc.markDone(key)
			continue
		}
		res, err := rc.f.Refund(ctx, number, workflows.RefundRequest{RefundID: refundID, LineIDs: lines})
		if err != nil {
			code, _ := rc.refundError(d, number, refundID, err)
			worst = max(worst, code)
			continue
		}
		rc.markDone(key)
		if !res.Duplicate {
			rc.log.Info("partial refund accepted", zap.String("order_number", number), zap.String("refund_id", refundID), zap.Int("lines", len(lines)))
		}
	}
	return ids, worst
}

// refundError records a refund that could not be applied.
func (rc *Receiver) refundError(d delivery, number, refundID string, err error) (int, Reply) {
	reply := Reply{OrderNumber: number, Refunds: []string{refundID}}
	switch {
	case errors.Is(err, starter.ErrNotFound):
		rc.reject(&Rejection{Kind: KindRefundNoOrder, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
			Reason: "refund of an order fulfillment never started (it was rejected or never paid): nothing to revoke"})
		reply.Result = ResultIgnored
		reply.Detail = "fulfillment has no such order"
		return http.StatusOK, reply
	case errors.Is(err, starter.ErrUnknownLines), errors.Is(err, starter.ErrRejected), errors.Is(err, starter.ErrInvalidRequest):
		rc.reject(&Rejection{Kind: KindRefundFailed, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
			Reason: starter.Detail(err)})
		reply.Result = ResultRejected
		reply.Detail = starter.Detail(err)
		return http.StatusOK, reply
	default:
		rc.log.Warn("refund failed", zap.String("order_number", number), zap.String("refund_id", refundID), zap.Error(err))
		rc.reject(&Rejection{Kind: KindUnavailable, Store: d.store, OrderNumber: number, RefundID: refundID, DeliveryID: d.id,
			Reason: "the refund could not be handed to fulfillment (Temporal unavailable); resend the delivery"})
		reply.Detail = "fulfillment is temporarily unavailable"
		return http.StatusServiceUnavailable, reply
	}
}

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
			p, ok := rc.cfg.Products.lookup(li.SKU, int64(li.ProductID), int64(li.VariationID))
			if li.meta("course_id", "_course_id") == "" && ok && p.NonCourse {
				break
			}
			out = append(out, id)
			break
		}
	}
	return out
}

// signed checks the delivery's signature in constant time.
func (rc *Receiver) signed(body []byte, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(rc.cfg.Secret))
	mac.Write(body) // hash.Hash.Write never returns an error
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the X-WC-Webhook-Signature of body under secret, as
// WooCommerce computes it. Tests and the docs' examples use it.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
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

func (rc *Receiver) isDone(key string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.doneRefund[key]
}

func (rc *Receiver) markDone(key string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.doneRefund[key] {
		return
	}
	rc.doneRefund[key] = true
	rc.doneOrder = append(rc.doneOrder, key)
	// Bounded: forgetting an old key only costs one more store API call.
	if len(rc.doneOrder) > 10000 {
		delete(rc.doneRefund, rc.doneOrder[0])
		rc.doneOrder = rc.doneOrder[1:]
	}
}

// reject records a rejection (deduplicated by kind, store, order and
// refund) and logs it.
func (rc *Receiver) reject(rj *Rejection) {
	now := rc.cfg.Now().UTC()
	rc.log.Warn("woocommerce delivery rejected",
		zap.String("kind", rj.Kind),
		zap.String("store", rj.Store),
		zap.String("order_number", rj.OrderNumber),
		zap.String("refund_id", rj.RefundID),
		zap.String("delivery_id", rj.DeliveryID),
		zap.String("reason", rj.Reason),
		zap.Any("errors", rj.Errors),
	)
	key := rj.Kind + "|" + rj.Store + "|" + rj.OrderNumber + "|" + rj.RefundID
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if old, ok := rc.byKey[key]; ok {
		old.Count++
		old.LastAt = now
		old.DeliveryID = rj.DeliveryID
		old.Reason = rj.Reason
		old.Errors = rj.Errors
		// Move to the newest end.
		for i, r := range rc.rejections {
			if r == old {
				rc.rejections = append(rc.rejections[:i], rc.rejections[i+1:]...)
				break
			}
		}
		rc.rejections = append(rc.rejections, old)
		return
	}
	rj.FirstAt, rj.LastAt, rj.Count = now, now, 1
	rc.rejections = append(rc.rejections, rj)
	rc.byKey[key] = rj
	for len(rc.rejections) > rc.cfg.MaxRejections {
		oldest := rc.rejections[0]
		rc.rejections = rc.rejections[1:]
		for k, v := range rc.byKey {
			if v == oldest {
				delete(rc.byKey, k)
				break
			}
		}
	}
}

// Rejections returns the recorded rejections, newest first.
func (rc *Receiver) Rejections() []Rejection {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Rejection, 0, len(rc.rejections))
	for i := len(rc.rejections) - 1; i >= 0; i-- {
		r := *rc.rejections[i]
		r.Errors = append([]order.FieldError(nil), r.Errors...)
		out = append(out, r)
	}
	return out
}

// ServeRejections answers GET /api/v1/webhooks/woocommerce/rejections.
func (rc *Receiver) ServeRejections(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rejections": rc.Rejections()})
}

func writeReply(w http.ResponseWriter, code int, reply Reply) { writeJSON(w, code, reply) }

func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
