package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// logLines returns the JSON log lines the bridge wrote that have field == value (numbers
// compare as float64, as JSON decodes them).
func logLines(t *testing.T, b *bridgeUnderTest, field string, value any) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m[field] == value {
			out = append(out, m)
		}
	}
	return out
}

// doWithID sends a request with an X-Request-Id, as a load balancer would.
func (b *bridgeUnderTest) doWithID(method, path, reqID, body string) *http.Response {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("X-Request-Id", reqID)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestAccessLog: one JSON line per request with method, route (no ids), status, duration,
// request id, token name and the Domo calls the request made; never the token, a body or an
// email.
func TestAccessLog(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 7})
	sim.SeedUsers(2)
	b := startBridge(t, sim, nil)
	id := firstUserID(t, b)
	email := b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)["userName"].(string)

	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Auditor of Logs"}]}`
	tests := []struct {
		name, method, path, reqID, body string
		status                          int
		route                           string
		domoCalls                       float64
	}{
		{"PATCH: a fresh GET and one PUT", "PATCH", "/scim/v2/Users/" + id, "req-patch-1", patch, 200, "/scim/v2/Users/{id}", 2},
		{"unchanged PATCH: the PUT is skipped", "PATCH", "/scim/v2/Users/" + id, "req-patch-2", patch, 200, "/scim/v2/Users/{id}", 1},
		{"filter: answered from the index", "GET", `/scim/v2/Users?filter=userName%20eq%20%22` + email + `%22`, "req-filter", "", 200, "/scim/v2/Users", 0},
		{"not found", "GET", "/scim/v2/Users/999999999", "req-404", "", 404, "/scim/v2/Users/{id}", 1},
	}
	for _, tt := range tests {
		resp := b.doWithID(tt.method, tt.path, tt.reqID, tt.body)
		if resp.StatusCode != tt.status || resp.Header.Get("X-Request-Id") != tt.reqID {
			t.Fatalf("%s: %d, X-Request-Id %q", tt.name, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
	// The log line is written after the answer; wait for the last one.
	deadline := time.Now().Add(5 * time.Second)
	for len(logLines(t, b, "request_id", "req-404")) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // readiness poll for the last access-log line
	}
	for _, tt := range tests {
		lines := logLines(t, b, "request_id", tt.reqID)
		if len(lines) != 1 {
			t.Fatalf("%s: %d access-log lines, want 1", tt.name, len(lines))
		}
		l := lines[0]
		if l["message"] != "request" || l["method"] != tt.method || l["route"] != tt.route || l["status"] != float64(tt.status) ||
			l["token"] != "okta" || l["domo_calls"] != tt.domoCalls || l["duration"] == nil || l["time"] == nil {
			t.Errorf("%s: access log %v", tt.name, l)
		}
	}
	logs := b.stderr.String()
	for _, leak := range []string{testToken, email, "Auditor of Logs"} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
}

// TestMetricsFamilies: after traffic that exercises each path, /metrics (no token) exposes
// every series the README documents.
func TestMetricsFamilies(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 8})
	sim.SeedUsers(2)
	b := startBridge(t, sim, nil)
	id := firstUserID(t, b)

	// A 5xx and a 429 from Domo, each retried; an Entra-style PATCH with a quirk.
	sim.InjectFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Status: 503})
	b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)
	sim.InjectFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Status: 429})
	b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)
	b.expect("PATCH", "/scim/v2/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
	}, http.StatusOK)

	resp, err := http.Get(b.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	text := string(raw)
	for _, want := range []string{
		`scimbridge_scim_requests_total{method="GET",route="/scim/v2/Users/{id}",status="200"}`,
		`scimbridge_scim_request_duration_seconds_bucket{method="PATCH",route="/scim/v2/Users/{id}",le=`,
		`scimbridge_domo_requests_total{op="users.get",status="200"}`,
		`scimbridge_domo_requests_total{op="users.get",status="503"}`,
		`scimbridge_domo_request_duration_seconds_bucket{op="users.get",le=`,
		`scimbridge_domo_retries_total{op="users.get",reason="5xx"}`,
		`scimbridge_domo_retries_total{op="users.get",reason="429"}`,
		`scimbridge_domo_throttled_total 1`,
		`scimbridge_domo_budget_wait_seconds_count`,
		`scimbridge_index_users 2`,
		`scimbridge_index_groups`,
		`scimbridge_index_age_seconds`,
		`scimbridge_deprovision_breaker_open 0`,
		`scimbridge_paused 0`,
		`scimbridge_idp_quirks_total{kind=`,
		`go_goroutines`,
		`process_start_time_seconds`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{testToken, sim.Options().ClientSecret} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
	checkREADMEMetrics(t, text)
}

// checkREADMEMetrics keeps the README's metrics table and the code in step: every series the
// README names is exposed, and every scimbridge_ family exposed is in the README.
func checkREADMEMetrics(t *testing.T, exposition string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i := strings.Index(readme, "### Metrics")
	if i < 0 {
		t.Fatal("README.md has no Metrics section")
	}
	section := readme[i:]
	if j := strings.Index(section[1:], "\n### "); j >= 0 {
		section = section[:j+1]
	}
	name := regexp.MustCompile(`scimbridge_[a-z_]+`)
	documented := map[string]bool{}
	for _, n := range name.FindAllString(section, -1) {
		documented[n] = true
	}
	exposed := map[string]bool{}
	for _, line := range strings.Split(exposition, "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if n := strings.Fields(f)[0]; strings.HasPrefix(n, "scimbridge_") {
				exposed[n] = true
			}
		}
	}
	for n := range documented {
		if !exposed[n] {
			t.Errorf("README documents %s, which /metrics does not expose", n)
		}
	}
	for n := range exposed {
		if !documented[n] {
			t.Errorf("/metrics exposes %s, which the README's Metrics section does not document", n)
		}
	}
}
