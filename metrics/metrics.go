// Package metrics holds fulfillment's Prometheus metrics: one registry per
// process, served at /metrics by the API and the worker, holding the
// Temporal SDK's metrics (through the SDK's OpenTelemetry handler) and the
// business metrics — orders started, lines fulfilled and failed by
// error_type, revokes, and LMS call latency by status. docs/deployment.md
// lists them with the alerts worth having.
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
)

// Names of the business metrics, for docs and tests.
const (
	OrdersStarted  = "fulfillment_orders_started_total"
	LinesFulfilled = "fulfillment_lines_fulfilled_total"
	LinesFailed    = "fulfillment_lines_failed_total"
	LineRetries    = "fulfillment_line_attempts_failed_total"
	Revokes        = "fulfillment_revokes_total"
	LMSDuration    = "fulfillment_lms_request_duration_seconds"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors, for one process's /metrics.
func NewRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register collector: %w", err)
		}
	}
	return reg, nil
}

// SDKHandler returns the Temporal SDK metrics handler (client.Options.
// MetricsHandler) that exports into reg: the SDK's maintained OpenTelemetry
// handler over a meter provider read by the OpenTelemetry Prometheus
// exporter. The SDK's metrics appear with the prefix "temporal_" (for
// example temporal_workflow_task_execution_failed_total). Errors of the
// meter are logged, never fatal.
func SDKHandler(reg prometheus.Registerer, log *zap.Logger) (client.MetricsHandler, error) {
	if log == nil {
		log = zap.NewNop()
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		OnError:              func(err error) { log.Warn("temporal sdk metric", zap.Error(err)) },
	}), nil
}

// Worker holds a worker process's business metrics.
type Worker struct {
	linesFulfilled *prometheus.CounterVec
	linesFailed    *prometheus.CounterVec
	lineRetries    *prometheus.CounterVec
	revokes        *prometheus.CounterVec
	lmsDuration    *prometheus.HistogramVec
}

// NewWorker registers a worker's business metrics on reg.
func NewWorker(reg prometheus.Registerer) (*Worker, error) {
	m := &Worker{
		linesFulfilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: LinesFulfilled,
			Help: "Order lines fulfilled, by product type."}, []string{"product_type"}),
		linesFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: LinesFailed,
			Help: "Order lines whose observation or fulfill failed permanently (they wait for an operator), by product type and " +
				"error_type. Lines the workflow gives up on at the retry horizon are not counted here (the FailedLines search attribute is)."},
			[]string{"product_type", "error_type"}),
		lineRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: LineRetries,
			Help: "Line attempts (observe, fulfill, revoke) that failed transiently and will be retried, by action and error_type."},
			[]string{"action", "error_type"}),
		revokes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: Revokes,
			Help: "Line revokes by result: revoked, or failed (for good, by error_type)."}, []string{"result", "error_type"}),
		lmsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: LMSDuration,
			Help:    "LMS HTTP calls by status code (\"error\" when no answer came).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{m.linesFulfilled, m.linesFailed, m.lineRetries, m.revokes, m.lmsDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metric: %w", err)
		}
	}
	return m, nil
}

// InstrumentLMS returns a copy of c (nil: a default client) whose calls
// are observed in the LMS latency histogram by status code. Nothing of the
// request (URL, learner) becomes a label.
func (m *Worker) InstrumentLMS(c *http.Client) *http.Client {
	var copied http.Client
	if c != nil {
		copied = *c
	}
	next := copied.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	copied.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.lmsDuration.WithLabelValues(code).Observe(time.Since(start).Seconds())
		return resp, err
	})
	return &copied
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Line actions as the worker reports them (contract.Action values).
const (
	actionFulfill = string(contract.ActionFulfill)
	actionRevoke  = string(contract.ActionRevoke)
)

// LineDone records a line activity that succeeded: a fulfilled line or a
// revoked one (an observation counts nothing).
func (m *Worker) LineDone(action, productType string) {
	switch action {
	case actionFulfill:
		m.linesFulfilled.WithLabelValues(productType).Inc()
	case actionRevoke:
		m.revokes.WithLabelValues("revoked", "").Inc()
	}
}

// LineFailed records a line activity that failed: retryable failures count
// as failed attempts; a permanent failure of an observation or a fulfill is
// a failed line, of a revoke a failed revoke.
func (m *Worker) LineFailed(action, productType, errorType string, retryable bool) {
	if retryable {
		m.lineRetries.WithLabelValues(action, errorType).Inc()
		return
	}
	if action == actionRevoke {
		m.revokes.WithLabelValues("failed", errorType).Inc()
		return
	}
	m.linesFailed.WithLabelValues(productType, errorType).Inc()
}

// API holds the API process's business metrics.
type API struct {
	ordersStarted *prometheus.CounterVec
}

// NewAPI registers the API's business metrics on reg.
func NewAPI(reg prometheus.Registerer) (*API, error) {
	m := &API{ordersStarted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: OrdersStarted,
		Help: "Order workflows started (a repeated order starts nothing), by source: api or woocommerce."}, []string{"source"})}
	if err := reg.Register(m.ordersStarted); err != nil {
		return nil, fmt.Errorf("register metric: %w", err)
	}
	return m, nil
}

// OrderStarted records an order workflow started from source.
func (m *API) OrderStarted(source string) { m.ordersStarted.WithLabelValues(source).Inc() }
