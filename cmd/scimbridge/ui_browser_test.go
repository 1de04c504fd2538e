package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

const readonlyToken = "readonly-token-0123456789abcdef"

// chromium finds Debian's chromium (or SCIMBRIDGE_CHROMIUM). Without one the browser tests say
// SKIPPED loudly, and fail instead when SCIMBRIDGE_REQUIRE_BROWSER=1 (CI sets it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SCIMBRIDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SCIMBRIDGE_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium found and SCIMBRIDGE_REQUIRE_BROWSER=1: install it (apt-get install -y chromium)")
	}
	msg := "SKIPPED: " + t.Name() + ": no chromium on this machine; the status page was NOT tested in a browser (apt-get install -y chromium; CI sets SCIMBRIDGE_REQUIRE_BROWSER=1)"
	fmt.Fprintln(os.Stderr, "\n"+strings.Repeat("!", 100)+"\n"+msg+"\n"+strings.Repeat("!", 100))
	t.Skip(msg)
	return ""
}

// browser starts a headless chromium with the flags that work on this machine and a fresh
// profile, and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// css selects by CSS selector.
type css = chromedp.CSS

func must(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("%s: %v\npage: %.2000s", what, err, html)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("%s: %v\npage: %.2000s", what, err, html)
	}
	return v
}

// signIn signs in through the form and waits for the status page.
func signIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	must(t, ctx, "sign in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), token),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css("#who")),
	)
}

// pageFigures is what the status page shows, read from its DOM.
type pageFigures struct {
	IndexUsers   string            `json:"indexUsers"`
	IndexGroups  string            `json:"indexGroups"`
	Paused       string            `json:"paused"`
	Breaker      string            `json:"breaker"`
	DomoRequests string            `json:"domoRequests"`
	Throttled    string            `json:"throttled"`
	IdPRequests  string            `json:"idpRequests"`
	ByStatus     map[string]string `json:"byStatus"`
	Quirks       map[string]string `json:"quirks"`
	Drift        map[string]string `json:"drift"`
	HasPause     bool              `json:"hasPause"`
	HasResume    bool              `json:"hasResume"`
	HasReset     bool              `json:"hasReset"`
	Role         string            `json:"role"`
	AuditRows    int               `json:"auditRows"`
	HTML         string            `json:"html"`
}

const readFiguresJS = `(() => {
  const t = id => { const e = document.getElementById(id); return e ? e.textContent.trim() : ""; };
  const d = id => { const e = document.getElementById(id); return e ? e.dataset.value : ""; };
  const m = sel => { const o = {}; document.querySelectorAll(sel).forEach(e => { o[e.dataset.status || e.dataset.kind] = e.textContent.trim(); }); return o; };
  return {
    indexUsers: t("index-users"), indexGroups: t("index-groups"), paused: d("paused-state"), breaker: d("breaker-state"),
    domoRequests: t("domo-requests"), throttled: t("domo-throttled"), idpRequests: t("idp-requests"),
    byStatus: m("#idp-by-status td[data-status]"), quirks: m("#idp-quirks td[data-kind]"), drift: m("#drift-counts td[data-kind]"),
    hasPause: !!document.getElementById("pause"), hasResume: !!document.getElementById("resume"), hasReset: !!document.getElementById("breaker-reset"),
    role: t("role"), auditRows: document.querySelectorAll("#audit-events tbody tr[data-resource-id]").length,
    html: document.documentElement.outerHTML,
  };
})()`

func readPage(t *testing.T, ctx context.Context) pageFigures {
	t.Helper()
	return get(t, ctx, "read the page", chromedp.Evaluate[pageFigures](readFiguresJS))
}

// scrape reads /metrics into a map from the series (name and labels, as printed) to its value.
// Label values may hold braces (routes such as /Users/{id}), so a line splits at its last space.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// sumSeries adds the series of a family whose labels match all of want (label="value" or
// label=~"prefix").
func sumSeries(ms map[string]float64, name string, keep func(labels string) bool) float64 {
	var t float64
	for k, v := range ms {
		n, labels, _ := strings.Cut(k, "{")
		if n == name && (keep == nil || keep(labels)) {
			t += v
		}
	}
	return t
}

func labelOf(labels, name string) string {
	re := regexp.MustCompile(name + `="([^"]*)"`)
	if m := re.FindStringSubmatch(labels); m != nil {
		return m[1]
	}
	return ""
}

func atoi(t *testing.T, what, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s on the page is %q, not a number", what, s)
	}
	return v
}

