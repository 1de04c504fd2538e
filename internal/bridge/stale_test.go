package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// switchable answers as Domo would, or, while down, 503 to everything, token requests
// included: Domo unreachable.
type switchable struct {
	next http.Handler
	down atomic.Bool
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		http.Error(w, `{"status":503,"statusReason":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	s.next.ServeHTTP(w, r)
}

// restartOn starts a second bridge process on the state file of e, reaching Domo through dm,
// with its own clock and snapshot bound, behind its own SCIM handler.
func restartOn(t *testing.T, e *replayEnv, dm http.Handler, clock *testClock, maxAge time.Duration) *replayEnv {
	t.Helper()
	ts := httptest.NewServer(dm)
	t.Cleanup(ts.Close)
	so := e.sim.Options()
	client, err := domo.New(domo.Config{BaseURL: ts.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
		RatePerMinute: 600000, MaxAttempts: 2, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.store.Describe()) // the same file, opened anew
	if err != nil {
		t.Fatal(err)
	}
	idx := index.New()
	cfg := e.b.cfg
	cfg.Domo, cfg.Store, cfg.Index, cfg.Now, cfg.SnapshotMaxAge = client, st, idx, clock.Now, maxAge
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		b.Wait() // the load behind the snapshot ends before the store closes
		st.Close()
	})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tokens, err := scim.NewTokens([]scim.Token{{Name: "idp", Secret: replayToken}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens,
		Logger: zerolog.Nop(), Ready: b.Ready}))
	t.Cleanup(srv.Close)
	return &replayEnv{t: t, sim: e.sim, b: b, store: st, index: idx, srv: srv, vars: map[string]string{}, sent: &atomic.Int64{}}
}

// TestRestartWithDomoUnreachableTellsNoStaleTruth: a bridge restarted on its state file while
// Domo is unreachable serves its snapshot only as far as the truth allows. Every change the
// bridge made after the snapshot was taken shows (a deactivated user is active:false, a
// deleted one is gone from lists, filters and its groups, a created one is listed), and once
// the snapshot is older than SnapshotMaxAge, lists and filters answer 503 with Retry-After
// and /readyz says so, until a load from Domo succeeds. The tombstone of the deleted user is
// dropped once a snapshot without it is stored.
func TestRestartWithDomoUnreachableTellsNoStaleTruth(t *testing.T) {
	clock := newTestClock(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 81}, bridge: func(c *Config) { c.Now = clock.Now }})
	ids := map[string]string{}
	for _, name := range []string{"deact", "gone", "stay"} {
		a := e.do("POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`@example.com",
			"externalId":"ext-`+name+`","name":{"givenName":"G","familyName":"F"},"active":true}`))
		if a.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, a.status, a.raw)
		}
		ids[name] = a.body["id"].(string)
	}
	a := e.do("POST", "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Crew",
		"members":[{"value":"`+ids["deact"]+`"},{"value":"`+ids["gone"]+`"},{"value":"`+ids["stay"]+`"}]}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", a.status, a.raw)
	}
	groupID := a.body["id"].(string)
	for _, name := range []string{"Doomed", "Old name"} {
		if a := e.do("POST", "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`"}`)); a.status != http.StatusCreated {
			t.Fatalf("create group %s: %d %s", name, a.status, a.raw)
		} else {
			ids[name] = a.body["id"].(string)
		}
	}
	if err := e.b.Load(context.Background()); err != nil { // stores the snapshot
		t.Fatal(err)
	}

	// After the snapshot, through the bridge: deactivate one, delete one, create one, and
	// change another's externalId.
	clock.Advance(time.Minute)
	steps := []struct{ method, path, body string }{
		{"PATCH", "/Users/" + ids["deact"], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{"DELETE", "/Users/" + ids["gone"], ""},
		{"POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new@example.com","name":{"givenName":"N","familyName":"W"}}`},
		{"PATCH", "/Users/" + ids["stay"], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"externalId","value":"ext-moved"}]}`},
		{"DELETE", "/Groups/" + ids["Doomed"], ""},
		{"PATCH", "/Groups/" + ids["Old name"], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"New name"}]}`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Born later","members":[{"value":"` + ids["stay"] + `"}]}`},
	}
	for _, s := range steps {
		var body []byte
		if s.body != "" {
			body = []byte(s.body)
		}
		if a := e.do(s.method, s.path, body); a.status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, a.status, a.raw)
		}
	}

	// The restart: same state file, Domo unreachable, two minutes after the snapshot.
	clock2 := newTestClock(clock.Now().Add(time.Minute))
	dm := &switchable{next: e.sim}
	dm.down.Store(true)
	r := restartOn(t, e, dm, clock2, 10*time.Minute)

	filter := func(f string) answer {
		t.Helper()
		return r.do("GET", "/Users?filter="+urlQuery(f), nil)
	}
	one := func(f string) map[string]any {
		t.Helper()
		l := filter(f)
		res, _ := l.body["Resources"].([]any)
		if l.status != http.StatusOK || len(res) != 1 {
			t.Fatalf("filter %s: %d %s", f, l.status, l.raw)
		}
		return res[0].(map[string]any)
	}
	if got := one(`userName eq "deact@example.com"`); got["active"] != false {
		t.Errorf("the deactivated user shows active %v", got["active"])
	}
	if l := filter(`active eq false`); l.body["totalResults"] != float64(1) {
		t.Errorf("active eq false: %s", l.raw)
	}
	if l := filter(`userName eq "gone@example.com"`); l.status != http.StatusOK || l.body["totalResults"] != float64(0) {
		t.Errorf("the deleted user is listed: %d %s", l.status, l.raw)
	}
	if l := filter(`externalId eq "ext-gone"`); l.body["totalResults"] != float64(0) {
		t.Errorf("the deleted user is found by externalId: %s", l.raw)
	}
	all := r.do("GET", "/Users?count=100", nil)
	for _, res := range all.body["Resources"].([]any) {
		if res.(map[string]any)["id"] == ids["gone"] {
			t.Errorf("the deleted user is in the full list")
		}
	}
	one(`userName eq "new@example.com"`)
	if got := one(`externalId eq "ext-moved"`); got["id"] != ids["stay"] {
		t.Errorf("externalId eq ext-moved finds %v", got["id"])
	}
	if l := filter(`externalId eq "ext-stay"`); l.body["totalResults"] != float64(0) {
		t.Errorf("the old externalId still finds the user: %s", l.raw)
	}
	g := r.do("GET", `/Groups?filter=displayName+eq+"Crew"&attributes=members`, nil)
	res, _ := g.body["Resources"].([]any)
	if g.status != http.StatusOK || len(res) != 1 {
		t.Fatalf("group filter: %d %s", g.status, g.raw)
	}
	var members []string
	for _, m := range res[0].(map[string]any)["members"].([]any) {
		members = append(members, m.(map[string]any)["value"].(string))
	}
	if slices.Contains(members, ids["gone"]) || !slices.Contains(members, ids["stay"]) {
		t.Errorf("group %s members %v: the deleted user must be gone, the others kept", groupID, members)
	}
	// Groups too: the deleted one is gone, the renamed one found by its new name only, the one
	// created since is listed with its member.
	groupCount := func(name string) answer {
		t.Helper()
		return r.do("GET", "/Groups?filter="+urlQuery(`displayName eq "`+name+`"`), nil)
	}
	for name, want := range map[string]float64{"Doomed": 0, "Old name": 0, "New name": 1, "Born later": 1} {
		if l := groupCount(name); l.status != http.StatusOK || l.body["totalResults"] != want {
			t.Errorf("group %q after the restart: %d %s (want %v)", name, l.status, l.raw, want)
		}
	}
	if l := groupCount("Born later"); l.status == http.StatusOK {
		res, _ := l.body["Resources"].([]any)
		if len(res) == 1 {
			ms, _ := res[0].(map[string]any)["members"].([]any)
			if len(ms) != 1 || ms[0].(map[string]any)["value"] != ids["stay"] {
				t.Errorf("the group created since lists members %v", ms)
			}
		}
	}
	ready, details := r.b.Ready(context.Background())
	idx := details["index"].(map[string]any)
	if !ready || idx["source"] != "snapshot" || idx["servesReads"] != true || idx["ageSeconds"] != int64(120) {
		t.Errorf("readiness within the bound: %v %v", ready, details)
	}

	// Past the bound, lists and filters of users and groups answer 503 with Retry-After.
	clock2.Advance(9 * time.Minute)
	for _, path := range []string{`/Users?filter=` + urlQuery(`userName eq "stay@example.com"`), "/Users", "/Groups"} {
		a := r.do("GET", path, nil)
		if n, err := strconv.Atoi(a.header.Get("Retry-After")); a.status != http.StatusServiceUnavailable || err != nil || n < 1 {
			t.Errorf("GET %s past the bound: %d Retry-After %q: %s", path, a.status, a.header.Get("Retry-After"), a.raw)
		}
	}
	ready, details = r.b.Ready(context.Background())
	if idx := details["index"].(map[string]any); ready || idx["servesReads"] != false || idx["snapshotMaxAgeSeconds"] != int64(600) {
		t.Errorf("readiness past the bound: %v %v", ready, details)
	}

	// Domo comes back: the load behind the snapshot succeeds, lists answer again, and the
	// tombstone, older than the snapshot now stored, is dropped.
	dm.down.Store(false)
	waitIndex(t, r.index, func(st index.Stats) bool { return !st.FromSnapshot })
	r.b.Wait() // the load behind the snapshot ends after storing its snapshot and dropping tombstones
	if got := one(`userName eq "deact@example.com"`); got["active"] != false {
		t.Errorf("after the load the deactivated user shows active %v", got["active"])
	}
	if _, ok, err := r.store.UserShadow(context.Background(), mustID(t, ids["gone"])); err != nil || ok {
		t.Errorf("the tombstone of the deleted user is still stored (%v)", err)
	}
	if _, ok, err := r.store.GroupShadow(context.Background(), mustID(t, ids["Doomed"])); err != nil || ok {
		t.Errorf("the tombstone of the deleted group is still stored (%v)", err)
	}
}

// TestSnapshotMaxAgeZeroNeverServes: with SnapshotMaxAge 0 a restart whose first load has
// not succeeded answers lists with 503 and Retry-After, however young the snapshot.
func TestSnapshotMaxAgeZeroNeverServes(t *testing.T) {
	clock := newTestClock(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC))
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 82}, bridge: func(c *Config) { c.Now = clock.Now }})
	if a := e.do("POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"z@example.com"}`)); a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	if err := e.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	dm := &switchable{next: e.sim}
	dm.down.Store(true)
	r := restartOn(t, e, dm, newTestClock(clock.Now()), 0)
	a := r.do("GET", "/Users?filter="+urlQuery(`userName eq "z@example.com"`), nil)
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("a list from a snapshot with SnapshotMaxAge 0: %d %q %s", a.status, a.header.Get("Retry-After"), a.raw)
	}
	if ready, details := r.b.Ready(context.Background()); ready {
		t.Fatalf("ready on a snapshot it may not serve: %v", details)
	}
}
