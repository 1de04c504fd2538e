package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// srvBackend is a small in-memory backend: a second implementation of Resources, so the HTTP
// layer's own behaviour (routing, auth, errors, limits, list envelopes) is tested in isolation.
// The real backend (internal/bridge) is tested end to end in cmd/scimbridge.
type srvBackend struct {
	mu     sync.Mutex
	rt     *ResourceType
	items  map[string]Attributes
	next   int
	err    error // returned by every call when set
	panics bool
}

func newSrvBackend(rt *ResourceType) *srvBackend {
	return &srvBackend{rt: rt, items: map[string]Attributes{}}
}

func (s *srvBackend) withMeta(id string, a Attributes) Attributes {
	out := Attributes{}
	for k, v := range a {
		out[k] = v
	}
	out["id"] = id
	out["schemas"] = []any{s.rt.Schema.ID}
	out["meta"] = map[string]any{"resourceType": s.rt.Name, "location": "http://x/scim/v2" + s.rt.Endpoint + "/" + id, "version": fmt.Sprintf(`W/"%d"`, len(fmt.Sprint(a)))}
	return out
}

func (s *srvBackend) Create(ctx context.Context, a Attributes) (Attributes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panics {
		panic("backend exploded")
	}
	if s.err != nil {
		return nil, s.err
	}
	s.next++
	id := fmt.Sprint(s.next)
	s.items[id] = s.withMeta(id, a)
	return s.items[id], nil
}

func (s *srvBackend) Get(ctx context.Context, id string, _ ReadOptions) (Attributes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	a, ok := s.items[id]
	if !ok {
		return nil, NotFound(s.rt.Name, id)
	}
	return a, nil
}

func (s *srvBackend) Update(ctx context.Context, id string, apply ApplyFunc, _ ReadOptions) (Attributes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	a, ok := s.items[id]
	if !ok {
		return nil, NotFound(s.rt.Name, id)
	}
	next, err := apply(a)
	if err != nil {
		return nil, err
	}
	s.items[id] = s.withMeta(id, next)
	return s.items[id], nil
}

func (s *srvBackend) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; !ok {
		return NotFound(s.rt.Name, id)
	}
	delete(s.items, id)
	return nil
}

func (s *srvBackend) List(ctx context.Context, q Query) (Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Page{}, s.err
	}
	var all []Attributes
	for i := 1; i <= s.next; i++ {
		if a, ok := s.items[fmt.Sprint(i)]; ok {
			all = append(all, a)
		}
	}
	p := Page{TotalResults: len(all), Resources: []Attributes{}}
	from := q.StartIndex - 1
	for i := from; i < len(all) && i < from+q.Count; i++ {
		p.Resources = append(p.Resources, all[i])
	}
	return p, nil
}

const srvToken = "unit-test-token-0123456789"

const (
	srvReadOnly = "read-only-token-0123456789"
	srvOperator = "operator-token-0123456789"
)

type srvFixture struct {
	ts     *httptest.Server
	users  *srvBackend
	groups *srvBackend
	mu     sync.Mutex
	paused bool
	reason string
	resets int
	logs   *strings.Builder
}

func (f *srvFixture) Paused() (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused, time.Minute
}

// The fixture is its own Admin, so the admin routes' wiring and authorisation are tested
// without the bridge.
func (f *srvFixture) Status(context.Context) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{"paused": f.paused, "pauseReason": f.reason, "resets": f.resets}, nil
}

func (f *srvFixture) Pause(_ context.Context, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused, f.reason = true, reason
	return nil
}

func (f *srvFixture) Resume(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused, f.reason = false, ""
	return nil
}

func (f *srvFixture) ResetBreaker(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
	return nil
}

func (f *srvFixture) Drift(context.Context) (any, bool) { return nil, false }

