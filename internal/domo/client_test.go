package domo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// rig is a real client against a real simulator behind a real HTTP server.
type rig struct {
	sim    *domosim.Sim
	srv    *httptest.Server
	client *domo.Client
	calls  *counter
}

// counter records what the client's hooks report.
type counter struct {
	mu       sync.Mutex
	requests map[string]int
	retries  map[string]int
	waited   time.Duration
}

func (c *counter) hooks() domo.Hooks {
	return domo.Hooks{
		Request: func(_ context.Context, op string, status int, _ time.Duration) {
			c.mu.Lock()
			c.requests[op]++
			c.mu.Unlock()
		},
		Retry: func(_ context.Context, op, reason string) {
			c.mu.Lock()
			c.retries[reason]++
			c.mu.Unlock()
		},
		Wait: func(_ context.Context, _ string, d time.Duration) {
			c.mu.Lock()
			c.waited += d
			c.mu.Unlock()
		},
	}
}

func (c *counter) get(m map[string]int, k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[k]
}

func newRig(t testing.TB, opts domosim.Options, tweak func(*domo.Config)) *rig {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 42
	}
	sim := domosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cnt := &counter{requests: map[string]int{}, retries: map[string]int{}}
	cfg := domo.Config{
		BaseURL:       srv.URL,
		ClientID:      "sim-client",
		ClientSecret:  "sim-secret",
		RatePerMinute: 600_000,
		Hooks:         cnt.hooks(),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := domo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, srv: srv, client: c, calls: cnt}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  domo.Config
		want string
	}{
		{"no credentials", domo.Config{}, "client id is required; client secret is required"},
		{"bad url", domo.Config{ClientID: "a", ClientSecret: "b", BaseURL: "ftp://x"}, "base URL"},
		{"negative", domo.Config{ClientID: "a", ClientSecret: "b", MaxAttempts: -1}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domo.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTokenInfo(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{Customer: "acme"}, nil)
	info, err := r.client.Token(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.UserID != r.sim.OwnerID() || info.Role != "Admin" || info.Customer != "acme" || info.Scope != "user" ||
		time.Until(info.Expiry) < 59*time.Minute {
		t.Fatalf("info %+v", info)
	}
	if _, err := r.client.Token(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := r.sim.Stats().Tokens; n != 1 {
		t.Fatalf("%d tokens fetched, want 1 reused", n)
	}
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, func(c *domo.Config) { c.ClientSecret = "very-secret-value" })
	_, err := r.client.GetUser(ctxT(t, 5*time.Second), r.sim.OwnerID())
	if !errors.Is(err, domo.ErrUnauthorized) {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), "very-secret-value") {
		t.Fatalf("secret leaked: %v", err)
	}
	if n := r.sim.Stats().ByRoute["POST /oauth/token"]; n != 1 {
		t.Fatalf("%d token attempts; bad credentials must not be retried", n)
	}
}

func TestUserCRUD(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{Customer: "acme"}, nil)
	ctx := ctxT(t, 10*time.Second)
	u, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{
		Name: "Ada Lovelace", Email: "ada@acme.example", Role: "Participant", Title: "Analyst",
		Timezone: "Europe/London", EmployeeNumber: 7,
	}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Name != "Ada Lovelace" || u.RoleID != 4 || len(u.Groups) != 1 || u.Groups[0].Name != "Default" {
		t.Fatalf("created %+v", u)
	}
	if inv := r.sim.Invites(); len(inv) != 1 || inv[0].UserID != u.ID {
		t.Fatalf("invites %+v", inv)
	}

	got, err := r.client.GetUser(ctx, u.ID)
	if err != nil || got.Timezone != "Europe/London" || got.EmployeeNumber != 7 || got.CreatedAt.IsZero() {
		t.Fatalf("get %+v %v", got, err)
	}

	upd := domo.UserUpdate{User: got, Clear: []string{domo.FieldTitle}}
	upd.User.Title = ""
	upd.User.Department = "Maths"
	after, err := r.client.UpdateUser(ctx, u.ID, upd)
	if err != nil || after.Title != "" || after.Department != "Maths" || after.Timezone != "Europe/London" {
		t.Fatalf("update %+v %v", after, err)
	}

	if _, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "Dup", Email: "ADA@acme.example", Role: "Participant"}}, false); !errors.Is(err, domo.ErrConflict) {
		t.Fatalf("duplicate create: %v", err)
	}
	other, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "Bob", Email: "bob@acme.example", Role: "Participant"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	clash := domo.UserUpdate{User: other}
	clash.User.Email = "Ada@acme.example"
	if _, err := r.client.UpdateUser(ctx, other.ID, clash); !errors.Is(err, domo.ErrConflict) {
		t.Fatalf("email clash on update: %v", err)
	}

	if err := r.client.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.GetUser(ctx, u.ID); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := r.client.DeleteUser(ctx, u.ID); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if _, err := r.client.GetUser(ctx, 123456789); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	var apiErr *domo.APIError
	if _, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "X", Email: "bad", Role: "Participant"}}, false); !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.TOE == "" {
		t.Fatalf("invalid email: %v", err)
	}
	if _, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{Email: "x@y.example"}}, false); !errors.As(err, &apiErr) || apiErr.Status != 400 {
		t.Fatalf("missing name: %v", err)
	}
}

