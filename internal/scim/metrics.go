package scim

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the SCIM-side Prometheus collectors: requests by route and status with latency,
// and IdP quirks normalised by kind. A nil *Metrics collects nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	quirks   *prometheus.CounterVec
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_scim_requests_total",
			Help: "SCIM requests served, by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimbridge_scim_request_duration_seconds",
			Help:    "SCIM request latency, by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route"}),
		quirks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_idp_quirks_total",
			Help: "Non-standard IdP request forms the bridge normalised, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.requests, m.latency, m.quirks)
	// Every series known at start exists from the start at zero, so that a rate or an alert
	// on increase() sees the first occurrence, not only the second.
	for _, k := range QuirkKinds {
		m.quirks.WithLabelValues(k)
	}
	return m
}

// zeroRoute creates the server-error series of a route at zero: the IdP's 500s and 503s are
// what alerts watch.
func (m *Metrics) zeroRoute(method, route string) {
	if m == nil {
		return
	}
	for _, status := range []string{"500", "503"} {
		m.requests.WithLabelValues(method, route, status)
	}
}

func (m *Metrics) observeRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) observeQuirk(kind string) {
	if m == nil {
		return
	}
	m.quirks.WithLabelValues(kind).Inc()
}
