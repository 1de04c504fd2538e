package domosim_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// env is a simulator behind a real HTTP server, with a token for /v1 calls.
type env struct {
	t   testing.TB
	sim *domosim.Sim
	srv *httptest.Server
	tok string
}

func newEnv(t testing.TB, opts domosim.Options) *env {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sim := domosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{t: t, sim: sim, srv: srv}
	e.tok = e.token("")
	return e
}

func (e *env) token(scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	o := e.sim.Options()
	req.SetBasicAuth(o.ClientID, o.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("token: status %d", resp.StatusCode)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	return body.AccessToken
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

func (e *env) do(method, path, body string) answer {
	e.t.Helper()
	return e.doTok(e.tok, method, path, body)
}

func (e *env) doTok(tok, method, path, body string) answer {
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
		req.Header.Set("Authorization", "bearer "+tok)
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

func (e *env) createUser(email string) int64 {
	e.t.Helper()
	a := e.do("POST", "/v1/users?sendInvite=false", `{"name":"Test User","email":"`+email+`","role":"Participant"}`)
	if a.status != 201 {
		e.t.Fatalf("create %s: %d %s", email, a.status, a.body)
	}
	var u struct{ ID int64 }
	a.json(e.t, &u)
	return u.ID
}

var toeRE = regexp.MustCompile(`^[A-Z0-9]{10}-[A-Z0-9]{5}-[A-Z0-9]{5}$`)

func checkEnvelope(t *testing.T, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("content type %q", ct)
	}
	var env struct {
		Status       int
		StatusReason string
		Message      string
		TOE          string
	}
	a.json(t, &env)
	if env.Status != status || env.StatusReason != http.StatusText(status) || env.Message == "" || !toeRE.MatchString(env.TOE) {
		t.Errorf("bad envelope %s", a.body)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{Customer: "acme", TokenTTL: 90 * time.Second})
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	tests := []struct {
		name, method, path, body, auth string
		status                         int
	}{
		{"GET query", "GET", "/oauth/token?grant_type=client_credentials&scope=user", "", basic("sim-client", "sim-secret"), 200},
		{"POST form", "POST", "/oauth/token", "grant_type=client_credentials&scope=user+data", basic("sim-client", "sim-secret"), 200},
		{"no scope means all", "POST", "/oauth/token", "grant_type=client_credentials", basic("sim-client", "sim-secret"), 200},
		{"bad secret", "POST", "/oauth/token", "grant_type=client_credentials", basic("sim-client", "nope"), 401},
		{"no auth", "POST", "/oauth/token", "grant_type=client_credentials", "", 401},
		{"bad grant", "POST", "/oauth/token", "grant_type=password", basic("sim-client", "sim-secret"), 400},
		{"unknown scope", "POST", "/oauth/token", "grant_type=client_credentials&scope=root", basic("sim-client", "sim-secret"), 400},
		{"wrong method", "PUT", "/oauth/token", "", basic("sim-client", "sim-secret"), 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			a := answer{resp.StatusCode, resp.Header, b}
			if tc.status != 200 {
				checkEnvelope(t, a, tc.status)
				return
			}
			if a.status != 200 || a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" {
				t.Fatalf("status %d headers %v", a.status, a.header)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
				Customer    string
				ExpiresIn   int64 `json:"expires_in"`
				Role, Scope string
				TokenType   string `json:"token_type"`
				UserID      int64  `json:"userId"`
				JTI         string
			}
			a.json(t, &tok)
			parts := strings.Split(tok.AccessToken, ".")
			if len(parts) != 3 || tok.Customer != "acme" || tok.ExpiresIn != 90 || tok.Role != "Admin" ||
				tok.TokenType != "bearer" || tok.UserID != e.sim.OwnerID() || tok.JTI == "" {
				t.Fatalf("token %+v", tok)
			}
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct{ Exp int64 }
			if json.Unmarshal(payload, &claims) != nil || claims.Exp < time.Now().Unix()+80 {
				t.Fatalf("claims %s", payload)
			}
			if tc.name == "no scope means all" && !strings.Contains(tok.Scope, "user") {
				t.Fatalf("scope %q", tok.Scope)
			}
		})
	}
}