func TestGetUserUnknownAs400(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{UnknownUserGetStatus: 400}, nil)
	if _, err := r.client.GetUser(ctxT(t, 5*time.Second), 123456789); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("err %v", err)
	}
}

func TestUsersListingDedupAndCount(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	r.sim.SeedUsers(1499) // 1,500 with the owner: three full pages and an empty one
	ctx := ctxT(t, 20*time.Second)
	n := 0
	for u, err := range r.client.Users(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Email == "" {
			t.Fatalf("row %+v", u)
		}
		n++
	}
	if n != 1500 {
		t.Fatalf("%d users", n)
	}
	// The second listing knows the size and wastes nothing on speculative pages. Pages the
	// first listing cancelled may still be reaching the simulator: let them land first.
	r.settle()
	before := r.sim.Stats().ByRoute["GET /v1/users"]
	for _, err := range r.client.Users(ctx) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := r.sim.Stats().ByRoute["GET /v1/users"] - before; d != 4 {
		t.Fatalf("second listing took %d pages, want 4", d)
	}
	// Breaking out early stops paging.
	for range r.client.Users(ctx) {
		break
	}
}

// TestUsersDedupOnShiftingPages serves the second page one row early, as Domo does when a
// user is deleted from the first page during a listing: its first row repeats the last row of
// page one, and must be yielded once.
func TestUsersDedupOnShiftingPages(t *testing.T) {
	t.Parallel()
	sim := domosim.New(domosim.Options{Seed: 3})
	sim.SeedUsers(999)
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/users" && r.URL.Query().Get("offset") == "500" && calls.Add(1) == 1 {
			// A user on page one was deleted: everything moved one row up.
			q := r.URL.Query()
			q.Set("offset", "499")
			r.URL.RawQuery = q.Encode()
		}
		sim.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: "sim-client", ClientSecret: "sim-secret", PageConcurrency: 1, RatePerMinute: 600000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for u, err := range c.Users(ctxT(t, 10*time.Second)) {
		if err != nil {
			t.Fatal(err)
		}
		seen[u.ID]++
	}
	// Row 999 is skipped, as it would be in Domo: the shift hides it from this listing.
	if len(seen) != 999 {
		t.Fatalf("%d distinct users, want 999", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("user %d yielded %d times", id, n)
		}
	}
}

func TestFindUserByEmail(t *testing.T) {
	t.Parallel()
	// One page at a time: a speculative page cancelled by the client may still be counted by
	// the simulator after the call returned, which would blur the page counts asserted here.
	r := newRig(t, domosim.Options{}, func(c *domo.Config) { c.PageConcurrency = 1 })
	r.sim.SeedUsers(1499)
	ctx := ctxT(t, 20*time.Second)
	first := r.sim.Users()[1]
	u, ok, err := r.client.FindUserByEmail(ctx, strings.ToUpper(first.Email))
	if err != nil || !ok || u.ID != first.ID {
		t.Fatalf("find %v %v %+v", ok, err, u)
	}
	for range r.client.Users(ctx) {
	}
	// New users are appended: after a full listing a newcomer is found on the tail pages.
	id := r.sim.AddUser(domosim.SimUser{Name: "New Comer", Email: "newcomer@x.example"})
	before := r.sim.Stats().ByRoute["GET /v1/users"]
	u, ok, err = r.client.FindUserByEmail(ctx, "NewComer@x.example")
	if err != nil || !ok || u.ID != id {
		t.Fatalf("find newcomer %v %v %+v", ok, err, u)
	}
	if d := r.sim.Stats().ByRoute["GET /v1/users"] - before; d > 2 {
		t.Fatalf("tail lookup took %d pages", d)
	}
	if _, ok, err := r.client.FindUserByEmail(ctx, "nobody@x.example"); ok || err != nil {
		t.Fatalf("nobody: %v %v", ok, err)
	}
}

