// Package api is fulfillment's HTTP API: shops post paid orders, ask for
// their status, refund and retry them, and operators list orders by status.
// Errors are RFC 9457 problem documents. docs/api.md describes every route;
// a test keeps the two in step.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// Starter is what the API needs from package starter; *starter.Starter
// implements it, tests use a fake.
type Starter interface {
	StartOrder(ctx context.Context, o order.Order) (starter.StartResult, bool, error)
	Status(ctx context.Context, number string) (contract.StatusDocument, error)
	Refund(ctx context.Context, number string, req contract.RefundRequest) (contract.RefundResult, error)
	Retry(ctx context.Context, number string, req contract.RetryRequest) (contract.RetryResult, error)
	List(ctx context.Context, status contract.OrderState, pageSize int, token []byte) (starter.Page, error)
	CheckHealth(ctx context.Context) error
}

// Webhook is a receiver mounted under /api/v1/webhooks/: it authenticates
// its deliveries itself (not with the bearer token).
type Webhook interface {
	// ServeHTTP handles one delivery.
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	// ServeRejections lists recently rejected deliveries for operators.
	ServeRejections(w http.ResponseWriter, r *http.Request)
}

// Config configures the API.
type Config struct {
	// Token is the bearer token every /api/v1 route but the webhooks
	// requires. Empty is refused unless AllowNoAuth is set.
	Token string
	// AllowNoAuth serves /api/v1 without a token: only for a local dev
	// server bound to loopback.
	AllowNoAuth bool
	// Mapped reports whether a product type has a fulfillment module; nil
	// accepts every product type.
	Mapped func(productType string) bool
	// WooCommerce is the WooCommerce receiver (woocommerce.NewReceiver);
	// nil answers its routes with 503 "not configured".
	WooCommerce Webhook
	// Registry receives the API's metrics and is served at /metrics. Nil
	// creates a private registry with the Go and process collectors.
	Registry *prometheus.Registry
	// RequestTimeout bounds each handler's calls to Temporal. Defaults to
	// 30 s.
	RequestTimeout time.Duration
}

// route is one entry of the API's route table; docs/api.md lists the same
// patterns (api_doc_test.go checks it).
type route struct {
	pattern string
	auth    bool
	handler func(*server, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{"POST /api/v1/orders", true, (*server).createOrder},
	{"GET /api/v1/orders", true, (*server).listOrders},
	{"GET /api/v1/orders/{number}", true, (*server).getOrder},
	{"POST /api/v1/orders/{number}/refunds", true, (*server).refundOrder},
	{"POST /api/v1/orders/{number}/retry", true, (*server).retryOrder},
	{"POST /api/v1/retries", true, (*server).bulkRetry},
	{"POST /api/v1/webhooks/woocommerce", false, (*server).wooWebhook},
	{"GET /api/v1/webhooks/woocommerce/rejections", true, (*server).wooRejections},
	{"GET /healthz", false, (*server).healthz},
	{"GET /readyz", false, (*server).readyz},
	{"GET /metrics", false, (*server).metrics},
}

// Routes returns the patterns the API serves, in registration order.
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}

type server struct {
	cfg      Config
	st       Starter
	log      *zap.Logger
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the API's handler. log receives access logs (never bodies,
// tokens or personal data).
func New(cfg Config, st Starter, log *zap.Logger) (http.Handler, error) {
	if st == nil {
		return nil, errors.New("api: a Starter is required")
	}
	if cfg.Token == "" && !cfg.AllowNoAuth {
		return nil, errors.New("api: a bearer token is required (set AllowNoAuth only for local development)")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	s := &server{cfg: cfg, st: st, log: log, registry: cfg.Registry}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		if err := s.registry.Register(collectors.NewGoCollector()); err != nil {
			return nil, err
		}
		if err := s.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, err
		}
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fulfillment_http_requests_total",
		Help: "HTTP requests by route (method and pattern) and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fulfillment_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	for _, c := range []prometheus.Collector{s.requests, s.latency} {
		if err := s.registry.Register(c); err != nil {
			return nil, err
		}
	}

	mux := http.NewServeMux()
	for _, rt := range routes {
		fn := rt.handler
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fn(s, w, r) })
		if takesJSON(rt.pattern) {
			h = requireJSON(h)
		}
		if rt.auth {
			h = s.requireToken(h)
		}
		mux.Handle(rt.pattern, h)
	}
	// Everything else gets a problem document rather than the mux's text:
	// 405 with Allow on a served path, else 404.
	mux.Handle("/", unmatched(mux))
	return s.observe(mux), nil
}

// requireToken checks the bearer token in constant time: both sides are
// hashed first, so not even the token's length leaks. The scheme name is
// case-insensitive (RFC 7235).
func (s *server) requireToken(next http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" && s.cfg.AllowNoAuth {
			next(w, r)
			return
		}
		if !checkBearer(w, r, want) {
			return
		}
		next(w, r)
	}
}

// checkBearer reports whether r carries the bearer token whose SHA-256 is
// want; when it does not, it has answered 401 with a problem document.
func checkBearer(w http.ResponseWriter, r *http.Request, want [sha256.Size]byte) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="fulfillment"`)
	problem.Write(w, r, problem.New(http.StatusUnauthorized, problem.TypeUnauthorized,
		"send Authorization: Bearer <token> with the API token"))
	return false
}

// statusRecorder remembers the status code and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe records metrics and an access log line per request, and turns a
// handler panic into a 500 problem.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", zap.String("route", r.Pattern), zap.Any("panic", p))
				if rec.code == 0 {
					problem.Write(rec, r, problem.New(http.StatusInternalServerError, problem.TypeInternal, "internal error"))
				}
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			route := r.Pattern // set by the mux on this same request
			if route == "" || route == "/" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			s.latency.WithLabelValues(route).Observe(elapsed.Seconds())
			if route == "GET /metrics" || route == "GET /healthz" || route == "GET /readyz" {
				return // probes would drown the access log
			}
			s.log.Info("http request",
				zap.String("method", r.Method),
				zap.String("route", route),
				zap.String("path", r.URL.Path),
				zap.Int("status", code),
				zap.Int("bytes", rec.bytes),
				zap.Duration("duration", elapsed),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.st.CheckHealth(ctx); err != nil {
		s.log.Warn("readiness check failed", zap.Error(err))
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, problem.TypeUnavailable, "Temporal is not reachable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) wooWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WooCommerce == nil {
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, problem.TypeNotConfigured,
			"the WooCommerce receiver is not configured (set WOOCOMMERCE_WEBHOOK_SECRET)"))
		return
	}
	s.cfg.WooCommerce.ServeHTTP(w, r)
}

func (s *server) wooRejections(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WooCommerce == nil {
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, problem.TypeNotConfigured,
			"the WooCommerce receiver is not configured (set WOOCOMMERCE_WEBHOOK_SECRET)"))
		return
	}
	s.cfg.WooCommerce.ServeRejections(w, r)
}
