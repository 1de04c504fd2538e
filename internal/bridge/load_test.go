package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// gate stands between the bridge and the simulator. While closed, the requests it holds wait
// (each one announced on held) until it opens: a Domo that is slow, or not answering at all.
type gate struct {
	next   http.Handler
	mu     sync.Mutex
	hold   func(*http.Request) bool // nil: hold nothing
	open   chan struct{}
	held   chan string
	served func(*http.Request)     // called after each request is answered
	refuse func(*http.Request) int // a status to answer instead of Domo, or 0
}

func newGate(next http.Handler) *gate {
	return &gate{next: next, held: make(chan string, 64)}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	hold, open, served, refuse := g.hold, g.open, g.served, g.refuse
	g.mu.Unlock()
	if refuse != nil {
		if status := refuse(r); status != 0 {
			http.Error(w, `{"status":`+strconv.Itoa(status)+`}`, status)
			return
		}
	}
	if hold != nil && hold(r) {
		g.held <- r.Method + " " + r.URL.Path
		<-open
	}
	g.next.ServeHTTP(w, r)
	if served != nil {
		served(r)
	}
}

// close starts holding the requests hold selects.
func (g *gate) close(hold func(*http.Request) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.open = hold, make(chan struct{})
}

// release lets the held requests through and holds no more.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != nil {
		close(g.open)
	}
	g.hold, g.open = nil, nil
}

func (g *gate) waitHeld(t *testing.T) string {
	t.Helper()
	select {
	case r := <-g.held:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the gate")
		return ""
	}
}

// gatedClient is a Domo client that reaches sim through g, one listing page at a time: the
// client's speculative pages could otherwise reach the gate after their listing ended.
func gatedClient(t *testing.T, sim *domosim.Sim, g *gate) *domo.Client {
	t.Helper()
	return simClient(t, sim, g, 1)
}

// simClient is a Domo client that reaches sim through h, with pages user-listing pages in
// flight at once (0: the default).
func simClient(t *testing.T, sim *domosim.Sim, h http.Handler, pages int) *domo.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	if g, ok := h.(*gate); ok {
		t.Cleanup(g.release) // before the server closes: it waits for held requests
	}
	opts := sim.Options()
	c, err := domo.New(domo.Config{BaseURL: ts.URL, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret,
		RatePerMinute: 600000, PageConcurrency: pages, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitIndex waits until the index satisfies cond, woken by each load that ends.
func waitIndex(t *testing.T, ix *index.Index, cond func(index.Stats) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		changed := ix.Changed()
		if cond(ix.Stats()) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("index never reached the state; last: %+v", ix.Stats())
		}
	}
}

func listedIDs(t *testing.T, tb *testBridge, filter string) []string {
	t.Helper()
	q := scim.Query{StartIndex: 1, Count: 500}
	if filter != "" {
		f, err := scim.ParseFilter(filter, scim.UserType)
		if err != nil {
			t.Fatal(err)
		}
		q.Filter = f
	}
	page, err := tb.users.List(tb.ctx(), q)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Resources {
		ids = append(ids, r["id"].(string))
	}
	return ids
}