func TestAuthOnV1(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{})
	checkEnvelope(t, e.doTok("", "GET", "/v1/users", ""), 401)
	checkEnvelope(t, e.doTok("garbage", "GET", "/v1/users", ""), 401)
	checkEnvelope(t, e.doTok(e.token("data"), "GET", "/v1/users", ""), 403)
	if a := e.doTok(e.tok, "GET", "/v1/users", ""); a.status != 200 {
		t.Fatalf("valid token: %d", a.status)
	}
	e.sim.ExpireTokens()
	checkEnvelope(t, e.doTok(e.tok, "GET", "/v1/users", ""), 401)
}

func TestUserCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{Customer: "acme"})
	e.createUser("taken@acme.example")
	tests := []struct {
		name, body string
		status     int
	}{
		{"malformed", `{"name":`, 400},
		{"not an object", `["x"]`, 400},
		{"missing name", `{"email":"a@acme.example","role":"Participant"}`, 400},
		{"empty email", `{"name":"A","email":"","role":"Participant"}`, 400},
		{"bad email", `{"name":"A","email":"not-an-email","role":"Participant"}`, 400},
		{"role case", `{"name":"A","email":"a@acme.example","role":"participant"}`, 400},
		{"employeeNumber text", `{"name":"A","email":"a@acme.example","role":"Participant","employeeNumber":"E1"}`, 400},
		{"duplicate email any case", `{"name":"A","email":"TAKEN@acme.example","role":"Participant"}`, 400},
		{"ok with unknown field", `{"name":"A","email":"a@acme.example","role":"Editor","favouriteColour":"blue","employeeNumber":42}`, 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do("POST", "/v1/users?sendInvite=true", tc.body)
			if tc.status != 201 {
				checkEnvelope(t, a, tc.status)
				return
			}
			if a.status != 201 {
				t.Fatalf("status %d %s", a.status, a.body)
			}
			var u map[string]any
			a.json(t, &u)
			groups, _ := u["groups"].([]any)
			if len(groups) != 1 || groups[0].(map[string]any)["name"] != "Default" {
				t.Errorf("groups %v", u["groups"])
			}
			if u["roleId"] != float64(3) || u["employeeNumber"] != float64(42) || u["createdAt"] == nil || u["image"] == nil {
				t.Errorf("user %v", u)
			}
		})
	}
	if inv := e.sim.Invites(); len(inv) != 1 || inv[0].Email != "a@acme.example" {
		t.Fatalf("invites %+v", inv)
	}
}

func TestUserCreateOmitsTimezoneAndLocale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{DuplicateEmailStatus: 409})
	a := e.do("POST", "/v1/users?sendInvite=false", `{"name":"A","email":"tz@x.example","role":"Admin","timezone":"Europe/Paris","locale":"fr-FR"}`)
	var u map[string]any
	a.json(t, &u)
	if _, has := u["timezone"]; has {
		t.Fatalf("create echoed timezone: %s", a.body)
	}
	id := strconv.FormatInt(int64(u["id"].(float64)), 10)
	var got map[string]any
	e.do("GET", "/v1/users/"+id, "").json(t, &got)
	if got["timezone"] != "Europe/Paris" || got["locale"] != "fr-FR" {
		t.Fatalf("GET %v", got)
	}
	checkEnvelope(t, e.do("POST", "/v1/users?sendInvite=false", `{"name":"B","email":"TZ@x.example","role":"Admin"}`), 409)
	if len(e.sim.Invites()) != 0 {
		t.Fatal("sendInvite=false still sent an invite")
	}
}

