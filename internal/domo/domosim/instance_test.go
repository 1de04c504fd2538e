package domosim_test

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// api calls an instance API with the access token (or none when tok is "").
func (e *env) api(tok, method, path, body string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("X-DOMO-Developer-Token", tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

type identityUser struct {
	ID           int64  `json:"id"`
	DisplayName  string `json:"displayName"`
	EmailAddress string `json:"emailAddress"`
	RoleID       int64  `json:"roleId"`
	Attributes   []struct {
		Key    string `json:"key"`
		Values []any  `json:"values"`
	} `json:"attributes"`
}

func (u identityUser) attr(key string) []any {
	for _, a := range u.Attributes {
		if a.Key == key {
			return a.Values
		}
	}
	return nil
}

func (e *env) identity(id int64) identityUser {
	e.t.Helper()
	a := e.api("sim-access-token", "GET", "/api/identity/v1/users/"+strconv.FormatInt(id, 10)+"?parts=DETAILED", "")
	if a.status != 200 {
		e.t.Fatalf("identity get %d: %d %s", id, a.status, a.body)
	}
	var wrap struct{ Users []identityUser }
	a.json(e.t, &wrap)
	if len(wrap.Users) != 1 {
		e.t.Fatalf("identity get %d: %s", id, a.body)
	}
	return wrap.Users[0]
}

// TestOneTenantTwoFaces: what v1 writes the identity and content APIs read, and the reverse.
func TestOneTenantTwoFaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{CustomRoles: []domosim.Role{{ID: 810756122, Name: "Analyst"}}})
	const tok = "sim-access-token"
	alice := e.createUser("alice@example.com")
	bob := e.createUser("bob@example.com")

	// v1 → identity: name, email, role, and v1 fields as domo-defined attributes.
	if a := e.do("PUT", "/v1/users/"+strconv.FormatInt(alice, 10), `{"name":"Alice A","email":"alice@example.com","role":"Participant","title":"CFO","department":"Finance"}`); a.status != 200 {
		t.Fatalf("v1 put: %d %s", a.status, a.body)
	}
	iu := e.identity(alice)
	if iu.DisplayName != "Alice A" || iu.EmailAddress != "alice@example.com" || iu.RoleID != 4 ||
		!slices.Equal(iu.attr("title"), []any{"CFO"}) || !slices.Equal(iu.attr("department"), []any{"Finance"}) {
		t.Fatalf("identity view of a v1 user: %+v", iu)
	}

	// identity → v1: roleId (a custom role), title, a custom attribute, reportsTo, hireDate.
	body := `{"roleId":810756122,"attributes":[{"key":"title","values":["CEO"]},{"key":"costCenter","values":["CC-1","CC-2"]},{"key":"reportsTo","values":["` + strconv.FormatInt(bob, 10) + `"]},{"key":"hireDate","values":["2024-03-01"]}]}`
	if a := e.api(tok, "PATCH", "/api/identity/v1/users/"+strconv.FormatInt(alice, 10), body); a.status != 200 {
		t.Fatalf("identity patch: %d %s", a.status, a.body)
	}
	var v1 struct {
		Role   string
		RoleID int64
		Title  string
	}
	e.do("GET", "/v1/users/"+strconv.FormatInt(alice, 10), "").json(t, &v1)
	if v1.RoleID != 810756122 || v1.Role != "Analyst" || v1.Title != "CEO" {
		t.Fatalf("v1 view after an identity PATCH: %+v", v1)
	}
	su, _ := e.sim.User(alice)
	if su.ReportsTo != bob || su.HireDate != "2024-03-01" || !slices.Equal(e.sim.Attributes(alice)["costCenter"], []string{"CC-1", "CC-2"}) {
		t.Fatalf("record: %+v", su)
	}
	if r := e.identity(alice).attr("reportsTo"); len(r) != 1 || r[0] != float64(bob) {
		t.Fatalf("reportsTo reads back %v", r)
	}

	// An unknown key refuses the whole PATCH, naming the key.
	a := e.api(tok, "PATCH", "/api/identity/v1/users/"+strconv.FormatInt(alice, 10), `{"attributes":[{"key":"title","values":["X"]},{"key":"shoeSize","values":["44"]}]}`)
	if a.status != 400 || !strings.Contains(string(a.body), "shoeSize") {
		t.Fatalf("unknown key: %d %s", a.status, a.body)
	}
	if su, _ := e.sim.User(alice); su.Title != "CEO" {
		t.Fatalf("a refused PATCH changed the title to %q", su.Title)
	}
	// Empty values clear.
	e.api(tok, "PATCH", "/api/identity/v1/users/"+strconv.FormatInt(alice, 10), `{"attributes":[{"key":"costCenter","values":[]},{"key":"reportsTo","values":[]}]}`)
	if su, _ := e.sim.User(alice); su.ReportsTo != 0 || e.sim.Attributes(alice)["costCenter"] != nil {
		t.Fatalf("not cleared: %+v", su)
	}

	// An identity-created user is a v1 user; a v1 delete hides it from the identity API.
	a = e.api(tok, "POST", "/api/identity/v1/users", `{"displayName":"Carol","emailAddress":"carol@example.com","roleId":3}`)
	var carol identityUser
	a.json(t, &carol)
	var v1c struct {
		Email string
		Role  string
	}
	e.do("GET", "/v1/users/"+strconv.FormatInt(carol.ID, 10), "").json(t, &v1c)
	if a.status != 200 || v1c.Email != "carol@example.com" || v1c.Role != "Editor" {
		t.Fatalf("identity create: %d %s; v1 sees %+v", a.status, a.body, v1c)
	}
	if a := e.api(tok, "POST", "/api/identity/v1/users", `{"displayName":"Carol","emailAddress":"CAROL@example.com"}`); a.status != 409 {
		t.Fatalf("duplicate identity create: %d", a.status)
	}
	e.do("DELETE", "/v1/users/"+strconv.FormatInt(carol.ID, 10), "")
	if a := e.api(tok, "GET", "/api/identity/v1/users/"+strconv.FormatInt(carol.ID, 10), ""); a.status != 404 {
		t.Fatalf("deleted user through identity: %d", a.status)
	}

	// Membership: bulk through content, read through v1, and the reverse.
	gid := e.sim.AddGroup("Team")
	ids := []int64{alice, bob}
	if a := e.api(tok, "PUT", "/api/content/v2/groups/"+strconv.FormatInt(gid, 10)+"/user", `[{"id":"`+strconv.FormatInt(alice, 10)+`","type":"USER"},{"id":`+strconv.FormatInt(bob, 10)+`,"type":"USER"}]`); a.status != 200 || string(a.body) != "true\n" {
		t.Fatalf("bulk add: %d %q", a.status, a.body)
	}
	var members []int64
	e.do("GET", "/v1/groups/"+strconv.FormatInt(gid, 10)+"/users?limit=500", "").json(t, &members)
	if !slices.Equal(members, ids) {
		t.Fatalf("v1 members %v, want %v", members, ids)
	}
	e.do("DELETE", "/v1/groups/"+strconv.FormatInt(gid, 10)+"/users/"+strconv.FormatInt(alice, 10), "")
	var g struct {
		UserIDs     []int64
		MemberCount int
	}
	e.api(tok, "GET", "/api/content/v2/groups/"+strconv.FormatInt(gid, 10), "").json(t, &g)
	if !slices.Equal(g.UserIDs, []int64{bob}) || g.MemberCount != 1 {
		t.Fatalf("content group after a v1 removal: %+v", g)
	}
	if a := e.api(tok, "PUT", "/api/content/v2/groups/access", `[{"groupId":"`+strconv.FormatInt(gid, 10)+`","removeMembers":[{"type":"USER","id":"`+strconv.FormatInt(bob, 10)+`"}]}]`); a.status != 200 {
		t.Fatalf("bulk remove: %d %s", a.status, a.body)
	}
	if m := e.sim.Members(gid); len(m) != 0 {
		t.Fatalf("members after bulk remove: %v", m)
	}
}

