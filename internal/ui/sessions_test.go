package ui

import (
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
	"github.com/scimbridge/scimbridge/internal/scim"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func (s *site) signedIn(c *http.Client) bool {
	s.t.Helper()
	_, page := s.get(c, "/ui/")
	return strings.Contains(page, `id="who"`)
}

// sessionID is the session cookie c holds for the sites (all on 127.0.0.1: a browser sends it
// to every replica behind one name).
func (s *site) sessionID(c *http.Client) string {
	u, _ := url.Parse(s.srv.URL + "/ui/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	return ""
}

// withCookie is a new client holding only a session cookie of the given value.
func (s *site) withCookie(value string) *http.Client {
	c := s.client()
	u, _ := url.Parse(s.srv.URL + "/ui/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value, Path: "/ui/"}})
	return c
}

func paused(s *site) bool { p, _ := s.bridge.Paused(); return p }

// A session lives in the state: the bridge stopped and started again on the same file still
// knows it, and accepts the CSRF token of a page served before the restart.
func TestSessionSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	clk := newClock()
	before := newSiteWith(t, siteOptions{state: state, clock: clk})
	c := before.client()
	_, csrf := before.signIn(c, opToken)
	before.srv.Close()
	if err := before.store.Close(); err != nil {
		t.Fatal(err)
	}

	after := newSiteWith(t, siteOptions{state: state, clock: clk})
	clk.add(10 * time.Minute)
	code, page := after.get(c, "/ui/")
	if code != http.StatusOK || !strings.Contains(page, `id="who"`) || csrfOf(t, page) != csrf {
		t.Fatalf("after a restart: %d, signed in %v", code, strings.Contains(page, `id="who"`))
	}
	if resp := after.post(c, "/ui/pause", url.Values{"csrf": {csrf}, "reason": {"after restart"}}); resp.StatusCode != http.StatusSeeOther || !paused(after) {
		t.Fatalf("pause with the CSRF token of a page served before the restart = %d, paused %v", resp.StatusCode, paused(after))
	}
	// The restart did not stop the clocks: the session still ends 30 minutes after its last
	// activity.
	clk.add(defaultIdleTimeout)
	if after.signedIn(c) {
		t.Error("a session outlived its idle timeout across a restart")
	}
}

// The state holds nothing a browser presents: neither the session id of the cookie nor the
// CSRF token, and none of what it does hold works as a cookie. A copy of the state database
// signs no one in.
func TestStateHoldsNoSessionSecret(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	s := newSiteWith(t, siteOptions{state: state})
	c := s.client()
	_, csrf := s.signIn(c, opToken)
	id := s.sessionID(c)
	if id == "" || csrf == "" || id == csrf {
		t.Fatalf("session id %q, CSRF %q", id, csrf)
	}
	db, err := sql.Open("sqlite", "file:"+state+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id_hash, name, role, binding, created, seen, idle_until, expires FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	var stored [][8]string
	for rows.Next() {
		var r [8]string
		if err := rows.Scan(&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7]); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, r)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0][1] != opName || stored[0][2] != "operator" {
		t.Fatalf("stored sessions = %v, want one of %s as operator", stored, opName)
	}
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(state + "-wal") // the row may still be in the write-ahead log
	for _, secret := range []string{id, csrf, opToken} {
		if strings.Contains(string(raw)+string(wal), secret) {
			t.Errorf("the state file holds %q", secret)
		}
	}
	for _, col := range stored[0] {
		if strings.Contains(col, id) || strings.Contains(col, csrf) {
			t.Errorf("a stored column holds the session id or CSRF token: %q", col)
		}
		if s.signedIn(s.withCookie(col)) {
			t.Errorf("a stored value works as a session cookie: %q", col)
		}
	}
	if !s.signedIn(s.withCookie(id)) {
		t.Fatal("the cookie itself does not work: the test above proves nothing")
	}
}

// A session is tied to the token it signed in with: a bridge whose operator token was
// replaced (same name, new secret), removed, or given another role ends the session, and
// deletes it from the state for every replica.
func TestSessionEndsWithItsToken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tokens []scim.Token
	}{
		{"replaced", []scim.Token{{Name: opName, Secret: opToken + "-renewed", Role: scim.RoleOperator}, {Name: roName, Secret: roToken, Role: scim.RoleReadOnly}}},
		{"removed", []scim.Token{{Name: roName, Secret: roToken, Role: scim.RoleReadOnly}}},
		{"demoted", []scim.Token{{Name: opName, Secret: opToken, Role: scim.RoleReadOnly}}},
		{"made a provisioning token", []scim.Token{{Name: opName, Secret: opToken, Role: scim.RoleProvision}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state.db")
			clk := newClock()
			old := newSiteWith(t, siteOptions{state: state, clock: clk})
			c := old.client()
			_, csrf := old.signIn(c, opToken)
			ro := old.client()
			old.signIn(ro, roToken)

			renewed := newSiteWith(t, siteOptions{state: state, clock: clk, tokens: tt.tokens})
			if renewed.signedIn(c) {
				t.Fatal("a session outlived its token")
			}
			if resp := renewed.post(c, "/ui/pause", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden || paused(renewed) {
				t.Fatalf("pause by a session whose token is gone = %d, paused %v", resp.StatusCode, paused(renewed))
			}
			if old.signedIn(c) {
				t.Fatal("the ended session still works on a replica that has the old token")
			}
			if tt.name != "made a provisioning token" && tt.name != "demoted" && !renewed.signedIn(ro) {
				t.Error("the read-only session, whose token is unchanged, ended too")
			}
		})
	}
}

