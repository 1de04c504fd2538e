package domo_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// scenario is one tenant behaviour the contract must hold under.
type scenario struct {
	name  string
	opts  domosim.Options
	cfg   func(*domo.Config)
	mid   func(t *testing.T, r *rig) // run halfway through, e.g. to force token expiry
	check func(t *testing.T, r *rig) // scenario-specific assertions at the end
	// faulty scenarios may turn an ambiguous duplicate create into "that is yours" instead
	// of ErrConflict (a lost answer looks the same as a successful create).
	faulty bool
}

// TestContract runs one suite of client calls against the simulator in every knob setting that
// matters, so the client and the simulator cannot drift apart.
func TestContract(t *testing.T) {
	t.Parallel()
	scenarios := []scenario{
		{name: "default"},
		{name: "replace-mode PUT", opts: domosim.Options{PutMode: "replace"}},
		{name: "alternative answers", opts: domosim.Options{
			DuplicateEmailStatus: 409, PutUserStrict: new(bool), LimitOver500: "clamp", UnknownUserGetStatus: 400,
			RemoveNonMemberStatus: 404, GroupUserIDsOnGet: true, GroupNamesFoldCase: true, ErrorPath: true,
		}},
		{
			name: "429 storm without rate headers",
			opts: domosim.Options{RateLimit: 10, RateWindow: time.Second, RateLimitHeaders: "none"},
			check: func(t *testing.T, r *rig) {
				if r.sim.Stats().RateLimited == 0 {
					t.Error("no 429 was sent: the storm did not happen")
				}
			},
		},
		{
			name: "429 storm with rate headers on 429s",
			opts: domosim.Options{RateLimit: 10, RateWindow: time.Second, RateLimitHeaders: "429"},
			check: func(t *testing.T, r *rig) {
				if r.sim.Stats().RateLimited == 0 {
					t.Error("no 429 was sent: the storm did not happen")
				}
			},
		},
		{
			name:   "20% 5xx, half after commit, 5% dropped writes",
			opts:   domosim.Options{Fail5xx: 0.2, Fail5xxAfter: 0.5, DropAfterCommit: 0.05},
			cfg:    func(c *domo.Config) { c.MaxAttempts = 10 },
			faulty: true,
			check: func(t *testing.T, r *rig) {
				if r.sim.Stats().Injected5xx == 0 {
					t.Error("no 5xx was injected")
				}
			},
		},
		{
			name: "tokens expiring every 2s",
			opts: domosim.Options{TokenTTL: 2 * time.Second},
			mid: func(t *testing.T, r *rig) {
				time.Sleep(2100 * time.Millisecond) // let the token's lifetime pass
				if _, err := r.client.Token(ctxT(t, 5*time.Second)); err != nil {
					t.Fatalf("renew: %v", err)
				}
				r.sim.ExpireTokens() // and kill the renewed one behind the client's back
			},
			check: func(t *testing.T, r *rig) {
				if n := r.sim.Stats().Tokens; n < 3 {
					t.Errorf("%d tokens issued; expected renewals", n)
				}
				if r.calls.get(r.calls.retries, "401") == 0 {
					t.Error("the forced expiry caused no 401 retry")
				}
			},
		},
		{name: "500ms latency", opts: domosim.Options{Latency: 500 * time.Millisecond}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, sc.opts, func(c *domo.Config) {
				c.RatePerMinute = 3000
				if sc.cfg != nil {
					sc.cfg(c)
				}
			})
			runContract(t, r, sc)
			if sc.check != nil {
				sc.check(t, r)
			}
		})
	}
}