func TestUserPut(t *testing.T) {
	t.Parallel()
	full := `{"name":"N","email":"put@x.example","role":"Participant","title":"T2"}`
	tests := []struct {
		name  string
		opts  domosim.Options
		body  string
		check func(t *testing.T, u domosim.SimUser, a answer)
	}{
		{"merge keeps omitted", domosim.Options{}, full, func(t *testing.T, u domosim.SimUser, a answer) {
			if u.Title != "T2" || u.Phone != "555" || u.Department != "D" {
				t.Errorf("%+v", u)
			}
		}},
		{"merge clears empty string", domosim.Options{}, `{"name":"N","email":"put@x.example","role":"Participant","phone":""}`, func(t *testing.T, u domosim.SimUser, a answer) {
			if u.Phone != "" || u.Title != "T" {
				t.Errorf("%+v", u)
			}
		}},
		{"replace clears omitted", domosim.Options{PutMode: "replace"}, full, func(t *testing.T, u domosim.SimUser, a answer) {
			if u.Title != "T2" || u.Phone != "" || u.Department != "" || u.EmployeeNumber != 0 {
				t.Errorf("%+v", u)
			}
		}},
		{"undocumented fields refused", domosim.Options{UndocumentedFields: "reject"}, `{"name":"N","email":"put@x.example","role":"Participant","title":"T2","department":"X"}`, func(t *testing.T, u domosim.SimUser, a answer) {
			checkEnvelope(t, a, 400)
			if u.Title != "T" || u.Department != "D" {
				t.Errorf("a refused PUT changed %+v", u)
			}
		}},
		{"undocumented fields ignored, also by replace", domosim.Options{UndocumentedFields: "ignore", PutMode: "replace"}, `{"name":"N","email":"put@x.example","role":"Participant","title":"T2","department":"X"}`, func(t *testing.T, u domosim.SimUser, a answer) {
			if a.status != 200 || u.Title != "T2" || u.Department != "D" || u.Phone != "" {
				t.Errorf("%d %+v", a.status, u)
			}
		}},
		{"strict requires role", domosim.Options{}, `{"name":"N","email":"put@x.example"}`, func(t *testing.T, u domosim.SimUser, a answer) {
			checkEnvelope(t, a, 400)
		}},
		{"lax allows partial", domosim.Options{PutUserStrict: new(bool)}, `{"title":"Only"}`, func(t *testing.T, u domosim.SimUser, a answer) {
			if a.status != 200 || u.Title != "Only" || u.Name != "Put Me" {
				t.Errorf("%d %+v", a.status, u)
			}
		}},
		{"roleId wins", domosim.Options{}, `{"name":"N","email":"put@x.example","role":"Participant","roleId":1}`, func(t *testing.T, u domosim.SimUser, a answer) {
			if u.Role != "Admin" || u.RoleID != 1 {
				t.Errorf("%+v", u)
			}
		}},
		{"duplicate email", domosim.Options{}, `{"name":"N","email":"OTHER@x.example","role":"Participant"}`, func(t *testing.T, u domosim.SimUser, a answer) {
			checkEnvelope(t, a, 400)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			e.sim.AddUser(domosim.SimUser{Name: "Other", Email: "other@x.example"})
			id := e.sim.AddUser(domosim.SimUser{Name: "Put Me", Email: "put@x.example", Role: "Participant", Title: "T", Phone: "555", Department: "D", EmployeeNumber: 7})
			a := e.do("PUT", "/v1/users/"+strconv.FormatInt(id, 10), tc.body)
			u, _ := e.sim.User(id)
			tc.check(t, u, a)
		})
	}
}

func TestUserNotFoundAndDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{})
	checkEnvelope(t, e.do("GET", "/v1/users/123456789", ""), 404)
	checkEnvelope(t, e.do("GET", "/v1/users/abc", ""), 400)
	checkEnvelope(t, e.do("PUT", "/v1/users/123456789", `{"name":"A","email":"a@x.example","role":"Admin"}`), 404)
	checkEnvelope(t, e.do("DELETE", "/v1/users/123456789", ""), 404)
	checkEnvelope(t, e.do("PATCH", "/v1/users/123456789", "{}"), 405)
	checkEnvelope(t, e.do("GET", "/v1/nothing", ""), 404)

	id := e.createUser("gone@x.example")
	path := "/v1/users/" + strconv.FormatInt(id, 10)
	owner := "/v1/users/" + strconv.FormatInt(e.sim.OwnerID(), 10)
	e.sim.SetUserOwnsContent(e.sim.OwnerID(), true)
	checkEnvelope(t, e.do("DELETE", owner, ""), 400)
	if a := e.do("DELETE", path, ""); a.status != 204 || len(a.body) != 0 {
		t.Fatalf("delete: %d %q", a.status, a.body)
	}
	var u map[string]any
	e.do("GET", path, "").json(t, &u)
	if u["deleted"] != true || u["email"] != "gone@x.example" || u["role"] != nil {
		t.Fatalf("deleted read %v", u)
	}
	checkEnvelope(t, e.do("DELETE", path, ""), 404)
	if m := e.sim.Members(e.sim.DefaultGroupID()); len(m) != 1 {
		t.Fatalf("deleted user still a member: %v", m)
	}
	// The email is free again.
	e.createUser("gone@x.example")

	e.sim.SetOptions(func(o *domosim.Options) { o.UnknownUserGetStatus = 400 })
	checkEnvelope(t, e.do("GET", "/v1/users/123456789", ""), 400)
}

func TestPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{})
	e.sim.SeedUsers(1200) // plus the owner: 1201
	tests := []struct {
		query  string
		status int
		n      int
	}{
		{"", 200, 50},
		{"?limit=500", 200, 500},
		{"?limit=500&offset=1000", 200, 201},
		{"?limit=500&offset=5000", 200, 0},
		{"?limit=501", 400, 0},
		{"?limit=0", 400, 0},
		{"?limit=x", 400, 0},
		{"?offset=-1", 400, 0},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := e.do("GET", "/v1/users"+tc.query, "")
			if tc.status != 200 {
				checkEnvelope(t, a, tc.status)
				return
			}
			var rows []map[string]any
			a.json(t, &rows)
			if a.status != 200 || len(rows) != tc.n {
				t.Fatalf("status %d rows %d", a.status, len(rows))
			}
			if len(rows) > 0 {
				if _, has := rows[0]["groups"]; has {
					t.Error("list rows carry groups")
				}
			}
		})
	}
	e.sim.SetOptions(func(o *domosim.Options) { o.LimitOver500 = "clamp" })
	var rows []json.RawMessage
	e.do("GET", "/v1/users?limit=1000", "").json(t, &rows)
	if len(rows) != 500 {
		t.Fatalf("clamp: %d rows", len(rows))
	}
	// Insertion order: the owner first, then the seeded users.
	var first []struct{ ID int64 }
	e.do("GET", "/v1/users?limit=2", "").json(t, &first)
	if first[0].ID != e.sim.OwnerID() || first[1].ID != e.sim.Users()[1].ID {
		t.Fatalf("order %+v", first)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{})
	def := "/v1/groups/" + strconv.FormatInt(e.sim.DefaultGroupID(), 10)
	a := e.do("POST", "/v1/groups", `{"name":"Sales","default":false}`)
	if a.status != 201 {
		t.Fatalf("create %d %s", a.status, a.body)
	}
	var g map[string]any
	a.json(t, &g)
	if g["creatorId"] != strconv.FormatInt(e.sim.OwnerID(), 10) || g["active"] != true || g["default"] != false {
		t.Fatalf("created %v", g)
	}
	gid := strconv.FormatInt(int64(g["id"].(float64)), 10)
	gp := "/v1/groups/" + gid
	uid := strconv.FormatInt(e.createUser("m@x.example"), 10)

	steps := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/groups", `{"name":"Sales"}`, 400},
		{"POST", "/v1/groups", `{}`, 400},
		{"POST", "/v1/groups", `{"name":"sales"}`, 201},
		{"PUT", gp, `{"name":"sales"}`, 400},
		{"PUT", def, `{"name":"Everyone"}`, 400},
		{"PUT", def, `{"default":false}`, 400},
		{"DELETE", def, ``, 400},
		{"PUT", gp + "/users/" + uid, ``, 204},
		{"PUT", gp + "/users/" + uid, ``, 204},
		{"PUT", gp + "/users/123456789", ``, 404},
		{"PUT", "/v1/groups/123456789/users/" + uid, ``, 404},
		{"GET", gp + "/users", ``, 200},
		{"DELETE", gp + "/users/" + uid, ``, 204},
		{"DELETE", gp + "/users/" + uid, ``, 204},
		{"PUT", gp, `{"name":"Sales East"}`, 200},
		{"GET", "/v1/groups/123456789", ``, 404},
		{"GET", "/v1/groups/x", ``, 400},
		{"DELETE", gp, ``, 204},
		{"DELETE", gp, ``, 404},
		{"GET", gp + "/users", ``, 404},
	}
	for i, s := range steps {
		a := e.do(s.method, s.path, s.body)
		if a.status != s.status {
			t.Fatalf("step %d %s %s: %d, want %d: %s", i, s.method, s.path, a.status, s.status, a.body)
		}
		if s.status >= 400 {
			checkEnvelope(t, a, s.status)
		}
	}
	var deleted map[string]any
	e.do("GET", gp, "").json(t, &deleted)
	if deleted["deleted"] != true || deleted["name"] != "Sales East" {
		t.Fatalf("deleted group %v", deleted)
	}
	var list []map[string]any
	e.do("GET", "/v1/groups?limit=500", "").json(t, &list)
	if len(list) != 2 || list[0]["name"] != "Default" || list[0]["memberCount"] != float64(2) {
		t.Fatalf("list %v", list)
	}
}

func TestGroupKnobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{GroupUserIDsOnGet: true, RemoveNonMemberStatus: 404, DeleteNonEmptyGroup: "reject"})
	gid := e.sim.AddGroup("Ops")
	uid := e.createUser("k@x.example")
	if err := e.sim.AddMemberDirect(gid, uid); err != nil {
		t.Fatal(err)
	}
	gp := "/v1/groups/" + strconv.FormatInt(gid, 10)
	var g struct{ UserIDs []int64 }
	e.do("GET", gp, "").json(t, &g)
	if len(g.UserIDs) != 1 || g.UserIDs[0] != uid {
		t.Fatalf("userIds %v", g.UserIDs)
	}
	checkEnvelope(t, e.do("DELETE", gp, ""), 400)
	checkEnvelope(t, e.do("DELETE", gp+"/users/"+strconv.FormatInt(e.sim.OwnerID(), 10), ""), 404)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	e := newEnv(t, domosim.Options{RateLimit: 3, RateWindow: 10 * time.Second, Now: func() time.Time { return now }})
	// The token request in newEnv counted as one.
	for i := 0; i < 2; i++ {
		if a := e.do("GET", "/v1/users", ""); a.status != 200 || a.header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("request %d: %d %v", i, a.status, a.header)
		}
	}
	a := e.do("GET", "/v1/users", "")
	checkEnvelope(t, a, 429)
	if a.header.Get("Retry-After") != "" || a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Reset") != "1700000010" {
		t.Fatalf("429 headers %v", a.header)
	}
	now = now.Add(10 * time.Second)
	if a := e.do("GET", "/v1/users", ""); a.status != 200 {
		t.Fatalf("after the window: %d", a.status)
	}
	if s := e.sim.Stats(); s.RateLimited != 1 || s.ByRoute["GET /v1/users"] != 4 || s.ByStatus[429] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, domosim.Options{})
	e.sim.InjectFault(domosim.Fault{Method: "POST", Route: "/v1/users", Status: 503, After: true})
	checkEnvelope(t, e.do("POST", "/v1/users?sendInvite=false", `{"name":"A","email":"f@x.example","role":"Admin"}`), 503)
	if _, ok := e.sim.UserByEmail("f@x.example"); !ok {
		t.Fatal("an after-commit fault did not commit")
	}
	e.sim.InjectFault(domosim.Fault{Route: "/v1/users/{id}", Status: 502})
	checkEnvelope(t, e.do("GET", "/v1/users/"+strconv.FormatInt(e.sim.OwnerID(), 10), ""), 502)

	e.sim.InjectFault(domosim.Fault{Method: "POST", Route: "/v1/users", Drop: true, After: true})
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/users?sendInvite=false", strings.NewReader(`{"name":"A","email":"d@x.example","role":"Admin"}`))
	req.Header.Set("Authorization", "Bearer "+e.tok)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	if _, ok := e.sim.UserByEmail("d@x.example"); !ok {
		t.Fatal("a dropped request did not commit")
	}
	if s := e.sim.Stats(); s.Injected5xx != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReadAfterWriteDelay(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	e := newEnv(t, domosim.Options{ReadAfterWriteDelay: 2 * time.Second, Now: func() time.Time { return now }})
	id := e.createUser("late@x.example")
	path := "/v1/users/" + strconv.FormatInt(id, 10)
	checkEnvelope(t, e.do("GET", path, ""), 404)
	now = now.Add(2 * time.Second)
	if a := e.do("GET", path, ""); a.status != 200 {
		t.Fatalf("after the delay: %d", a.status)
	}
}

func TestSeedUsers(t *testing.T) {
	t.Parallel()
	sim := domosim.New(domosim.Options{Seed: 7})
	ids := sim.SeedUsers(5000)
	users := sim.Users()
	if len(ids) != 5000 || len(users) != 5001 {
		t.Fatalf("%d ids, %d users", len(ids), len(users))
	}
	seen := map[string]bool{}
	for _, u := range users {
		k := strings.ToLower(u.Email)
		if seen[k] || !strings.Contains(u.Name, " ") || u.RoleID == 0 {
			t.Fatalf("bad seeded user %+v", u)
		}
		seen[k] = true
	}
	if m := sim.Members(sim.DefaultGroupID()); len(m) != 5001 {
		t.Fatalf("default group has %d members", len(m))
	}
}