func TestGroupsAndMembers(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	ctx := ctxT(t, 10*time.Second)
	ids := r.sim.SeedUsers(1100)
	g, err := r.client.CreateGroup(ctx, "Sales")
	if err != nil || g.ID == 0 || g.Name != "Sales" || g.Default {
		t.Fatalf("create %+v %v", g, err)
	}
	if _, err := r.client.CreateGroup(ctx, "Sales"); !errors.Is(err, domo.ErrConflict) {
		t.Fatalf("duplicate group: %v", err)
	}
	for _, id := range ids {
		if err := r.client.AddGroupMember(ctx, g.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.client.AddGroupMember(ctx, g.ID, ids[0]); err != nil {
		t.Fatalf("re-add: %v", err)
	}
	members, err := r.client.GroupMembers(ctx, g.ID)
	if err != nil || len(members) != 1100 || members[0] != ids[0] || members[1099] != ids[1099] {
		t.Fatalf("members %d %v", len(members), err)
	}
	if err := r.client.RemoveGroupMember(ctx, g.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	got, err := r.client.GetGroup(ctx, g.ID)
	if err != nil || got.MemberCount == nil || *got.MemberCount != 1099 || got.CreatorID != domo.Int(r.sim.OwnerID()) {
		t.Fatalf("get %+v %v", got, err)
	}
	other, err := r.client.CreateGroup(ctx, "Marketing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.RenameGroup(ctx, other.ID, "Sales"); !errors.Is(err, domo.ErrConflict) {
		t.Fatalf("rename clash: %v", err)
	}
	renamed, err := r.client.RenameGroup(ctx, other.ID, "Growth")
	if err != nil || renamed.Name != "Growth" {
		t.Fatalf("rename %+v %v", renamed, err)
	}
	var names []string
	for grp, err := range r.client.Groups(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, grp.Name)
	}
	if strings.Join(names, ",") != "Default,Sales,Growth" {
		t.Fatalf("groups %v", names)
	}
	if _, err := r.client.RenameGroup(ctx, r.sim.DefaultGroupID(), "All"); err == nil {
		t.Fatal("renamed the Default group")
	}
	if err := r.client.DeleteGroup(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.GetGroup(ctx, other.ID); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("get deleted group: %v", err)
	}
	if _, err := r.client.GroupMembers(ctx, other.ID); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("members of deleted group: %v", err)
	}
}

// TestUpdateRefusedWithoutEmailChange: a PUT that Domo refuses with 400 while keeping the
// user's email cannot be an email collision, so it costs one GET to see that, not a listing of
// every user.
func TestUpdateRefusedWithoutEmailChange(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{UndocumentedFields: "reject"}, nil)
	ctx := ctxT(t, 10*time.Second)
	r.sim.SeedUsers(1200)
	u, err := r.client.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "Dee", Email: "dee@acme.example", Role: "Participant"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	upd := domo.UserUpdate{User: u}
	upd.User.Department = "Refused"
	r.settle()
	before := r.sim.Stats().ByRoute
	var apiErr *domo.APIError
	if _, err := r.client.UpdateUser(ctx, u.ID, upd); !errors.As(err, &apiErr) || apiErr.Status != 400 || errors.Is(err, domo.ErrConflict) {
		t.Fatalf("refused update: %v", err)
	}
	r.settle()
	after := r.sim.Stats().ByRoute
	if n := after["GET /v1/users"] - before["GET /v1/users"]; n != 0 {
		t.Fatalf("%d user listing pages for a refusal that cannot be a collision", n)
	}
	if n := after["GET /v1/users/{id}"] - before["GET /v1/users/{id}"]; n != 1 {
		t.Fatalf("%d GETs of the user, want 1", n)
	}
}

// TestMembersOfUsesMemberCount: a group Domo has just described is paged only as far as its
// memberCount needs: no call for an empty group, no empty page after an exact multiple of 500,
// and the usual short-page paging when Domo gave no count (or a stale one).
func TestMembersOfUsesMemberCount(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	ctx := ctxT(t, 10*time.Second)
	ids := r.sim.SeedUsers(1000)
	full := r.sim.AddGroup("Thousand")
	empty := r.sim.AddGroup("Nobody")
	for _, id := range ids {
		if err := r.sim.AddMemberDirect(full, id); err != nil {
			t.Fatal(err)
		}
	}
	listed := map[int64]domo.Group{}
	for g, err := range r.client.Groups(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed[g.ID] = g
	}
	calls := func(g domo.Group) ([]int64, int64) {
		t.Helper()
		r.settle()
		before := r.sim.Stats().ByRoute["GET /v1/groups/{id}/users"]
		got, err := r.client.MembersOf(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		r.settle()
		return got, r.sim.Stats().ByRoute["GET /v1/groups/{id}/users"] - before
	}
	if got, n := calls(listed[full]); len(got) != 1000 || got[999] != ids[999] || n != 2 {
		t.Fatalf("1,000 members counted: %d ids in %d calls, want 1000 in 2", len(got), n)
	}
	if got, n := calls(listed[empty]); len(got) != 0 || n != 0 {
		t.Fatalf("empty group: %d ids in %d calls, want 0 in 0", len(got), n)
	}
	if got, n := calls(domo.Group{ID: full}); len(got) != 1000 || n != 3 {
		t.Fatalf("no memberCount: %d ids in %d calls, want 1000 in 3", len(got), n)
	}
	stale := int64(700) // Domo counted before 300 of them were added: paged to the short page
	if got, n := calls(domo.Group{ID: full, MemberCount: &stale}); len(got) != 1000 || n != 3 {
		t.Fatalf("stale memberCount: %d ids in %d calls, want 1000 in 3", len(got), n)
	}
}

// settle waits until the simulator has seen no new request for a moment, so that requests a
// client cancelled (speculative pages) are counted before a test takes a baseline.
func (r *rig) settle() {
	deadline := time.Now().Add(2 * time.Second)
	last := r.sim.Stats().Requests
	for time.Now().Before(deadline) {
		time.Sleep(25 * time.Millisecond) // polling interval, not a fixed wait
		now := r.sim.Stats().Requests
		if now == last {
			return
		}
		last = now
	}
}
