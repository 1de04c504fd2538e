package bridge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// sharedParts are what replicas share: the tenant (one simulator) and the state (one
// PostgreSQL database).
type sharedParts struct {
	sim    *domosim.Sim
	simURL string
	state  string
}

// newReplicas starts n bridges, each with its own Domo client, store handle, index and SCIM
// server, over one simulator and one fresh PostgreSQL database, each running (Run) as serve
// runs it. o.sim configures the simulator; o.bridge every bridge.
func newReplicas(t *testing.T, n int, o envOptions) []*replayEnv {
	t.Helper()
	parts := &sharedParts{state: pgtest.URL(t)}
	parts.sim = domosim.New(o.sim)
	srv := httptest.NewServer(parts.sim)
	t.Cleanup(srv.Close)
	parts.simURL = srv.URL
	var out []*replayEnv
	for i := range n {
		oi := o
		oi.replica = parts
		oi.bridge = func(c *Config) {
			c.ReplicaID = fmt.Sprintf("r%d", i)
			if o.bridge != nil {
				o.bridge(c)
			}
		}
		e := newReplayEnv(t, oi)
		// A replica that finds the others' snapshot serves once its own load behind it ends.
		eventually(t, 30*time.Second, e.b.ReplicaID()+" ready", func() bool {
			ready, _ := e.b.Ready(context.Background())
			return ready
		})
		out = append(out, e)
	}
	return out
}

// eventually polls cond until it holds or d passes, and returns how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func filterCount(t *testing.T, e *replayEnv, resource, filter string) int {
	t.Helper()
	a := e.do("GET", "/"+resource+"?filter="+url.QueryEscape(filter), nil)
	if a.status != http.StatusOK {
		t.Fatalf("filter %s: %d %s", filter, a.status, a.raw)
	}
	n, _ := a.body["totalResults"].(float64)
	return int(n)
}

// 50 concurrent PATCHes of one user, spread over 3 replicas, lose no update: the per-user lock
// holds across replicas.
func TestReplicasConcurrentPatchesLoseNothing(t *testing.T) {
	for _, mode := range []string{"merge", "replace"} {
		t.Run(mode, func(t *testing.T) {
			rs := newReplicas(t, 3, envOptions{sim: domosim.Options{Seed: 31, PutMode: mode}})
			id := createBusyUser(t, rs[0])
			changes := fiftyChanges(t)
			patchAtOnce(t, rs, id, changes)
			for _, e := range rs {
				checkChanges(t, e, id, changes)
			}
		})
	}
}

