package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/metrics"
)

// scrapeMetrics reads the dev stack's /metrics (the API's port; the worker
// shares the process and its registry).
func scrapeMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(shared.APIURL + "/metrics")
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// metricValue sums the counters (or histogram sample counts) of name whose
// labels include labels.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			sum += float64(h.GetSampleCount())
		} else {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// After an order with a line that fails and a refund, /metrics of `dev`
// counts the order started, the line fulfilled, the line failed by its
// error_type, the revoke and the LMS calls by status.
func TestMetricsAfterAnOrder(t *testing.T) {
	before := scrapeMetrics(t)
	_, number, o := newLearnerOrder(t, "metrics", "MET")
	missing := fmt.Sprintf("course-v1:edX+Metrics%d+2026", orderSeq.Add(1))
	o["lines"] = []map[string]any{
		{"id": "1", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "verified"},
		{"id": "2", "product_type": "seat", "course_id": missing, "mode": "verified"},
	}
	placeOrder(t, o)
	waitStatus(t, number, contract.OrderFulfillmentError, 15*time.Second)
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, "/api/v1/orders/"+number+"/refunds",
		map[string]any{"refund_id": "R-1", "line_ids": []string{"1"}}, nil))
	require.Eventually(t, func() bool { return status(t, number).Lines[0].State == contract.LineRevoked },
		15*time.Second, 100*time.Millisecond, "line 1 revoked")
	after := scrapeMetrics(t)

	delta := func(name string, labels map[string]string) float64 {
		return metricValue(after, name, labels) - metricValue(before, name, labels)
	}
	require.Equal(t, 1.0, delta(metrics.OrdersStarted, map[string]string{"source": "api"}), "one order started")
	require.GreaterOrEqual(t, delta(metrics.LinesFulfilled, map[string]string{"product_type": "seat"}), 1.0)
	require.GreaterOrEqual(t, delta(metrics.LinesFailed, map[string]string{"product_type": "seat", "error_type": "CourseNotFound"}), 1.0)
	require.GreaterOrEqual(t, delta(metrics.Revokes, map[string]string{"result": "revoked"}), 1.0)
	require.Greater(t, delta(metrics.LMSDuration, map[string]string{"code": "200"}), 0.0, "LMS calls answered 200")
	// The LMS answers an unknown course run with 400.
	require.Greater(t, delta(metrics.LMSDuration, map[string]string{"code": "400"}), 0.0, "the missing course's call, by its status")
}
