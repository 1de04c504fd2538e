package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// newGroupBridge is newTestBridge with a Domo client that gives up on a failing call after
// two attempts, so that tests of partial failures do not wait out the default six.
func newGroupBridge(t *testing.T, sim *domosim.Sim, mutate func(*Config)) *testBridge {
	t.Helper()
	tb := buildBridge(t, sim, func(c *domo.Config) { c.MaxAttempts = 2 }, mutate)
	tb.t = t
	return tb
}

// groupFixture is a tenant with a few users the index knows and one group.
type groupFixture struct {
	*testBridge
	users map[string]int64
	gid   int64
	sid   string
}

func newGroupFixture(t *testing.T, opts domosim.Options, mutate func(*Config), members ...string) *groupFixture {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 11
	}
	sim := domosim.New(opts)
	f := &groupFixture{users: map[string]int64{}}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		f.users[n] = sim.AddUser(domosim.SimUser{Name: n, Email: n + "@example.com"})
	}
	f.gid = sim.AddGroup("Team")
	for _, m := range members {
		if err := sim.AddMemberDirect(f.gid, f.users[m]); err != nil {
			t.Fatal(err)
		}
	}
	f.testBridge = newGroupBridge(t, sim, mutate)
	f.sid = strconv.FormatInt(f.gid, 10)
	return f
}

func (f *groupFixture) id(name string) string { return strconv.FormatInt(f.users[name], 10) }

// domoMembers returns the simulator's members of the group, sorted.
func (f *groupFixture) domoMembers() []int64 {
	return slices.Sorted(slices.Values(f.sim.Members(f.gid)))
}

// indexMembers returns the index's members of the group, sorted.
func (f *groupFixture) indexMembers(t *testing.T) []int64 {
	t.Helper()
	g, ok := f.index.Group(f.gid)
	if !ok {
		t.Fatal("group not in the index")
	}
	return slices.Clone(g.MemberIDs)
}

func (f *groupFixture) ids(names ...string) []int64 {
	out := make([]int64, 0, len(names))
	for _, n := range names {
		out = append(out, f.users[n])
	}
	slices.Sort(out)
	return out
}

