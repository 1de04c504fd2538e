package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// domoMetrics turns the Domo client's hooks into Prometheus series, and counts each call
// against the SCIM request that caused it (for the access log's domo_calls).
type domoMetrics struct {
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	throttle prometheus.Counter
	wait     prometheus.Histogram
}

func newDomoMetrics(reg prometheus.Registerer) *domoMetrics {
	m := &domoMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_domo_requests_total",
			Help: "HTTP requests sent to Domo, by operation and status (0: transport error).",
		}, []string{"op", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scimbridge_domo_request_duration_seconds",
			Help:    "Latency of requests to Domo, by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimbridge_domo_retries_total",
			Help: "Requests to Domo retried, by operation and reason.",
		}, []string{"op", "reason"}),
		throttle: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimbridge_domo_throttled_total",
			Help: "429 answers received from Domo.",
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scimbridge_domo_budget_wait_seconds",
			Help:    "Time requests waited for Domo budget (pacing and 429 back-off).",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	reg.MustRegister(m.calls, m.latency, m.retries, m.throttle, m.wait)
	// The series alerts and dashboards watch exist from the start, at zero.
	for _, op := range domoOps {
		m.calls.WithLabelValues(op, "429")
		m.retries.WithLabelValues(op, "429")
		m.retries.WithLabelValues(op, "5xx")
	}
	return m
}

// domoOps are the operations the Domo client names in its hooks.
var domoOps = []string{
	"token", "users.list", "users.get", "users.create", "users.update", "users.delete",
	"groups.list", "groups.get", "groups.create", "groups.update", "groups.delete",
	"groups.members", "groups.members.add", "groups.members.remove",
}

func (m *domoMetrics) hooks() domo.Hooks {
	return domo.Hooks{
		Request: func(ctx context.Context, op string, status int, d time.Duration) {
			scim.RequestInfo(ctx).Upstream()
			m.calls.WithLabelValues(op, strconv.Itoa(status)).Inc()
			m.latency.WithLabelValues(op).Observe(d.Seconds())
			if status == 429 {
				m.throttle.Inc()
			}
		},
		Retry: func(_ context.Context, op, reason string) {
			m.retries.WithLabelValues(op, reason).Inc()
		},
		Wait: func(_ context.Context, _ string, d time.Duration) {
			m.wait.Observe(d.Seconds())
		},
	}
}

// registerBridgeMetrics exposes the index's size and age, the operator switches, the drift
// report and what the binary is.
func registerBridgeMetrics(reg prometheus.Registerer, idx *index.Index, b *bridge.Bridge, refresh time.Duration, budget int) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("scimbridge_index_users", "Users in the index.", func() float64 { return float64(idx.Stats().Users) }),
		gauge("scimbridge_index_groups", "Groups in the index.", func() float64 { return float64(idx.Stats().Groups) }),
		gauge("scimbridge_index_age_seconds", "Seconds since the index was last loaded from Domo.", func() float64 {
			st := idx.Stats()
			if !st.Loaded {
				return -1
			}
			return time.Since(st.LoadedAt).Seconds()
		}),
		gauge("scimbridge_deprovision_breaker_open", "1 while the deprovision breaker halts deprovisioning.", func() float64 {
			if b.BreakerOpen() {
				return 1
			}
			return 0
		}),
		gauge("scimbridge_paused", "1 while an operator has paused provisioning.", func() float64 {
			if p, _ := b.Paused(); p {
				return 1
			}
			return 0
		}),
		gauge("scimbridge_paused_seconds", "Seconds since an operator paused provisioning; 0 while not paused.", func() float64 {
			st, err := b.Status(context.Background())
			if err != nil || st["paused"] != true {
				return 0
			}
			since, err := time.Parse(time.RFC3339, fmt.Sprint(st["pausedSince"]))
			if err != nil {
				return 0
			}
			return max(time.Since(since).Seconds(), 0)
		}),
		gauge("scimbridge_index_refresh_interval_seconds", "How often the index reloads from Domo (SCIMBRIDGE_REFRESH_INTERVAL); 0: never.", func() float64 {
			return refresh.Seconds()
		}),
		gauge("scimbridge_domo_rate_limit_per_minute", "Domo requests a minute the bridge may send (SCIMBRIDGE_DOMO_RATE_LIMIT), for charts of the budget.", func() float64 {
			return float64(budget)
		}),
		driftCollector{b},
		buildInfo(),
	)
}