func newSrvFixture(t *testing.T, mutate func(*Config)) *srvFixture {
	t.Helper()
	tokens, err := NewTokens([]Token{
		{Name: "okta", Secret: srvToken},
		{Name: "auditor", Secret: srvReadOnly, Role: RoleReadOnly},
		{Name: "oncall", Secret: srvOperator, Role: RoleOperator},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &srvFixture{users: newSrvBackend(UserType), groups: newSrvBackend(GroupType), logs: &strings.Builder{}}
	var mu sync.Mutex
	cfg := Config{
		Users: f.users, Groups: f.groups, Tokens: tokens, Pauser: f, Admin: f,
		Logger: zerolog.New(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return f.logs.Write(p)
		})),
		MaxBodyBytes: 4096,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	f.ts = httptest.NewServer(NewHandler(cfg))
	t.Cleanup(f.ts.Close)
	return f
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (f *srvFixture) call(t *testing.T, method, path, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.ts.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %q", method, path, raw)
		}
	}
	if len(raw) > 0 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/scim+json") && !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/healthz") && !strings.HasPrefix(path, "/admin") {
		t.Errorf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, out, resp.Header
}

func TestAuthentication(t *testing.T) {
	f := newSrvFixture(t, nil)
	tests := []struct {
		name, method, path, header string
		want                       int
	}{
		{"no header", "GET", "/scim/v2/Users", "", 401},
		{"wrong token", "GET", "/scim/v2/Users", "Bearer nope-nope-nope-nope", 401},
		{"basic scheme", "GET", "/scim/v2/Users", "Basic " + srvToken, 401},
		{"valid", "GET", "/scim/v2/Users", "Bearer " + srvToken, 200},
		{"scheme case-insensitive", "GET", "/scim/v2/Users", "bearer " + srvToken, 200},
		{"unknown endpoint still needs a token", "GET", "/scim/v2/Nope", "", 401},
		{"read-only token reads", "GET", "/scim/v2/Users", "Bearer " + srvReadOnly, 200},
		{"read-only token searches", "POST", "/scim/v2/Users/.search", "Bearer " + srvReadOnly, 200},
		{"read-only token cannot write", "POST", "/scim/v2/Users", "Bearer " + srvReadOnly, 403},
		{"operator token reads", "GET", "/scim/v2/Users", "Bearer " + srvOperator, 200},
		{"operator token cannot provision", "POST", "/scim/v2/Users", "Bearer " + srvOperator, 403},
		{"health needs no token", "GET", "/healthz", "", 200},
		{"readiness needs no token", "GET", "/readyz", "", 200},
		{"admin status needs a token", "GET", "/admin/v1/status", "", 401},
		{"IdP token reads the admin status", "GET", "/admin/v1/status", "Bearer " + srvToken, 200},
		{"read-only token reads the admin status", "GET", "/admin/v1/status", "Bearer " + srvReadOnly, 200},
		{"IdP token cannot reset the breaker", "POST", "/admin/v1/breaker/reset", "Bearer " + srvToken, 403},
		{"IdP token cannot pause", "POST", "/admin/v1/pause", "Bearer " + srvToken, 403},
		{"read-only token cannot pause", "POST", "/admin/v1/pause", "Bearer " + srvReadOnly, 403},
		{"operator token resets the breaker", "POST", "/admin/v1/breaker/reset", "Bearer " + srvOperator, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqBody := `{"userName":"a@b.c"}`
			if strings.HasPrefix(tt.path, "/admin") {
				reqBody = ""
			}
			req, _ := http.NewRequest(tt.method, f.ts.URL+tt.path, strings.NewReader(reqBody))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.want, body)
			}
			if tt.want == 401 && (body["status"] != "401" || body["detail"] == "" || resp.Header.Get("WWW-Authenticate") == "") {
				t.Fatalf("401 body/header: %v %v", body, resp.Header)
			}
			if tt.want == 403 && (body["status"] != "403" || !strings.Contains(fmt.Sprint(body["detail"]), "needs a")) {
				t.Fatalf("403 body: %v", body)
			}
		})
	}
	for _, secret := range []string{srvToken, srvReadOnly, srvOperator} {
		if strings.Contains(f.logs.String(), secret) {
			t.Fatal("a token reached the log")
		}
	}
	if f.resets != 1 {
		t.Fatalf("breaker resets = %d, want only the operator's", f.resets)
	}
}

