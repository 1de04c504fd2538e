package bridge

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// indexBridge is a bridge over an index filled by the caller, for what never calls Domo
// (listing, filtering): its Domo client points at a closed port.
func indexBridge(tb testing.TB, ix *index.Index) *Bridge {
	tb.Helper()
	client, err := domo.New(domo.Config{BaseURL: "http://127.0.0.1:1", ClientID: "id", ClientSecret: "secret", Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "state.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	b, err := New(Config{Domo: client, Store: st, Index: ix, Logger: zerolog.Nop(),
		Mapping: mapping.Options{BaseURL: "https://bridge.test/scim/v2", Roles: mapping.NewRoles(nil), HideDefaultGroup: true}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// plainUser is a user as filters saw it before the fast paths: Values only.
type plainUser struct{ u mapping.User }

func (p plainUser) Values(key, sub string) []any { return p.u.Values(key, sub) }

// viewUsers are users whose attributes cover every type and shape a filter can meet.
func viewUsers() []mapping.User {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	full := mapping.User{
		ID: 1001, ExternalID: "0a21f0f2-8d2a-4bb6", UserName: "Ada.Lovelace@Example.com",
		Name: mapping.Name{Formatted: "Ada Lovelace", FamilyName: "Lovelace", GivenName: "Ada", MiddleName: "King",
			HonorificPrefix: "Lady", HonorificSuffix: "Countess"},
		DisplayName: "Ada Lovelace", NickName: "ada", ProfileURL: "https://example.com/ada", Title: "Senior Engineer",
		UserType: "Employee", PreferredLanguage: "en-GB", Locale: "en-GB", Timezone: "Europe/London", Active: true,
		Emails: []mapping.Multi{{Value: "Ada.Lovelace@Example.com", Type: "work", Primary: true},
			{Value: "ada@home.example", Type: "home"}, {Display: "no value"}},
		PhoneNumbers:     []mapping.Multi{{Value: "+44 20 7946 0000", Type: "work"}, {Value: "+44 7700 900000", Type: "mobile", Primary: true}},
		IMs:              []mapping.Multi{{Value: "ada", Type: "xmpp"}},
		Photos:           []mapping.Multi{{Value: "https://example.com/ada.png", Type: "photo"}},
		Entitlements:     []mapping.Multi{{Value: "engine", Display: "Analytical Engine"}},
		Roles:            []mapping.Multi{{Value: "Editor", Display: "Editor", Primary: true}},
		X509Certificates: []mapping.Multi{{Value: "MIIB"}},
		Addresses: []mapping.Address{{Formatted: "12 St James's Square, London", StreetAddress: "12 St James's Square",
			Locality: "London", Region: "Greater London", PostalCode: "SW1Y 4JH", Country: "GB", Type: "work", Primary: true},
			{Locality: "Ockham", Type: "home"}},
		Enterprise: mapping.Enterprise{EmployeeNumber: "1815", CostCenter: "CC1", Organization: "Babbage & Co",
			Division: "Engines", Department: "Mathematics", Manager: mapping.Manager{Value: "1791", DisplayName: "Charles Babbage"}},
		Created: t0, LastModified: t0.Add(time.Hour),
	}
	inactive := mapping.User{ID: 1002, UserName: "ſam@example.com", DisplayName: "Σίσυφος", Title: "engineer",
		Emails: []mapping.Multi{{Value: "SAM@example.com", Type: "other"}}, Roles: []mapping.Multi{{Display: "Viewer"}}}
	bare := mapping.User{ID: 1003, UserName: "bare", Active: true}
	return []mapping.User{full, inactive, bare}
}

// filtersFor builds, from the schema, a comparison of every attribute and sub-attribute with
// every operator, with operands taken from the users' own values (so that some match, in
// either case) and ones that match nothing, plus value paths and compounds. Filters the
// parser rejects (co on a boolean) are left out.
func filtersFor(rt *scim.ResourceType, users []mapping.User) []*scim.Filter {
	type path struct{ text, key, sub string }
	var paths []path
	add := func(prefix string, attrs schema.Attributes) {
		for _, a := range attrs {
			name := prefix + a.Name()
			key := strings.ToLower(name)
			paths = append(paths, path{name, key, ""})
			for _, s := range a.SubAttributes() {
				paths = append(paths, path{name + "." + s.Name(), key, strings.ToLower(s.Name())})
			}
		}
	}
	add("", rt.Schema.Attributes)
	add("", schema.CommonAttributes())
	for _, e := range rt.Extensions {
		add(e.ID+":", e.Attributes)
	}
	literal := func(v any) []string {
		switch v := v.(type) {
		case string:
			return []string{fmt.Sprintf("%q", v), fmt.Sprintf("%q", strings.ToUpper(v)), fmt.Sprintf("%q", v[:(len(v)+1)/2])}
		case bool:
			return []string{fmt.Sprint(v), fmt.Sprint(!v)}
		case time.Time:
			return []string{fmt.Sprintf("%q", v.Format(time.RFC3339))}
		}
		return nil
	}
	var texts []string
	for _, p := range paths {
		operands := []string{`"zzz-no-match"`, `null`, `1815`}
		seen := map[string]bool{}
		for _, u := range users {
			sub := p.sub
			if sub == "" {
				sub = "value" // a complex attribute compared whole compares its value
			}
			vals := u.Values(p.key, p.sub)
			if p.sub == "" && len(vals) > 0 {
				if _, isMap := vals[0].(map[string]any); isMap {
					vals = u.Values(p.key, sub)
				}
			}
			for _, v := range vals {
				for _, l := range literal(v) {
					if !seen[l] {
						seen[l] = true
						operands = append(operands, l)
					}
				}
			}
		}
		texts = append(texts, p.text+" pr")
		for _, op := range []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"} {
			for _, v := range operands {
				texts = append(texts, p.text+" "+op+" "+v)
			}
		}
	}
	texts = append(texts,
		`emails[type eq "work" and value co "example.com"]`, `emails[primary eq true]`, `emails[not (type eq "work")]`,
		`addresses[locality eq "ockham" or primary eq true]`, `roles[display pr]`, `emails[type eq "work"].value eq "ada.lovelace@example.com"`,
		`phoneNumbers[type eq "mobile" and value sw "+44"]`, `groups[display eq "engines"]`, `groups[value eq "77"]`,
		`title co "eng" and not (emails.type eq "home")`, `userName sw "ada" or name.familyName ew "ACE"`)
	var out []*scim.Filter
	for _, s := range texts {
		if f, err := scim.ParseFilter(s, rt); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// The fast paths (StringValue, Elements) must decide every filter exactly as Values does.
func TestUserViewAgreesWithValues(t *testing.T) {
	users := viewUsers()
	var entries []index.User
	for _, u := range users {
		entries = append(entries, index.NewUser(u, strings.ToLower(u.UserName)))
	}
	ix := index.New()
	ix.Restore(&index.Snapshot{Users: entries, Groups: []index.Group{
		{Group: mapping.Group{ID: 77, DisplayName: "Engines"}, MemberIDs: []int64{1001, 1002}}}})
	b := indexBridge(t, ix)
	opt := b.cfg.Mapping
	filters := filtersFor(scim.UserType, users)
	if len(filters) < 1000 {
		t.Fatalf("only %d filters parsed", len(filters))
	}
	v := b.newUserView(opt)
	hits := 0
	for _, u := range users {
		want := u
		want.Groups = b.groupRefs(u.ID, opt)
		e, _ := ix.User(u.ID)
		for _, f := range filters {
			got, exp := v.of(e).matches(f), f.Match(plainUser{want})
			if got != exp {
				t.Errorf("user %d, filter %s: fast paths say %v, Values says %v", u.ID, f, got, exp)
			}
			if exp {
				hits++
			}
		}
	}
	if hits < len(filters)/4 {
		t.Fatalf("only %d matches over %d filters: the operands miss too often to prove much", hits, len(filters))
	}
}

// StringValue and Elements answer exactly what Values does, attribute by attribute.
func TestUserViewFastPathsAreValues(t *testing.T) {
	users := viewUsers()
	ix := index.New()
	var entries []index.User
	for _, u := range users {
		entries = append(entries, index.NewUser(u, u.UserName))
	}
	ix.Restore(&index.Snapshot{Users: entries})
	b := indexBridge(t, ix)
	v := b.newUserView(b.cfg.Mapping)
	keys := []string{"id", "externalid", "username", "displayname", "nickname", "profileurl", "title", "usertype",
		"preferredlanguage", "locale", "timezone", "active", "name", "emails", "phonenumbers", "ims", "photos",
		"entitlements", "roles", "x509certificates", "addresses", "groups", "meta", "schemas", "nosuch",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager"}
	subs := []string{"", "value", "display", "type", "primary", "givenname", "familyname", "formatted", "locality",
		"displayname", "resourcetype", "version", "created", "nosuch"}
	for _, u := range users {
		e, _ := ix.User(u.ID)
		for _, k := range keys {
			for _, s := range subs {
				want := v.of(e).Values(k, s)
				if got, ok := v.of(e).StringValue(k, s); ok {
					if (got == "" && len(want) != 0) || (got != "" && !slices.Equal(want, []any{got})) {
						t.Errorf("user %d %s.%s: StringValue %q, Values %v", u.ID, k, s, got, want)
					}
				}
				elems, ok := v.of(e).Elements(k)
				if !ok || s == "" {
					continue
				}
				var flat []any
				for _, el := range elems {
					flat = append(flat, el.Values(s, "")...)
				}
				if !slices.Equal(flat, want) && len(flat)+len(want) > 0 {
					t.Errorf("user %d %s.%s: elements give %v, Values %v", u.ID, k, s, flat, want)
				}
			}
		}
	}
}

// scimServer serves the bridge's SCIM API over HTTP with the real handler, as cmd wires it.
type scimServer struct {
	t   *testing.T
	url string
}

const testToken = "list-test-token-0123456789"

func serveSCIM(t *testing.T, b *Bridge) *scimServer {
	t.Helper()
	tokens, err := scim.NewTokens([]scim.Token{{Name: "test", Secret: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens,
		Logger: zerolog.Nop(), Ready: b.Ready}))
	t.Cleanup(ts.Close)
	return &scimServer{t: t, url: ts.URL}
}

// do sends a request and decodes the JSON answer, numbers as json.Number so that their form
// can be checked.
func (s *scimServer) do(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		s.t.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// list is a list answer with its envelope checked: integers everywhere, itemsPerPage equal to
// what came back.
type listAnswer struct {
	total, start, perPage int
	ids                   []string
	resources             []map[string]any
}

func (s *scimServer) list(method, path, body string) listAnswer {
	s.t.Helper()
	status, out := s.do(method, path, body)
	if status != http.StatusOK {
		s.t.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	integer := func(k string) int {
		n, ok := out[k].(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			s.t.Fatalf("%s %s: %s is %v, not an integer", method, path, k, out[k])
		}
		return int(i)
	}
	a := listAnswer{total: integer("totalResults"), start: integer("startIndex"), perPage: integer("itemsPerPage")}
	rs, _ := out["Resources"].([]any)
	for _, r := range rs {
		m := r.(map[string]any)
		a.resources = append(a.resources, m)
		a.ids = append(a.ids, fmt.Sprint(m["id"]))
	}
	if a.perPage != len(rs) {
		s.t.Fatalf("%s %s: itemsPerPage %d for %d resources", method, path, a.perPage, len(rs))
	}
	return a
}

func seededBridge(t *testing.T, n int, mutate func(*Config)) *testBridge {
	t.Helper()
	sim := domosim.New(domosim.Options{Seed: 11})
	sim.SeedUsers(n)
	return newTestBridge(t, sim, mutate)
}

func TestListPagesThroughHTTP(t *testing.T) {
	const n = 1234
	tb := seededBridge(t, n, nil)
	srv := serveSCIM(t, tb.b)
	before := tb.sim.Stats().Requests

	// Every user once, in one stable order, with an exact total on every page.
	var all []string
	for start := 1; start <= n; start += 100 {
		a := srv.list("GET", fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=100", start), "")
		if a.total != n || a.start != start {
			t.Fatalf("page at %d: total %d, startIndex %d", start, a.total, a.start)
		}
		all = append(all, a.ids...)
	}
	if len(all) != n || !slices.IsSortedFunc(all, func(a, b string) int {
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return cmp.Compare(x, y)
	}) || len(slices.Compact(slices.Clone(all))) != n {
		t.Fatalf("pages gave %d ids, not %d distinct ones in id order", len(all), n)
	}
	for _, c := range []struct {
		query       string
		start, size int
	}{
		{"count=0", 1, 0},                     // totalResults only
		{"startIndex=0&count=3", 1, 3},        // below 1 counts as 1
		{"startIndex=-5&count=3", 1, 3},       //
		{"startIndex=1233&count=10", 1233, 2}, // the last two
		{"startIndex=5000&count=10", 5000, 0},
		{"count=100000", 1, 500}, // maxResults
		{"", 1, 500},
	} {
		a := srv.list("GET", "/scim/v2/Users?"+c.query, "")
		if a.total != n || a.start != c.start || len(a.ids) != c.size {
			t.Errorf("%s: total %d, startIndex %d, %d resources; want %d, %d, %d", c.query, a.total, a.start, len(a.ids), n, c.start, c.size)
		}
		if c.size > 0 && a.ids[0] != all[c.start-1] {
			t.Errorf("%s starts at %s, want %s", c.query, a.ids[0], all[c.start-1])
		}
	}
	if calls := tb.sim.Stats().Requests - before; calls != 0 {
		t.Fatalf("listing made %d Domo calls", calls)
	}
	_, spc := srv.do("GET", "/scim/v2/ServiceProviderConfig", "")
	if f := spc["filter"].(map[string]any); f["supported"] != true || f["maxResults"] != json.Number("500") {
		t.Fatalf("ServiceProviderConfig filter: %v", f)
	}
	if s := spc["sort"].(map[string]any); s["supported"] != true {
		t.Fatalf("ServiceProviderConfig sort: %v", s)
	}
}

// The index answers every filter exactly: the same users as evaluating the filter on each
// user's full SCIM view, and no Domo call.
func TestFiltersThroughHTTP(t *testing.T) {
	tb := seededBridge(t, 700, nil)
	srv := serveSCIM(t, tb.b)
	ada := tb.createUser(adaAttrs())
	gid := tb.sim.AddGroup("Engines")
	adaID, _ := strconv.ParseInt(ada, 10, 64)
	if err := tb.sim.AddMemberDirect(gid, adaID); err != nil {
		t.Fatal(err)
	}
	if err := tb.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	var some *index.User
	tb.index.Users(func(u *index.User) bool {
		if u.UserName != "ada@example.com" && u.Title() != "" {
			some = u
		}
		return some == nil
	})
	filters := []string{
		`userName eq "ADA@example.COM"`,
		`userName eq "` + strings.ToUpper(some.UserName) + `"`,
		`externalId eq "ext-ada"`,
		`externalId eq "EXT-ADA"`,
		`emails.value eq "ada@EXAMPLE.com"`,
		`emails[type eq "work"].value eq "Ada@example.com"`,
		`emails[type eq "work" and value co "SMITH"]`,
		`id eq "` + ada + `"`,
		`title co "eng"`,
		`title sw "SENIOR" and not (title ew "manager")`,
		`name.familyName gt "T"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales"`,
		`meta.lastModified gt "2000-01-01T00:00:00Z"`,
		`active eq true`,
		`title pr or userName eq "nobody@example.org"`,
		`phoneNumbers.value co "555 01"`,
		`groups.value eq "` + strconv.FormatInt(gid, 10) + `"`,
		`groups[display eq "engines"]`,
		`userName eq "nobody@example.com"`,
	}
	before := tb.sim.Stats().Requests
	opt := tb.b.cfg.Mapping
	for _, text := range filters {
		f, err := scim.ParseFilter(text, scim.UserType)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var want []string
		tb.index.Users(func(u *index.User) bool {
			m := u.SCIM()
			m.Groups = tb.b.groupRefs(u.ID, opt)
			if f.Match(plainUser{m}) {
				want = append(want, strconv.FormatInt(u.ID, 10))
			}
			return true
		})
		if miss := strings.HasSuffix(text, `"nobody@example.com"`) || strings.Contains(text, "EXT-ADA"); miss != (len(want) == 0) {
			t.Errorf("%s: %d users match; the test expects %v", text, len(want), map[bool]string{true: "none", false: "some"}[miss])
		}
		a := srv.list("GET", "/scim/v2/Users?count=500&filter="+url.QueryEscape(text), "")
		if a.total != len(want) || !slices.Equal(a.ids, want[:min(len(want), 500)]) {
			t.Errorf("%s: %d results %v, want %d %v", text, a.total, head(a.ids), len(want), head(want))
		}
		// The same through POST /.search, one page further.
		body, _ := json.Marshal(map[string]any{"schemas": []string{scim.URNSearch}, "filter": text, "startIndex": 2, "count": 3})
		s := srv.list("POST", "/scim/v2/Users/.search", string(body))
		if s.total != len(want) || !slices.Equal(s.ids, want[min(1, len(want)):min(4, len(want))]) {
			t.Errorf(".search %s: %d results %v", text, s.total, s.ids)
		}
	}
	if got := srv.list("GET", "/scim/v2/Users?filter="+url.QueryEscape(`groups.value eq "`+strconv.FormatInt(gid, 10)+`"`), ""); !slices.Equal(got.ids, []string{ada}) {
		t.Errorf("groups filter finds %v, want Ada", got.ids)
	}
	if calls := tb.sim.Stats().Requests - before; calls != 0 {
		t.Fatalf("filters made %d Domo calls", calls)
	}
}

func head(ids []string) []string { return ids[:min(len(ids), 5)] }

func TestBadFiltersAre400(t *testing.T) {
	tb := seededBridge(t, 3, nil)
	srv := serveSCIM(t, tb.b)
	for _, f := range []string{`userName eq`, `nosuch eq "x"`, `userName zz "x"`, `emails[type eq "work"`, `title co true and`, `name.nosuch eq "x"`} {
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/Users?filter=" + url.QueryEscape(f), ""},
			{"POST", "/scim/v2/Users/.search", `{"filter":` + strconv.Quote(f) + `}`},
			{"GET", "/scim/v2/Groups?filter=" + url.QueryEscape(f), ""},
		} {
			status, out := srv.do(req.method, req.path, req.body)
			if status != http.StatusBadRequest || out["scimType"] != "invalidFilter" || out["status"] != "400" {
				t.Errorf("%s %s: %d %v", req.method, f, status, out)
			}
		}
	}
}

func TestSortedPagesThroughHTTP(t *testing.T) {
	const n = 350
	tb := seededBridge(t, n, nil)
	srv := serveSCIM(t, tb.b)
	for _, c := range []struct{ sortBy, order, attr string }{
		{"userName", "descending", "userName"},
		{"title", "ascending", "title"},
		{"name.familyName", "", "name"},
		{"emails", "ascending", "emails"},
	} {
		var got []map[string]any
		var ids []string
		for start := 1; start <= n; start += 40 {
			a := srv.list("GET", fmt.Sprintf("/scim/v2/Users?sortBy=%s&sortOrder=%s&startIndex=%d&count=40", c.sortBy, c.order, start), "")
			got = append(got, a.resources...)
			ids = append(ids, a.ids...)
		}
		if len(ids) != n || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != n {
			t.Fatalf("sortBy=%s: %d ids over the pages, not %d distinct", c.sortBy, len(ids), n)
		}
		key := func(m map[string]any) string {
			switch v := m[c.attr].(type) {
			case string:
				return strings.ToLower(v)
			case map[string]any:
				return strings.ToLower(fmt.Sprint(v["familyName"]))
			case []any:
				return strings.ToLower(fmt.Sprint(v[0].(map[string]any)["value"]))
			}
			return "\uffff" // absent sorts last
		}
		ordered := slices.IsSortedFunc(got, func(a, b map[string]any) int {
			if c.order == "descending" {
				a, b = b, a
			}
			return strings.Compare(key(a), key(b))
		})
		if !ordered {
			t.Errorf("sortBy=%s sortOrder=%s: pages not in order", c.sortBy, c.order)
		}
	}
	if status, out := srv.do("GET", "/scim/v2/Users?sortBy=nosuch", ""); status != http.StatusBadRequest {
		t.Errorf("unknown sortBy: %d %v", status, out)
	}
}

func TestListAttributesThroughHTTP(t *testing.T) {
	tb := seededBridge(t, 5, nil)
	srv := serveSCIM(t, tb.b)
	a := srv.list("GET", "/scim/v2/Users?attributes=userName", "")
	for _, r := range a.resources {
		if _, ok := r["userName"]; !ok || r["id"] == nil || r["emails"] != nil || r["name"] != nil {
			t.Fatalf("attributes=userName gave %v", r)
		}
	}
	a = srv.list("POST", "/scim/v2/Users/.search", `{"excludedAttributes":["emails","groups"],"count":2}`)
	if len(a.resources) != 2 {
		t.Fatalf(".search count 2 gave %d", len(a.resources))
	}
	for _, r := range a.resources {
		if r["emails"] != nil || r["userName"] == nil {
			t.Fatalf("excludedAttributes gave %v", r)
		}
	}
}

func TestGroupListThroughHTTP(t *testing.T) {
	tb := seededBridge(t, 10, nil)
	srv := serveSCIM(t, tb.b)
	ada := tb.createUser(adaAttrs())
	var gid string
	for _, name := range []string{"Σίσυφος", "Sales", "Support"} {
		out, err := tb.groups.Create(tb.ctx(), scim.Attributes{"schemas": []any{scim.URNGroup}, "displayName": name,
			"members": []any{map[string]any{"value": ada}}})
		if err != nil {
			t.Fatal(err)
		}
		if name == "Sales" {
			gid = out["id"].(string)
		}
	}
	sales, _ := strconv.ParseInt(gid, 10, 64)
	if err := tb.sim.AddMemberDirect(sales, tb.sim.OwnerID()); err != nil {
		t.Fatal(err)
	}
	if err := tb.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := tb.sim.Stats().Requests
	for _, c := range []struct {
		filter string
		want   int
	}{
		{`displayName eq "ΣΊΣΥΦΟΣ"`, 1},
		{`displayName eq "sales"`, 1},
		{`displayName sw "S"`, 2},       // not Σίσυφος: Σ is not S
		{`displayName eq "Default"`, 0}, // hidden
		{`members.value eq "` + ada + `"`, 3},
		{`members.value eq "` + strconv.FormatInt(tb.sim.OwnerID(), 10) + `"`, 0}, // protected
		{`id eq "` + gid + `"`, 1},
	} {
		a := srv.list("GET", "/scim/v2/Groups?excludedAttributes=members&filter="+url.QueryEscape(c.filter), "")
		if a.total != c.want {
			t.Errorf("%s: %d groups, want %d", c.filter, a.total, c.want)
		}
		for _, r := range a.resources {
			if r["members"] != nil {
				t.Errorf("%s: members despite excludedAttributes", c.filter)
			}
		}
	}
	// Lists return members by default (RFC 7643 §4.2: returned "default"), from the index.
	a := srv.list("GET", "/scim/v2/Groups?filter="+url.QueryEscape(`displayName eq "Sales"`), "")
	if ms, _ := a.resources[0]["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["value"] != ada {
		t.Fatalf("members not listed by default: %v", a.resources[0]["members"])
	}
	a = srv.list("GET", "/scim/v2/Groups?attributes=displayName,members&filter="+url.QueryEscape(`displayName eq "Sales"`), "")
	if ms, _ := a.resources[0]["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["value"] != ada {
		t.Fatalf("members: %v", a.resources[0]["members"])
	}
	if a := srv.list("GET", "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&count=2", ""); a.total != 3 || len(a.ids) != 2 {
		t.Fatalf("sorted groups: %+v", a)
	}
	if calls := tb.sim.Stats().Requests - before; calls != 0 {
		t.Fatalf("group listing made %d Domo calls", calls)
	}
}

// Sorting through the fast paths orders users exactly as sorting their plain Values does.
func TestSortAgreesWithValues(t *testing.T) {
	var users []mapping.User
	for i, u := range viewUsers() {
		for j, title := range []string{"", "b", "B", "a", "ſ", "s", "İ", "i"} {
			v := u
			v.ID = int64(100*i + j)
			v.Title, v.Name.FamilyName, v.Timezone = title, strings.ToUpper(title), title
			users = append(users, v)
		}
	}
	var entries []index.User
	for _, u := range users {
		entries = append(entries, index.NewUser(u, u.UserName))
	}
	ix := index.New()
	ix.Restore(&index.Snapshot{Users: entries})
	b := indexBridge(t, ix)
	v := b.newUserView(b.cfg.Mapping)
	for _, path := range []string{"userName", "title", "name.familyName", "timezone", "emails", "emails.type",
		"phoneNumbers.value", "active", "meta.lastModified", "id", "externalId", "addresses.locality",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "name"} {
		p, err := scim.UserType.Resolve(path, "")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, desc := range []bool{false, true} {
			plain := make([]plainUser, len(users))
			keyed := make([]*sortKeyed, len(users))
			for i, u := range users {
				plain[i] = plainUser{u}
				e, _ := ix.User(u.ID)
				keyed[i] = &sortKeyed{src: v, u: e}
			}
			sortResources(plain, p, desc, func(r plainUser) int64 { return r.u.ID })
			sortResources(keyed, p, desc, func(k *sortKeyed) int64 { return k.u.ID })
			for i := range plain {
				if plain[i].u.ID != keyed[i].u.ID {
					t.Fatalf("sortBy %s (descending %v): position %d is %d by Values, %d by the fast paths", path, desc, i, plain[i].u.ID, keyed[i].u.ID)
				}
			}
		}
	}
}