func membersOfAttrs(a scim.Attributes) []string {
	var out []string
	list, _ := a["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	slices.Sort(out)
	return out
}

func scimErr(t *testing.T, err error, status int, typ string) *scim.Error {
	t.Helper()
	var se *scim.Error
	if !errors.As(err, &se) || se.Status != status || string(se.Type) != typ {
		t.Fatalf("error %v, want %d %s", err, status, typ)
	}
	return se
}

func TestGroupHiddenMembersSurviveReplace(t *testing.T) {
	// eve is protected by email, the owner by id; frank joins Domo after the bridge loaded.
	sim := domosim.New(domosim.Options{Seed: 21})
	alice := sim.AddUser(domosim.SimUser{Name: "Alice", Email: "alice@example.com"})
	eve := sim.AddUser(domosim.SimUser{Name: "Eve", Email: "eve@example.com"})
	gid := sim.AddGroup("Admins")
	for _, u := range []int64{alice, eve, sim.OwnerID()} {
		if err := sim.AddMemberDirect(gid, u); err != nil {
			t.Fatal(err)
		}
	}
	tb := newGroupBridge(t, sim, func(c *Config) { c.ProtectedUsers = []string{"EVE@example.com"} })
	frank := sim.AddUser(domosim.SimUser{Name: "Frank", Email: "frank@example.com"})
	if err := sim.AddMemberDirect(gid, frank); err != nil {
		t.Fatal(err)
	}
	sid := strconv.FormatInt(gid, 10)

	got, err := tb.groups.Get(tb.ctx(), sid, scim.ReadOptions{Members: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := membersOfAttrs(got); !slices.Equal(m, []string{strconv.FormatInt(alice, 10)}) {
		t.Fatalf("GET shows %v; protected and unindexed members must not show", m)
	}

	// The IdP's list has neither eve, the owner nor frank: only frank (a real, visible user)
	// leaves, and alice stays without a call.
	body := `{"Operations":[{"op":"replace","path":"members","value":[{"value":"` + strconv.FormatInt(alice, 10) + `"}]}]}`
	before := tb.sim.Stats().ByRoute
	if _, err := tb.patch(tb.groups, scim.GroupType, sid, body); err != nil {
		t.Fatal(err)
	}
	want := []int64{alice, eve, sim.OwnerID()}
	slices.Sort(want)
	if m := slices.Sorted(slices.Values(sim.Members(gid))); !slices.Equal(m, want) {
		t.Fatalf("Domo members %v, want %v (protected members kept, frank removed)", m, want)
	}
	after := tb.sim.Stats().ByRoute
	if n := after["DELETE /v1/groups/{id}/users/{userId}"] - before["DELETE /v1/groups/{id}/users/{userId}"]; n != 1 {
		t.Errorf("%d member removals, want 1", n)
	}
	if n := after["GET /v1/users/{id}"] - before["GET /v1/users/{id}"]; n != 2 {
		t.Errorf("%d user lookups, want 2 (eve and frank, whom the index did not know)", n)
	}

	// Eve is now known to be protected by id: the next replace asks Domo about nobody.
	before = after
	if _, err := tb.patch(tb.groups, scim.GroupType, sid, body); err != nil {
		t.Fatal(err)
	}
	after = tb.sim.Stats().ByRoute
	if n := after["GET /v1/users/{id}"] - before["GET /v1/users/{id}"]; n != 0 {
		t.Errorf("%d user lookups on the second replace, want 0", n)
	}
	// Adding a protected user is refused like any id that is not a user.
	_, err = tb.patch(tb.groups, scim.GroupType, sid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+strconv.FormatInt(eve, 10)+`"}]}]}`)
	scimErr(t, err, http.StatusBadRequest, "invalidValue")
}

func TestGroupDefaultGroupShown(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, func(c *Config) {
		c.ShowDefaultGroup = true
		c.Mapping.HideDefaultGroup = false
	})
	def := strconv.FormatInt(f.sim.DefaultGroupID(), 10)
	if _, err := f.groups.Get(f.ctx(), def, scim.ReadOptions{}); err != nil {
		t.Fatalf("the shown Default group is readable: %v", err)
	}
	page, err := f.groups.List(f.ctx(), scim.Query{StartIndex: 1, Count: 10})
	if err != nil || page.TotalResults != 2 {
		t.Fatalf("list %+v %v, want Default and Team", page, err)
	}
	before := f.sim.Stats().ByRoute
	_, err = f.patch(f.groups, scim.GroupType, def, `{"Operations":[{"op":"replace","path":"displayName","value":"Everyone"}]}`)
	scimErr(t, err, http.StatusBadRequest, "mutability")
	scimErr(t, f.groups.Delete(f.ctx(), def), http.StatusBadRequest, "mutability")
	after := f.sim.Stats().ByRoute
	for _, r := range []string{"PUT /v1/groups/{id}", "DELETE /v1/groups/{id}"} {
		if after[r] != before[r] {
			t.Errorf("%s sent for the Default group", r)
		}
	}
	// Its membership is managed like any group's (Domo lets admins remove and re-add users).
	if _, err := f.patch(f.groups, scim.GroupType, def, `{"Operations":[{"op":"remove","path":"members[value eq \"`+f.id("bob")+`\"]"}]}`); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.sim.Members(f.sim.DefaultGroupID()), f.users["bob"]) {
		t.Error("bob still in the Default group")
	}
}

func TestGroupDefaultGroupHidden(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil)
	def := strconv.FormatInt(f.sim.DefaultGroupID(), 10)
	members := len(f.sim.Members(f.sim.DefaultGroupID()))
	for name, call := range map[string]func() error{
		"get": func() error { _, err := f.groups.Get(f.ctx(), def, scim.ReadOptions{}); return err },
		"patch": func() error {
			_, err := f.patch(f.groups, scim.GroupType, def, `{"Operations":[{"op":"remove","path":"members"}]}`)
			return err
		},
		"delete": func() error { return f.groups.Delete(f.ctx(), def) },
	} {
		if err := call(); scimStatus(err) != http.StatusNotFound {
			t.Errorf("%s of the hidden Default group: %v, want 404", name, err)
		}
	}
	if n := len(f.sim.Members(f.sim.DefaultGroupID())); n != members {
		t.Errorf("Default group has %d members, want %d", n, members)
	}
	page, err := f.groups.List(f.ctx(), scim.Query{StartIndex: 1, Count: 10})
	if err != nil || page.TotalResults != 1 {
		t.Fatalf("list %+v %v, want only Team", page, err)
	}
}