func TestAdminSwitches(t *testing.T) {
	f := newSrvFixture(t, nil)
	status, body, _ := f.call(t, "POST", "/admin/v1/pause", srvOperator, `{"reason":"incident 42"}`)
	if status != 200 || body["paused"] != true || body["pauseReason"] != "incident 42" {
		t.Fatalf("pause: %d %v", status, body)
	}
	// Paused: IdP writes wait, reads go on.
	if status, _, hdr := f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("write while paused: %d", status)
	}
	if status, _, _ := f.call(t, "GET", "/scim/v2/Users", srvToken, ""); status != 200 {
		t.Fatalf("read while paused: %d", status)
	}
	if status, body, _ := f.call(t, "POST", "/admin/v1/pause", srvOperator, `not json`); status != 400 || body["scimType"] != "invalidSyntax" {
		t.Fatalf("pause with a bad body: %d %v", status, body)
	}
	status, body, _ = f.call(t, "POST", "/admin/v1/resume", srvOperator, "")
	if status != 200 || body["paused"] != false {
		t.Fatalf("resume: %d %v", status, body)
	}
	if status, _, _ := f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`); status != 201 {
		t.Fatalf("write after resume: %d", status)
	}
	if !strings.Contains(f.logs.String(), `"token":"oncall"`) {
		t.Fatal("access log does not name the operator token")
	}
}

func TestNewTokensDefaultNames(t *testing.T) {
	ts, err := NewTokens([]Token{
		{Secret: "0123456789abcdef-1"}, {Secret: "0123456789abcdef-2"},
		{Secret: "0123456789abcdef-3", Role: RoleReadOnly}, {Secret: "0123456789abcdef-4", Role: RoleOperator},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ts.Names(), ","); got != "token1,token2,readonly1,admin1" {
		t.Fatalf("names %s", got)
	}
}

// Bind's MAC depends on the token's secret, not only its name: a token replaced under the same
// name gives another MAC, and a name that is gone gives none.
func TestTokensBind(t *testing.T) {
	old, err := NewTokens([]Token{{Name: "oncall", Secret: "0123456789abcdef-old", Role: RoleOperator}, {Name: "okta", Secret: "0123456789abcdef-idp"}})
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := NewTokens([]Token{{Name: "oncall", Secret: "0123456789abcdef-new", Role: RoleOperator}})
	if err != nil {
		t.Fatal(err)
	}
	a, role, ok := old.Bind("oncall", []byte("session-1"))
	if !ok || role != RoleOperator || len(a) != 32 {
		t.Fatalf("Bind = %x, %v, %v", a, role, ok)
	}
	if again, _, _ := old.Bind("oncall", []byte("session-1")); !bytes.Equal(a, again) {
		t.Error("Bind is not deterministic")
	}
	if other, _, _ := old.Bind("oncall", []byte("session-2")); bytes.Equal(a, other) {
		t.Error("two messages, one MAC")
	}
	if b, _, ok := renewed.Bind("oncall", []byte("session-1")); !ok || bytes.Equal(a, b) {
		t.Error("a replaced secret gives the same MAC")
	}
	if _, role, ok := old.Bind("okta", []byte("session-1")); !ok || role != RoleProvision {
		t.Errorf("Bind(okta) role %v, %v", role, ok)
	}
	if _, _, ok := renewed.Bind("okta", []byte("session-1")); ok {
		t.Error("Bind found a removed token")
	}
}

func TestNewTokensValidation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tokens []Token
		want   string
	}{
		{"none", nil, "no bearer token"},
		{"short", []Token{{Secret: " short "}}, "shorter than"},
		{"duplicate secret", []Token{{Name: "a", Secret: "0123456789abcdefg"}, {Name: "b", Secret: "0123456789abcdefg"}}, "same secret"},
		{"duplicate name", []Token{{Name: "a", Secret: "0123456789abcdefg"}, {Name: "a", Secret: "0123456789abcdefh"}}, "used twice"},
		{"same secret in two roles", []Token{{Name: "a", Secret: "0123456789abcdefg"}, {Name: "b", Secret: "0123456789abcdefg", Role: RoleOperator}}, "same secret"},
		{"unknown role", []Token{{Name: "a", Secret: "0123456789abcdefg", Role: Role(9)}}, "unknown role"},
	} {
		_, err := NewTokens(tt.tokens)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%s: error leaks the secret: %v", tt.name, err)
		}
	}
}

func TestErrorFunnel(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantRetry  string
		leak       string
	}{
		{"scim error", BadRequest(TypeInvalidValue, "bad title"), 400, "invalidValue", "", ""},
		{"wrapped scim error", fmt.Errorf("ctx: %w", Conflict("taken")), 409, "uniqueness", "", ""},
		{"throttled by Domo", throttled(3 * time.Second), 429, "", "3", ""},
		{"unavailable", Unavailable(30*time.Second, "Domo down", errors.New("secret-cause")), 503, "", "30", "secret-cause"},
		{"plain error hides its cause", errors.New("dial tcp 10.0.0.1: password=hunter2"), 500, "", "", "hunter2"},
		{"deadline", context.DeadlineExceeded, 503, "", "5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSrvFixture(t, nil)
			f.users.err = tt.err
			status, body, hdr := f.call(t, "GET", "/scim/v2/Users/1", srvToken, "")
			if status != tt.wantStatus || body["status"] != fmt.Sprint(tt.wantStatus) {
				t.Fatalf("status %d body %v, want %d", status, body, tt.wantStatus)
			}
			if got, _ := body["scimType"].(string); got != tt.wantType {
				t.Fatalf("scimType %q, want %q", got, tt.wantType)
			}
			if hdr.Get("Retry-After") != tt.wantRetry {
				t.Fatalf("Retry-After %q, want %q", hdr.Get("Retry-After"), tt.wantRetry)
			}
			if s := body["schemas"].([]any); len(s) != 1 || s[0] != URNError {
				t.Fatalf("schemas %v", s)
			}
			if tt.leak != "" && strings.Contains(fmt.Sprint(body), tt.leak) {
				t.Fatalf("detail leaks the cause: %v", body)
			}
		})
	}
}

type throttled time.Duration

func (t throttled) Error() string                     { return "rate limited" }
func (t throttled) RetryAfterDuration() time.Duration { return time.Duration(t) }

func TestPanicBecomesSCIM500(t *testing.T) {
	f := newSrvFixture(t, nil)
	f.users.panics = true
	status, body, _ := f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`)
	if status != 500 || body["status"] != "500" || strings.Contains(fmt.Sprint(body), "exploded") {
		t.Fatalf("panic: %d %v", status, body)
	}
	if !strings.Contains(f.logs.String(), "backend exploded") {
		t.Fatal("panic cause not logged")
	}
	// The server still serves.
	if status, _, _ := f.call(t, "GET", "/scim/v2/Users", srvToken, ""); status != 200 {
		t.Fatalf("after panic: %d", status)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newSrvFixture(t, nil)
	big := `{"userName":"a@b.c","title":"` + strings.Repeat("x", 5000) + `"}`
	status, body, _ := f.call(t, "POST", "/scim/v2/Users", srvToken, big)
	if status != 413 || body["status"] != "413" {
		t.Fatalf("oversized body: %d %v", status, body)
	}
	if len(f.users.items) != 0 {
		t.Fatal("oversized body created something")
	}
}