// A change made in Domo's UI, behind the bridge's back, shows up after the next refresh.
func TestRefreshSeesChangesMadeInDomo(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 21})
	ids := sim.SeedUsers(30)
	tb := newTestBridge(t, sim, func(c *Config) { c.RefreshInterval = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tb.b.Run(ctx)

	edited, gone := ids[3], ids[4]
	if err := sim.EditUser(edited, func(u *domosim.SimUser) { u.Title = "Chief Refresher" }); err != nil {
		t.Fatal(err)
	}
	if err := sim.DeleteUserDirect(gone); err != nil {
		t.Fatal(err)
	}
	added := sim.AddUser(domosim.SimUser{Name: "New Hire", Email: "new.hire@acmecompany.example", Title: "Intern"})
	seen := func() bool {
		return strings.Join(listedIDs(t, tb, `title eq "chief refresher"`), ",") == strconv.FormatInt(edited, 10) &&
			len(listedIDs(t, tb, `id eq "`+strconv.FormatInt(gone, 10)+`"`)) == 0 &&
			len(listedIDs(t, tb, `userName eq "NEW.HIRE@acmecompany.example"`)) == 1
	}
	if seen() {
		t.Fatal("the index knew of the changes before any refresh")
	}
	waitIndex(t, tb.index, func(index.Stats) bool { return seen() })
	if u, ok := tb.index.User(added); !ok || u.DisplayName != "New Hire" {
		t.Fatalf("added user: %+v", u)
	}
}

// A load reads Domo for minutes at 100,000 users. Writes the bridge makes meanwhile must
// survive it, though the load read those users before the writes.
func TestWritesDuringALoadSurvive(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 22})
	sim.SeedUsers(5)
	g := newGate(sim)
	tb := newTestBridge(t, sim, func(c *Config) { c.Domo = gatedClient(t, sim, g) })
	patched := tb.createUser(adaAttrs())
	deleted := tb.createUser(scim.Attributes{"userName": "gone@example.com", "name": map[string]any{"givenName": "Gone", "familyName": "Soon"}})

	// The load lists the users (before the writes below), then waits for the group listing.
	g.close(func(r *http.Request) bool { return r.Method == "GET" && r.URL.Path == "/v1/groups" })
	usersListed := make(chan struct{}, 1)
	g.mu.Lock()
	g.served = func(r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/v1/users" {
			select {
			case usersListed <- struct{}{}:
			default:
			}
		}
	}
	g.mu.Unlock()
	loaded := make(chan error, 1)
	go func() { loaded <- tb.b.Load(context.Background()) }()
	g.waitHeld(t)
	select {
	case <-usersListed:
	case <-time.After(10 * time.Second):
		t.Fatal("the load did not list the users")
	}

	if _, err := tb.patch(tb.users, scim.UserType, patched, `{"Operations":[{"op":"replace","path":"title","value":"Written during the load"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := tb.users.Delete(tb.ctx(), deleted); err != nil {
		t.Fatal(err)
	}
	created := tb.createUser(scim.Attributes{"userName": "late@example.com", "name": map[string]any{"givenName": "Late", "familyName": "Comer"}})
	g.release()
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}

	if got := listedIDs(t, tb, `title eq "Written during the load"`); strings.Join(got, ",") != patched {
		t.Errorf("the PATCH made during the load was lost: %v", got)
	}
	if got := listedIDs(t, tb, `id eq "`+deleted+`"`); len(got) != 0 {
		t.Errorf("the user deleted during the load is back: %v", got)
	}
	if got := listedIDs(t, tb, `userName eq "late@example.com"`); strings.Join(got, ",") != created {
		t.Errorf("the user created during the load is missing: %v", got)
	}

	// The next load read Domo after those writes, and agrees.
	if err := tb.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := listedIDs(t, tb, `title eq "Written during the load" or userName eq "late@example.com"`); len(got) != 2 {
		t.Errorf("after the next load: %v", got)
	}
}

// What a load costs in Domo calls: one per 500 users, one for the group list, one per 500
// members of each group (memberCount from the list spares the empty page after an exact
// multiple of 500, and the call for an empty group), and nothing for the hidden Default group,
// which every user is in.
func TestLoadCalls(t *testing.T) {
	for _, show := range []bool{false, true} {
		sim := domosim.New(domosim.Options{Seed: 23})
		ids := sim.SeedUsers(1200) // 1,201 users with the owner: pages of 500, 500 and 201
		big, empty := sim.AddGroup("Big"), sim.AddGroup("Empty")
		for _, id := range ids[:1000] {
			if err := sim.AddMemberDirect(big, id); err != nil {
				t.Fatal(err)
			}
		}
		_ = empty
		// One page at a time: the client's speculative pages could reach the simulator late
		// and be counted here.
		tb := newTestBridge(t, sim, func(c *Config) { c.ShowDefaultGroup, c.Domo = show, simClient(t, sim, sim, 1) })
		sim.ResetStats()
		if err := tb.b.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		st := sim.Stats()
		members := 2 // Big: 500 + 500, and no empty page; Empty: nothing
		if show {
			members += 3 // Default: 1,201 members
		}
		want := map[string]int64{"GET /v1/users": 3, "GET /v1/groups": 1, "GET /v1/groups/{id}/users": int64(members)}
		for route, n := range want {
			if st.ByRoute[route] != n {
				t.Errorf("show default %v: %d calls to %s, want %d", show, st.ByRoute[route], route, n)
			}
		}
		if total := int64(3 + 1 + members); st.Requests != total {
			t.Errorf("show default %v: %d calls in all, want %d: %v", show, st.Requests, total, st.ByRoute)
		}
		if g, ok := tb.index.Group(big); !ok || len(g.MemberIDs) != 1000 {
			t.Fatalf("Big group: %+v", g)
		}
	}
}

// A restart serves the stored snapshot at once, even while Domo does not answer, and then
// replaces it with a load.
func TestRestartServesTheSnapshotAtOnce(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 24})
	sim.SeedUsers(700)
	first := newTestBridge(t, sim, nil)
	ada := first.createUser(adaAttrs())
	if err := first.b.Load(context.Background()); err != nil { // stores the snapshot with Ada
		t.Fatal(err)
	}
	want := first.index.UserCount()

	// The second process: same state, Domo silent.
	g := newGate(sim)
	g.close(func(*http.Request) bool { return true })
	cfg := first.b.cfg
	cfg.Domo, cfg.Index = gatedClient(t, sim, g), index.New()
	cfg.SnapshotMaxAge = time.Hour // the snapshot is seconds old: within the bound
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second := &testBridge{t: t, sim: sim, b: b, users: b.Users(), groups: b.Groups(), store: first.store, index: cfg.Index}
	started := make(chan error, 1)
	go func() { started <- b.Start(context.Background()) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start waited for Domo although a snapshot was stored")
	}
	ready, details := second.b.Ready(context.Background())
	idx := details["index"].(map[string]any)
	if !ready || idx["source"] != "snapshot" || idx["users"] != want || idx["loading"] != true {
		t.Fatalf("readiness while Domo is silent: %v %v", ready, details)
	}
	if got := listedIDs(t, second, `userName eq "ada@example.com"`); strings.Join(got, ",") != ada {
		t.Fatalf("snapshot does not answer: %v", got)
	}
	owner := strconv.FormatInt(sim.OwnerID(), 10)
	if _, err := second.users.Get(second.ctx(), owner, scim.ReadOptions{}); scimStatus(err) != http.StatusNotFound {
		t.Fatalf("the owner is not protected before the first token: %v", err)
	}

	// Domo answers: the load replaces the snapshot.
	sim.AddUser(domosim.SimUser{Name: "After Restart", Email: "after@acmecompany.example"})
	g.release()
	waitIndex(t, second.index, func(st index.Stats) bool { return !st.FromSnapshot && !st.Loading })
	if _, details := second.b.Ready(context.Background()); details["index"].(map[string]any)["source"] != "domo" {
		t.Fatalf("after the load: %v", details)
	}
	if got := listedIDs(t, second, `userName eq "after@acmecompany.example"`); len(got) != 1 {
		t.Fatal("the load after the restart did not replace the snapshot")
	}
}

// A snapshot this version cannot read is ignored: Start loads from Domo before returning.
func TestUnreadableSnapshotLoadsFromDomo(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 25})
	sim.SeedUsers(3)
	first := newTestBridge(t, sim, nil)
	if err := first.store.PutSnapshot(context.Background(), snapshotName, []byte(`{"Users":[]}`)); err != nil {
		t.Fatal(err)
	}
	second := newTestBridge(t, sim, func(c *Config) { c.Store = first.store })
	if st := second.index.Stats(); !st.Loaded || st.FromSnapshot || st.Users != 3 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestReadyReportsSizeAgeAndFailures(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	sim := domosim.New(domosim.Options{Seed: 26})
	sim.SeedUsers(4)
	g := newGate(sim)
	tb := newTestBridge(t, sim, func(c *Config) {
		c.Now, c.RefreshInterval, c.Domo = clock, 5*time.Minute, gatedClient(t, sim, g)
	})
	mu.Lock()
	now = now.Add(90 * time.Second)
	mu.Unlock()
	ready, details := tb.b.Ready(context.Background())
	idx := details["index"].(map[string]any)
	if !ready || idx["users"] != 4 || idx["groups"] != 1 || idx["source"] != "domo" || idx["ageSeconds"] != int64(90) ||
		idx["refreshInterval"] != "5m0s" || idx["loadedAt"] != "2025-01-02T03:04:05Z" || idx["lastRefreshFailed"] != nil {
		t.Fatalf("details: %v", details)
	}

	// A failed refresh keeps the index and says so.
	refuse := func(r *http.Request) int {
		if r.URL.Path == "/v1/users" {
			return http.StatusForbidden
		}
		return 0
	}
	g.mu.Lock()
	g.refuse = refuse
	g.mu.Unlock()
	if err := tb.b.Load(context.Background()); err == nil {
		t.Fatal("the load did not fail")
	}
	g.mu.Lock()
	g.refuse = nil
	g.mu.Unlock()
	ready, details = tb.b.Ready(context.Background())
	idx = details["index"].(map[string]any)
	if !ready || idx["users"] != 4 || idx["lastRefreshFailed"] != true {
		t.Fatalf("after a failed refresh: %v %v", ready, details)
	}
	if err := tb.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, details = tb.b.Ready(context.Background()); details["index"].(map[string]any)["lastRefreshFailed"] != nil {
		t.Fatalf("after a good refresh: %v", details)
	}
}

// TestLoadFromDocumentedListRows: Domo documents list rows with only id, name, email, role,
// title and phone. A load from such rows keeps what the IdP wrote for the fields rows leave
// out (a filter answers the same user a GET by id does), while a field rows do carry still
// shows an admin's change made in Domo.
func TestLoadFromDocumentedListRows(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 49, ListRows: "documented"}})
	a := e.do("POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"rows@example.com","displayName":"Row Ena","title":"Clerk","locale":"fr-FR","timezone":"Europe/Paris",
		"emails":[{"value":"rows@example.com","type":"work","primary":true},{"value":"rows@home.example","type":"home"}],
		"addresses":[{"type":"work","locality":"Paris","country":"FR","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E9","department":"Ops"}}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if err := e.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	listed := func() map[string]any {
		t.Helper()
		l := e.do("GET", `/Users?filter=userName+eq+"rows@example.com"`, nil)
		res, _ := l.body["Resources"].([]any)
		if len(res) != 1 {
			t.Fatalf("filter: %s", l.raw)
		}
		r := res[0].(map[string]any)
		delete(r, "meta")
		return r
	}
	got := listed()
	g := e.do("GET", "/Users/"+id, nil)
	delete(g.body, "meta")
	delete(g.body, "groups") // lists leave groups out unless asked
	delete(got, "groups")
	if !reflect.DeepEqual(got, g.body) {
		t.Fatalf("after a load from documented rows the filter answers\n%v\nwhile GET answers\n%v", got, g.body)
	}

	// An admin retitles the user in Domo: rows carry title, so the next load shows Domo's.
	if err := e.sim.EditUser(mustID(t, id), func(u *domosim.SimUser) { u.Title = "Manager" }); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := listed(); got["title"] != "Manager" || got["locale"] != "fr-FR" {
		t.Fatalf("after Domo's change: title %v locale %v", got["title"], got["locale"])
	}
}