// A user created through one replica is found by a userName filter on another within a
// second; so are changes, group memberships and deletions.
func TestReplicasReadYourWrites(t *testing.T) {
	rs := newReplicas(t, 3, envOptions{sim: domosim.Options{Seed: 5}})
	var worst time.Duration
	for i := range 12 {
		w, r := rs[i%3], rs[(i+1)%3]
		name := fmt.Sprintf("ryw%d@example.com", i)
		a := w.do("POST", "/Users", []byte(`{"userName":"`+name+`","name":{"givenName":"R","familyName":"W"},"active":true}`))
		if a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		took := eventually(t, time.Second, "user created on "+w.b.ReplicaID()+" found on "+r.b.ReplicaID(), func() bool {
			return filterCount(t, r, "Users", `userName eq "`+name+`"`) == 1
		})
		worst = max(worst, took)
	}
	t.Logf("cross-replica filter visibility: worst %s over 12 creates", worst)

	id := rs[0].do("GET", "/Users?filter="+url.QueryEscape(`userName eq "ryw0@example.com"`), nil).body["Resources"].([]any)[0].(map[string]any)["id"].(string)
	if a := rs[1].do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"replace","path":"title","value":"Moved"}]}`)); a.status != http.StatusOK {
		t.Fatalf("patch: %d %s", a.status, a.raw)
	}
	eventually(t, time.Second, "a PATCH through r1 filterable on r2", func() bool {
		return filterCount(t, rs[2], "Users", `title eq "Moved"`) == 1
	})

	g := rs[2].do("POST", "/Groups", []byte(`{"displayName":"Replicated","members":[{"value":"`+id+`"}]}`))
	if g.status != http.StatusCreated {
		t.Fatalf("group: %d %s", g.status, g.raw)
	}
	gid := g.body["id"].(string)
	eventually(t, time.Second, "a group created through r2 found with its member on r0", func() bool {
		return filterCount(t, rs[0], "Groups", `displayName eq "Replicated" and members.value eq "`+id+`"`) == 1
	})
	if a := rs[0].do("PATCH", "/Groups/"+gid, []byte(`{"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"}]}`)); a.status != http.StatusOK && a.status != http.StatusNoContent {
		t.Fatalf("remove member: %d %s", a.status, a.raw)
	}
	eventually(t, time.Second, "a member removed through r0 gone on r1", func() bool {
		return filterCount(t, rs[1], "Groups", `members.value eq "`+id+`"`) == 0
	})
	if a := rs[1].do("DELETE", "/Users/"+id, nil); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.status, a.raw)
	}
	eventually(t, time.Second, "a user deleted through r1 gone on r0 and r2", func() bool {
		return filterCount(t, rs[0], "Users", `userName eq "ryw0@example.com"`) == 0 &&
			filterCount(t, rs[2], "Users", `userName eq "ryw0@example.com"`) == 0
	})
	// Every replica now answers the same listing.
	want := listing(t, rs[0])
	for _, e := range rs[1:] {
		eventually(t, time.Second, "the same listing on "+e.b.ReplicaID(), func() bool { return slices.Equal(listing(t, e), want) })
	}
}

func listing(t *testing.T, e *replayEnv) []string {
	a := e.do("GET", "/Users?count=1000&attributes=userName,title", nil)
	var out []string
	for _, r := range a.body["Resources"].([]any) {
		m := r.(map[string]any)
		out = append(out, fmt.Sprint(m["id"], m["userName"], m["title"]))
	}
	return out
}

// A pause through one replica pauses every replica within a second; a resume through another
// lifts it everywhere.
func TestReplicasSharePause(t *testing.T) {
	rs := newReplicas(t, 3, envOptions{})
	ctx := context.Background()
	if err := rs[0].b.Pause(ctx, "maintenance"); err != nil {
		t.Fatal(err)
	}
	for _, e := range rs {
		took := eventually(t, time.Second, e.b.ReplicaID()+" paused", func() bool { p, _ := e.b.Paused(); return p })
		t.Logf("%s paused after %s", e.b.ReplicaID(), took)
	}
	if a := rs[2].do("POST", "/Users", []byte(`{"userName":"held@example.com","active":true}`)); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("a write on another replica while paused: %d %s", a.status, a.raw)
	}
	if err := rs[1].b.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range rs {
		eventually(t, time.Second, e.b.ReplicaID()+" resumed", func() bool { p, _ := e.b.Paused(); return !p })
	}
	if a := rs[2].do("POST", "/Users", []byte(`{"userName":"held@example.com","active":true}`)); a.status != http.StatusCreated {
		t.Fatalf("a write after the resume: %d %s", a.status, a.raw)
	}
}

// 50 deactivations spread over 3 replicas trip the breaker exactly as on one: BreakerMax go
// through, the rest are refused with 503, every replica sees it open, and a reset on one
// closes it for all.
func TestReplicasShareBreaker(t *testing.T) {
	const users, limit = 50, 20
	rs := newReplicas(t, 3, envOptions{bridge: func(c *Config) { c.BreakerMax = limit; c.BreakerWindow = time.Hour }})
	ids := make([]string, users)
	for i := range ids {
		a := rs[i%3].do("POST", "/Users", []byte(fmt.Sprintf(`{"userName":"leaver%d@example.com","active":true}`, i)))
		if a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		ids[i] = a.body["id"].(string)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i, id := range ids {
		e := rs[i%3]
		wg.Go(func() {
			a := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"replace","path":"active","value":false}]}`))
			switch {
			case a.status == http.StatusOK:
				ok.Add(1)
			case a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "":
				refused.Add(1)
			default:
				t.Errorf("deactivation: %d %s", a.status, a.raw)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || refused.Load() != users-limit {
		t.Fatalf("%d deactivations over 3 replicas: %d done, %d refused; want %d and %d", users, ok.Load(), refused.Load(), limit, users-limit)
	}
	ctx := context.Background()
	for _, e := range rs {
		eventually(t, time.Second, e.b.ReplicaID()+" reports the breaker open", func() bool {
			st, err := e.b.Status(ctx)
			return err == nil && st["breaker"].(map[string]any)["open"] == true
		})
	}
	if err := rs[1].b.ResetBreaker(ctx); err != nil {
		t.Fatal(err)
	}
	var last string
	for i, id := range ids {
		if a := rs[0].do("GET", "/Users/"+id, nil); a.body["active"] == true {
			last = ids[i]
		}
	}
	if last == "" {
		t.Fatal("no active user left")
	}
	if a := rs[2].do("PATCH", "/Users/"+last, []byte(`{"Operations":[{"op":"replace","path":"active","value":false}]}`)); a.status != http.StatusOK {
		t.Fatalf("a deactivation after the reset through another replica: %d %s", a.status, a.raw)
	}
}

