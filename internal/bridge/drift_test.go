package bridge

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

func groupAttrs(name string, members ...string) scim.Attributes {
	ms := make([]any, len(members))
	for i, m := range members {
		ms[i] = map[string]any{"value": m}
	}
	return scim.Attributes{"schemas": []any{scim.URNGroup}, "displayName": name, "members": ms}
}

// TestDriftReport makes one change of every kind in Domo behind the bridge's back and checks
// that the next load reports exactly those, field by field, and that the report costs no Domo
// call beyond the load's listings.
func TestDriftReport(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 3})
	stranger := sim.AddUser(domosim.SimUser{Name: "Stranger", Email: "stranger@example.com"})
	tb := newTestBridge(t, sim, nil)
	ctx := context.Background()

	ada := tb.createUser(adaAttrs())
	bob := tb.createUser(scim.Attributes{"schemas": []any{scim.URNUser}, "userName": "bob@example.com", "externalId": "ext-bob",
		"name": map[string]any{"givenName": "Bob", "familyName": "B"}, "active": true})
	cy := tb.createUser(scim.Attributes{"schemas": []any{scim.URNUser}, "userName": "cy@example.com", "active": true})
	out, err := tb.groups.Create(ctx, groupAttrs("Analysts", ada, cy))
	if err != nil {
		t.Fatal(err)
	}
	gid := mustID(t, out["id"].(string))
	lost, err := tb.groups.Create(ctx, groupAttrs("Lost"))
	if err != nil {
		t.Fatal(err)
	}

	if err := tb.b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	clean := tb.b.LastDrift()
	if clean == nil {
		t.Fatal("no drift report after a load")
	}
	if clean.Counts[DriftChangedUsers]+clean.Counts[DriftOrphanedShadows]+clean.Counts[DriftForeignMembers]+clean.Counts[DriftUnmanagedGroups] != 0 {
		t.Fatalf("drift before any change behind the bridge: %+v", clean.Counts)
	}

	// Behind the bridge's back, as a Domo admin would.
	if err := sim.EditUser(mustID(t, ada), func(u *domosim.SimUser) { u.Title = "Chief Analyst"; u.Role = "Admin"; u.RoleID = 1 }); err != nil {
		t.Fatal(err)
	}
	if err := sim.DeleteUserDirect(mustID(t, bob)); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddMemberDirect(gid, stranger); err != nil {
		t.Fatal(err)
	}
	adminsID := sim.AddGroup("Admins (made in Domo)")
	if err := tb.client.DeleteGroup(ctx, mustID(t, lost["id"].(string))); err != nil {
		t.Fatal(err)
	}

	before := sim.Stats()
	if err := tb.b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	after := sim.Stats()
	for route, n := range after.ByRoute {
		if n == before.ByRoute[route] {
			continue
		}
		switch route {
		case "GET /v1/users", "GET /v1/groups", "GET /v1/groups/{id}/users":
		default:
			t.Errorf("the load with its drift report called %s %d times; only listings are expected", route, n-before.ByRoute[route])
		}
	}

	r := tb.b.LastDrift()
	want := map[string]int{DriftUnmanagedUsers: 1 + 0, DriftUnmanagedGroups: 1, DriftChangedUsers: 1, DriftOrphanedShadows: 2, DriftForeignMembers: 1}
	// The seeded tenant holds the stranger plus the simulator's own users the bridge did not write.
	want[DriftUnmanagedUsers] = len(sim.Users()) - 1 /* owner, protected */ - 2 /* ada, cy */
	for k, n := range want {
		if r.Counts[k] != n {
			t.Errorf("count %s = %d, want %d (report %+v)", k, r.Counts[k], n, r.Counts)
		}
	}
	if !slices.ContainsFunc(r.UnmanagedUsers, func(u DriftUser) bool { return u.ID == stranger && u.Email == "stranger@example.com" }) {
		t.Errorf("unmanaged users %+v lack the stranger %d", r.UnmanagedUsers, stranger)
	}
	if len(r.UnmanagedGroups) != 1 || r.UnmanagedGroups[0].ID != adminsID {
		t.Errorf("unmanaged groups = %+v, want only %d", r.UnmanagedGroups, adminsID)
	}
	if len(r.ChangedUsers) != 1 || r.ChangedUsers[0].ID != mustID(t, ada) {
		t.Fatalf("changed users = %+v, want ada only", r.ChangedUsers)
	}
	fields := map[string]mapping.FieldChange{}
	for _, f := range r.ChangedUsers[0].Fields {
		fields[f.Field] = f
	}
	if f := fields["title"]; f.Was != "Analyst" || f.Now != "Chief Analyst" {
		t.Errorf("title change = %+v, want Analyst -> Chief Analyst", f)
	}
	if f := fields["role"]; !strings.HasPrefix(f.Was, "Participant") || !strings.HasPrefix(f.Now, "Admin") {
		t.Errorf("role change = %+v, want Participant -> Admin", f)
	}
	if len(fields) != 2 {
		t.Errorf("changed fields = %+v, want title and role only", r.ChangedUsers[0].Fields)
	}
	wantOrphans := []OrphanedShadow{{Resource: "Group", ID: mustID(t, lost["id"].(string))}, {Resource: "User", ID: mustID(t, bob), ExternalID: "ext-bob"}}
	if !slices.Equal(r.OrphanedShadows, wantOrphans) {
		t.Errorf("orphaned shadows = %+v, want %+v", r.OrphanedShadows, wantOrphans)
	}
	if len(r.ForeignMembers) != 1 || r.ForeignMembers[0].GroupID != gid ||
		len(r.ForeignMembers[0].Members) != 1 || r.ForeignMembers[0].Members[0].ID != stranger {
		t.Errorf("foreign members = %+v, want the stranger in group %d", r.ForeignMembers, gid)
	}
}

