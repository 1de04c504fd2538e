package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

const (
	opToken   = "operator-token-0123456789"
	roToken   = "readonly-token-0123456789"
	idpToken  = "provision-token-0123456789"
	opName    = "oncall"
	roName    = "auditor"
	formCSRF  = `name="csrf" value="([^"]+)"`
	loginPath = "/ui/login"
)

// site is the status page in front of a real bridge on the Domo simulator, served by the real
// routes, with a clock the test moves. Several sites on one state are replicas of one bridge
// (or one bridge before and after a restart).
type site struct {
	t      *testing.T
	srv    *httptest.Server
	bridge *bridge.Bridge
	store  store.Store
	clock  *clock
}

// clock is the time the status page sees; sites sharing one agree on it, as replicas whose
// clocks are synchronised do.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// siteOptions vary newSiteWith; the zero value is a plain-HTTP site on a new SQLite file.
type siteOptions struct {
	tls    bool
	state  string       // a file path or a PostgreSQL URL; "" is a new SQLite file
	tokens []scim.Token // nil: the three of the constants above
	clock  *clock       // nil: a new one
}

func newSite(t *testing.T, tlsServer bool) *site {
	t.Helper()
	return newSiteWith(t, siteOptions{tls: tlsServer})
}

func defaultTokens() []scim.Token {
	return []scim.Token{
		{Name: "okta", Secret: idpToken, Role: scim.RoleProvision},
		{Name: opName, Secret: opToken, Role: scim.RoleOperator},
		{Name: roName, Secret: roToken, Role: scim.RoleReadOnly},
	}
}