func TestGroupCreateChecksMembersFirst(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil)
	before := f.sim.Stats().ByRoute
	_, err := f.groups.Create(f.ctx(), scim.Attributes{"displayName": "New", "members": []any{
		map[string]any{"value": f.id("alice")}, map[string]any{"value": "999999999"}}})
	se := scimErr(t, err, http.StatusBadRequest, "invalidValue")
	if !strings.Contains(se.Detail, `"999999999" is not a user`) {
		t.Errorf("detail %q does not name the id", se.Detail)
	}
	if n := f.sim.Stats().ByRoute["POST /v1/groups"] - before["POST /v1/groups"]; n != 0 {
		t.Fatalf("%d groups created for a POST with a bad member", n)
	}
}

func TestGroupRateLimitedPartway(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 31, RateWindow: time.Minute})
	var users []int64
	for i := range 4 {
		users = append(users, sim.AddUser(domosim.SimUser{Name: "U", Email: fmt.Sprintf("u%d@example.com", i)}))
	}
	gid := sim.AddGroup("Throttled")
	tb := buildBridge(t, sim, func(c *domo.Config) { c.MaxAttempts, c.MaxWait = 2, 50*time.Millisecond }, func(c *Config) { c.MemberWorkers = 1 })
	tb.t = t
	// From now on Domo takes two more requests a minute: the group (memberCount 0, so no member
	// listing) and one change.
	sim.SetOptions(func(o *domosim.Options) { o.RateLimit = 2 })
	var vals []string
	for _, u := range users {
		vals = append(vals, `{"value":"`+strconv.FormatInt(u, 10)+`"}`)
	}
	_, err := tb.patch(tb.groups, scim.GroupType, strconv.FormatInt(gid, 10), `{"Operations":[{"op":"add","path":"members","value":[`+strings.Join(vals, ",")+`]}]}`)
	se := scimErr(t, err, http.StatusTooManyRequests, "")
	if se.RetryAfter <= 0 || !strings.Contains(se.Detail, "applied 1 of 4 membership changes") {
		t.Errorf("429 %+v: want Retry-After and a truthful count", se)
	}
	got := sim.Members(gid)
	ig, _ := tb.index.Group(gid)
	if len(got) != 1 || !slices.Equal(ig.MemberIDs, got) {
		t.Errorf("Domo has %v, index %v: they must agree", got, ig.MemberIDs)
	}
}

