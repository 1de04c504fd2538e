package domo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// irig is the instance client against the same simulated tenant as a v1 client.
type irig struct {
	sim     *domosim.Sim
	srv     *httptest.Server
	in      *domo.Instance
	calls   *counter
	changes *changeLog
}

type changeLog struct {
	mu   sync.Mutex
	list []domo.CapabilityState
}

func (l *changeLog) add(st domo.CapabilityState) {
	l.mu.Lock()
	l.list = append(l.list, st)
	l.mu.Unlock()
}

func (l *changeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list)
}

func newIRig(t testing.TB, opts domosim.Options, tweak func(*domo.InstanceConfig)) *irig {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	sim := domosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	r := &irig{sim: sim, srv: srv, calls: &counter{requests: map[string]int{}, retries: map[string]int{}}, changes: &changeLog{}}
	cfg := domo.InstanceConfig{
		URL: srv.URL, AccessToken: "sim-access-token", RatePerMinute: 600_000,
		Hooks: r.calls.hooks(), OnChange: r.changes.add,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	in, err := domo.NewInstance(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.in = in
	return r
}

func (r *irig) probe(t testing.TB) map[domo.Capability]domo.CapabilityState {
	t.Helper()
	out := map[domo.Capability]domo.CapabilityState{}
	for _, st := range r.in.Probe(ctxT(t, 10*time.Second), domo.ProbeHints{UserID: r.sim.OwnerID(), GroupID: r.sim.DefaultGroupID()}) {
		out[st.Capability] = st
	}
	return out
}

func (r *irig) requests() int {
	r.calls.mu.Lock()
	defer r.calls.mu.Unlock()
	n := 0
	for _, c := range r.calls.requests {
		n += c
	}
	return n
}

func TestNewInstanceValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  domo.InstanceConfig
		want string
	}{
		{domo.InstanceConfig{URL: "acme.domo.com", AccessToken: "x"}, "absolute"},
		{domo.InstanceConfig{URL: "https://acme.domo.com/api", AccessToken: "x"}, "path"},
		{domo.InstanceConfig{URL: "https://acme.domo.com"}, "access token"},
		{domo.InstanceConfig{URL: "https://acme.domo.com", AccessToken: "x", BatchSize: 5000}, "batch size"},
	} {
		if _, err := domo.NewInstance(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
	in, err := domo.NewInstance(domo.InstanceConfig{URL: "https://acme.domo.com/", AccessToken: "x"})
	if err != nil || in.BatchSize() != domo.DefaultBatchSize || in.Available(domo.CapAttributes) {
		t.Fatalf("defaults: %v %d", err, in.BatchSize())
	}
}

// TestInstanceContract runs the instance client against the simulator's second face.
func TestInstanceContract(t *testing.T) {
	t.Parallel()
	r := newIRig(t, domosim.Options{AttributeKeys: []string{"costCenter", "region"}, CustomRoles: []domosim.Role{{ID: 1563101750, Name: "Analyst"}}}, func(c *domo.InstanceConfig) { c.BatchSize = 100 })
	ctx := ctxT(t, 30*time.Second)
	users := r.sim.SeedUsers(260)

	caps := r.probe(t)
	for _, cp := range domo.AllCapabilities {
		if !caps[cp].Available || caps[cp].Since.IsZero() {
			t.Fatalf("%s after probe: %+v", cp, caps[cp])
		}
	}
	if r.changes.count() != len(domo.AllCapabilities) {
		t.Fatalf("%d change reports, want one per capability", r.changes.count())
	}
	if got := r.in.UnknownKeys([]string{"region", "Region", "reportsTo", "shoeSize", "shoeSize"}); !slices.Equal(got, []string{"Region", "shoeSize"}) {
		t.Fatalf("unknown keys %v", got)
	}
	roles := r.in.Roles()
	if len(roles) != 6 || !slices.ContainsFunc(roles, func(ro domo.Role) bool { return ro.ID == 1563101750 && ro.Name == "Analyst" }) {
		t.Fatalf("roles %+v", roles)
	}

	// Identity: one PATCH sets the role by id and attributes; v1's record shows them.
	alice, bob := users[0], users[1]
	upd := domo.IdentityUpdate{RoleID: 1563101750, Attributes: []domo.Attribute{
		{Key: "costCenter", Values: []string{"CC-7"}}, {Key: domo.AttrReportsTo, Values: []string{itoa(bob)}},
		{Key: domo.AttrHireDate, Values: []string{"2023-01-15"}},
	}}
	got, err := r.in.UpdateUser(ctx, alice, upd)
	if err != nil || got.RoleID != 1563101750 {
		t.Fatalf("update: %+v %v", got, err)
	}
	su, _ := r.sim.User(alice)
	if su.RoleID != 1563101750 || su.ReportsTo != bob || su.HireDate != "2023-01-15" || !slices.Equal(r.sim.Attributes(alice)["costCenter"], []string{"CC-7"}) {
		t.Fatalf("Domo holds %+v", su)
	}
	iu, err := r.in.User(ctx, alice)
	if v, ok := iu.Attribute(domo.AttrReportsTo); err != nil || !ok || !slices.Equal(v, []string{itoa(bob)}) {
		t.Fatalf("read back: %+v %v", iu, err)
	}
	if v, _ := iu.Attribute("title"); len(v) != 1 || v[0] != su.Title {
		t.Fatalf("v1 title not among the identity attributes: %+v", iu.Attributes)
	}
	// A key Domo does not have: 400, and nothing changes.
	_, err = r.in.UpdateUser(ctx, alice, domo.IdentityUpdate{Attributes: []domo.Attribute{{Key: "costCenter", Values: nil}, {Key: "shoeSize", Values: []string{"44"}}}})
	var ae *domo.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "shoeSize") {
		t.Fatalf("unknown key: %v", err)
	}
	if r.sim.Attributes(alice)["costCenter"] == nil {
		t.Fatal("a refused PATCH cleared costCenter")
	}
	// An unknown user is ErrNotFound, not a lost capability.
	if _, err := r.in.User(ctx, 999999999); !errors.Is(err, domo.ErrNotFound) || !r.in.Available(domo.CapAttributes) {
		t.Fatalf("unknown user: %v", err)
	}

	// Content: bulk add 250 in 3 calls, read back in 1, bulk remove.
	gid := r.sim.AddGroup("Contract Team")
	before := r.requests()
	res := r.in.AddMembers(ctx, gid, users[:250])
	if res.Err != nil || len(res.Applied) != 250 || res.Calls != 3 || r.requests()-before != 3 {
		t.Fatalf("add: %+v (%d requests)", res, r.requests()-before)
	}
	g, err := r.in.Group(ctx, gid)
	if err != nil || len(g.UserIDs) != 250 || *g.MemberCount != 250 || g.Name != "Contract Team" {
		t.Fatalf("group read: %v %d", err, len(g.UserIDs))
	}
	if res := r.in.RemoveMembers(ctx, gid, users[:120]); res.Err != nil || len(res.Applied) != 120 {
		t.Fatalf("remove: %+v", res)
	}
	if m := r.sim.Members(gid); !slices.Equal(m, users[120:250]) {
		t.Fatalf("members after remove: %d", len(m))
	}

	// A deleted user in a batch: Domo refuses the batch; halving pins it down, the rest go in.
	if err := r.sim.DeleteUserDirect(users[255]); err != nil {
		t.Fatal(err)
	}
	res = r.in.AddMembers(ctx, gid, users[250:260])
	if res.Err != nil || len(res.Applied) != 9 || len(res.Refused) != 1 || res.Refused[users[255]] == nil {
		t.Fatalf("batch with a gone user: %+v", res)
	}
	if r.in.BatchSize() != 100 {
		t.Fatalf("a refused user shrank the batch to %d", r.in.BatchSize())
	}

	// A group that is gone: ErrNotFound after the capability checks out.
	other := r.sim.AddGroup("Doomed")
	r.deleteGroup(t, other)
	if res := r.in.AddMembers(ctx, other, users[:3]); !errors.Is(res.Err, domo.ErrNotFound) || len(res.Pending) != 3 || !r.in.Available(domo.CapBulkMembership) {
		t.Fatalf("gone group: %+v", res)
	}
	if _, err := r.in.Group(ctx, other); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("gone group read: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (r *irig) deleteGroup(t *testing.T, gid int64) {
	t.Helper()
	c, err := domo.New(domo.Config{BaseURL: r.srv.URL, ClientID: "sim-client", ClientSecret: "sim-secret", RatePerMinute: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteGroup(ctxT(t, 5*time.Second), gid); err != nil {
		t.Fatal(err)
	}
}

// TestInstanceBatchShrinks: a tenant that takes fewer members per call than configured gets
// each refused batch in halves, and smaller batches from then on.
func TestInstanceBatchShrinks(t *testing.T) {
	t.Parallel()
	r := newIRig(t, domosim.Options{MaxBatch: 60}, func(c *domo.InstanceConfig) { c.BatchSize = 100 })
	users := r.sim.SeedUsers(300)
	gid := r.sim.AddGroup("Big")
	res := r.in.AddMembers(ctxT(t, 10*time.Second), gid, users)
	if res.Err != nil || len(res.Applied) != 300 || len(r.sim.Members(gid)) != 300 {
		t.Fatalf("%+v", res)
	}
	// 100 refused, 50+50, then 50 a call for the remaining 200.
	if r.in.BatchSize() != 50 || res.Calls != 3+4 {
		t.Fatalf("batch %d after %d calls", r.in.BatchSize(), res.Calls)
	}
}

// TestInstanceCapabilityLoss: refusals and missing endpoints mark capabilities unavailable
// (and only the affected ones); a later probe brings them back.
func TestInstanceCapabilityLoss(t *testing.T) {
	t.Parallel()
	r := newIRig(t, domosim.Options{}, nil)
	ctx := ctxT(t, 20*time.Second)
	users := r.sim.SeedUsers(3)
	gid := r.sim.AddGroup("G")
	r.probe(t)

	// A token without the content grant: 403 takes bulk membership, nothing else.
	r.sim.SetOptions(func(o *domosim.Options) { o.InstanceGrants = []string{"identity", "roles"} })
	res := r.in.AddMembers(ctx, gid, users)
	var ce *domo.CapabilityError
	if !errors.As(res.Err, &ce) || ce.Status != 403 || !errors.Is(res.Err, domo.ErrCapability) || errors.Is(res.Err, domo.ErrUnauthorized) || len(res.Pending) != 3 {
		t.Fatalf("403: %+v", res)
	}
	if r.in.Available(domo.CapBulkMembership) || !r.in.Available(domo.CapAttributes) || !r.in.Available(domo.CapGroupRead) {
		t.Fatalf("after 403: %+v", r.in.Capabilities())
	}

	// An instance without the content API: a 404 on a group path is checked, and found to be
	// the endpoint's.
	r.sim.SetOptions(func(o *domosim.Options) { o.InstanceGrants = nil; o.InstanceEndpoints = []string{"identity", "roles"} })
	if _, err := r.in.Group(ctx, gid); !errors.Is(err, domo.ErrCapability) || errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("404 endpoint: %v", err)
	}
	if r.in.Available(domo.CapGroupRead) {
		t.Fatal("group read still available")
	}

	// A revoked token: every capability goes.
	r.sim.SetOptions(func(o *domosim.Options) { o.InstanceEndpoints = nil })
	r.sim.RevokeAccessToken()
	if _, err := r.in.User(ctx, users[0]); !errors.As(err, &ce) || ce.Status != 401 {
		t.Fatalf("revoked: %v", err)
	}
	for _, st := range r.in.Capabilities() {
		if st.Available || st.Status != 401 || st.Reason == "" {
			t.Fatalf("after 401: %+v", st)
		}
	}
	if strings.Contains(ce.Error(), "sim-access-token") {
		t.Fatal("the access token leaked into an error")
	}

	// Restored: a probe brings every capability back.
	r.sim.RestoreAccessToken()
	for cp, st := range r.probe(t) {
		if !st.Available {
			t.Fatalf("%s after restore: %+v", cp, st)
		}
	}

	// A group read that does not list every member is ErrIncomplete, not a lost capability.
	r.sim.SetOptions(func(o *domosim.Options) { o.GroupReadMaxIDs = 1 })
	if err := r.sim.AddMemberDirect(gid, users[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.AddMemberDirect(gid, users[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.in.Group(ctx, gid); !errors.Is(err, domo.ErrIncomplete) || !r.in.Available(domo.CapGroupRead) {
		t.Fatalf("cut list: %v", err)
	}
}

// TestInstanceFaults: the instance pacer, 429 handling and retries are v1's.
func TestInstanceFaults(t *testing.T) {
	t.Parallel()
	r := newIRig(t, domosim.Options{InstanceRateLimit: 5, RateWindow: time.Second, RateLimitHeaders: "none"}, nil)
	users := r.sim.SeedUsers(2)
	gid := r.sim.AddGroup("G")
	r.sim.InjectFault(domosim.Fault{Method: "PUT", Route: "/api/content/v2/groups/{id}/user", Status: 503, After: true})
	ctx := ctxT(t, 20*time.Second)
	for i := range 12 {
		if _, err := r.in.User(ctx, users[i%2]); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if r.sim.Stats().RateLimited == 0 || r.calls.get(r.calls.retries, "429") == 0 {
		t.Fatal("no 429 was seen and waited out")
	}
	res := r.in.AddMembers(ctx, gid, users)
	if res.Err != nil || len(r.sim.Members(gid)) != 2 || r.calls.get(r.calls.retries, "5xx") == 0 {
		t.Fatalf("after a 503: %+v", res)
	}

	// A budget that runs out within MaxWait is a *RateLimitError, like v1's.
	slow := newIRig(t, domosim.Options{}, func(c *domo.InstanceConfig) { c.RatePerMinute = 60; c.MaxWait = 50 * time.Millisecond })
	slow.sim.SeedUsers(1)
	_, _ = slow.in.User(ctx, slow.sim.OwnerID())
	_, err := slow.in.User(ctx, slow.sim.OwnerID())
	var rl *domo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("exhausted budget: %v", err)
	}
}

// TestInstanceTokenRotation: after a 401 the token source is asked again, and a new token
// is used without a restart.
func TestInstanceTokenRotation(t *testing.T) {
	t.Parallel()
	var current atomic.Value
	current.Store("sim-access-token")
	r := newIRig(t, domosim.Options{}, func(c *domo.InstanceConfig) {
		c.AccessToken = ""
		c.TokenSource = func(context.Context) (string, error) { return current.Load().(string), nil }
	})
	ctx := ctxT(t, 10*time.Second)
	if _, err := r.in.User(ctx, r.sim.OwnerID()); err != nil {
		t.Fatal(err)
	}
	r.sim.SetOptions(func(o *domosim.Options) { o.AccessToken = "rotated-token" })
	current.Store("rotated-token")
	if _, err := r.in.User(ctx, r.sim.OwnerID()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if r.calls.get(r.calls.retries, "401") != 1 {
		t.Fatalf("%d 401 retries", r.calls.get(r.calls.retries, "401"))
	}
}