func TestEndpointNamesCaseInsensitive(t *testing.T) {
	f := newSrvFixture(t, nil)
	for _, p := range []string{"/scim/v2/users", "/scim/v2/Users/", "/scim/v2/USERS", "/scim/v2/groups", "/scim/v2/serviceproviderconfig", "/scim/v2/resourcetypes", "/scim/v2/schemas"} {
		if status, body, _ := f.call(t, "GET", p, srvToken, ""); status != 200 {
			t.Errorf("GET %s = %d %v", p, status, body)
		}
	}
}

func TestUnsupportedEndpoints(t *testing.T) {
	f := newSrvFixture(t, nil)
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/scim/v2/Bulk", 405},
		{"GET", "/scim/v2/Me", 501},
		{"GET", "/scim/v2/Widgets", 404},
		{"DELETE", "/scim/v2/Users", 405},
	} {
		status, body, _ := f.call(t, tt.method, tt.path, srvToken, "")
		if status != tt.want || body["status"] != fmt.Sprint(tt.want) {
			t.Errorf("%s %s = %d %v, want %d", tt.method, tt.path, status, body, tt.want)
		}
	}
}

func TestListEnvelope(t *testing.T) {
	f := newSrvFixture(t, nil)
	for i := 0; i < 3; i++ {
		if status, body, _ := f.call(t, "POST", "/scim/v2/Users", srvToken, fmt.Sprintf(`{"userName":"u%d@x.com"}`, i)); status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
	}
	tests := []struct {
		query                 string
		wantStatus            int
		total, items, startAt float64
	}{
		{"", 200, 3, 3, 1},
		{"?startIndex=2&count=1", 200, 3, 1, 2},
		{"?startIndex=0&count=-4", 200, 3, 0, 1},
		{"?count=0", 200, 3, 0, 1},
		{"?startIndex=10", 200, 3, 0, 10},
		{"?count=abc", 400, 0, 0, 0},
		{"?sortOrder=sideways", 400, 0, 0, 0},
	}
	for _, tt := range tests {
		status, body, _ := f.call(t, "GET", "/scim/v2/Users"+tt.query, srvToken, "")
		if status != tt.wantStatus {
			t.Errorf("%s: %d %v", tt.query, status, body)
			continue
		}
		if status != 200 {
			continue
		}
		res, _ := body["Resources"].([]any)
		if body["totalResults"] != tt.total || body["itemsPerPage"] != tt.items || body["startIndex"] != tt.startAt || len(res) != int(tt.items) || res == nil {
			t.Errorf("%s: %v", tt.query, body)
		}
	}
	// POST .search takes the same query in a body, and read-only tokens may use it.
	status, body, _ := f.call(t, "POST", "/scim/v2/Users/.search", srvReadOnly, `{"schemas":["`+URNSearch+`"],"startIndex":2,"count":5}`)
	if status != 200 || body["itemsPerPage"] != float64(2) {
		t.Fatalf(".search: %d %v", status, body)
	}
}