// adminStatus reads /admin/v1/status with the operator token.
func adminStatusOf(t *testing.T, b *bridgeUnderTest) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", b.base+"/admin/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	var st map[string]any
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := decodeJSON(resp.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStatusPageInBrowser signs in to /ui/ in headless chromium as an operator, checks that the
// page's numbers are /metrics's, pauses and resumes with the buttons, then checks that a
// read-only session sees everything and can act on nothing, and that posts without the CSRF
// token, or from another site, are refused.
func TestStatusPageInBrowser(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 21})
	sim.SeedUsers(4)
	b := startBridge(t, sim, map[string]string{
		"SCIMBRIDGE_ADMIN_TOKEN":    "oncall:" + adminToken,
		"SCIMBRIDGE_READONLY_TOKEN": "auditor:" + readonlyToken,
	})
	// Some IdP traffic: a create, a quirk (Okta's "True" for a boolean), a 404.
	created := b.expect("POST", "/scim/v2/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ada@example.com",
		"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"}, "active": "True",
	}, http.StatusCreated)
	b.expect("GET", "/scim/v2/Users/999999999", nil, http.StatusNotFound)
	uid := created["id"].(string)

	ctx := browser(t)
	signIn(t, ctx, b.base, adminToken)
	page := readPage(t, ctx)
	if out := os.Getenv("SCIMBRIDGE_UI_SCREENSHOT"); out != "" { // to look at the page
		png := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if page.Role != "operator" || !page.HasPause || page.HasResume || !page.HasReset {
		t.Fatalf("operator page: role %q, pause %v, resume %v, reset %v", page.Role, page.HasPause, page.HasResume, page.HasReset)
	}

	// The page's numbers are the ones /metrics serves.
	ms := scrape(t, b.base)
	scimRoute := func(l string) bool { return strings.HasPrefix(labelOf(l, "route"), "/scim/v2") }
	checks := []struct {
		what, onPage string
		want         float64
	}{
		{"index users", page.IndexUsers, ms["scimbridge_index_users"]},
		{"index groups", page.IndexGroups, ms["scimbridge_index_groups"]},
		{"paused", page.Paused, ms["scimbridge_paused"]},
		{"breaker open", page.Breaker, ms["scimbridge_deprovision_breaker_open"]},
		{"Domo requests", page.DomoRequests, sumSeries(ms, "scimbridge_domo_requests_total", nil)},
		{"Domo 429s", page.Throttled, ms["scimbridge_domo_throttled_total"]},
		{"IdP requests", page.IdPRequests, sumSeries(ms, "scimbridge_scim_requests_total", scimRoute)},
	}
	for _, c := range checks {
		if got := atoi(t, c.what, c.onPage); got != c.want {
			t.Errorf("%s: the page shows %v, /metrics %v", c.what, got, c.want)
		}
	}
	if page.IndexUsers != "5" {
		t.Errorf("index users on the page = %s, want the 4 seeded and ada", page.IndexUsers)
	}
	for _, status := range []string{"201", "404"} {
		want := sumSeries(ms, "scimbridge_scim_requests_total", func(l string) bool { return scimRoute(l) && labelOf(l, "status") == status })
		if want == 0 || atoi(t, "IdP "+status, page.ByStatus[status]) != want {
			t.Errorf("IdP requests %s: the page shows %q, /metrics %v", status, page.ByStatus[status], want)
		}
	}
	if q := ms[`scimbridge_idp_quirks_total{kind="string-bool"}`]; q != 1 || page.Quirks["string-bool"] != "1" {
		t.Errorf("quirk string-bool: page %q, /metrics %v, want 1", page.Quirks["string-bool"], q)
	}
	for kind, v := range page.Drift {
		if want := ms[`scimbridge_drift_resources{kind="`+kind+`"}`]; atoi(t, "drift "+kind, v) != want {
			t.Errorf("drift %s: page %s, /metrics %v", kind, v, want)
		}
	}
	if len(page.Drift) != 5 {
		t.Errorf("drift kinds on the page = %v, want all five", page.Drift)
	}
	if page.AuditRows == 0 {
		t.Error("the audit table is empty after a create")
	}
	for _, secret := range []string{adminToken, readonlyToken, testToken, sim.Options().ClientSecret} {
		if strings.Contains(page.HTML, secret) {
			t.Errorf("the page holds a secret: %q", secret)
		}
	}

	// The session cookie: HttpOnly, SameSite=Strict, with an expiry; not Secure over plain HTTP.
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == "scimbridge_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Session || session.Expires <= float64(time.Now().Unix()) || session.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, expiring, not Secure over http", session)
	}

	// Audit search by user.
	must(t, ctx, "search the audit log",
		chromedp.SetValue(css("#user"), uid),
		chromedp.Click(css("#search")),
		// #audit-events is on the page before the search too; #audit-all only on its answer.
		chromedp.WaitVisible(css("#audit-all")),
	)
	ids := get(t, ctx, "read the audit rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#audit-events tbody tr[data-resource-id]")).map(r => r.dataset.resourceId)`))
	if len(ids) == 0 {
		t.Fatalf("no audit events for user %s", uid)
	}
	for _, id := range ids {
		if id != uid {
			t.Errorf("search for user %s shows an event of %s", uid, id)
		}
	}

	// Pause and resume with the buttons.
	must(t, ctx, "pause",
		chromedp.Navigate(b.base+"/ui/"),
		chromedp.WaitVisible(css("#pause")),
		chromedp.SendKeys(css("#reason"), "INC-7 browser test"),
		chromedp.Click(css("#pause")),
		chromedp.WaitVisible(css("#resume")),
	)
	if st := adminStatusOf(t, b); st["paused"] != true || st["pauseReason"] != "INC-7 browser test" {
		t.Fatalf("after the pause button: status %v", st)
	}
	if page := readPage(t, ctx); page.Paused != "1" || scrape(t, b.base)["scimbridge_paused"] != 1 {
		t.Errorf("after pausing: page paused=%s", page.Paused)
	}
	b.expect("PATCH", "/scim/v2/Users/"+uid, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "x"}}}, http.StatusServiceUnavailable)
	must(t, ctx, "resume",
		chromedp.Click(css("#resume")),
		chromedp.WaitVisible(css("#pause")),
	)
	if st := adminStatusOf(t, b); st["paused"] != false {
		t.Fatalf("after the resume button: status %v", st)
	}

	// A post with the session cookie but without the CSRF token is refused.
	form := url.Values{"reason": {"no csrf"}}
	req, _ := http.NewRequest("POST", b.base+"/ui/pause", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /ui/pause without the CSRF token = %d, want 403", resp.StatusCode)
	}

	// A form on another site that posts to the bridge while the operator is signed in.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><body><form id="f" method="post" action="%s/ui/pause"><input name="reason" value="evil"></form>
<script>document.getElementById("f").submit()</script></body></html>`, b.base)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site than 127.0.0.1
	must(t, ctx, "cross-site post",
		chromedp.Navigate(evilURL),
		chromedp.WaitVisible(css("#error")),
	)
	body := get(t, ctx, "read the answer", chromedp.Text(css("#error")))
	if !strings.Contains(body, "Refused") && !strings.Contains(body, "Sign in") {
		t.Errorf("the cross-site post was answered %q", body)
	}
	if st := adminStatusOf(t, b); st["paused"] != false {
		t.Fatalf("a cross-site post paused the bridge: %v", st)
	}

	// Sign out, then in as read-only: everything shown, nothing offered, and a forged post with
	// the read-only session's own CSRF token is refused.
	must(t, ctx, "sign out",
		chromedp.Navigate(b.base+"/ui/"),
		chromedp.WaitVisible(css("#signout")),
		chromedp.Click(css("#signout")),
		chromedp.WaitVisible(css("#token")),
	)
	signIn(t, ctx, b.base, readonlyToken)
	ro := readPage(t, ctx)
	if ro.Role != "read-only" || ro.HasPause || ro.HasResume || ro.HasReset {
		t.Fatalf("read-only page: role %q, pause %v, resume %v, reset %v", ro.Role, ro.HasPause, ro.HasResume, ro.HasReset)
	}
	if ro.IndexUsers != page.IndexUsers || ro.AuditRows == 0 || len(ro.Drift) != 5 {
		t.Errorf("read-only page shows less: users %s, audit rows %d, drift %v", ro.IndexUsers, ro.AuditRows, ro.Drift)
	}
	must(t, ctx, "read-only forged pause",
		chromedp.Evaluate[chromedp.Void](`(() => {
  const f = document.createElement("form"); f.method = "post"; f.action = "/ui/pause";
  const c = document.createElement("input"); c.name = "csrf"; c.value = document.querySelector("input[name=csrf]").value; f.appendChild(c);
  document.body.appendChild(f); f.submit(); return null; })()`),
		chromedp.WaitVisible(css("#error")),
	)
	refused := get(t, ctx, "read the answer", chromedp.Text(css("#error")))
	if !strings.Contains(refused, "read-only") {
		t.Errorf("a read-only pause was answered %q", refused)
	}
	if st := adminStatusOf(t, b); st["paused"] != false {
		t.Fatalf("a read-only session paused the bridge: %v", st)
	}
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