// One replica leads the refresh at a time; the others install its refreshed index (changes
// made in Domo's UI show up on every replica without each loading from Domo); when the leader
// goes, another takes over.
func TestReplicasLeaderRefreshes(t *testing.T) {
	rs := newReplicas(t, 3, envOptions{sim: domosim.Options{Seed: 8}})
	ctx := context.Background()
	a := rs[0].do("POST", "/Users", []byte(`{"userName":"ui@example.com","title":"Before","active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	var leaders []*replayEnv
	for _, e := range rs {
		if e.b.leads(ctx) {
			leaders = append(leaders, e)
		}
	}
	if len(leaders) != 1 {
		t.Fatalf("%d leaders, want 1", len(leaders))
	}
	leader := leaders[0]
	// An admin changes the title in Domo's UI: only a load from Domo can see it.
	id := mustID(t, a.body["id"].(string))
	if err := rs[0].sim.EditUser(id, func(u *domosim.SimUser) { u.Title = "Changed in Domo" }); err != nil {
		t.Fatal(err)
	}
	listed := rs[0].sim.Stats().ByRoute["GET /v1/users"]
	if err := leader.b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rs[0].sim.Stats().ByRoute["GET /v1/users"] - listed; n != 1 {
		t.Errorf("the refresh listed Domo's users %d times, want once (by the leader only)", n)
	}
	for _, e := range rs {
		eventually(t, 3*time.Second, e.b.ReplicaID()+" shows the leader's refresh", func() bool {
			return filterCount(t, e, "Users", `title eq "Changed in Domo"`) == 1
		})
	}
	// The leader goes away: its lead passes to one of the others.
	leader.store.Close()
	var next []string
	eventually(t, 5*time.Second, "a new leader", func() bool {
		next = next[:0]
		for _, e := range rs {
			if e != leader && e.b.leads(ctx) {
				next = append(next, e.b.ReplicaID())
			}
		}
		return len(next) > 0
	})
	if len(next) != 1 {
		t.Fatalf("after the leader went: leaders %v, want one", next)
	}
}

// An interrupted change of a replica that died is finished by another, under the resource's
// lock, and nothing is left to do after.
func TestReplicasFinishADeadReplicasChange(t *testing.T) {
	parts := &sharedParts{state: pgtest.URL(t)}
	parts.sim = domosim.New(domosim.Options{Seed: 12})
	srv := httptest.NewServer(parts.sim)
	t.Cleanup(srv.Close)
	parts.simURL = srv.URL
	demote := func(c *Config) { c.Policy = PolicyDemote }

	// The replica that will die: Domo answers its first write, then nothing reaches Domo.
	dying := newReplayEnv(t, envOptions{replica: parts, bridge: demote, domo: func(c *domo.Config) {
		c.HTTPClient = &http.Client{Transport: &dieAfterWrites{base: http.DefaultTransport, writes: 2}}
	}})
	other := newReplayEnv(t, envOptions{replica: parts, bridge: demote})

	u := dying.do("POST", "/Users", []byte(`{"userName":"grouped@example.com","active":true}`))
	g1 := other.do("POST", "/Groups", []byte(`{"displayName":"One","members":[{"value":"`+u.body["id"].(string)+`"}]}`))
	g2 := other.do("POST", "/Groups", []byte(`{"displayName":"Two","members":[{"value":"`+u.body["id"].(string)+`"}]}`))
	if u.status != http.StatusCreated || g1.status != http.StatusCreated || g2.status != http.StatusCreated {
		t.Fatalf("setup: %d %d %d", u.status, g1.status, g2.status)
	}
	id := u.body["id"].(string)
	// What each replica's start began in the background (finishing leftovers, with no age
	// limit) is over before the change that will be left behind is made.
	dying.b.Wait()
	other.b.Wait()
	// The deactivation demotes (one PUT), then takes the user out of both groups; the replica
	// dies after the PUT.
	if a := dying.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"replace","path":"active","value":false}]}`)); a.status < 500 {
		t.Fatalf("the dying replica's deactivation answered %d %s", a.status, a.raw)
	}
	ctx := context.Background()
	if in, err := other.store.Intents(ctx); err != nil || len(in) != 1 {
		t.Fatalf("intents left by the dead replica: %v, %v", in, err)
	}
	dying.store.Close() // the process is gone: its locks with it

	done, left, err := other.b.FinishIntents(ctx, 0)
	if err != nil || done != 1 || left != 0 {
		t.Fatalf("FinishIntents = %d finished, %d left, %v", done, left, err)
	}
	d, _ := parts.sim.User(mustID(t, id))
	if d.Role != "Social" {
		t.Errorf("role %q, want the demote role", d.Role)
	}
	for _, g := range []answer{g1, g2} {
		if members := parts.sim.Members(mustID(t, g.body["id"].(string))); slices.Contains(members, mustID(t, id)) {
			t.Errorf("the user is still in group %s", g.body["displayName"])
		}
	}
	if a := other.do("GET", "/Users/"+id, nil); a.body["active"] != false {
		t.Errorf("the user reads active=%v on the other replica", a.body["active"])
	}
	if in, err := other.store.Intents(ctx); err != nil || len(in) != 0 {
		t.Errorf("intents left: %v, %v", in, err)
	}
}

