package bridge

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

const (
	deactivateOp = `{"Operations":[{"op":"replace","value":{"active":false}}]}`
	reactivateOp = `{"Operations":[{"op":"replace","value":{"active":true}}]}`
)

// demoteEnv is a bridge with the demote policy and one Privileged user in two groups besides
// Default.
type demoteEnv struct {
	*replayEnv
	id         string
	uid        int64
	sales, ops int64
}

func newDemoteEnv(t *testing.T, mutate func(*Config)) *demoteEnv {
	t.Helper()
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 41}, bridge: func(c *Config) {
		c.Policy = PolicyDemote
		if mutate != nil {
			mutate(c)
		}
	}})
	a := e.do("POST", "/Users", []byte(`{"userName":"dee@example.com","name":{"givenName":"Dee","familyName":"Mote"},
		"roles":[{"value":"Privileged","primary":true}],"title":"Lead","active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	d := &demoteEnv{replayEnv: e, id: a.body["id"].(string)}
	d.uid = mustID(t, d.id)
	d.sales, d.ops = e.sim.AddGroup("Sales"), e.sim.AddGroup("Ops")
	for _, g := range []int64{d.sales, d.ops} {
		if err := e.sim.AddMemberDirect(g, d.uid); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *demoteEnv) patch(body string, want int) answer {
	d.t.Helper()
	a := d.do("PATCH", "/Users/"+d.id, []byte(body))
	if a.status != want {
		d.t.Fatalf("PATCH %s: %d, want %d: %s", body, a.status, want, a.raw)
	}
	return a
}

// access is the user's Domo role and non-default groups.
func (d *demoteEnv) access() (string, []int64) {
	u, _ := d.sim.User(d.uid)
	var groups []int64
	for _, g := range []int64{d.sales, d.ops} {
		if slices.Contains(d.sim.Members(g), d.uid) {
			groups = append(groups, g)
		}
	}
	return u.Role, groups
}

func (d *demoteEnv) wantAccess(label, role string, groups []int64) {
	d.t.Helper()
	gotRole, gotGroups := d.access()
	if gotRole != role || !slices.Equal(gotGroups, groups) {
		d.t.Fatalf("%s: Domo role %s groups %v, want %s %v", label, gotRole, gotGroups, role, groups)
	}
	if !slices.Contains(d.sim.Members(d.sim.DefaultGroupID()), d.uid) {
		d.t.Fatalf("%s: the user left Domo's Default group", label)
	}
}

func TestDemoteSavesAndRestoresRoleAndGroups(t *testing.T) {
	d := newDemoteEnv(t, nil)
	all := []int64{d.sales, d.ops}
	d.wantAccess("before", "Privileged", all)

	a := d.patch(deactivateOp, http.StatusOK)
	if a.body["active"] != false || a.body["title"] != "Lead" {
		t.Fatalf("deactivate answered %s", a.raw)
	}
	// The IdP reads back the role it wrote; the demotion is the bridge's business.
	if got, _ := pointer(a.body, "/roles/0/value"); got != "Privileged" {
		t.Fatalf("roles read back %v", got)
	}
	d.wantAccess("deactivated", "Social", nil)

	// A change while inactive: written to Domo, but the user stays demoted.
	d.patch(`{"Operations":[{"op":"replace","path":"title","value":"Former lead"}]}`, http.StatusOK)
	d.wantAccess("title changed while inactive", "Social", nil)
	if u, _ := d.sim.User(d.uid); u.Title != "Former lead" {
		t.Fatalf("title %q", u.Title)
	}

	d.patch(reactivateOp, http.StatusOK)
	d.wantAccess("reactivated", "Privileged", all)
}

func TestDemoteRoleChangedWhileInactiveAppliesOnReactivation(t *testing.T) {
	d := newDemoteEnv(t, nil)
	d.patch(deactivateOp, http.StatusOK)
	a := d.patch(`{"Operations":[{"op":"replace","path":"roles","value":[{"value":"Editor","primary":true}]}]}`, http.StatusOK)
	if got, _ := pointer(a.body, "/roles/0/value"); got != "Editor" {
		t.Fatalf("roles read back %v", got)
	}
	d.wantAccess("role changed while inactive", "Social", nil)
	d.patch(reactivateOp, http.StatusOK)
	d.wantAccess("reactivated", "Editor", []int64{d.sales, d.ops})
}

// TestDemoteFinishesAfterPartialFailure: Domo fails while the user leaves its groups, after
// the role was already demoted. The IdP hears 503 and retries; nothing saved is forgotten:
// the retry finishes the deactivation, and the reactivation restores the original role, not
// the demoted one the failed attempt left behind.
func TestDemoteFinishesAfterPartialFailure(t *testing.T) {
	d := newDemoteEnv(t, nil)
	// Times 2: both attempts the client makes at the first removal.
	d.sim.InjectFault(domosim.Fault{Method: "DELETE", Route: "/v1/groups/{id}/users/{userId}", Status: http.StatusServiceUnavailable, Times: 2})
	a := d.patch(deactivateOp, http.StatusServiceUnavailable)
	if a.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if role, _ := d.access(); role != "Social" {
		t.Fatalf("role %s after the failed attempt; the test needs the PUT to have happened", role)
	}
	if g := d.do("GET", "/Users/"+d.id, nil); g.body["active"] != true {
		t.Fatalf("a half-done deactivation reads as done: %s", g.raw)
	}

	d.patch(deactivateOp, http.StatusOK)
	d.wantAccess("retried deactivation", "Social", nil)

	d.sim.InjectFault(domosim.Fault{Method: "PUT", Route: "/v1/groups/{id}/users/{userId}", Status: http.StatusBadGateway, Times: 2})
	d.patch(reactivateOp, http.StatusServiceUnavailable)
	if role, groups := d.access(); role != "Privileged" || len(groups) != 0 {
		t.Fatalf("after the failed reactivation: %s %v", role, groups)
	}
	d.patch(reactivateOp, http.StatusOK)
	d.wantAccess("retried reactivation", "Privileged", []int64{d.sales, d.ops})
}

func TestMarkPolicyLeavesDomoAlone(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 42}})
	a := e.do("POST", "/Users", []byte(`{"userName":"mark@example.com","roles":[{"value":"Editor"}]}`))
	id := a.body["id"].(string)
	before, _ := e.sim.User(mustID(t, id))
	e.settle()
	writes := writeRoutes(e.sim.Stats().ByRoute)
	if p := e.do("PATCH", "/Users/"+id, []byte(deactivateOp)); p.status != http.StatusOK || p.body["active"] != false {
		t.Fatalf("deactivate: %d %s", p.status, p.raw)
	}
	e.settle()
	if after, _ := e.sim.User(mustID(t, id)); after != before || writeRoutes(e.sim.Stats().ByRoute) != writes {
		t.Fatalf("mark changed Domo: %+v -> %+v", before, after)
	}
}

func TestDeletePolicyDeletesOnDeactivation(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 43}, bridge: func(c *Config) { c.Policy = PolicyDelete }})
	a := e.do("POST", "/Users", []byte(`{"userName":"del@example.com"}`))
	id := a.body["id"].(string)
	if p := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)); p.status != http.StatusOK || p.body["active"] != false {
		t.Fatalf("deactivate: %d %s", p.status, p.raw)
	}
	if u, _ := e.sim.User(mustID(t, id)); !u.Deleted {
		t.Fatal("Domo user not deleted")
	}
	if g := e.do("GET", "/Users/"+id, nil); g.status != http.StatusNotFound {
		t.Fatalf("GET after deprovisioning: %d", g.status)
	}
}

// TestBreakerHaltsMassDeprovisioning: past BreakerMax deprovisions in the window, further
// deactivations and deletions get 503 with Retry-After and change nothing, until an operator
// resets the breaker through the authenticated admin endpoint.
func TestBreakerHaltsMassDeprovisioning(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 44}, bridge: func(c *Config) {
		c.Policy, c.BreakerMax, c.BreakerWindow = PolicyDemote, 2, time.Hour
	}})
	var ids []string
	for i := range 5 {
		a := e.do("POST", "/Users", []byte(`{"userName":"b`+strconv.Itoa(i)+`@example.com","roles":[{"value":"Editor"}]}`))
		ids = append(ids, a.body["id"].(string))
	}
	for _, id := range ids[:2] {
		if p := e.do("PATCH", "/Users/"+id, []byte(deactivateOp)); p.status != http.StatusOK {
			t.Fatalf("deprovision within budget: %d %s", p.status, p.raw)
		}
	}
	before, _ := e.sim.User(mustID(t, ids[2]))
	p := e.do("PATCH", "/Users/"+ids[2], []byte(deactivateOp))
	if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
		t.Fatalf("third deprovision: %d %s (Retry-After %q)", p.status, p.raw, p.header.Get("Retry-After"))
	}
	if after, _ := e.sim.User(before.ID); after != before {
		t.Fatalf("a refused deprovision changed Domo: %+v", after)
	}
	if g := e.do("GET", "/Users/"+ids[2], nil); g.body["active"] != true {
		t.Fatalf("a refused deprovision reads as done: %s", g.raw)
	}
	if d := e.do("DELETE", "/Users/"+ids[3], nil); d.status != http.StatusServiceUnavailable {
		t.Fatalf("DELETE while the breaker is open: %d", d.status)
	}
	// Other writes go on.
	if w := e.do("PATCH", "/Users/"+ids[4], []byte(`{"Operations":[{"op":"replace","path":"title","value":"Still here"}]}`)); w.status != http.StatusOK {
		t.Fatalf("ordinary PATCH while the breaker is open: %d", w.status)
	}
	if st := e.do("GET", "/admin/v1/status", nil); st.status != http.StatusOK || st.body["breaker"].(map[string]any)["open"] != true {
		t.Fatalf("status: %s", st.raw)
	}

	if r := e.do("POST", "/admin/v1/breaker/reset", nil); r.status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.status, r.raw)
	}
	if p := e.do("PATCH", "/Users/"+ids[2], []byte(deactivateOp)); p.status != http.StatusOK || p.body["active"] != false {
		t.Fatalf("deprovision after the reset: %d %s", p.status, p.raw)
	}
	if d := e.do("DELETE", "/Users/"+ids[3], nil); d.status != http.StatusNoContent {
		t.Fatalf("DELETE after the reset: %d", d.status)
	}
}

// TestPutWithoutActiveKeepsTheUserInactive: a PUT that leaves active out (curl, scripts) does
// not reactivate a deprovisioned user.
func TestPutWithoutActiveKeepsTheUserInactive(t *testing.T) {
	d := newDemoteEnv(t, nil)
	d.patch(deactivateOp, http.StatusOK)
	p := d.do("PUT", "/Users/"+d.id, []byte(`{"userName":"dee@example.com","name":{"givenName":"Dee","familyName":"Mote"},"roles":[{"value":"Privileged","primary":true}],"title":"Lead"}`))
	if p.status != http.StatusOK || p.body["active"] != false {
		t.Fatalf("PUT without active: %d %s", p.status, p.raw)
	}
	d.wantAccess("after the PUT", "Social", nil)
}

// TestPauseSurvivesRestart: the pause switch and when it began come back after a restart.
func TestPauseSurvivesRestart(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 31})
	tb := newTestBridge(t, sim, nil)
	if err := tb.b.Pause(tb.ctx(), "incident 42"); err != nil {
		t.Fatal(err)
	}
	st, _ := tb.b.Status(tb.ctx())
	since := st["pausedSince"]

	cfg := tb.b.cfg
	cfg.Now = func() time.Time { return time.Now().Add(time.Hour) } // restarted an hour later
	again, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.LoadSwitches(tb.ctx()); err != nil {
		t.Fatal(err)
	}
	if paused, _ := again.Paused(); !paused {
		t.Fatal("pause lost across a restart")
	}
	st2, _ := again.Status(tb.ctx())
	if st2["pauseReason"] != "incident 42" || st2["pausedSince"] != since {
		t.Fatalf("after restart: reason %v since %v, want %q %v", st2["pauseReason"], st2["pausedSince"], "incident 42", since)
	}
	if err := again.Resume(tb.ctx()); err != nil {
		t.Fatal(err)
	}
	if paused, _ := again.Paused(); paused {
		t.Fatal("still paused after resume")
	}
}

// TestDeleteDeprovisionHidesAndRevives: with OnDelete DeleteDeprovision, DELETE demotes the
// user (the policy) and hides it: every operation on the id is 404 and no listing or filter
// shows it, also after a reload, while the Domo user and its content stay. The IdP creating
// the user again gets it back under its old id, with the role and groups it had.
func TestDeleteDeprovisionHidesAndRevives(t *testing.T) {
	d := newDemoteEnv(t, func(c *Config) { c.OnDelete = DeleteDeprovision })
	if a := d.do("DELETE", "/Users/"+d.id, nil); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", a.status, a.raw)
	}
	if u, ok := d.sim.User(d.uid); !ok || u.Deleted {
		t.Fatal("the Domo user was deleted; the policy is demote")
	}
	d.wantAccess("deleted under demote", "Social", nil)
	gone := func(label string) {
		t.Helper()
		for _, r := range []struct{ method, body string }{{"GET", ""}, {"PATCH", deactivateOp}, {"PUT", `{"userName":"dee@example.com"}`}, {"DELETE", ""}} {
			var body []byte
			if r.body != "" {
				body = []byte(r.body)
			}
			if a := d.do(r.method, "/Users/"+d.id, body); a.status != http.StatusNotFound {
				t.Fatalf("%s: %s after DELETE: %d %s", label, r.method, a.status, a.raw)
			}
		}
		if a := d.do("GET", `/Users?filter=userName+eq+"dee@example.com"`, nil); a.body["totalResults"] != float64(0) {
			t.Fatalf("%s: the filter finds the hidden user: %s", label, a.raw)
		}
		if a := d.do("GET", "/Users", nil); strings.Contains(string(a.raw), d.id) {
			t.Fatalf("%s: the listing shows the hidden user", label)
		}
	}
	gone("at once")
	if err := d.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	gone("after a reload")

	d.settle()
	before := d.sim.Stats().ByRoute["POST /v1/users"]
	a := d.do("POST", "/Users", []byte(`{"userName":"dee@example.com","name":{"givenName":"Dee","familyName":"Mote"},
		"roles":[{"value":"Privileged","primary":true}],"title":"Back","active":true}`))
	if a.status != http.StatusCreated || a.body["id"] != d.id || a.body["active"] != true || a.body["title"] != "Back" {
		t.Fatalf("create again: %d %s, want 201 with id %s", a.status, a.raw, d.id)
	}
	if n := d.sim.Stats().ByRoute["POST /v1/users"] - before; n != 0 {
		t.Fatalf("%d POSTs to Domo for a user the bridge knew it had hidden", n)
	}
	d.wantAccess("revived", "Privileged", []int64{d.sales, d.ops})
	if g := d.do("GET", "/Users/"+d.id, nil); g.status != http.StatusOK || g.body["title"] != "Back" {
		t.Fatalf("GET after the revival: %d %s", g.status, g.raw)
	}
}

// TestDeleteDeprovisionMarkAfterDeactivation is Entra's order under the mark policy: disable,
// then DELETE. The DELETE changes nothing in Domo and is not a second deprovision for the
// breaker. A revival the bridge has no hint for (Domo answers "email taken") still finds the
// hidden user.
func TestDeleteDeprovisionMarkAfterDeactivation(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 45}, bridge: func(c *Config) {
		c.OnDelete, c.BreakerMax, c.BreakerWindow = DeleteDeprovision, 1, time.Hour
	}})
	a := e.do("POST", "/Users", []byte(`{"userName":"ent@example.com","roles":[{"value":"Editor"}]}`))
	id := a.body["id"].(string)
	if p := e.do("PATCH", "/Users/"+id, []byte(deactivateOp)); p.status != http.StatusOK {
		t.Fatalf("disable: %d %s", p.status, p.raw)
	}
	before, _ := e.sim.User(mustID(t, id))
	e.settle()
	writes := writeRoutes(e.sim.Stats().ByRoute)
	if d := e.do("DELETE", "/Users/"+id, nil); d.status != http.StatusNoContent {
		t.Fatalf("DELETE of a disabled user (breaker budget spent on the disable): %d %s", d.status, d.raw)
	}
	e.settle()
	if after, _ := e.sim.User(before.ID); after != before || writeRoutes(e.sim.Stats().ByRoute) != writes {
		t.Fatalf("DELETE under mark changed Domo: %+v -> %+v", before, after)
	}
	if g := e.do("GET", "/Users/"+id, nil); g.status != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d", g.status)
	}

	e.b.mu.Lock()
	clear(e.b.hiddenEmail) // as after a restart served from the snapshot, before a load
	e.b.mu.Unlock()
	r := e.do("POST", "/Users", []byte(`{"userName":"ent@example.com","roles":[{"value":"Editor"}],"active":true}`))
	if r.status != http.StatusCreated || r.body["id"] != id || r.body["active"] != true {
		t.Fatalf("create again without a hint: %d %s, want 201 with id %s", r.status, r.raw, id)
	}
	if g := e.do("GET", `/Users?filter=userName+eq+"ent@example.com"`, nil); g.body["totalResults"] != float64(1) {
		t.Fatalf("the revived user is not found: %s", g.raw)
	}
}

// TestDeleteDeprovisionUnderDeletePolicyDeletes: with the delete policy there is nothing to
// hide; DELETE removes the Domo user as it always does.
func TestDeleteDeprovisionUnderDeletePolicyDeletes(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 46}, bridge: func(c *Config) {
		c.OnDelete, c.Policy = DeleteDeprovision, PolicyDelete
	}})
	a := e.do("POST", "/Users", []byte(`{"userName":"gone@example.com"}`))
	id := a.body["id"].(string)
	if d := e.do("DELETE", "/Users/"+id, nil); d.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", d.status)
	}
	if u, _ := e.sim.User(mustID(t, id)); !u.Deleted {
		t.Fatal("the Domo user is still there")
	}
}
