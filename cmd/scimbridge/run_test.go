package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

const testToken = "e2e-test-token-0123456789"

// bridgeUnderTest is a bridge started through run() against a simulator.
type bridgeUnderTest struct {
	t      *testing.T
	base   string // http://127.0.0.1:port (https with TLS)
	sim    *domosim.Sim
	simURL string
	env    map[string]string // the environment run() was given
	stderr *syncBuffer
	client *http.Client
	stop   func() error // cancels run's context and returns what run returned
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBridge runs `scimbridge serve` through run() with a fake environment pointed at a
// simulator, waits until it listens and /readyz says ready, and stops it when the test ends.
func startBridge(t *testing.T, sim *domosim.Sim, extraEnv map[string]string) *bridgeUnderTest {
	t.Helper()
	return startBridgeClient(t, sim, extraEnv, http.DefaultClient)
}

// startBridgeClient is startBridge with the HTTP client every request of the test uses (one
// that trusts a test CA, for TLS).
func startBridgeClient(t *testing.T, sim *domosim.Sim, extraEnv map[string]string, client *http.Client) *bridgeUnderTest {
	t.Helper()
	return launchBridge(t, sim, bridgeOptions{env: extraEnv, client: client})
}

// bridgeOptions vary how launchBridge starts the bridge.
type bridgeOptions struct {
	env     map[string]string
	client  *http.Client                    // default http.DefaultClient
	wrapSim func(http.Handler) http.Handler // sees every request the bridge sends to Domo
}

func launchBridge(t *testing.T, sim *domosim.Sim, o bridgeOptions) *bridgeUnderTest {
	t.Helper()
	extraEnv, client := o.env, o.client
	if client == nil {
		client = http.DefaultClient
	}
	var simHandler http.Handler = sim
	if o.wrapSim != nil {
		simHandler = o.wrapSim(sim)
	}
	simSrv := httptest.NewServer(simHandler)
	t.Cleanup(simSrv.Close)
	opts := sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR":               "127.0.0.1:0",
		"SCIMBRIDGE_TOKEN":              "okta:" + testToken,
		"SCIMBRIDGE_DOMO_API_URL":       simSrv.URL,
		"SCIMBRIDGE_DOMO_CLIENT_ID":     opts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret,
		"SCIMBRIDGE_STATE":              filepath.Join(t.TempDir(), "state.db"),
	}
	for k, v := range extraEnv {
		if v == "@sim" { // the simulated tenant's instance APIs answer on its listener
			v = simSrv.URL
		}
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"scimbridge", "serve"}, getenv, pw, stderr)
		pw.Close()
	}()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = fmt.Errorf("run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("run returned %v", err)
		}
	})

	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addrCh <- a
			}
		}
	}()
	var base string
	select {
	case base = <-addrCh:
	case err := <-done:
		t.Fatalf("run exited early: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("bridge did not start listening\n%s", stderr.String())
	}
	b := &bridgeUnderTest{t: t, base: base, sim: sim, simURL: simSrv.URL, env: env, stderr: stderr, client: client, stop: stop}
	b.waitReady()
	return b
}

// waitReady polls /readyz until it answers 200.
func (b *bridgeUnderTest) waitReady() {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := b.client.Get(b.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness wait, not a fixed sleep
	}
	b.t.Fatalf("bridge never became ready\n%s", b.stderr.String())
}