// TestDriftForeignMembersFollowTheIdP: a member an admin added stays foreign when the IdP then
// adds someone else (the IdP did not put it there), is no longer foreign once the IdP removes
// it, and members the IdP adds are never foreign.
func TestDriftForeignMembersFollowTheIdP(t *testing.T) {
	f := newGroupFixture(t, domosim.Options{}, nil)
	ctx := context.Background()
	if _, err := f.groups.Update(ctx, f.sid, func(cur scim.Attributes) (scim.Attributes, error) {
		return groupAttrs("Team", f.id("alice")), nil
	}, scim.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.AddMemberDirect(f.gid, f.users["bob"]); err != nil {
		t.Fatal(err)
	}
	foreign := func() []int64 {
		t.Helper()
		if err := f.b.Load(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, fm := range f.b.LastDrift().ForeignMembers {
			for _, m := range fm.Members {
				ids = append(ids, m.ID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	if got := foreign(); !slices.Equal(got, []int64{f.users["bob"]}) {
		t.Fatalf("foreign members = %v, want bob %d", got, f.users["bob"])
	}
	add := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + f.id("carol") + `"}]}]}`
	if _, err := f.patch(f.groups, scim.GroupType, f.sid, add); err != nil {
		t.Fatal(err)
	}
	if got := foreign(); !slices.Equal(got, []int64{f.users["bob"]}) {
		t.Fatalf("after the IdP added carol: foreign members = %v, want still bob only", got)
	}
	remove := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"` + f.id("bob") + `\"]"}]}`
	if _, err := f.patch(f.groups, scim.GroupType, f.sid, remove); err != nil {
		t.Fatal(err)
	}
	if got := foreign(); len(got) != 0 {
		t.Fatalf("after the IdP removed bob: foreign members = %v, want none", got)
	}
}

// TestDriftSettlesWritesDuringTheLoad: a load reads Domo and the store at once, so a user the
// bridge creates between the two reads looks unmanaged, and one it updates looks changed in
// Domo. The report checks its findings against the store before it is published.
func TestDriftSettlesWritesDuringTheLoad(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 5})
	tb := newTestBridge(t, sim, nil)
	ctx := context.Background()
	ada := tb.createUser(adaAttrs())

	started := tb.b.now()
	records, _, err := tb.b.readUserRecords(ctx) // the store, read first
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile the IdP creates a user and changes ada's title through the bridge.
	cy := tb.createUser(scim.Attributes{"schemas": []any{scim.URNUser}, "userName": "cy@example.com", "active": true})
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Chief Analyst"}]}`
	if _, err := tb.patch(tb.users, scim.UserType, ada, patch); err != nil {
		t.Fatal(err)
	}
	var rows []domo.User
	for d, err := range tb.client.Users(ctx) { // Domo, read after
		if err != nil {
			t.Fatal(err)
		}
		if !tb.b.isProtected(d.ID, d.Email) {
			rows = append(rows, d)
		}
	}
	gr, err := tb.b.readGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := tb.b.computeDrift(rows, records, gr)
	if !slices.ContainsFunc(r.UnmanagedUsers, func(u DriftUser) bool { return u.ID == mustID(t, cy) }) ||
		!slices.ContainsFunc(r.ChangedUsers, func(c ChangedUser) bool { return c.ID == mustID(t, ada) }) {
		t.Fatalf("the unsettled report should show the race: unmanaged %+v, changed %+v", r.UnmanagedUsers, r.ChangedUsers)
	}
	unmanaged := r.Counts[DriftUnmanagedUsers]
	tb.b.publishDrift(ctx, r, started)
	got := tb.b.LastDrift()
	if slices.ContainsFunc(got.UnmanagedUsers, func(u DriftUser) bool { return u.ID == mustID(t, cy) }) || len(got.ChangedUsers) != 0 {
		t.Errorf("settled report still shows writes the bridge made during the load: unmanaged %+v, changed %+v", got.UnmanagedUsers, got.ChangedUsers)
	}
	if got.Counts[DriftUnmanagedUsers] != unmanaged-1 || got.Counts[DriftChangedUsers] != 0 {
		t.Errorf("settled counts = %+v, want unmanaged %d and no changed users", got.Counts, unmanaged-1)
	}
}

// TestLoadLogsProgress: a load that takes a while says how far it has got, so an operator
// watching a first start of a large tenant knows it is not hung.
func TestLoadLogsProgress(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 9, Latency: 30 * time.Millisecond})
	sim.SeedUsers(1200) // three pages of users
	var logs syncBuffer
	tb := newTestBridge(t, sim, func(c *Config) { c.Logger = zerolog.New(&logs) })
	tb.b.progressEvery = 10 * time.Millisecond
	if err := tb.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	var progress, started int
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch m["message"] {
		case "index load in progress":
			progress++
			last = m
		case "index load started: listing Domo users, groups and members":
			started++
		}
	}
	if started != 2 || progress == 0 { // the start's load and this one
		t.Fatalf("started lines %d, progress lines %d; want 2 and some", started, progress)
	}
	for _, k := range []string{"users_listed", "groups_listed", "member_lists_read", "elapsed"} {
		if _, ok := last[k]; !ok {
			t.Errorf("progress line %v lacks %s", last, k)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