func TestGroupConcurrentPatchesSerialise(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.groups.Update(f.ctx(), f.sid, func(cur scim.Attributes) (scim.Attributes, error) {
				ops, _, err := scim.ParsePatch(scim.GroupType, []byte(`{"Operations":[{"op":"add","path":"members","value":[{"value":"`+f.id(n)+`"}]}]}`))
				if err != nil {
					return nil, err
				}
				next, _, err := scim.ApplyPatch(scim.GroupType, cur, ops)
				return next, err
			}, scim.ReadOptions{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := f.ids("alice", "bob", "carol", "dave")
	if got := f.domoMembers(); !slices.Equal(got, want) {
		t.Errorf("Domo members %v, want %v", got, want)
	}
	if got := f.indexMembers(t); !slices.Equal(got, want) {
		t.Errorf("index members %v, want %v", got, want)
	}
}

func TestGroupChangedInDomoUI(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil, "alice")
	// A group created in Domo's UI: a GET by id makes the index learn it whole.
	ui := f.sim.AddGroup("From The UI")
	if err := f.sim.AddMemberDirect(ui, f.users["bob"]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.groups.Get(f.ctx(), strconv.FormatInt(ui, 10), scim.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if g, ok := f.index.GroupByName("from the ui"); !ok || !slices.Equal(g.MemberIDs, f.ids("bob")) {
		t.Fatalf("index after GET: %+v %v", g, ok)
	}
	// A rename in Domo's UI reaches the index at the next GET, members not read.
	if _, err := f.client.RenameGroup(context.Background(), f.gid, "Team Renamed"); err != nil {
		t.Fatal(err)
	}
	before := f.sim.Stats().ByRoute
	if _, err := f.groups.Get(f.ctx(), f.sid, scim.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Stats().ByRoute["GET /v1/groups/{id}/users"] - before["GET /v1/groups/{id}/users"]; n != 0 {
		t.Errorf("%d member reads for a GET without members", n)
	}
	if _, ok := f.index.GroupByName("Team Renamed"); !ok {
		t.Error("the index kept the old name")
	}
	// A group deleted in Domo's UI is 404 on PATCH, and the index forgets it.
	if err := f.client.DeleteGroup(context.Background(), ui); err != nil {
		t.Fatal(err)
	}
	_, err := f.patch(f.groups, scim.GroupType, strconv.FormatInt(ui, 10), `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+f.id("carol")+`"}]}]}`)
	scimErr(t, err, http.StatusNotFound, "")
	if _, ok := f.index.Group(ui); ok {
		t.Error("the index still holds a deleted group")
	}
}

func TestSyncUserGroups(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil, "alice")
	other := f.sim.AddGroup("Other") // unknown to the index: ignored
	if err := f.sim.AddMemberDirect(other, f.users["bob"]); err != nil {
		t.Fatal(err)
	}
	// The index says alice is in Team; Domo says bob is (changed in Domo's UI).
	if err := f.sim.AddMemberDirect(f.gid, f.users["bob"]); err != nil {
		t.Fatal(err)
	}
	d, err := f.client.GetUser(context.Background(), f.users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	f.b.syncUserGroups(f.users["bob"], d.Groups)
	if !slices.Contains(f.index.UserGroups(f.users["bob"]), f.gid) {
		t.Error("bob's membership not learnt from Domo's user record")
	}
	f.b.syncUserGroups(f.users["alice"], []domo.GroupRef{})
	if slices.Contains(f.index.UserGroups(f.users["alice"]), f.gid) {
		t.Error("alice's membership kept though Domo's record has none")
	}
	f.b.syncUserGroups(f.users["carol"], nil) // a record without groups tells nothing
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name             string
		cur, want        []int64
		wantAdd, wantRem []int64
	}{
		{"same", []int64{1, 2}, []int64{2, 1}, nil, nil},
		{"from empty", nil, []int64{3, 1}, []int64{1, 3}, nil},
		{"to empty", []int64{2, 1}, nil, nil, []int64{1, 2}},
		{"swap one", []int64{1, 2, 3}, []int64{1, 3, 4}, []int64{4}, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, rem := diff(tt.cur, tt.want)
			if !slices.Equal(add, tt.wantAdd) || !slices.Equal(rem, tt.wantRem) {
				t.Errorf("diff = +%v -%v, want +%v -%v", add, rem, tt.wantAdd, tt.wantRem)
			}
		})
	}
}

func TestMemberResultSettle(t *testing.T) {
	unknown := fmt.Errorf("get lost: %w", domo.ErrUnavailable)
	res := &memberResult{gid: 7, total: 4, applied: map[int64]bool{1: true},
		failed: []memberChange{{uid: 2, add: true, err: unknown}, {uid: 3, add: true, err: unknown}, {uid: 4, err: unknown}}, uncertain: true}
	// Domo, read afterwards, holds 2 (added after all) and still holds 4 (not removed).
	res.settle([]int64{1, 2, 4, 9})
	if !res.applied[2] || res.applied[3] || res.applied[4] || len(res.failed) != 2 || res.uncertain {
		t.Fatalf("settled %+v", res)
	}
	if got := res.after([]int64{4, 9}, []int64{1, 2, 3}, []int64{4}); !slices.Equal(got, []int64{1, 2, 4, 9}) {
		t.Errorf("after = %v", got)
	}
	se := scimErr(t, res.err(context.Background()), http.StatusServiceUnavailable, "")
	if !strings.Contains(se.Detail, "applied 2 of 4 membership changes to group 7; 2 failed") {
		t.Errorf("detail %q", se.Detail)
	}
	res.settle([]int64{1, 2, 3})
	if err := res.err(context.Background()); err != nil {
		t.Errorf("every change is in Domo, yet %v", err)
	}
}

func TestGroupManyUnknownMembersConverge(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil, "alice")
	// More users than one request looks up join Domo, and the group, after the bridge loaded.
	late := f.sim.SeedUsers(maxMemberLookups + 5)
	for _, u := range late {
		if err := f.sim.AddMemberDirect(f.gid, u); err != nil {
			t.Fatal(err)
		}
	}
	replace := `{"Operations":[{"op":"replace","path":"members","value":[{"value":"` + f.id("alice") + `"}]}]}`
	before := f.sim.Stats().ByRoute
	if _, err := f.patch(f.groups, scim.GroupType, f.sid, replace); err != nil {
		t.Fatal(err)
	}
	after := f.sim.Stats().ByRoute
	if n := after["GET /v1/users/{id}"] - before["GET /v1/users/{id}"]; n != maxMemberLookups {
		t.Errorf("%d lookups, want the cap %d", n, maxMemberLookups)
	}
	if n := len(f.sim.Members(f.gid)); n != 1+5 {
		t.Fatalf("%d members left, want alice and the 5 not looked up (never removed blind)", n)
	}
	if _, err := f.patch(f.groups, scim.GroupType, f.sid, replace); err != nil {
		t.Fatal(err)
	}
	if got := f.domoMembers(); !slices.Equal(got, f.ids("alice")) {
		t.Errorf("after the retry Domo has %d members, want alice only", len(got))
	}
}

func TestIdpDisplays(t *testing.T) {
	prev := &mapping.GroupShadow{MemberDisplay: map[string]string{"1": "okta@one"}}
	shown := map[string]string{"1": "okta@one", "2": "Index Two", "3": "Index Three"}
	tests := []struct {
		name  string
		next  []mapping.Member
		shown map[string]string
		want  map[string]string
	}{
		{"create keeps every display sent", []mapping.Member{{Value: "1", Display: "a"}, {Value: "2"}}, nil, map[string]string{"1": "a"}},
		{"unchanged members keep the stored display, index names are not stored",
			[]mapping.Member{{Value: "1", Display: "okta@one"}, {Value: "2", Display: "Index Two"}}, shown, map[string]string{"1": "okta@one"}},
		{"a new or changed display is the IdP's",
			[]mapping.Member{{Value: "1", Display: "renamed"}, {Value: "3", Display: "okta@three"}, {Value: "4", Display: "new"}}, shown,
			map[string]string{"1": "renamed", "3": "okta@three", "4": "new"}},
		{"a member sent without display loses the stored one", []mapping.Member{{Value: "1"}}, shown, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *mapping.GroupShadow
			if tt.shown != nil {
				p = prev
			}
			if got := idpDisplays(tt.next, tt.shown, p); !maps.Equal(got, tt.want) {
				t.Errorf("idpDisplays = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGroupCreateNameTakenOnlyInDomo(t *testing.T) {
	for _, fold := range []bool{false, true} {
		t.Run(fmt.Sprintf("foldCase=%v", fold), func(t *testing.T) {
			f := newGroupFixture(t, domosim.Options{GroupNamesFoldCase: fold}, nil)
			ui := f.sim.AddGroup("Made In UI") // after the load: the index does not know it
			if err := f.sim.AddMemberDirect(ui, f.users["carol"]); err != nil {
				t.Fatal(err)
			}
			name := "Made In UI"
			if fold {
				name = "made in ui"
			}
			_, err := f.groups.Create(f.ctx(), scim.Attributes{"displayName": name})
			scimErr(t, err, http.StatusConflict, "uniqueness")
			g, ok := f.index.GroupByName("Made In UI")
			if !ok || g.ID != ui || !slices.Equal(g.MemberIDs, f.ids("carol")) {
				t.Fatalf("the index did not learn the group: %+v %v", g, ok)
			}
			live := 0
			for _, sg := range f.sim.GroupsSnapshot() {
				if !sg.Deleted && strings.EqualFold(sg.Name, "Made In UI") {
					live++
				}
			}
			if live != 1 {
				t.Errorf("%d groups of that name in Domo", live)
			}
		})
	}
}