// driftCollector exposes the last drift report, one series per kind. Before the first report
// (the first index load from Domo) it has none: zero would claim that nothing drifted.
type driftCollector struct{ b *bridge.Bridge }

var driftDesc = prometheus.NewDesc("scimbridge_drift_resources",
	"What changed in Domo behind the bridge's back, as of the last index load, by kind: unmanaged_users, unmanaged_groups, changed_users, orphaned_shadows, foreign_members.",
	[]string{"kind"}, nil)

func (c driftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- driftDesc }

func (c driftCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.b.LastDrift()
	if r == nil {
		return
	}
	for _, k := range bridge.DriftKinds {
		ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.GaugeValue, float64(r.Counts[k]), k)
	}
}

// buildInfo is the constant 1 labelled with what the binary is, the Prometheus convention.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scimbridge_build_info",
		Help: "Always 1; labels say which build of scimbridge is running.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version(), runtime.Version()).Set(1)
	return g
}

// registerProbeMetrics exposes the Domo token probe: whether the bridge can obtain a token.
func registerProbeMetrics(reg prometheus.Registerer, p *tokenProbe) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scimbridge_domo_token_failing",
		Help: "1 while the bridge cannot obtain a Domo token (refused credentials or Domo unreachable), as /readyz reports.",
	}, func() float64 {
		if ok, st := p.status(); !ok && st["token"] == "failing" {
			return 1
		}
		return 0
	}))
}

// registerInstanceMetrics exposes the bridge's use of Domo's instance APIs: each capability's
// state (1 available, 0 unavailable, -1 not configured), the uses of v1 in its place, and the
// attribute changes waiting for the identity API.
func registerInstanceMetrics(reg prometheus.Registerer, b *bridge.Bridge) {
	reg.MustRegister(&instanceCollector{b: b,
		capability: prometheus.NewDesc("scimbridge_domo_instance_capability",
			"Domo instance API capabilities: 1 available, 0 unavailable (v1 or a pending delivery serves), -1 not configured.", []string{"capability"}, nil),
		fallbacks: prometheus.NewDesc("scimbridge_domo_instance_fallbacks_total",
			"Operations that used v1, or kept a pending delivery, because an instance capability failed or was unavailable.", []string{"capability"}, nil),
		degraded: prometheus.NewDesc("scimbridge_domo_instance_degraded",
			"1 while a configured instance capability is unavailable.", nil, nil),
		pending: prometheus.NewDesc("scimbridge_domo_pending_attribute_deliveries",
			"Users whose attribute changes wait for the identity API.", nil, nil),
	})
}

type instanceCollector struct {
	b                                        *bridge.Bridge
	capability, fallbacks, degraded, pending *prometheus.Desc
}

func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.capability
	ch <- c.fallbacks
	ch <- c.degraded
	ch <- c.pending
}

func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.InstanceStatus()
	byName := map[string]bridge.InstanceCapability{}
	for _, cp := range st.Capabilities {
		byName[cp.Name] = cp
	}
	for _, name := range domo.AllCapabilities {
		v, fb := -1.0, 0.0
		if cp, ok := byName[string(name)]; ok {
			v, fb = 0, float64(cp.Fallbacks)
			if cp.Available {
				v = 1
			}
		}
		ch <- prometheus.MustNewConstMetric(c.capability, prometheus.GaugeValue, v, string(name))
		ch <- prometheus.MustNewConstMetric(c.fallbacks, prometheus.CounterValue, fb, string(name))
	}
	deg := 0.0
	if st.Degraded {
		deg = 1
	}
	ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, deg)
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.PendingDeliveries))
}
