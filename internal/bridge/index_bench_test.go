package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Benchmarks of issue 5, at 100,000 users:
//
//	go test ./internal/bridge -run '^$' -bench 'Index|List' -benchtime 5x
//
// The tenant is a simulator seeded with realistic users, two thirds of them provisioned by an
// IdP (so with a stored shadow: Okta-style or Entra-style attributes), a third created in
// Domo's UI, and 101 groups: 100 teams of 1,000 and one of every tenth user.

const benchUsers = 100_000

// tenant is a Domo tenant (the simulator, served over HTTP) and the bridge's state store
// holding the shadows of the users an IdP provisioned.
type tenant struct {
	sim    *domosim.Sim
	url    string
	store  store.Store
	rows   []domo.User // every user as Domo lists it
	recs   map[int64]*userRecord
	groups int
}

var (
	benchTenantOnce sync.Once
	benchTenant     *tenant
	benchDir        string
)

// TestMain removes what the benchmarks' shared tenant left on disk.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// sharedTenant builds the 100,000-user tenant once per process: seeding takes seconds.
func sharedTenant(b *testing.B) *tenant {
	benchTenantOnce.Do(func() {
		var err error
		if benchDir, err = os.MkdirTemp("", "scimbridge-bench-"); err != nil {
			b.Fatal(err)
		}
		benchTenant = newTenant(b, benchUsers, benchDir)
	})
	if benchTenant == nil {
		b.Fatal("tenant set-up failed earlier")
	}
	return benchTenant
}

// newTenant seeds n users and their groups, and stores shadows for the IdP-provisioned ones.
func newTenant(tb testing.TB, n int, dir string) *tenant {
	tb.Helper()
	ctx := context.Background()
	sim := domosim.New(domosim.Options{Seed: 42})
	ids := sim.SeedUsers(n)
	for i, id := range ids {
		if i%3 != 2 { // an IdP sends employeeNumber, which lands in Domo's employeeId
			if err := sim.EditUser(id, func(u *domosim.SimUser) { u.EmployeeID = "E" + strconv.Itoa(100000+i) }); err != nil {
				tb.Fatal(err)
			}
		}
	}
	teams := make([]int64, 100)
	for t := range teams {
		teams[t] = sim.AddGroup(fmt.Sprintf("Team %02d", t))
	}
	managers := sim.AddGroup("Managers")
	for i, id := range ids {
		if err := sim.AddMemberDirect(teams[i%len(teams)], id); err != nil {
			tb.Fatal(err)
		}
		if i%10 == 0 {
			if err := sim.AddMemberDirect(managers, id); err != nil {
				tb.Fatal(err)
			}
		}
	}
	ts := httptest.NewServer(sim)
	st, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tn := &tenant{sim: sim, url: ts.URL, store: st, recs: map[int64]*userRecord{}, groups: len(teams) + 1}
	client := tn.client(tb)
	order := map[int64]int{}
	for i, id := range ids {
		order[id] = i
	}
	for d, err := range client.Users(ctx) {
		if err != nil {
			tb.Fatal(err)
		}
		tn.rows = append(tn.rows, d)
	}
	opt := benchMappingOptions()
	for _, d := range tn.rows {
		i, seeded := order[d.ID]
		if !seeded || i%3 == 2 {
			continue
		}
		u := idpUser(d, i)
		upd, sh, err := mapping.UserToDomo(u, d, nil, opt)
		if err != nil {
			tb.Fatal(err)
		}
		if changed := mapping.ChangedFields(upd, d); len(changed) > 0 {
			tb.Fatalf("user %d: the IdP's view disagrees with Domo on %v", d.ID, changed)
		}
		rec := &userRecord{Shadow: sh}
		data, err := json.Marshal(rec)
		if err != nil {
			tb.Fatal(err)
		}
		if err := st.PutUserShadow(ctx, store.Shadow{ID: d.ID, ExternalID: u.ExternalID, Data: data}); err != nil {
			tb.Fatal(err)
		}
		rec, _ = decodeUserRecord(data)
		tn.recs[d.ID] = rec
	}
	sim.ResetStats()
	return tn
}

