package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// value sums the samples (counter values, histogram counts) of name whose
// labels are exactly labels ("k=v,k=v", sorted by name as Gather sorts).
func value(t *testing.T, reg *prometheus.Registry, name, labels string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(ls, ",") != labels {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				sum += float64(h.GetSampleCount())
			} else {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestLMSLatencyByStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewWorker(reg)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	c := m.InstrumentLMS(nil)
	for _, p := range []string{"/ok", "/ok", "/missing"} {
		resp, err := c.Get(srv.URL + p)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	srv.Close()
	_, err = c.Get(srv.URL + "/closed")
	require.Error(t, err)
	require.Equal(t, 2.0, value(t, reg, LMSDuration, "code=200"))
	require.Equal(t, 1.0, value(t, reg, LMSDuration, "code=404"))
	require.Equal(t, 1.0, value(t, reg, LMSDuration, "code=error"), "a call without an answer")
}

func TestLineOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewWorker(reg)
	require.NoError(t, err)
	m.LineDone("fulfill", "seat")
	m.LineDone("observe", "seat") // an observation is no fulfillment
	m.LineDone("revoke", "seat")
	m.LineFailed("fulfill", "seat", "CourseNotFound", false)
	m.LineFailed("fulfill", "seat", "LMSUnavailable", true)
	m.LineFailed("revoke", "upgrade", "UserNotFound", false)
	m.LineFailed("observe", "upgrade", "UserNotFound", false) // the line fails at its observation
	require.Equal(t, 1.0, value(t, reg, LinesFulfilled, "product_type=seat"))
	require.Equal(t, 1.0, value(t, reg, LinesFailed, "error_type=CourseNotFound,product_type=seat"))
	require.Equal(t, 0.0, value(t, reg, LinesFailed, "error_type=LMSUnavailable,product_type=seat"), "a transient failure is no failed line")
	require.Equal(t, 1.0, value(t, reg, LineRetries, "action=fulfill,error_type=LMSUnavailable"))
	require.Equal(t, 1.0, value(t, reg, Revokes, "error_type=,result=revoked"))
	require.Equal(t, 1.0, value(t, reg, Revokes, "error_type=UserNotFound,result=failed"))
	require.Equal(t, 1.0, value(t, reg, LinesFailed, "error_type=UserNotFound,product_type=upgrade"))
	require.Equal(t, 0.0, value(t, reg, LineRetries, "action=observe,error_type=UserNotFound"), "a permanent failure is no retry")

	api, err := NewAPI(reg)
	require.NoError(t, err)
	api.OrderStarted("api")
	require.Equal(t, 1.0, value(t, reg, OrdersStarted, "source=api"))
	_, err = NewAPI(reg)
	require.True(t, errors.As(err, new(prometheus.AlreadyRegisteredError)), "one registry, one set: %v", err)
}