func TestCreateAnswersLocationAndETag(t *testing.T) {
	f := newSrvFixture(t, nil)
	status, body, hdr := f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`)
	if status != 201 || hdr.Get("Location") == "" || hdr.Get("ETag") == "" {
		t.Fatalf("create: %d %v %v", status, body, hdr)
	}
	// If-Match with a stale version is 412, with the current one 200.
	req, _ := http.NewRequest("PATCH", f.ts.URL+"/scim/v2/Users/1", strings.NewReader(`{"Operations":[{"op":"replace","path":"title","value":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+srvToken)
	req.Header.Set("If-Match", `W/"stale"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 412 {
		t.Fatalf("stale If-Match: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("PATCH", f.ts.URL+"/scim/v2/Users/1", strings.NewReader(`{"Operations":[{"op":"replace","path":"title","value":"x"}]}`))
	req.Header.Set("Authorization", "Bearer "+srvToken)
	req.Header.Set("If-Match", hdr.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("current If-Match: %d", resp.StatusCode)
	}
}

func TestPauseBlocksWritesOnly(t *testing.T) {
	f := newSrvFixture(t, nil)
	f.paused = true
	status, body, hdr := f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`)
	if status != 503 || hdr.Get("Retry-After") != "60" || body["status"] != "503" {
		t.Fatalf("paused write: %d %v %v", status, body, hdr)
	}
	if status, _, _ := f.call(t, "GET", "/scim/v2/Users", srvToken, ""); status != 200 {
		t.Fatalf("paused read: %d", status)
	}
}

// TestAccessLogNamesRefusedRoutes: requests refused after authentication (paused, read-only,
// loading) are logged and counted under their route, not a catch-all.
func TestAccessLogNamesRefusedRoutes(t *testing.T) {
	f := newSrvFixture(t, nil)
	f.paused = true
	f.call(t, "POST", "/scim/v2/Users", srvToken, `{"userName":"a@b.c"}`)
	f.call(t, "PATCH", "/scim/v2/Groups/7", srvReadOnly, `{"Operations":[]}`)
	f.call(t, "POST", "/admin/v1/pause", srvToken, "")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["message"] == "request" {
			lines = append(lines, m)
		}
	}
	want := []struct {
		route  string
		status float64
		level  string
	}{
		{"/scim/v2/Users", 503, "warn"},
		{"/scim/v2/Groups/{id}", 403, "warn"},
		{"/admin/v1/pause", 403, "warn"},
	}
	if len(lines) != len(want) {
		t.Fatalf("access log: %v", lines)
	}
	for i, w := range want {
		if lines[i]["route"] != w.route || lines[i]["status"] != w.status || lines[i]["level"] != w.level {
			t.Errorf("line %d: %v, want %+v", i, lines[i], w)
		}
	}
}

func TestUnavailableUntilLoaded(t *testing.T) {
	loaded := false
	var mu sync.Mutex
	f := newSrvFixture(t, func(c *Config) {
		c.Available = func() bool { mu.Lock(); defer mu.Unlock(); return loaded }
	})
	if status, _, hdr := f.call(t, "GET", "/scim/v2/Users", srvToken, ""); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("before load: %d", status)
	}
	mu.Lock()
	loaded = true
	mu.Unlock()
	if status, _, _ := f.call(t, "GET", "/scim/v2/Users", srvToken, ""); status != 200 {
		t.Fatalf("after load: %d", status)
	}
}

