package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// exposedFamilies returns the metric families a running bridge's /metrics exposes, with the
// names of a histogram's series (_bucket, _sum, _count) and a summary's.
func exposedFamilies(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		f, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		parts := strings.Fields(f)
		out[parts[0]] = true
		if parts[1] == "histogram" || parts[1] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[parts[0]+s] = true
			}
		}
	}
	return out
}

// metricNames picks the metric names out of PromQL expressions: scimbridge_, go_ and process_
// series (label names and functions never start so).
var metricName = regexp.MustCompile(`\b(?:scimbridge|go|process)_[a-zA-Z0-9_]+\b`)

// TestOpsKit: the alert rules and the Grafana dashboard in deploy/ parse, and every series
// they use is one /metrics exposes. promtool checks the rules' PromQL and fires each alert in
// its unit tests when it is installed (CI installs it); without it that part says SKIPPED.
func TestOpsKit(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 5})
	sim.SeedUsers(2)
	b := startBridge(t, sim, nil)
	exposed := exposedFamilies(t, b.base)

	root := filepath.Join("..", "..", "deploy")
	raw, err := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks an expression, a severity, a summary or a description", r.Alert)
			}
			checkNames(t, "alert "+r.Alert, r.Expr, exposed)
		}
	}
	// The list: breaker open, paused > 1h, Domo 429s, 5xx to the IdP, index older than
	// two refresh intervals, Domo token failures.
	for _, want := range []string{"ScimbridgeBreakerOpen", "ScimbridgePausedTooLong", "ScimbridgeDomoThrottling", "ScimbridgeIdPServerErrors", "ScimbridgeIndexStale", "ScimbridgeDomoTokenFailing"} {
		if !alerts[want] {
			t.Errorf("alerts.yaml has no %s", want)
		}
	}

	raw, err = os.ReadFile(filepath.Join(root, "grafana", "scimbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			checkNames(t, "panel "+p.Title, tg.Expr, exposed)
		}
	}
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries", exprs)
	}

	raw, err = os.ReadFile(filepath.Join(root, "kubernetes", "monitoring", "servicemonitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sm struct {
		Kind string
		Spec struct {
			Endpoints []struct{ Port, Path string }
		}
	}
	if err := yaml.Unmarshal(raw, &sm); err != nil || sm.Kind != "ServiceMonitor" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("servicemonitor.yaml: %+v %v", sm, err)
	}

	// The PrometheusRule for the operator carries the very same rules.
	raw, err = os.ReadFile(filepath.Join(root, "kubernetes", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Kind string
		Spec yaml.Node
	}
	var plain yaml.Node
	alertsRaw, _ := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yaml"))
	if err := yaml.Unmarshal(raw, &pr); err != nil || pr.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	if err := yaml.Unmarshal(alertsRaw, &plain); err != nil {
		t.Fatal(err)
	}
	var a, b2 any
	_ = pr.Spec.Decode(&a)
	_ = plain.Decode(&b2)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b2)
	if string(ja) != string(jb) {
		t.Error("deploy/kubernetes/monitoring/prometheusrule.yaml's spec differs from deploy/prometheus/alerts.yaml")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("SCIMBRIDGE_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("promtool not found and SCIMBRIDGE_REQUIRE_PROMTOOL=1")
		}
		t.Log("SKIPPED: promtool is not installed: the alert rules were parsed and their series checked, but their PromQL was not compiled nor their unit tests run")
		return
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Join(root, "prometheus")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func checkNames(t *testing.T, where, expr string, exposed map[string]bool) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: no series in %q", where, expr)
	}
	for _, n := range names {
		if !exposed[n] {
			t.Errorf("%s uses %s, which /metrics does not expose", where, n)
		}
	}
}