// TestInstanceKnobs: the answers the knobs promise.
func TestInstanceKnobs(t *testing.T) {
	t.Parallel()
	const tok = "sim-access-token"
	e := newEnv(t, domosim.Options{MaxBatch: 2, AttributeKeys: []string{"region"}})
	users := e.sim.SeedUsers(3)
	gid := e.sim.AddGroup("G")
	gp := "/api/content/v2/groups/" + strconv.FormatInt(gid, 10)
	list := func(ids ...int64) string {
		var parts []string
		for _, id := range ids {
			parts = append(parts, `{"id":"`+strconv.FormatInt(id, 10)+`","type":"USER"}`)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}

	for _, tc := range []struct {
		name   string
		tok    string
		method string
		path   string
		body   string
		want   int
	}{
		{"no token", "", "GET", "/api/authorization/v1/roles", "", 401},
		{"wrong token", "nope", "GET", "/api/authorization/v1/roles", "", 401},
		{"roles", tok, "GET", "/api/authorization/v1/roles", "", 200},
		{"batch over the limit", tok, "PUT", gp + "/user", list(users...), 400},
		{"batch at the limit", tok, "PUT", gp + "/user", list(users[:2]...), 200},
		{"unknown user rejects the batch", tok, "PUT", gp + "/user", list(users[2], 999999999), 400},
		{"unknown group", tok, "PUT", "/api/content/v2/groups/123/user", list(users[0]), 404},
		{"not a list", tok, "PUT", gp + "/user", `{"id":"1"}`, 400},
		{"wrong method", tok, "POST", gp, "", 405},
	} {
		if a := e.api(tc.tok, tc.method, tc.path, tc.body); a.status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.status, a.body, tc.want)
		}
	}
	if m := e.sim.Members(gid); !slices.Equal(m, users[:2]) {
		t.Fatalf("members %v: a refused batch changed something", m)
	}

	var keys []struct{ Key, Keyspace string }
	e.api(tok, "GET", "/api/user/v1/properties/meta/keys?issuerTypes=customer-defined", "").json(t, &keys)
	if len(keys) != 1 || keys[0].Key != "region" || keys[0].Keyspace != "customer-defined" {
		t.Fatalf("catalogue: %+v", keys)
	}

	e.sim.SetOptions(func(o *domosim.Options) { o.BulkUnknownUser = "skip"; o.GroupReadMaxIDs = 1 })
	if a := e.api(tok, "PUT", gp+"/user", list(users[2], 999999999)); a.status != 200 {
		t.Fatalf("skip mode: %d %s", a.status, a.body)
	}
	var g struct {
		UserIDs     []int64
		MemberCount int
	}
	e.api(tok, "GET", gp, "").json(t, &g)
	if len(g.UserIDs) != 1 || g.MemberCount != 3 {
		t.Fatalf("cut group read: %+v", g)
	}

	e.sim.SetOptions(func(o *domosim.Options) { o.InstanceGrants = []string{"identity"} })
	if a := e.api(tok, "GET", gp, ""); a.status != 403 {
		t.Fatalf("token without the content grant: %d", a.status)
	}
	e.sim.SetOptions(func(o *domosim.Options) { o.InstanceEndpoints = []string{"identity"} })
	if a := e.api(tok, "GET", gp, ""); a.status != 404 {
		t.Fatalf("instance without content: %d", a.status)
	}
	e.sim.RevokeAccessToken()
	if a := e.api(tok, "GET", "/api/identity/v1/users/"+strconv.FormatInt(users[0], 10), ""); a.status != 401 {
		t.Fatalf("revoked token: %d", a.status)
	}
	// v1 is not affected by anything the instance knobs do.
	if a := e.do("GET", "/v1/groups/"+strconv.FormatInt(gid, 10), ""); a.status != 200 {
		t.Fatalf("v1 after the instance knobs: %d", a.status)
	}
	st := e.sim.Stats()
	if st.ByRoute["PUT /api/content/v2/groups/{id}/user"] == 0 || st.ByStatus[403] == 0 {
		t.Fatalf("stats do not count instance routes: %+v", st.ByRoute)
	}
}

