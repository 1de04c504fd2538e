package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// uiBrowser signs in to the status page over HTTP, without a browser's script. It keeps its
// cookies for 127.0.0.1 whatever the port, so, like a browser behind a load balancer, it sends
// them to every replica; it does not follow redirects, so the test sees each answer.
type uiBrowser struct {
	t *testing.T
	c *http.Client
}

func newUIBrowser(t *testing.T) *uiBrowser {
	jar, _ := cookiejar.New(nil)
	return &uiBrowser{t: t, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a GET (form nil) or a form POST to base+path and returns the answer and its body.
func (u *uiBrowser) do(base, path string, form url.Values) (*http.Response, string) {
	u.t.Helper()
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = u.c.Get(base + path)
	} else {
		resp, err = u.c.PostForm(base+path, form)
	}
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfInPage = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfIn(t *testing.T, page string) string {
	t.Helper()
	m := csrfInPage.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%.1500s", page)
	}
	return m[1]
}

// signIn signs in through base's form and returns the CSRF token of the status page.
func (u *uiBrowser) signIn(base, token string) string {
	u.t.Helper()
	_, form := u.do(base, "/ui/", nil)
	if resp, body := u.do(base, "/ui/login", url.Values{"csrf": {csrfIn(u.t, form)}, "token": {token}}); resp.StatusCode != http.StatusSeeOther {
		u.t.Fatalf("sign in on %s = %d\n%.1000s", base, resp.StatusCode, body)
	}
	_, page := u.do(base, "/ui/", nil)
	return csrfIn(u.t, page)
}

// page returns base's status page; signedIn is false when it is the sign-in form.
func (u *uiBrowser) page(base string) (signedIn bool, csrf string) {
	u.t.Helper()
	resp, page := u.do(base, "/ui/", nil)
	if resp.StatusCode != http.StatusOK {
		u.t.Fatalf("GET %s/ui/ = %d", base, resp.StatusCode)
	}
	if !strings.Contains(page, `id="who"`) {
		return false, ""
	}
	return true, csrfIn(u.t, page)
}

// session is the session cookie's value, "" when there is none.
func (u *uiBrowser) session(base string) string {
	pu, _ := url.Parse(base + "/ui/")
	for _, c := range u.c.Jar.Cookies(pu) {
		if c.Name == "scimbridge_session" {
			return c.Value
		}
	}
	return ""
}

// TestStatusPageSessionSurvivesRestart: an operator signed in to the status page of a bridge
// on SQLite is still signed in after the bridge stops and starts again on the same file, and
// the CSRF token of the page served before the restart still acts.
func TestStatusPageSessionSurvivesRestart(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 5})
	env := map[string]string{
		"SCIMBRIDGE_STATE":       filepath.Join(t.TempDir(), "state.db"),
		"SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken,
	}
	before := launchBridge(t, sim, bridgeOptions{env: env})
	op := newUIBrowser(t)
	csrf := op.signIn(before.base, adminToken)
	if err := before.stop(); err != nil {
		t.Fatal(err)
	}

	after := launchBridge(t, sim, bridgeOptions{env: env})
	in, got := op.page(after.base)
	if !in || got != csrf {
		t.Fatalf("after a restart: signed in %v, CSRF token %q (was %q)", in, got, csrf)
	}
	if resp, _ := op.do(after.base, "/ui/pause", url.Values{"csrf": {csrf}, "reason": {"after restart"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause after a restart = %d", resp.StatusCode)
	}
	if st := adminStatusOf(t, after); st["paused"] != true || st["pauseReason"] != "after restart" {
		t.Fatalf("after the pause: %v", st)
	}
}

// TestStatusPageAcrossReplicas: two `scimbridge serve` over one real PostgreSQL, a browser
// sent to either. Signed in on one, it is signed in on the other, whose page carries the same
// CSRF token and acts with it; a read-only session acts on neither; signing out on one signs
// out on both.
func TestStatusPageAcrossReplicas(t *testing.T) {
	state := pgtest.URL(t)
	sim := domosim.New(domosim.Options{Seed: 6})
	env := map[string]string{
		"SCIMBRIDGE_STATE":          state,
		"SCIMBRIDGE_ADMIN_TOKEN":    "oncall:" + adminToken,
		"SCIMBRIDGE_READONLY_TOKEN": "auditor:" + readonlyToken,
		"SCIMBRIDGE_LOG_LEVEL":      "error",
	}
	a := launchBridge(t, sim, bridgeOptions{env: env})
	b := launchBridge(t, sim, bridgeOptions{env: env})

	op := newUIBrowser(t)
	csrf := op.signIn(a.base, adminToken)
	in, got := op.page(b.base)
	if !in {
		t.Fatal("signed in on replica A, not on replica B")
	}
	if got != csrf {
		t.Errorf("replica B's page carries CSRF token %q, replica A's %q", got, csrf)
	}
	if resp, _ := op.do(b.base, "/ui/pause", url.Values{"csrf": {csrf}, "reason": {"INC-14"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause on replica B with replica A's CSRF token = %d", resp.StatusCode)
	}
	// The pause is shared: replica A reports it within a second.
	deadline := time.Now().Add(time.Second)
	for adminStatusOf(t, a)["paused"] != true {
		if time.Now().After(deadline) {
			t.Fatal("replica A does not report the pause made on replica B")
		}
		time.Sleep(10 * time.Millisecond) // polls the status
	}

	ro := newUIBrowser(t)
	roCSRF := ro.signIn(b.base, readonlyToken)
	if resp, _ := ro.do(a.base, "/ui/resume", url.Values{"csrf": {roCSRF}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a read-only session signed in on replica B resumed on replica A: %d", resp.StatusCode)
	}

	stolen := op.session(a.base)
	if resp, _ := op.do(b.base, "/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on replica B = %d", resp.StatusCode)
	}
	replay := newUIBrowser(t)
	pu, _ := url.Parse(a.base + "/ui/")
	replay.c.Jar.SetCookies(pu, []*http.Cookie{{Name: "scimbridge_session", Value: stolen, Path: "/ui/"}})
	if in, _ := replay.page(a.base); in {
		t.Fatal("signed out on replica B, the old cookie still signs in on replica A")
	}
	if resp, _ := replay.do(a.base, "/ui/resume", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resume on replica A with the signed-out session = %d", resp.StatusCode)
	}
	if st := adminStatusOf(t, a); st["paused"] != true {
		t.Fatalf("a refused resume resumed: %v", st)
	}
	if in, _ := ro.page(a.base); !in {
		t.Error("signing one session out ended another")
	}
}
