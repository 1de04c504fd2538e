package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
	"github.com/scimbridge/scimbridge/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// idp is a simulated IdP in front of several replicas: it sends each request to the next
// replica in turn, and retries a request that got no answer or a 5xx/429 on the next one, as a
// load balancer and the IdP's own retries together do.
type idp struct {
	bases []string
	next  atomic.Int64
	dead  sync.Map // base -> true once it refused a connection
	// retries counts requests sent again after a failure.
	retries atomic.Int64
}

type reply struct {
	status int
	body   map[string]any
}

func (p *idp) send(t *testing.T, method, path, body string) reply {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			p.retries.Add(1)
		}
		base := p.bases[int(p.next.Add(1))%len(p.bases)]
		if _, gone := p.dead.Load(base); gone {
			continue
		}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "connection refused") {
				p.dead.Store(base, true)
			}
		} else {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out map[string]any
			_ = json.Unmarshal(raw, &out)
			if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
				return reply{resp.StatusCode, out}
			}
			if resp.StatusCode == http.StatusInternalServerError {
				t.Errorf("%s %s answered 500: %s", method, path, raw)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: no answer within a minute", method, path)
		}
		time.Sleep(10 * time.Millisecond) // the IdP's back-off
	}
}

// TestReplicasKillDuringLoad runs three real `scimbridge serve` processes over one PostgreSQL
// and one simulated tenant, drives users through them round-robin, and kills -9 one replica in
// the middle. Nothing is lost: every user the IdP was told about exists in Domo exactly once,
// with the last title the IdP set, and has its stored record; no change is left unfinished;
// the other replicas kept serving, and count two replicas once the dead one's heartbeat is
// stale.
func TestReplicasKillDuringLoad(t *testing.T) {
	state := pgtest.URL(t)
	sim := domosim.New(domosim.Options{Seed: 21})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	opts := sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR": "127.0.0.1:0", "SCIMBRIDGE_TOKEN": "okta:" + testToken,
		"SCIMBRIDGE_ADMIN_TOKEN":  "ops:" + testToken + "-ops",
		"SCIMBRIDGE_DOMO_API_URL": srv.URL, "SCIMBRIDGE_DOMO_CLIENT_ID": opts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret,
		"SCIMBRIDGE_STATE":              state, "SCIMBRIDGE_LOG_LEVEL": "error",
	}
	var replicas []*child
	p := &idp{}
	for range 3 {
		c := startChild(t, env)
		replicas = append(replicas, c)
		p.bases = append(p.bases, c.base+"/scim/v2")
	}
	const workers, perWorker, titles = 8, 6, 3
	var done atomic.Int64
	killAt := int64(workers * perWorker * (titles + 1) / 3)
	killed := make(chan struct{})
	go func() {
		for done.Load() < killAt {
			time.Sleep(time.Millisecond) // watching the load's progress
		}
		replicas[1].cmd.Process.Signal(syscall.SIGKILL)
		replicas[1].cmd.Wait()
		close(killed)
	}()

	type user struct{ email, id, title string }
	users := make([][]user, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				u := user{email: fmt.Sprintf("k%d-%d@example.com", w, i)}
				r := p.send(t, "POST", "/Users", `{"userName":"`+u.email+`","name":{"givenName":"K","familyName":"L"},"active":true}`)
				switch r.status {
				case http.StatusCreated:
					u.id, _ = r.body["id"].(string)
				case http.StatusConflict: // created, but the answer was lost with the replica
					f := p.send(t, "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+u.email+`"`), "")
					if res, _ := f.body["Resources"].([]any); len(res) == 1 {
						u.id, _ = res[0].(map[string]any)["id"].(string)
					}
				default:
					t.Errorf("create %s: %d %v", u.email, r.status, r.body)
				}
				done.Add(1)
				if u.id == "" {
					t.Errorf("no id for %s", u.email)
					continue
				}
				for k := range titles {
					title := fmt.Sprintf("title %d", k)
					if r := p.send(t, "PATCH", "/Users/"+u.id, `{"Operations":[{"op":"replace","path":"title","value":"`+title+`"}]}`); r.status != http.StatusOK {
						t.Errorf("patch %s: %d %v", u.email, r.status, r.body)
					}
					u.title = title
					done.Add(1)
				}
				users[w] = append(users[w], u)
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the load finished before the kill")
	}
	t.Logf("%d operations, %d sent again after a failure", done.Load(), p.retries.Load())

	ctx := context.Background()
	st, err := store.Open(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, list := range users {
		for _, u := range list {
			var found []domosim.SimUser
			for _, d := range sim.Users() {
				if strings.EqualFold(d.Email, u.email) {
					found = append(found, d)
				}
			}
			if len(found) != 1 {
				t.Errorf("%s is in Domo %d times", u.email, len(found))
				continue
			}
			if found[0].Title != u.title || fmt.Sprint(found[0].ID) != u.id {
				t.Errorf("%s in Domo: id %d, title %q; the IdP was told %s, %q", u.email, found[0].ID, found[0].Title, u.id, u.title)
			}
			if _, ok, err := st.UserShadow(ctx, found[0].ID); err != nil || !ok {
				t.Errorf("%s has no stored record (%v)", u.email, err)
			}
		}
	}
	if in, err := st.Intents(ctx); err != nil || len(in) != 0 {
		t.Errorf("unfinished changes left: %v (%v)", in, err)
	}
	// The survivors count two replicas once the dead one's heartbeat is stale, in /readyz and
	// in their metrics. (The Domo budget needs no count: they take every request's send time
	// from one sequence in the database, TestReplicasShareTheDomoBudget.)
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range []*child{replicas[0], replicas[2]} {
		for {
			resp, err := http.Get(c.base + "/readyz")
			var ready struct {
				State struct{ Replicas int } `json:"state"`
			}
			if err == nil {
				json.NewDecoder(resp.Body).Decode(&ready)
				resp.Body.Close()
			}
			if ready.State.Replicas == 2 {
				resp, err := http.Get(c.base + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(raw), "\nscimbridge_replicas 2\n") {
					t.Errorf("%s /metrics lacks scimbridge_replicas 2", c.base)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still counts %d replicas", c.base, ready.State.Replicas)
			}
			time.Sleep(50 * time.Millisecond) // polls /readyz
		}
	}
}

// While PostgreSQL restarts, the replicas answer writes with 503 and Retry-After (never 500),
// /readyz says the state is unreachable, reads the index can answer still work, and once it is
// back they recover by themselves.
func TestReplicasPostgresRestart(t *testing.T) {
	pgtest.Server(t) // skips or fails loudly without PostgreSQL
	ctx := context.Background()
	srv, err := pglocal.Start(ctx, pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	state, err := srv.CreateDatabase(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	sim := domosim.New(domosim.Options{Seed: 4})
	env := map[string]string{"SCIMBRIDGE_STATE": state, "SCIMBRIDGE_LOG_LEVEL": "error", "SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken}
	a := launchBridge(t, sim, bridgeOptions{env: env})
	b := launchBridge(t, sim, bridgeOptions{env: env})
	u := a.expect("POST", "/scim/v2/Users", `{"userName":"before@example.com","active":true}`, http.StatusCreated)
	g := a.expect("POST", "/scim/v2/Groups", `{"displayName":"Before"}`, http.StatusCreated)
	uid, gid := u["id"].(string), g["id"].(string)
	// An operator signed in to the status page, another about to.
	op := newUIBrowser(t)
	csrf := op.signIn(a.base, adminToken)
	late := newUIBrowser(t)
	_, form := late.do(b.base, "/ui/", nil)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Nothing reaches Domo while the replicas cannot take send times from the shared budget.
	domoBefore := sim.Stats().Requests
	// Every kind of request that needs the state: 503 with Retry-After, on both replicas.
	for _, br := range []*bridgeUnderTest{a, b} {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/Users/" + uid, ""},
			{"PATCH", "/scim/v2/Users/" + uid, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`},
			{"PUT", "/scim/v2/Users/" + uid, `{"userName":"before@example.com","active":true}`},
			{"DELETE", "/scim/v2/Users/" + uid, ""},
			{"GET", "/scim/v2/Groups/" + gid, ""},
			{"PATCH", "/scim/v2/Groups/" + gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + uid + `"}]}]}`},
			{"POST", "/scim/v2/Groups", `{"displayName":"During"}`},
			{"DELETE", "/scim/v2/Groups/" + gid, ""},
		} {
			var body any
			if r.body != "" {
				body = r.body
			}
			status, out, h := br.do(r.method, r.path, body)
			if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
				t.Errorf("%s %s while PostgreSQL is down: %d %v (Retry-After %q)", r.method, r.path, status, out, h.Get("Retry-After"))
			}
		}
	}
	for i, br := range []*bridgeUnderTest{a, b, a, b} {
		status, body, h := br.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"userName":"during%d@example.com","active":true}`, i))
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("a write while PostgreSQL is down: %d %v (Retry-After %q)", status, body, h.Get("Retry-After"))
		}
		if strings.Contains(fmt.Sprint(body), "127.0.0.1") || strings.Contains(fmt.Sprint(body), "SQLSTATE") {
			t.Errorf("the error tells the IdP internals: %v", body)
		}
		if status, _, _ := br.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "before@example.com"`), nil); status != http.StatusOK {
			t.Errorf("a filter (answered by the index) while PostgreSQL is down: %d", status)
		}
	}
	for _, br := range []*bridgeUnderTest{a, b} {
		waitReadyz(t, br, http.StatusServiceUnavailable, "unreachable")
	}
	// The status page cannot check or create sessions: 503 with Retry-After, never a page
	// signed in or a session cookie, and the signed-in operator is not signed out either.
	for _, br := range []*bridgeUnderTest{a, b} {
		for _, r := range []struct {
			who  *uiBrowser
			path string
			form url.Values
		}{
			{op, "/ui/", nil},
			{op, "/ui/live", nil},
			{op, "/ui/pause", url.Values{"csrf": {csrf}}},
			{op, "/ui/logout", url.Values{"csrf": {csrf}}},
			{late, "/ui/login", url.Values{"csrf": {csrfIn(t, form)}, "token": {adminToken}}},
		} {
			resp, body := r.who.do(br.base, r.path, r.form)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || strings.Contains(body, `id="who"`) {
				t.Errorf("%s on the status page while PostgreSQL is down: %d (Retry-After %q)", r.path, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
	}
	if late.session(b.base) != "" {
		t.Error("a sign-in while PostgreSQL was down set a session cookie")
	}
	if n := sim.Stats().Requests - domoBefore; n != 0 {
		t.Errorf("%d requests reached Domo while PostgreSQL was down, without a send time from the shared budget", n)
	}

	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, br := range []*bridgeUnderTest{a, b} {
		waitReadyz(t, br, http.StatusOK, "ok")
	}
	if in, got := op.page(b.base); !in || got != csrf {
		t.Error("the operator's session did not survive PostgreSQL's restart")
	}
	a.expect("POST", "/scim/v2/Users", `{"userName":"after@example.com","active":true}`, http.StatusCreated)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body, _ := b.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "after@example.com"`), nil)
		if n, _ := body["totalResults"].(float64); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other replica does not see a user created after the restart")
		}
		time.Sleep(10 * time.Millisecond) // polls the filter
	}
}

// waitReadyz polls /readyz until it answers status with the state reported as want.
func waitReadyz(t *testing.T, br *bridgeUnderTest, status int, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(br.base + "/readyz")
		if err == nil {
			var body struct {
				State struct{ State string } `json:"state"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body.State.State)
			if resp.StatusCode == status && body.State.State == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polls /readyz
	}
	t.Fatalf("/readyz never answered %d with state %q; last %s", status, want, last)
}