// TestInstanceRateLimit: the instance APIs have a budget of their own.
func TestInstanceRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{InstanceRateLimit: 2, RateLimit: 100})
	for i := range 2 {
		if a := e.api("sim-access-token", "GET", "/api/authorization/v1/roles", ""); a.status != 200 {
			t.Fatalf("call %d: %d", i, a.status)
		}
	}
	if a := e.api("sim-access-token", "GET", "/api/authorization/v1/roles", ""); a.status != 429 || a.header.Get("X-RateLimit-Limit") != "2" {
		t.Fatalf("over the instance budget: %d %v", a.status, a.header)
	}
	if a := e.do("GET", "/v1/groups", ""); a.status != 200 {
		t.Fatalf("v1 shares the instance budget: %d", a.status)
	}
}

// TestInstanceShapes: each preset of the "instance-shapes" knob answers on the wire as it says.
func TestInstanceShapes(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{"other", "other2"} {
		var o domosim.Options
		if err := o.SetKnob("instance-shapes", preset); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, o)
		owner := strconv.FormatInt(e.sim.OwnerID(), 10)
		if err := e.sim.SetAttributes(e.sim.OwnerID(), map[string][]string{"costCenter": {"4100"}}); err != nil {
			t.Fatal(err)
		}
		// Strict about Content-Type, reads included.
		if a := e.api("sim-access-token", "GET", "/api/identity/v1/users/"+owner, ""); a.status != http.StatusUnsupportedMediaType {
			t.Fatalf("%s: GET without Content-Type: %d", preset, a.status)
		}
		get := func(path string) string {
			req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
			req.Header.Set("X-DOMO-Developer-Token", "sim-access-token")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strconv.Itoa(resp.StatusCode) + " " + string(b)
		}
		user := get("/api/identity/v1/users/" + owner)
		wantUser := map[string]string{"other": `200 {"attributes":`, "other2": `200 {"users":[`}[preset]
		wantValue := map[string]string{"other": `"values":4100`, "other2": `"values":[4100]`}[preset]
		if !strings.HasPrefix(user, wantUser) || !strings.Contains(user, `"id":"`+owner+`"`) || !strings.Contains(user, wantValue) {
			t.Fatalf("%s: identity user %s", preset, user)
		}
		if a := get("/api/user/v1/properties/meta/keys"); !strings.HasPrefix(a, "404 ") || strings.Contains(a, "{") {
			t.Fatalf("%s: catalogue %s", preset, a)
		}
		if a := get("/api/authorization/v1/roles"); !strings.HasPrefix(a, `200 {"roles":[{`) || !strings.Contains(a, `"id":"1"`) {
			t.Fatalf("%s: roles %s", preset, a)
		}
		gid := strconv.FormatInt(e.sim.DefaultGroupID(), 10)
		if a := get("/api/content/v2/groups/" + gid); !strings.Contains(a, `"userIds":["`) {
			t.Fatalf("%s: group %s", preset, a)
		}
		put := func(path, body string) (int, string) {
			req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
			req.Header.Set("X-DOMO-Developer-Token", "sim-access-token")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		wantEmpty := map[string]int{"other": 422, "other2": 400}[preset]
		if status, body := put("/api/content/v2/groups/access", `[]`); status != wantEmpty || strings.HasPrefix(body, "{") {
			t.Fatalf("%s: empty bulk change %d %s", preset, status, body)
		}
		users := e.sim.SeedUsers(1)
		wantDone := map[string]int{"other": 204, "other2": 200}[preset]
		if status, body := put("/api/content/v2/groups/"+gid+"/user", `[{"id":"`+strconv.FormatInt(users[0], 10)+`","type":"USER"}]`); status != wantDone || body != "" {
			t.Fatalf("%s: bulk add %d %q", preset, status, body)
		}
	}
}

// TestRetryAfterHeader: rate-limit-headers=retry-after answers a 429 with Retry-After only.
func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{InstanceRateLimit: 1, RateLimitHeaders: "retry-after"})
	if a := e.api("sim-access-token", "GET", "/api/authorization/v1/roles", ""); a.status != 200 || a.header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("first: %d %v", a.status, a.header)
	}
	a := e.api("sim-access-token", "GET", "/api/authorization/v1/roles", "")
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); a.status != 429 || err != nil || n < 1 || n > 60 || a.header.Get("X-RateLimit-Remaining") != "" {
		t.Fatalf("429: %d %v", a.status, a.header)
	}
}