// do sends a SCIM request with the test token and decodes the JSON answer.
func (b *bridgeUnderTest) do(method, path string, body any) (int, map[string]any, http.Header) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		switch v := body.(type) {
		case string:
			rd = strings.NewReader(v)
		default:
			raw, err := json.Marshal(v)
			if err != nil {
				b.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			b.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func (b *bridgeUnderTest) expect(method, path string, body any, want int) map[string]any {
	b.t.Helper()
	status, out, _ := b.do(method, path, body)
	if status != want {
		b.t.Fatalf("%s %s = %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

// TestWalkthroughAttributes plays the README walk-through's custom attribute step against a
// bridge with Domo's instance APIs on, as the demo runs: the attribute, the manager and the
// hire date reach the simulated tenant's user record; an unknown key is 400 naming it.
func TestWalkthroughAttributes(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 2})
	seeded := sim.SeedUsers(3)
	b := startBridge(t, sim, map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "@sim", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": sim.Options().AccessToken})
	created := b.expect("POST", "/scim/v2/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ada@example.com",
		"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
	}, http.StatusCreated)
	id := created["id"].(string)
	list := b.expect("GET", "/scim/v2/Users?count=1", nil, http.StatusOK)
	mgr := list["Resources"].([]any)[0].(map[string]any)["id"].(string)
	out := b.expect("PATCH", "/scim/v2/Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "add", "value": {
    "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {
      "customAttributes": [{"key": "region", "values": ["EMEA"]}]},
    "urn:ietf:params:scim:schemas:extension:domo:2.0:User": {"hireDate": "2021-04-01"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "`+mgr+`"}}}}]}`, http.StatusOK)
	if !strings.Contains(fmt.Sprint(out), "EMEA") {
		t.Fatalf("PATCH answer: %v", out)
	}
	var uid, mid int64
	fmt.Sscan(id, &uid)
	fmt.Sscan(mgr, &mid)
	su, _ := sim.User(uid)
	if got := sim.Attributes(uid)["region"]; len(got) != 1 || got[0] != "EMEA" || su.HireDate != "2021-04-01" || su.ReportsTo != mid || !slices.Contains(seeded, mid) {
		t.Fatalf("Domo holds region %v, hire date %q, reportsTo %d (manager %d)", got, su.HireDate, su.ReportsTo, mid)
	}
	bad := b.expect("PATCH", "/scim/v2/Users/"+id, `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:custom:2.0:User:customAttributes",
    "value": [{"key": "shoeSize", "values": ["44"]}]}]}`, http.StatusBadRequest)
	if bad["scimType"] != "invalidValue" || !strings.Contains(fmt.Sprint(bad["detail"]), "shoeSize") {
		t.Fatalf("unknown key: %v", bad)
	}
	if _, has := sim.Attributes(uid)["shoeSize"]; has {
		t.Fatal("the refused key reached Domo")
	}
	// /readyz and /metrics show the capabilities.
	resp, err := http.Get(b.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `"bulk-membership":"available"`) || !strings.Contains(string(raw), `"degraded":false`) {
		t.Fatalf("/readyz: %s", raw)
	}
	sim.RevokeAccessToken()
	b.expect("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:domo:2.0:User:hireDate","value":"2022-02-02"}]}`, http.StatusOK)
	resp, err = http.Get(b.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`scimbridge_domo_instance_capability{capability="attributes"} 0`, `scimbridge_domo_instance_degraded 1`,
		`scimbridge_domo_pending_attribute_deliveries 1`, `scimbridge_domo_requests_total{op="identity.update",status="401"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(raw), sim.Options().AccessToken) {
		t.Fatal("/metrics holds the access token")
	}
}

// TestWalkthrough plays the README's curl walk-through through run() against the simulator
// and checks both the SCIM answers and what the simulated Domo tenant holds afterwards.
func TestWalkthrough(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 1})
	sim.SeedUsers(3)
	b := startBridge(t, sim, nil)

	// Create.
	status, created, hdr := b.do("POST", "/scim/v2/Users", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":   "ada@example.com",
		"externalId": "okta-00u1",
		"name":       map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":     []any{map[string]any{"value": "ada@example.com", "type": "work", "primary": true}},
		"title":      "Analyst",
		"active":     true,
	})
	if status != http.StatusCreated {
		t.Fatalf("create = %d: %v", status, created)
	}
	id, _ := created["id"].(string)
	if id == "" || hdr.Get("Location") != b.base+"/scim/v2/Users/"+id {
		t.Fatalf("create: id %q, Location %q", id, hdr.Get("Location"))
	}
	var domoID int64
	fmt.Sscan(id, &domoID)
	du, ok := sim.User(domoID)
	if !ok || du.Email != "ada@example.com" || du.Name != "Ada Lovelace" || du.Title != "Analyst" {
		t.Fatalf("Domo user after create: %+v (found %v)", du, ok)
	}

	// Duplicate (case-insensitive) is a 409 uniqueness.
	dup := b.expect("POST", "/scim/v2/Users", map[string]any{"userName": "ADA@example.com"}, http.StatusConflict)
	if dup["scimType"] != "uniqueness" {
		t.Fatalf("duplicate: %v", dup)
	}

	// Find by filter, case-insensitively.
	list := b.expect("GET", `/scim/v2/Users?filter=userName%20eq%20%22ADA@EXAMPLE.COM%22`, nil, http.StatusOK)
	if list["totalResults"].(float64) != 1 || list["Resources"].([]any)[0].(map[string]any)["id"] != id {
		t.Fatalf("filter: %v", list)
	}

	// Read.
	got := b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)
	if got["externalId"] != "okta-00u1" || got["name"].(map[string]any)["givenName"] != "Ada" {
		t.Fatalf("get: %v", got)
	}

	// PATCH title.
	patched := b.expect("PATCH", "/scim/v2/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Chief Analyst"}},
	}, http.StatusOK)
	if patched["title"] != "Chief Analyst" {
		t.Fatalf("patch title: %v", patched)
	}
	if du, _ := sim.User(domoID); du.Title != "Chief Analyst" {
		t.Fatalf("Domo title after PATCH: %q", du.Title)
	}

	// Deactivate: the user stays readable with active false.
	b.expect("PATCH", "/scim/v2/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
	}, http.StatusOK)
	got = b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)
	if got["active"] != false {
		t.Fatalf("after deactivate: %v", got)
	}
	inactive := b.expect("GET", `/scim/v2/Users?filter=active%20eq%20false`, nil, http.StatusOK)
	if inactive["totalResults"].(float64) != 1 {
		t.Fatalf("active eq false: %v", inactive)
	}

	// Replace.
	put := b.expect("PUT", "/scim/v2/Users/"+id, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "ada@example.com",
		"name":     map[string]any{"givenName": "Ada", "familyName": "King"},
		"emails":   []any{map[string]any{"value": "ada@example.com", "type": "work", "primary": true}},
		"active":   true,
	}, http.StatusOK)
	if put["name"].(map[string]any)["familyName"] != "King" || put["active"] != true || put["title"] != nil {
		t.Fatalf("put: %v", put)
	}
	if du, _ := sim.User(domoID); du.Name != "Ada King" || du.Title != "" {
		t.Fatalf("Domo user after PUT: %+v", du)
	}

	// Delete, then 404 everywhere.
	b.expect("DELETE", "/scim/v2/Users/"+id, nil, http.StatusNoContent)
	gone := b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusNotFound)
	if gone["status"] != "404" || gone["detail"] == "" {
		t.Fatalf("after delete: %v", gone)
	}
	if du, ok := sim.User(domoID); ok && !du.Deleted {
		t.Fatalf("Domo user still exists after DELETE")
	}
	b.expect("PATCH", "/scim/v2/Users/"+id, map[string]any{
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "x"}},
	}, http.StatusNotFound)
	b.expect("DELETE", "/scim/v2/Users/"+id, nil, http.StatusNotFound)

	// The access log named the token, never the secret.
	if logs := b.stderr.String(); strings.Contains(logs, testToken) || !strings.Contains(logs, `"token":"okta"`) {
		t.Fatalf("access log: token name missing or secret leaked")
	}
}

func TestServeRefusesWithoutToken(t *testing.T) {
	env := map[string]string{
		"SCIMBRIDGE_DOMO_CLIENT_ID":     "x",
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": "y",
		"SCIMBRIDGE_STATE":              filepath.Join(t.TempDir(), "s.db"),
	}
	err := run(context.Background(), []string{"scimbridge", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no bearer token") {
		t.Fatalf("serve without a token: %v", err)
	}
	env["SCIMBRIDGE_TOKEN"] = "short"
	err = run(context.Background(), []string{"scimbridge", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "shorter than") || strings.Contains(err.Error(), "short\"") {
		t.Fatalf("serve with a short token: %v", err)
	}
}

func TestUnauthorized(t *testing.T) {
	b := startBridge(t, domosim.New(domosim.Options{Seed: 2}), nil)
	req, _ := http.NewRequest("GET", b.base+"/scim/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer wrong-token-wrong-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 || body["status"] != "401" || body["detail"] == "" {
		t.Fatalf("wrong token: %d %v", resp.StatusCode, body)
	}
}