// dieAfterWrites passes requests to Domo until it has passed writes write requests; then the
// process is dead: nothing more reaches Domo.
type dieAfterWrites struct {
	base   http.RoundTripper
	writes int32
	n      atomic.Int32
}

func (d *dieAfterWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet || !strings.HasPrefix(req.URL.Path, "/v1/") {
		if d.n.Load() >= d.writes {
			return nil, errKilled
		}
		return d.base.RoundTrip(req)
	}
	if d.n.Add(1) > d.writes {
		return nil, errKilled
	}
	return d.base.RoundTrip(req)
}

// A user a DELETE hid through one replica (SCIMBRIDGE_ON_DELETE=deprovision) is revived under
// its old id when the IdP creates it again through another, without a POST to Domo: the
// replicas share what was hidden.
func TestReplicasReviveAHiddenUser(t *testing.T) {
	rs := newReplicas(t, 2, envOptions{sim: domosim.Options{Seed: 45}, bridge: func(c *Config) { c.OnDelete = DeleteDeprovision }})
	a := rs[0].do("POST", "/Users", []byte(`{"userName":"back@example.com","title":"First","active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if d := rs[0].do("DELETE", "/Users/"+id, nil); d.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", d.status, d.raw)
	}
	eventually(t, time.Second, "the hidden user gone on r1", func() bool {
		return filterCount(t, rs[1], "Users", `userName eq "back@example.com"`) == 0
	})
	rs[1].settle()
	before := rs[1].sim.Stats().ByRoute["POST /v1/users"]
	again := rs[1].do("POST", "/Users", []byte(`{"userName":"back@example.com","title":"Again","active":true}`))
	if again.status != http.StatusCreated || again.body["id"] != id || again.body["title"] != "Again" {
		t.Fatalf("create again through r1: %d %s, want 201 with id %s", again.status, again.raw, id)
	}
	rs[1].settle()
	if n := rs[1].sim.Stats().ByRoute["POST /v1/users"] - before; n != 0 {
		t.Errorf("%d POSTs to Domo for a user another replica had hidden", n)
	}
}

// TestReplicaStartsFromTheLeadersLoad: a replica that starts while the leader's last load is
// younger than the refresh interval installs it (with the changes published since) instead of
// loading from Domo: a rolling update of N replicas costs Domo one load, not N. It serves at
// once, as fresh as the others.
func TestReplicaStartsFromTheLeadersLoad(t *testing.T) {
	parts := &sharedParts{state: pgtest.URL(t)}
	parts.sim = domosim.New(domosim.Options{Seed: 9})
	srv := httptest.NewServer(parts.sim)
	t.Cleanup(srv.Close)
	parts.simURL = srv.URL
	start := func(name string) *replayEnv {
		e := newReplayEnv(t, envOptions{replica: parts, bridge: func(c *Config) { c.ReplicaID, c.RefreshInterval = name, 10*time.Minute }})
		eventually(t, 30*time.Second, name+" ready", func() bool {
			ready, _ := e.b.Ready(context.Background())
			return ready
		})
		return e
	}
	first := start("r0")
	a := first.do("POST", "/Users", []byte(`{"userName":"after.load@example.com","active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	listed := parts.sim.Stats().ByRoute["GET /v1/users"]
	second := start("r1")
	second.b.Wait() // what Start began in the background
	if n := parts.sim.Stats().ByRoute["GET /v1/users"] - listed; n != 0 {
		t.Errorf("the second replica listed Domo's users %d times at its start, want 0", n)
	}
	if st := second.index.Stats(); !st.Loaded || st.FromSnapshot {
		t.Errorf("the second replica's index: %+v, want loaded as a load from Domo", st)
	}
	if n := filterCount(t, second, "Users", `userName eq "after.load@example.com"`); n != 1 {
		t.Errorf("the user created after the leader's load: %d found on the new replica", n)
	}
}

// TestReplicaStartedLaterRevivesAHiddenUser: a replica that starts from the leader's load
// knows the users hidden before it started: the IdP creating one again through it revives the
// user without a POST to Domo.
func TestReplicaStartedLaterRevivesAHiddenUser(t *testing.T) {
	parts := &sharedParts{state: pgtest.URL(t)}
	parts.sim = domosim.New(domosim.Options{Seed: 46})
	srv := httptest.NewServer(parts.sim)
	t.Cleanup(srv.Close)
	parts.simURL = srv.URL
	start := func(name string) *replayEnv {
		e := newReplayEnv(t, envOptions{replica: parts, bridge: func(c *Config) {
			c.ReplicaID, c.OnDelete, c.RefreshInterval = name, DeleteDeprovision, 10*time.Minute
		}})
		eventually(t, 30*time.Second, name+" ready", func() bool {
			ready, _ := e.b.Ready(context.Background())
			return ready
		})
		e.b.Wait()
		return e
	}
	first := start("r0")
	a := first.do("POST", "/Users", []byte(`{"userName":"hidden.early@example.com","active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if d := first.do("DELETE", "/Users/"+id, nil); d.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", d.status, d.raw)
	}
	if err := first.b.Load(context.Background()); err != nil { // the leader's load, after the hide
		t.Fatal(err)
	}
	listed := parts.sim.Stats().ByRoute["GET /v1/users"]
	second := start("r1")
	if n := parts.sim.Stats().ByRoute["GET /v1/users"] - listed; n != 0 {
		t.Fatalf("r1 loaded from Domo (%d listings); the test needs it to start from the leader's load", n)
	}
	first.settle()
	before := parts.sim.Stats().ByRoute["POST /v1/users"]
	again := second.do("POST", "/Users", []byte(`{"userName":"hidden.early@example.com","active":true}`))
	if again.status != http.StatusCreated || again.body["id"] != id {
		t.Fatalf("create again through r1: %d %s", again.status, again.raw)
	}
	second.settle()
	if n := parts.sim.Stats().ByRoute["POST /v1/users"] - before; n != 0 {
		t.Errorf("%d POSTs to Domo for a user hidden before this replica started", n)
	}
}