// idpUser is what Okta (i%3 == 0) or Entra (i%3 == 1) would have provisioned for d.
func idpUser(d domo.User, i int) mapping.User {
	given, family, _ := strings.Cut(d.Name, " ")
	u := mapping.User{
		UserName: d.Email, DisplayName: d.Name, Title: d.Title, Active: true,
		Name:       mapping.Name{GivenName: given, FamilyName: family},
		Enterprise: mapping.Enterprise{EmployeeNumber: d.EmployeeID, Department: d.Department},
	}
	if i%3 == 0 {
		u.ExternalID = fmt.Sprintf("00u%012dhx7", i)
		u.Emails = []mapping.Multi{{Value: d.Email, Type: "work", Primary: true}}
		u.PhoneNumbers = []mapping.Multi{{Value: d.Phone, Type: "mobile", Primary: true}}
		u.Locale = d.Locale
		return u
	}
	u.ExternalID = fmt.Sprintf("0a21f0f2-8d2a-4bb6-9d7e-%012d", i)
	u.Name.Formatted = d.Name
	u.Emails = []mapping.Multi{{Value: d.Email, Type: "work"}}
	u.PhoneNumbers = []mapping.Multi{{Value: d.Phone, Type: "work"}}
	u.PreferredLanguage = "en-US"
	u.Timezone = d.Timezone
	city, _, _ := strings.Cut(d.Location, ",")
	u.Addresses = []mapping.Address{{Formatted: d.Location, Locality: city, Type: "work"}}
	u.Enterprise.Manager = mapping.Manager{Value: strconv.Itoa(1000000 + i/50)}
	return u
}

func benchMappingOptions() mapping.Options {
	return mapping.Options{BaseURL: "https://bridge.test/scim/v2", Roles: mapping.NewRoles(nil),
		DefaultRole: "Participant", HideDefaultGroup: true}
}