func newSiteWith(t *testing.T, o siteOptions) *site {
	t.Helper()
	sim := domosim.New(domosim.Options{Seed: 4})
	sim.SeedUsers(2)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	so := sim.Options()
	client, err := domo.New(domo.Config{BaseURL: simSrv.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret, RatePerMinute: 60000, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if o.state == "" {
		o.state = filepath.Join(t.TempDir(), "state.db")
	}
	st, err := store.Open(context.Background(), o.state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := bridge.New(bridge.Config{Domo: client, Store: st, Index: index.New(), Logger: zerolog.Nop(),
		Mapping: mapping.Options{Roles: mapping.NewRoles(nil), DefaultRole: "Participant", HideDefaultGroup: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.tokens == nil {
		o.tokens = defaultTokens()
	}
	tokens, err := scim.NewTokens(o.tokens)
	if err != nil {
		t.Fatal(err)
	}
	if o.clock == nil {
		o.clock = newClock()
	}
	s := &site{t: t, bridge: b, store: st, clock: o.clock}
	reg := prometheus.NewRegistry()
	page, err := New(Config{Tokens: tokens, Sessions: st, Admin: b, Gatherer: reg, Audit: st, Drift: b.LastDrift, BudgetPerMinute: 3000,
		Logger: zerolog.Nop(), Now: o.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	h := scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens, Admin: b, Pauser: b, UI: page,
		Metrics: scim.NewMetrics(reg), Logger: zerolog.Nop(), Available: func() bool { return true }})
	if o.tls {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

// client is an HTTP client of its own that keeps cookies and does not follow redirects, so the test
// sees each answer.
func (s *site) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     s.srv.Client().Transport, // trusts the test server's certificate
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *site) get(c *http.Client, path string) (int, string) {
	s.t.Helper()
	resp, err := c.Get(s.srv.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *site) post(c *http.Client, path string, form url.Values) *http.Response {
	s.t.Helper()
	resp, err := c.PostForm(s.srv.URL+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func csrfOf(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(formCSRF).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%.1500s", html)
	}
	return m[1]
}

// signIn signs in through the form and returns the status page's CSRF token.
func (s *site) signIn(c *http.Client, token string) (int, string) {
	s.t.Helper()
	_, form := s.get(c, "/ui/")
	resp := s.post(c, loginPath, url.Values{"csrf": {csrfOf(s.t, form)}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, ""
	}
	_, page := s.get(c, "/ui/")
	return resp.StatusCode, csrfOf(s.t, page)
}

func TestSignIn(t *testing.T) {
	s := newSite(t, false)
	tests := []struct {
		name, token string
		want        int
	}{
		{"operator", opToken, http.StatusSeeOther},
		{"read-only", roToken, http.StatusSeeOther},
		{"an IdP's provisioning token", idpToken, http.StatusForbidden},
		{"wrong", "not-a-token-at-all-0000", http.StatusUnauthorized},
		{"empty", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.client()
			if got, _ := s.signIn(c, tt.token); got != tt.want {
				t.Fatalf("sign-in = %d, want %d", got, tt.want)
			}
			_, page := s.get(c, "/ui/")
			if signedIn := strings.Contains(page, `id="who"`); signedIn != (tt.want == http.StatusSeeOther) {
				t.Errorf("signed in = %v after answer %d", signedIn, tt.want)
			}
			for _, secret := range []string{opToken, roToken, idpToken} {
				if strings.Contains(page, secret) {
					t.Errorf("the page holds a token")
				}
			}
		})
	}
	t.Run("without the form's CSRF token", func(t *testing.T) {
		c := s.client()
		s.get(c, "/ui/")
		if resp := s.post(c, loginPath, url.Values{"token": {opToken}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("sign-in without CSRF = %d, want 403", resp.StatusCode)
		}
	})
	t.Run("from another origin", func(t *testing.T) {
		c := s.client()
		_, form := s.get(c, "/ui/")
		req, _ := http.NewRequest("POST", s.srv.URL+loginPath, strings.NewReader(url.Values{"csrf": {csrfOf(t, form)}, "token": {opToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site sign-in = %d, want 403", resp.StatusCode)
		}
	})
}

func TestSessionCookie(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		s := newSite(t, tlsOn)
		c := s.client()
		_, form := s.get(c, "/ui/")
		resp, err := c.PostForm(s.srv.URL+loginPath, url.Values{"csrf": {csrfOf(t, form)}, "token": {opToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var sc *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				sc = ck
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.MaxAge <= 0 || sc.Path != "/ui/" || sc.Secure != tlsOn || len(sc.Value) < 40 {
			t.Errorf("TLS %v: session cookie %+v", tlsOn, sc)
		}
	}
}

// TestSessionExpiry: a session ends after its idle timeout and after its lifetime, and signing
// out ends it on the server, not only in the browser.
func TestSessionExpiry(t *testing.T) {
	s := newSite(t, false)
	signedIn := func(c *http.Client) bool {
		_, page := s.get(c, "/ui/")
		return strings.Contains(page, `id="who"`)
	}
	c := s.client()
	s.signIn(c, roToken)
	s.clock.add(defaultIdleTimeout - time.Minute)
	if !signedIn(c) {
		t.Fatal("signed out before the idle timeout")
	}
	for range 20 { // active for longer than the lifetime
		s.clock.add(25 * time.Minute)
		if !signedIn(c) && s.clock.now().Sub(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)) < defaultSessionTTL {
			t.Fatal("an active session ended before its lifetime")
		}
	}
	if signedIn(c) {
		t.Fatal("a session outlived its lifetime")
	}
	c2 := s.client()
	s.signIn(c2, roToken)
	for range 4 { // the page's polling alone does not keep it alive
		s.clock.add(defaultIdleTimeout / 4)
		s.get(c2, "/ui/live")
	}
	if signedIn(c2) {
		t.Fatal("a session outlived its idle timeout")
	}

	c3 := s.client()
	_, csrf := s.signIn(c3, opToken)
	u, _ := url.Parse(s.srv.URL + "/ui/")
	stolen := c3.Jar.Cookies(u)
	if resp := s.post(c3, "/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out = %d", resp.StatusCode)
	}
	c4 := s.client()
	c4.Jar.SetCookies(u, stolen) // the old cookie, replayed
	if signedIn(c4) {
		t.Fatal("a signed-out session still works")
	}
}

// TestActions: operators pause, resume and reset through the same switches as /admin/v1;
// read-only sessions and posts without the session's CSRF token change nothing.
func TestActions(t *testing.T) {
	s := newSite(t, false)
	paused := func() bool { p, _ := s.bridge.Paused(); return p }

	ro := s.client()
	_, roCSRF := s.signIn(ro, roToken)
	if resp := s.post(ro, "/ui/pause", url.Values{"csrf": {roCSRF}}); resp.StatusCode != http.StatusForbidden || paused() {
		t.Fatalf("read-only pause = %d, paused %v", resp.StatusCode, paused())
	}
	_, page := s.get(ro, "/ui/")
	if strings.Contains(page, `id="pause"`) || !strings.Contains(page, "Read-only session") {
		t.Error("a read-only page offers the pause button")
	}

	op := s.client()
	_, csrf := s.signIn(op, opToken)
	if resp := s.post(op, "/ui/pause", url.Values{"reason": {"INC-9"}}); resp.StatusCode != http.StatusForbidden || paused() {
		t.Fatalf("pause without CSRF = %d, paused %v", resp.StatusCode, paused())
	}
	if resp := s.post(op, "/ui/pause", url.Values{"csrf": {roCSRF}, "reason": {"INC-9"}}); resp.StatusCode != http.StatusForbidden || paused() {
		t.Fatalf("pause with another session's CSRF = %d, paused %v", resp.StatusCode, paused())
	}
	if resp := s.post(op, "/ui/pause", url.Values{"csrf": {csrf}, "reason": {"INC-9"}}); resp.StatusCode != http.StatusSeeOther || !paused() {
		t.Fatalf("pause = %d, paused %v", resp.StatusCode, paused())
	}
	st, _ := s.bridge.Status(context.Background())
	if st["pauseReason"] != "INC-9" {
		t.Errorf("pause reason = %v", st["pauseReason"])
	}
	if resp := s.post(op, "/ui/resume", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther || paused() {
		t.Fatalf("resume = %d, paused %v", resp.StatusCode, paused())
	}
	if resp := s.post(op, "/ui/breaker-reset", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("breaker reset = %d", resp.StatusCode)
	}
	if resp := s.post(s.client(), "/ui/resume", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resume without a session = %d, want 403", resp.StatusCode)
	}
	if code, body := s.get(s.client(), "/ui/live"); code != http.StatusUnauthorized || strings.Contains(body, "index") {
		t.Fatalf("/ui/live without a session = %d %s", code, body)
	}
	if code, body := s.get(op, "/ui/live"); code != http.StatusOK || !strings.Contains(body, `"limit":3000`) {
		t.Fatalf("/ui/live = %d %s", code, body)
	}
}

func TestBudgetPoints(t *testing.T) {
	b := &budget{keep: time.Hour}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// 10 requests a second for three minutes, sampled every 5 s.
	for i := 0; i <= 36; i++ {
		b.add(t0.Add(time.Duration(i)*5*time.Second), float64(i*50))
	}
	pts := b.points()
	if len(pts) != 36 {
		t.Fatalf("%d points, want 36", len(pts))
	}
	for _, p := range pts {
		if p.PerMinute < 599 || p.PerMinute > 601 {
			t.Fatalf("point %+v: want 600 a minute", p)
		}
	}
	// Two hours later only the last hour is kept.
	for i := 37; i <= 37+2*720; i++ {
		b.add(t0.Add(time.Duration(i)*5*time.Second), float64(i*50))
	}
	pts = b.points()
	if span := pts[len(pts)-1].At - pts[0].At; span > 3600 || span < 3500 {
		t.Errorf("chart spans %d s, want about an hour", span)
	}
	c := drawChart(pts, 3000)
	if c.Empty || strings.Count(c.Line, ",") != len(pts) || c.LimitY <= 0 {
		t.Errorf("chart = %+v", c)
	}
}