func runContract(t *testing.T, r *rig, sc scenario) {
	ctx := ctxT(t, 90*time.Second)
	c, sim := r.client, r.sim
	sim.SeedUsers(620)

	info, err := c.Token(ctx)
	if err != nil || info.UserID != sim.OwnerID() {
		t.Fatalf("token: %+v %v", info, err)
	}

	// Listing: every live user exactly once.
	var listed []int64
	for u, err := range c.Users(ctx) {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		listed = append(listed, u.ID)
	}
	var want []int64
	for _, u := range sim.Users() {
		want = append(want, u.ID)
	}
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %d users, Domo holds %d (or order differs)", len(listed), len(want))
	}

	// Create with every writable field.
	const email = "Contract.User@Example.com"
	sent := domo.User{
		Name: "Contract User", Email: email, AlternateEmail: "cu@alt.example", Role: "Participant",
		Title: "Tester", Phone: "+1 555 0199", Location: "Lyon", Timezone: "Europe/Paris", Locale: "fr-FR",
		EmployeeNumber: 4242, EmployeeID: "E-4242", Department: "QA",
	}
	created, err := c.CreateUser(ctx, domo.UserUpdate{User: sent}, true)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if n := usersWithEmail(sim, email); n != 1 {
		t.Fatalf("%d users hold the email after create", n)
	}
	invites := 0
	for _, inv := range sim.Invites() {
		if strings.EqualFold(inv.Email, email) {
			invites++
		}
	}
	if invites != 1 {
		t.Fatalf("%d invites sent", invites)
	}
	id := created.ID

	got, err := c.GetUser(ctx, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got.Groups = nil
	want1 := sent
	want1.ID, want1.RoleID, want1.CreatedAt, want1.UpdatedAt, want1.Image = id, 4, got.CreatedAt, got.UpdatedAt, got.Image
	if !reflect.DeepEqual(got, want1) {
		t.Fatalf("read back\n got %+v\nwant %+v", got, want1)
	}

	// GET-merge-PUT: change one field, clear another, keep the rest.
	upd := domo.UserUpdate{User: got, Clear: []string{domo.FieldPhone}}
	upd.User.Title, upd.User.Phone = "Lead Tester", ""
	if _, err := c.UpdateUser(ctx, id, upd); err != nil {
		t.Fatalf("update: %v", err)
	}
	su, _ := sim.User(id)
	if su.Title != "Lead Tester" || su.Phone != "" || su.Department != "QA" || su.Timezone != "Europe/Paris" ||
		su.EmployeeNumber != 4242 || su.AlternateEmail != "cu@alt.example" || su.Role != "Participant" {
		t.Fatalf("after update: %+v", su)
	}

	if sc.mid != nil {
		sc.mid(t, r)
	}

	// A duplicate is refused (or, after a lost answer, recognised), never created.
	dup, err := c.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "Dup", Email: strings.ToLower(email), Role: "Participant"}}, false)
	switch {
	case errors.Is(err, domo.ErrConflict):
	case sc.faulty && err == nil && dup.ID == id:
	default:
		t.Fatalf("duplicate create: %+v %v", dup, err)
	}
	if n := usersWithEmail(sim, email); n != 1 {
		t.Fatalf("%d users hold the email after a duplicate create", n)
	}
	found, ok, err := c.FindUserByEmail(ctx, strings.ToUpper(email))
	if err != nil || !ok || found.ID != id {
		t.Fatalf("find: %v %v %+v", ok, err, found)
	}

	// Groups and membership.
	g, err := c.CreateGroup(ctx, "Contract Group")
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if dg, err := c.CreateGroup(ctx, "Contract Group"); !errors.Is(err, domo.ErrConflict) && !(sc.faulty && err == nil && dg.ID == g.ID) {
		t.Fatalf("duplicate group: %+v %v", dg, err)
	}
	named := 0
	for _, sg := range sim.GroupsSnapshot() {
		if sg.Name == "Contract Group" && !sg.Deleted {
			named++
		}
	}
	if named != 1 {
		t.Fatalf("%d groups named Contract Group", named)
	}
	for range 2 {
		if err := c.AddGroupMember(ctx, g.ID, id); err != nil {
			t.Fatalf("add member: %v", err)
		}
	}
	members, err := c.GroupMembers(ctx, g.ID)
	if err != nil || !slices.Equal(members, []int64{id}) || !slices.Equal(sim.Members(g.ID), []int64{id}) {
		t.Fatalf("members %v %v", members, err)
	}
	withGroups, err := c.GetUser(ctx, id)
	if err != nil || len(withGroups.Groups) != 2 {
		t.Fatalf("user groups %+v %v", withGroups.Groups, err)
	}
	if err := c.RemoveGroupMember(ctx, g.ID, id); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	if members, err := c.GroupMembers(ctx, g.ID); err != nil || len(members) != 0 {
		t.Fatalf("members after remove %v %v", members, err)
	}
	if rg, err := c.RenameGroup(ctx, g.ID, "Contract Group 2"); err != nil || rg.Name != "Contract Group 2" {
		t.Fatalf("rename %+v %v", rg, err)
	}
	seen := false
	for grp, err := range c.Groups(ctx) {
		if err != nil {
			t.Fatalf("groups: %v", err)
		}
		seen = seen || (grp.ID == g.ID && grp.Name == "Contract Group 2")
	}
	if !seen {
		t.Fatal("renamed group not listed")
	}
	if err := c.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if _, err := c.GetGroup(ctx, g.ID); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("get deleted group: %v", err)
	}

	// Delete.
	if err := c.DeleteUser(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.GetUser(ctx, id); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if slices.Contains(sim.Members(sim.DefaultGroupID()), id) {
		t.Fatal("deleted user still in Default")
	}
	if n := len(sim.Users()); n != 621 {
		t.Fatalf("%d users at the end, want 621", n)
	}
}
