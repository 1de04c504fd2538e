package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// figures are the page's numbers, read from the bridge's Prometheus registry: the same
// numbers /metrics serves.
type figures struct {
	IndexUsers    float64
	IndexGroups   float64
	IndexAge      float64 // seconds; -1 before the first load
	Paused        bool
	BreakerOpen   bool
	DomoRequests  float64 // every request sent to Domo since start, token requests included
	DomoThrottled float64 // 429 answers from Domo
	IdPRequests   float64 // SCIM requests from the IdPs (routes under /scim/v2)
	IdPByStatus   []count // by status code
	IdPQuirks     []count // by quirk kind
	Drift         []count // by kind; empty before the first report
}

// count is one labelled number.
type count struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// Metric names the page reads. A test keeps them in step with /metrics.
const (
	metricIndexUsers    = "scimbridge_index_users"
	metricIndexGroups   = "scimbridge_index_groups"
	metricIndexAge      = "scimbridge_index_age_seconds"
	metricPaused        = "scimbridge_paused"
	metricBreakerOpen   = "scimbridge_deprovision_breaker_open"
	metricDomoRequests  = "scimbridge_domo_requests_total"
	metricDomoThrottled = "scimbridge_domo_throttled_total"
	metricSCIMRequests  = "scimbridge_scim_requests_total"
	metricQuirks        = "scimbridge_idp_quirks_total"
	metricDrift         = "scimbridge_drift_resources"
)

// readFigures gathers the registry once and picks the page's numbers out of it.
func readFigures(g prometheus.Gatherer) (figures, error) {
	f := figures{IndexAge: -1}
	if g == nil {
		return f, nil
	}
	mfs, err := g.Gather()
	if err != nil && len(mfs) == 0 {
		return f, err
	}
	status := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		switch name {
		case metricIndexUsers:
			f.IndexUsers = single(mf)
		case metricIndexGroups:
			f.IndexGroups = single(mf)
		case metricIndexAge:
			f.IndexAge = single(mf)
		case metricPaused:
			f.Paused = single(mf) == 1
		case metricBreakerOpen:
			f.BreakerOpen = single(mf) == 1
		case metricDomoRequests:
			f.DomoRequests = sum(mf, nil)
		case metricDomoThrottled:
			f.DomoThrottled = single(mf)
		case metricSCIMRequests:
			for _, m := range mf.GetMetric() {
				if !strings.HasPrefix(label(m, "route"), "/scim/v2") {
					continue
				}
				v := m.GetCounter().GetValue()
				status[label(m, "status")] += v
				f.IdPRequests += v
			}
		case metricQuirks:
			// Every kind exists at zero from the start; the page lists those that happened.
			f.IdPQuirks = slices.DeleteFunc(byLabel(mf, "kind"), func(c count) bool { return c.Value == 0 })
		case metricDrift:
			f.Drift = byLabel(mf, "kind")
		}
	}
	for s, v := range status {
		if v > 0 {
			f.IdPByStatus = append(f.IdPByStatus, count{s, v})
		}
	}
	slices.SortFunc(f.IdPByStatus, func(a, b count) int { return cmp.Compare(a.Label, b.Label) })
	return f, nil
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

func single(mf *dto.MetricFamily) float64 {
	if ms := mf.GetMetric(); len(ms) > 0 {
		return value(ms[0])
	}
	return 0
}

func sum(mf *dto.MetricFamily, keep func(*dto.Metric) bool) float64 {
	var t float64
	for _, m := range mf.GetMetric() {
		if keep == nil || keep(m) {
			t += value(m)
		}
	}
	return t
}

// byLabel sums a family by one label, in the label's order.
func byLabel(mf *dto.MetricFamily, name string) []count {
	by := map[string]float64{}
	for _, m := range mf.GetMetric() {
		by[label(m, name)] += value(m)
	}
	out := make([]count, 0, len(by))
	for k, v := range by {
		out = append(out, count{k, v})
	}
	slices.SortFunc(out, func(a, b count) int { return cmp.Compare(a.Label, b.Label) })
	return out
}

// num renders a figure as /metrics does for whole numbers, and with two decimals otherwise.
func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