// client is a Domo client for the tenant, with a budget that never makes it wait.
func (tn *tenant) client(tb testing.TB) *domo.Client {
	opts := tn.sim.Options()
	c, err := domo.New(domo.Config{BaseURL: tn.url, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret,
		RatePerMinute: 10_000_000, Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// bridge is a new bridge with an empty index on the tenant's simulator and store.
func (tn *tenant) bridge(tb testing.TB) *Bridge {
	b, err := New(Config{Domo: tn.client(tb), Store: tn.store, Index: index.New(),
		Mapping: benchMappingOptions(), Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// indexed is a bridge whose index holds the tenant, built without Domo calls, for what only
// reads the index.
func (tn *tenant) indexed(tb testing.TB) *Bridge {
	ix := index.New()
	b := indexBridge(tb, ix)
	b.cfg.Mapping = benchMappingOptions()
	s := &index.Snapshot{LoadedAt: time.Now()}
	for _, d := range tn.rows {
		if d.ID == tn.sim.OwnerID() {
			continue
		}
		s.Users = append(s.Users, b.entry(d, tn.recs[d.ID], b.cfg.Mapping))
	}
	for _, g := range tn.sim.GroupsSnapshot() {
		if !g.Default {
			s.Groups = append(s.Groups, index.Group{Group: mapping.Group{ID: g.ID, DisplayName: g.Name}, MemberIDs: g.Members})
		}
	}
	l, _ := ix.BeginLoad()
	l.Replace(s)
	return b
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkIndexLoad is a full load of the index from the simulator over HTTP, with the
// stored shadows merged: "start" is a new bridge's first load (what Start does without a
// snapshot, with a token request), "refresh" each later one (what Run does). It reports the
// Domo calls one load makes and, for start, the heap the loaded index keeps per user.
func BenchmarkIndexLoad(b *testing.B) {
	tn := sharedTenant(b)
	ctx := context.Background()
	report := func(b *testing.B, br *Bridge) {
		st := tn.sim.Stats()
		if n := br.index.UserCount(); n != benchUsers {
			b.Fatalf("%d users indexed", n)
		}
		b.ReportMetric(float64(st.Requests), "domo-calls/op")
		b.ReportMetric(float64(st.ByRoute["GET /v1/users"]), "user-pages/op")
		b.ReportMetric(float64(st.ByRoute["GET /v1/groups/{id}/users"]), "member-calls/op")
	}
	b.Run("start", func(b *testing.B) {
		var br *Bridge
		var before uint64
		for b.Loop() {
			b.StopTimer()
			br = nil
			before = heapAlloc()
			tn.sim.ResetStats()
			br = tn.bridge(b)
			b.StartTimer()
			if err := br.load(ctx, true); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := heapAlloc()
		report(b, br)
		b.ReportMetric(float64(int64(after)-int64(before))/float64(br.index.UserCount()), "heap-B/user")
		runtime.KeepAlive(br)
	})
	b.Run("refresh", func(b *testing.B) {
		br := tn.bridge(b)
		if err := br.load(ctx, true); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			tn.sim.ResetStats()
			b.StartTimer()
			if err := br.Load(ctx); err != nil {
				b.Fatal(err)
			}
		}
		report(b, br)
	})
}

// BenchmarkIndexRestore is what a restart does before it can serve: read the stored snapshot
// and index it.
func BenchmarkIndexRestore(b *testing.B) {
	tn := sharedTenant(b)
	ctx := context.Background()
	seed := tn.indexed(b)
	seed.store = tn.store
	seed.saveSnapshot(ctx)
	for b.Loop() {
		br := tn.bridge(b)
		if !br.restoreSnapshot(ctx) || br.index.UserCount() != benchUsers {
			b.Fatal("snapshot not restored")
		}
	}
}

// BenchmarkIndexHeap is the heap the index keeps per user, lookup maps and groups included:
// the heap after building it from the tenant's Domo rows and shadows, less the heap before,
// once the garbage of building it is collected.
func BenchmarkIndexHeap(b *testing.B) {
	tn := sharedTenant(b)
	br := tn.indexed(b)
	groups := tn.sim.GroupsSnapshot()
	var perUser, encoded float64
	for b.Loop() {
		b.StopTimer()
		before := heapAlloc()
		b.StartTimer()
		s := &index.Snapshot{}
		for _, d := range tn.rows {
			if d.ID != tn.sim.OwnerID() {
				s.Users = append(s.Users, br.entry(d, tn.recs[d.ID], br.cfg.Mapping))
			}
		}
		for _, g := range groups {
			if !g.Default {
				s.Groups = append(s.Groups, index.Group{Group: mapping.Group{ID: g.ID, DisplayName: g.Name}, MemberIDs: slices.Clone(g.Members)})
			}
		}
		ix := index.New()
		l, _ := ix.BeginLoad()
		l.Replace(s)
		s = nil
		b.StopTimer()
		after := heapAlloc()
		n := ix.UserCount()
		perUser = float64(int64(after)-int64(before)) / float64(n)
		enc := 0
		ix.Users(func(u *index.User) bool {
			enc += u.Size()
			return true
		})
		encoded = float64(enc) / float64(n)
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(perUser, "heap-B/user")
	b.ReportMetric(encoded, "encoded-B/user")
}

// BenchmarkIndexLookup is the userName eq filter as the bridge answers it: the index lookup
// alone, and Users.List with a parsed filter (lookup, exact match, rendering the one user).
// One op is 10,000 calls, with different userNames in a case the index does not store; it
// reports the 50th and 99th percentile of single calls.
func BenchmarkIndexLookup(b *testing.B) {
	const calls = 10_000
	tn := sharedTenant(b)
	br := tn.indexed(b)
	var names []string
	for _, d := range tn.rows {
		if d.ID != tn.sim.OwnerID() {
			names = append(names, strings.ToUpper(d.Email[:1])+d.Email[1:])
		}
	}
	filters := make([]*scim.Filter, calls)
	for i := range filters {
		f, err := scim.ParseFilter(`userName eq "`+names[(i*7919)%len(names)]+`"`, scim.UserType)
		if err != nil {
			b.Fatal(err)
		}
		filters[i] = f
	}
	ctx := context.Background()
	users := br.Users()
	b.Run("index", func(b *testing.B) {
		lat := make([]time.Duration, 0, calls)
		for b.Loop() {
			lat = lat[:0]
			for i := range calls {
				name := names[(i*7919)%len(names)]
				t0 := time.Now()
				_, ok := br.index.UserByUserName(name)
				lat = append(lat, time.Since(t0))
				if !ok {
					b.Fatalf("%s not found", name)
				}
			}
		}
		reportPercentiles(b, lat)
	})
	b.Run("list", func(b *testing.B) {
		lat := make([]time.Duration, 0, calls)
		for b.Loop() {
			lat = lat[:0]
			for _, f := range filters {
				t0 := time.Now()
				page, err := users.List(ctx, scim.Query{Filter: f, StartIndex: 1, Count: 100})
				lat = append(lat, time.Since(t0))
				if err != nil || page.TotalResults != 1 {
					b.Fatalf("%s: %d results, %v", f, page.TotalResults, err)
				}
			}
		}
		reportPercentiles(b, lat)
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

// BenchmarkListScan is a filter no index answers: a scan of every user, keeping the first page
// of 100 and the count.
func BenchmarkListScan(b *testing.B) {
	tn := sharedTenant(b)
	br := tn.indexed(b)
	users := br.Users()
	ctx := context.Background()
	for _, bc := range []struct {
		name, filter, sortBy string
	}{
		{"title-co", `title co "eng"`, ""},
		{"familyName-sw", `name.familyName sw "sm"`, ""},
		{"department-eq", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"`, ""},
		{"emails-co", `emails.value co "smith9"`, ""},
		{"emails-valuepath", `emails[type eq "work" and value co "smith9"]`, ""},
		{"groups-value", `groups.value eq "` + strconv.FormatInt(br.index.UserGroups(tn.rows[5].ID)[0], 10) + `"`, ""},
		{"active-and-not", `active eq true and not (title co "engineer")`, ""},
		{"title-co-sorted", `title co "eng"`, "userName"},
	} {
		f, err := scim.ParseFilter(bc.filter, scim.UserType)
		if err != nil {
			b.Fatal(err)
		}
		q := scim.Query{Filter: f, StartIndex: 1, Count: 100}
		if bc.sortBy != "" {
			p, err := scim.UserType.Resolve(bc.sortBy, "")
			if err != nil {
				b.Fatal(err)
			}
			q.SortBy = &p
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			total := 0
			for b.Loop() {
				page, err := users.List(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				total = page.TotalResults
			}
			if total == 0 {
				b.Fatalf("%s matched nothing", bc.filter)
			}
			b.ReportMetric(float64(total), "matches")
		})
	}
}

// BenchmarkListAllPages lists every user, 500 at a time, as an IdP's full import does.
func BenchmarkListAllPages(b *testing.B) {
	tn := sharedTenant(b)
	br := tn.indexed(b)
	users := br.Users()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		seen := 0
		for start := 1; ; start += 500 {
			page, err := users.List(ctx, scim.Query{StartIndex: start, Count: 500})
			if err != nil {
				b.Fatal(err)
			}
			seen += len(page.Resources)
			if start+500 > page.TotalResults {
				break
			}
		}
		if seen != benchUsers {
			b.Fatalf("listed %d users", seen)
		}
	}
}