// Over one PostgreSQL, every replica knows every session: signed in through one, a browser is
// signed in on the others, its activity on one keeps it alive on all, its CSRF token is good
// on each, a read-only session acts on none, and signing out on one signs out on all.
func TestSessionsAcrossReplicas(t *testing.T) {
	state := pgtest.URL(t)
	clk := newClock()
	a := newSiteWith(t, siteOptions{state: state, clock: clk})
	b := newSiteWith(t, siteOptions{state: state, clock: clk})

	op := a.client()
	_, csrf := a.signIn(op, opToken)
	code, page := b.get(op, "/ui/")
	if code != http.StatusOK || !strings.Contains(page, `id="who"`) {
		t.Fatalf("a session created on replica A is unknown to replica B: %d", code)
	}
	if got := csrfOf(t, page); got != csrf {
		t.Errorf("replica B's page carries CSRF token %q, replica A's %q", got, csrf)
	}
	// Active on B every 20 minutes, so alive on A after more than the idle timeout.
	for range 3 {
		clk.add(20 * time.Minute)
		if !b.signedIn(op) {
			t.Fatal("signed out while active")
		}
	}
	if !a.signedIn(op) {
		t.Fatal("activity on replica B did not keep the session alive on replica A")
	}
	if resp := b.post(op, "/ui/pause", url.Values{"csrf": {csrf}, "reason": {"INC-14"}}); resp.StatusCode != http.StatusSeeOther || !paused(b) {
		t.Fatalf("pause on replica B with replica A's CSRF token = %d, paused %v", resp.StatusCode, paused(b))
	}
	if resp := a.post(op, "/ui/resume", url.Values{"csrf": {"not-" + csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resume on replica A with a wrong CSRF token = %d, want 403", resp.StatusCode)
	}

	ro := b.client()
	_, roCSRF := b.signIn(ro, roToken)
	if resp := a.post(ro, "/ui/resume", url.Values{"csrf": {roCSRF}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a read-only session resumed through replica A: %d", resp.StatusCode)
	}
	if !paused(b) {
		t.Fatal("a refused resume resumed")
	}

	stolen := a.sessionID(op)
	if resp := a.post(op, "/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on replica A = %d", resp.StatusCode)
	}
	replay := b.withCookie(stolen)
	if b.signedIn(replay) {
		t.Fatal("signed out on replica A, still signed in on replica B")
	}
	if resp := b.post(replay, "/ui/resume", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden || !paused(b) {
		t.Fatalf("resume on replica B with the signed-out session = %d, paused %v", resp.StatusCode, paused(b))
	}
	if !a.signedIn(ro) {
		t.Error("signing one session out ended another")
	}
}

// When the state cannot be read, the page answers 503 with Retry-After: it neither signs
// anyone in (no session cookie is set) nor treats a signed-in browser as signed in or out.
func TestStateUnavailable(t *testing.T) {
	s := newSite(t, false)
	c := s.client()
	_, csrf := s.signIn(c, opToken)
	fresh := s.client()
	_, form := s.get(fresh, "/ui/")
	if err := s.store.Close(); err != nil {
		t.Fatal(err)
	}

	check := func(what string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q; want 503 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				t.Errorf("%s set a session cookie: %+v", what, ck)
			}
		}
		if strings.Contains(body, `id="who"`) || strings.Contains(body, `id="pause"`) {
			t.Errorf("%s shows the signed-in page", what)
		}
	}
	do := func(c *http.Client, method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = c.Get(s.srv.URL + path)
		} else {
			resp, err = c.PostForm(s.srv.URL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do(c, "GET", "/ui/", nil)
	check("the page", resp, body)
	resp, body = do(c, "GET", "/ui/live", nil)
	check("the live figures", resp, body)
	if !strings.Contains(body, `"error"`) {
		t.Errorf("/ui/live answered %q, want JSON", body)
	}
	resp, body = do(c, "POST", "/ui/pause", url.Values{"csrf": {csrf}})
	check("pause", resp, body)
	resp, body = do(c, "POST", "/ui/logout", url.Values{"csrf": {csrf}})
	check("sign out", resp, body)
	if s.sessionID(c) == "" {
		t.Error("a sign-out that did not happen cleared the cookie")
	}
	resp, body = do(fresh, "POST", loginPath, url.Values{"csrf": {csrfOf(t, form)}, "token": {opToken}})
	check("sign in", resp, body)
	if s.sessionID(fresh) != "" {
		t.Error("a sign-in the state did not record left a session cookie")
	}
}