func TestDiscovery(t *testing.T) {
	f := newSrvFixture(t, nil)
	_, spc, _ := f.call(t, "GET", "/scim/v2/ServiceProviderConfig", srvToken, "")
	if spc["patch"].(map[string]any)["supported"] != true || spc["filter"].(map[string]any)["maxResults"] != float64(DefaultMaxResults) || spc["sort"].(map[string]any)["supported"] != true {
		t.Fatalf("ServiceProviderConfig: %v", spc)
	}
	_, rts, _ := f.call(t, "GET", "/scim/v2/ResourceTypes", srvToken, "")
	if r := rts["Resources"].([]any); len(r) != 2 || r[0].(map[string]any)["endpoint"] != "/Users" {
		t.Fatalf("ResourceTypes: %v", rts)
	}
	_, schemas, _ := f.call(t, "GET", "/scim/v2/Schemas", srvToken, "")
	if schemas["totalResults"] != float64(5) || !strings.Contains(fmt.Sprint(schemas), "User Account") {
		t.Fatalf("Schemas: %v", schemas)
	}
	for _, urn := range []string{URNEnterprise, URNDomoUser, URNCustomUser} {
		if status, s, _ := f.call(t, "GET", "/scim/v2/Schemas/"+urn, srvToken, ""); status != 200 || s["id"] != urn {
			t.Fatalf("Schemas/%s: %d %v", urn, status, s)
		}
	}
	// The discovery endpoints do not filter, and say so rather than answer unfiltered.
	for _, p := range []string{"/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes", "/scim/v2/Schemas"} {
		if status, body, _ := f.call(t, "GET", p+`?filter=id%20eq%20%22x%22`, srvToken, ""); status != 403 || body["status"] != "403" {
			t.Errorf("%s with a filter: %d %v", p, status, body)
		}
	}
	// Without RoleNames, roles[].value declares no canonical values.
	if strings.Contains(fmt.Sprint(schemas), "Participant") {
		t.Errorf("role names without a tenant: %v", schemas)
	}
}

func TestDiscoveryRoleNames(t *testing.T) {
	f := newSrvFixture(t, func(c *Config) { c.RoleNames = func() []string { return []string{"Admin", "Report Viewer"} } })
	_, s, _ := f.call(t, "GET", "/scim/v2/Schemas/"+URNUser, srvToken, "")
	for _, a := range s["attributes"].([]any) {
		a := a.(map[string]any)
		if a["name"] != "roles" {
			continue
		}
		for _, sub := range a["subAttributes"].([]any) {
			if sub := sub.(map[string]any); sub["name"] == "value" {
				if fmt.Sprint(sub["canonicalValues"]) != "[Admin Report Viewer]" {
					t.Fatalf("roles.value canonicalValues %v", sub["canonicalValues"])
				}
				return
			}
		}
	}
	t.Fatal("no roles.value in the User schema")
}

func TestTouchesMembers(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{`{"Operations":[{"op":"replace","value":{"id":"1","displayName":"x"}}]}`, false},
		{`{"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`, false},
		{`{"Operations":[{"op":"add","path":"members","value":[{"value":"1"}]}]}`, true},
		{`{"Operations":[{"op":"remove","path":"members[value eq \"1\"]"}]}`, true},
		{`{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:core:2.0:Group:members"}]}`, true},
		{`{"Operations":[{"op":"replace","value":{"displayName":"x","members":[]}}]}`, true},
		{`{"Operations":[{"op":"replace","path":"externalId","value":"e"},{"op":"add","path":"Members","value":[{"value":"2"}]}]}`, true},
	} {
		ops, _, err := ParsePatch(GroupType, []byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if got := touchesMembers(ops); got != tt.want {
			t.Errorf("touchesMembers(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}
