package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
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

// The crash-point test: every multi-step operation (one scenario at least per intent kind the
// bridge writes, IntentKinds) is run once cleanly to learn its Domo calls 1..n and its outcome.
// Then, for every call k and every kind of fault at k, it is run again on a fresh tenant:
//
//   - before: Domo refuses call k without applying it (503), and every later call, until the
//     operation has answered;
//   - after: Domo applies call k, then the answer is lost (502), and every later call fails
//     as above;
//   - kill: the process stops right after Domo answered call k: nothing it would do next (its
//     store writes, its index, its answer) happens.
//
// Domo then recovers, and either the IdP retries as it would (retry), or the bridge is started
// again on the same state file first (restart; always after a kill), which must finish or
// leave nothing unfinished, and then the IdP retries. The simulated tenant, the store and the
// SCIM view must then equal the clean run's.

// faultKind is what happens at the faulted Domo call.
type faultKind string

const (
	faultBefore faultKind = "before"
	faultAfter  faultKind = "after"
	faultKill   faultKind = "kill"
)

var errKilled = errors.New("the process was stopped")

// faultTransport sits between the Domo client and the simulator. It numbers the /v1 calls of
// an armed operation and injects one fault kind at call k.
type faultTransport struct {
	base http.RoundTripper

	mu      sync.Mutex
	armed   bool
	n       int // /v1 calls since armed
	at      int // the call to fault, 1-based; 0 counts only
	kind    faultKind
	failing bool          // Domo fails every call until disarm
	dead    bool          // the process was stopped: nothing it sends arrives
	killed  chan struct{} // closed when the kill happened
	release chan struct{} // closed by the test once the dead process's store is closed
	routes  []string
}

func newFaultTransport() *faultTransport {
	return &faultTransport{base: http.DefaultTransport}
}

// arm starts counting the calls of one operation, faulting call at with kind (at 0: none).
func (f *faultTransport) arm(at int, kind faultKind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.n, f.at, f.kind, f.failing, f.routes = true, 0, at, kind, false, nil
	f.killed, f.release = make(chan struct{}), make(chan struct{})
}

// disarm makes Domo well again and returns the calls counted.
func (f *faultTransport) disarm() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.failing = false, false
	return f.routes
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	if f.dead {
		f.mu.Unlock()
		return nil, errKilled
	}
	if !f.armed || !(strings.HasPrefix(req.URL.Path, "/v1/") || strings.HasPrefix(req.URL.Path, "/api/")) {
		f.mu.Unlock()
		return f.base.RoundTrip(req)
	}
	f.n++
	k := f.n
	f.routes = append(f.routes, req.Method+" "+req.URL.Path)
	failing := f.failing
	if k == f.at {
		f.failing = f.kind != faultKill
	}
	kind, at := f.kind, f.at
	f.mu.Unlock()

	switch {
	case failing, k == at && kind == faultBefore:
		return domoDown(req), nil
	case k == at && kind == faultAfter:
		resp, err := f.base.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{"status":502,"statusReason":"Bad Gateway","message":"answer lost"}`)), Request: req}, nil
	case k == at && kind == faultKill:
		resp, err := f.base.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		f.mu.Lock()
		f.dead = true
		f.mu.Unlock()
		close(f.killed)
		<-f.release
		return nil, errKilled
	}
	return f.base.RoundTrip(req)
}

func domoDown(req *http.Request) *http.Response {
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"status":503,"statusReason":"Service Unavailable","message":"down"}`)), Request: req}
}

// crashProc is one bridge process: its Domo client, store, bridge and SCIM server.
type crashProc struct {
	ft    *faultTransport
	store store.Store
	b     *Bridge
	srv   *httptest.Server
}

// crashEnv is a simulated tenant and a state file that bridge processes come and go on.
type crashEnv struct {
	t      *testing.T
	sc     crashScenario
	sim    *domosim.Sim
	simURL string
	state  string
	proc   *crashProc
	vars   map[string]string
	names  map[int64]string // Domo ids to emails and group names, for comparing runs
}

func newCrashEnv(t *testing.T, sc crashScenario) *crashEnv {
	t.Helper()
	opts := sc.sim
	opts.Seed = 99
	sim := domosim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &crashEnv{t: t, sc: sc, sim: sim, simURL: srv.URL, state: filepath.Join(t.TempDir(), "state.db"), vars: map[string]string{}, names: map[int64]string{}}
	e.start()
	return e
}

// start starts a bridge process on the tenant and the state file, and waits until it has
// loaded the index and finished what an earlier process left.
func (e *crashEnv) start() {
	e.t.Helper()
	ft := newFaultTransport()
	so := e.sim.Options()
	client, err := domo.New(domo.Config{
		BaseURL: e.simURL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
		RatePerMinute: 600000, MaxAttempts: 1, MaxWait: 2 * time.Second, Logger: zerolog.Nop(),
		PageConcurrency: 1, HTTPClient: &http.Client{Transport: ft, Timeout: 10 * time.Second},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := store.Open(context.Background(), e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := Config{
		Domo: client, Store: st, Index: index.New(),
		Mapping:       mapping.Options{Roles: mapping.NewRoles(nil), DefaultRole: "Participant", HideDefaultGroup: true},
		MemberWorkers: 1, // one membership call at a time: call k is the same call in every run
		Logger:        zerolog.Nop(),
	}
	if e.sc.instance {
		// Domo's instance APIs, through the same faulty network as v1.
		if cfg.Instance, err = domo.NewInstance(domo.InstanceConfig{URL: e.simURL, AccessToken: so.AccessToken,
			RatePerMinute: 600000, MaxAttempts: 1, MaxWait: 2 * time.Second, Logger: zerolog.Nop(),
			HTTPClient: &http.Client{Transport: ft, Timeout: 10 * time.Second}}); err != nil {
			e.t.Fatal(err)
		}
	}
	if e.sc.bridge != nil {
		e.sc.bridge(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := b.LoadSwitches(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	b.Wait() // the load behind a snapshot, and the finishing of leftovers
	tokens, err := scim.NewTokens([]scim.Token{{Name: "idp", Secret: replayToken}})
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens, Logger: zerolog.Nop(), Pauser: b}))
	e.proc = &crashProc{ft: ft, store: st, b: b, srv: srv}
	e.t.Cleanup(func() { e.stop(e.proc) })
}

// stop ends a process: its server, and its store (so nothing it still does reaches the state).
func (e *crashEnv) stop(p *crashProc) {
	if p == nil || p.srv == nil {
		return
	}
	p.store.Close()
	p.srv.Close()
	p.srv = nil
}

// restart stops the current process and starts a new one on the same state.
func (e *crashEnv) restart() {
	e.t.Helper()
	e.stop(e.proc)
	e.start()
}

// request is one SCIM request, with ${name} references to e.vars.
type request struct {
	method, path, body string
}

func (e *crashEnv) expand(s string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := e.vars[m[2:len(m)-1]]
		if !ok {
			e.t.Fatalf("no variable %s", m)
		}
		return v
	})
}

// do sends a request to the current process.
func (e *crashEnv) do(r request) answer {
	e.t.Helper()
	a, err := e.send(e.proc, r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return a
}

func (e *crashEnv) send(p *crashProc, r request) (answer, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(e.expand(r.body))
	}
	req, err := http.NewRequest(r.method, p.srv.URL+scim.Prefix+e.expand(r.path), body)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+replayToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return answer{}, fmt.Errorf("answer is not JSON: %s", raw)
		}
	}
	return a, nil
}

// must sends a request that must succeed, and records the id it answers under name.
func (e *crashEnv) must(r request, name string) answer {
	e.t.Helper()
	a := e.do(r)
	if a.status >= 300 {
		e.t.Fatalf("%s %s: %d %s", r.method, r.path, a.status, a.raw)
	}
	if name != "" {
		e.vars[name], _ = a.body["id"].(string)
	}
	return a
}

// runOp sends the scenario's operation with a fault armed at call k, and returns what the IdP
// got (nil after a kill, when it got no answer) and the Domo calls the operation made.
func (e *crashEnv) runOp(k int, kind faultKind) (*answer, []string) {
	e.t.Helper()
	p := e.proc
	p.ft.arm(k, kind)
	type result struct {
		a   answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := e.send(p, e.sc.op)
		done <- result{a, err}
	}()
	select {
	case r := <-done:
		routes := p.ft.disarm()
		if r.err != nil {
			e.t.Fatalf("operation: %v", r.err)
		}
		return &r.a, routes
	case <-p.ft.killed:
		// The process stops here: its state is closed before it can take another step.
		routes := p.ft.disarm()
		p.store.Close()
		close(p.ft.release)
		<-done
		e.stop(p)
		e.proc = nil
		return nil, routes
	}
}

// retry sends the operation again the way an IdP does until it is answered with success:
// for a create, it looks the resource up first and creates it only if it is not found.
func (e *crashEnv) retry() {
	e.t.Helper()
	for attempt := 1; ; attempt++ {
		r := e.sc.op
		if e.sc.lookup != "" {
			a := e.do(request{"GET", e.sc.lookup, ""})
			if n, _ := a.body["totalResults"].(float64); a.status == http.StatusOK && n > 0 {
				return
			}
		}
		a := e.do(r)
		if a.status < 300 || ((r.method == http.MethodDelete || e.sc.gone) && a.status == http.StatusNotFound) {
			return
		}
		if attempt == 3 {
			e.t.Fatalf("the IdP's retry %d of %s %s: %d %s", attempt, r.method, r.path, a.status, a.raw)
		}
	}
}

// outcome is everything a run must agree on, with Domo ids replaced by emails and names.
type outcome struct {
	Tenant  map[string]any `json:"tenant"`
	Store   map[string]any `json:"store"`
	Intents []string       `json:"intents"`
	View    map[string]any `json:"view"`
}

func (e *crashEnv) learnNames() {
	for _, u := range e.sim.Users() {
		e.names[u.ID] = u.Email
	}
	for _, g := range e.sim.GroupsSnapshot() {
		e.names[g.ID] = "group:" + g.Name
	}
}

// name replaces a Domo id, given as a number or a decimal string, by its name.
func (e *crashEnv) name(v any) any {
	var id int64
	switch x := v.(type) {
	case float64:
		id = int64(x)
	case int64:
		id = x
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return v
		}
		id = n
	default:
		return v
	}
	if n, ok := e.names[id]; ok {
		return n
	}
	if u, ok := e.sim.User(id); ok { // deleted since (a tombstone names it)
		return u.Email
	}
	return fmt.Sprintf("unknown id %d", id)
}

func (e *crashEnv) outcome() outcome {
	e.t.Helper()
	e.learnNames()
	ctx := context.Background()
	o := outcome{Tenant: map[string]any{}, Store: map[string]any{}, View: map[string]any{}}
	for _, u := range e.sim.Users() {
		if u.ID == e.sim.OwnerID() {
			continue
		}
		o.Tenant["user "+u.Email] = fmt.Sprintf("name=%q role=%s/%d title=%q phone=%q alt=%q tz=%q locale=%q emp=%q dept=%q hired=%q reportsTo=%v attributes=%v",
			u.Name, u.Role, u.RoleID, u.Title, u.Phone, u.AlternateEmail, u.Timezone, u.Locale, u.EmployeeID, u.Department,
			u.HireDate, e.name(u.ReportsTo), e.sim.Attributes(u.ID))
	}
	for _, g := range e.sim.GroupsSnapshot() {
		if g.Deleted || g.Default {
			continue
		}
		var members []string
		for _, m := range g.Members {
			members = append(members, e.name(m).(string))
		}
		sort.Strings(members)
		o.Tenant["group "+g.Name] = members
	}

	st := e.proc.store
	for sh, err := range st.UserShadows(ctx) {
		if err != nil {
			e.t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(sh.Data, &rec); err != nil {
			e.t.Fatal(err)
		}
		if shadow, ok := rec["shadow"].(map[string]any); ok {
			delete(shadow, "modified")
		}
		if saved, ok := rec["saved"].(map[string]any); ok {
			if groups, ok := saved["groups"].([]any); ok {
				for i, g := range groups {
					groups[i] = e.name(g)
				}
			}
		}
		o.Store["user "+fmt.Sprint(e.name(sh.ID))] = rec
	}
	for sh, err := range st.GroupShadows(ctx) {
		if err != nil {
			e.t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(sh.Data, &rec); err != nil {
			e.t.Fatal(err)
		}
		delete(rec, "created")
		delete(rec, "lastModified")
		if md, ok := rec["memberDisplay"].(map[string]any); ok {
			named := map[string]any{}
			for k, v := range md {
				named[fmt.Sprint(e.name(k))] = v
			}
			rec["memberDisplay"] = named
		}
		o.Store["group "+fmt.Sprint(e.name(sh.ID))] = rec
	}
	ins, err := st.Intents(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, in := range ins {
		o.Intents = append(o.Intents, in.Kind+" "+in.Key)
	}

	// The SCIM view: every user and group as a list shows it and as a GET by id reads it.
	for _, kind := range []string{"Users", "Groups"} {
		list := e.do(request{"GET", "/" + kind + "?count=1000", ""})
		if list.status != http.StatusOK {
			e.t.Fatalf("list %s: %d %s", kind, list.status, list.raw)
		}
		res, _ := list.body["Resources"].([]any)
		for _, r := range res {
			m := r.(map[string]any)
			id := m["id"].(string)
			got := e.do(request{"GET", "/" + kind + "/" + url.PathEscape(id), ""})
			if got.status != http.StatusOK {
				e.t.Fatalf("GET %s/%s listed but: %d %s", kind, id, got.status, got.raw)
			}
			for _, v := range []map[string]any{m, got.body} {
				e.normalizeView(v)
			}
			key := kind + " " + fmt.Sprint(got.body["userName"]) + fmt.Sprint(got.body["displayName"])
			o.View[key+" (get)"] = got.body
			if kind == "Users" {
				o.View[key+" (list)"] = m
			}
		}
	}
	return o
}

// normalizeView drops what differs between equal runs (ids, timestamps, versions) from a SCIM
// resource and names the ids it references.
func (e *crashEnv) normalizeView(v map[string]any) {
	delete(v, "id")
	delete(v, "meta")
	for _, attr := range []string{"groups", "members"} {
		refs, _ := v[attr].([]any)
		for _, r := range refs {
			m := r.(map[string]any)
			m["value"] = e.name(m["value"])
			delete(m, "$ref")
		}
		slices.SortFunc(refs, func(a, b any) int {
			return strings.Compare(fmt.Sprint(a.(map[string]any)["value"]), fmt.Sprint(b.(map[string]any)["value"]))
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// crashScenario is one multi-step operation.
type crashScenario struct {
	name   string
	kind   string // the intent kind it exercises
	sim    domosim.Options
	bridge func(*Config)
	setup  func(e *crashEnv) // brings the tenant and state to where the operation starts
	op     request
	lookup string // for a create: the IdP's lookup before it creates again
	// gone: the operation ends with the resource gone, so an IdP's retry that gets 404 is done.
	gone bool
	// instance: the bridge also has Domo's instance APIs (identity attributes, bulk membership).
	instance bool
}

const crashUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s","externalId":"ext-%s",
 "name":{"givenName":"Cal","familyName":"Amity"},"title":"Lead","active":true,
 "emails":[{"value":"%s","type":"work","primary":true}],"roles":[{"value":"%s","primary":true}]}`

func crashUserBody(email, role string) string {
	return fmt.Sprintf(crashUser, email, email, email, role)
}

// demoted is a user of role Privileged in two groups, under the demote policy.
func demotedSetup(deactivate bool) func(e *crashEnv) {
	return func(e *crashEnv) {
		e.must(request{"POST", "/Users", crashUserBody("cal@example.com", "Privileged")}, "u")
		uid := mustID(e.t, e.vars["u"])
		for _, name := range []string{"Sales", "Ops"} {
			g := e.sim.AddGroup(name)
			if err := e.sim.AddMemberDirect(g, uid); err != nil {
				e.t.Fatal(err)
			}
		}
		if err := e.proc.b.Load(context.Background()); err != nil {
			e.t.Fatal(err)
		}
		if deactivate {
			e.must(request{"PATCH", "/Users/${u}", deactivateOp}, "")
		}
	}
}

// threeUsers makes users a, b and c, and a group holding a and b.
func threeUsers(e *crashEnv) {
	for _, n := range []string{"a", "b", "c"} {
		e.must(request{"POST", "/Users", crashUserBody(n+"@example.com", "Participant")}, n)
	}
	e.must(request{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team",
		"members":[{"value":"${a}"},{"value":"${b}"}]}`}, "g")
}

func crashScenarios() []crashScenario {
	demote := func(c *Config) { c.Policy = PolicyDemote }
	return []crashScenario{
		{
			name: "create with a role Domo takes by id only", kind: intentUserCreate,
			op:     request{"POST", "/Users", crashUserBody("new@example.com", "Editor")},
			lookup: `/Users?filter=` + url.QueryEscape(`userName eq "new@example.com"`),
		},
		{
			name: "deactivate under demote", kind: intentUserUpdate, bridge: demote, setup: demotedSetup(false),
			op: request{"PATCH", "/Users/${u}", deactivateOp},
		},
		{
			name: "reactivate under demote", kind: intentUserUpdate, bridge: demote, setup: demotedSetup(true),
			op: request{"PATCH", "/Users/${u}", reactivateOp},
		},
		{
			name: "PATCH of Domo and bridge fields", kind: intentUserUpdate, setup: demotedSetup(false),
			op: request{"PATCH", "/Users/${u}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"title","value":"Chief"},{"op":"replace","path":"name.givenName","value":"Callie"},
				{"op":"replace","path":"externalId","value":"ext-2"}]}`},
		},
		{
			name: "DELETE that deprovisions and hides", kind: intentUserUpdate, setup: demotedSetup(false),
			bridge: func(c *Config) { c.Policy, c.OnDelete = PolicyDemote, DeleteDeprovision },
			op:     request{"DELETE", "/Users/${u}", ""},
		},
		{
			name: "POST that revives a hidden user", kind: intentUserUpdate,
			bridge: func(c *Config) { c.Policy, c.OnDelete = PolicyDemote, DeleteDeprovision },
			setup: func(e *crashEnv) {
				demotedSetup(false)(e)
				e.must(request{"DELETE", "/Users/${u}", ""}, "")
			},
			op:     request{"POST", "/Users", crashUserBody("cal@example.com", "Privileged")},
			lookup: `/Users?filter=` + url.QueryEscape(`userName eq "cal@example.com"`),
		},
		{
			name: "DELETE of a user", kind: intentUserDelete, setup: demotedSetup(false),
			op: request{"DELETE", "/Users/${u}", ""},
		},
		{
			name: "deactivate under delete", kind: intentUserDelete, setup: demotedSetup(false),
			bridge: func(c *Config) { c.Policy = PolicyDelete },
			op:     request{"PATCH", "/Users/${u}", deactivateOp}, gone: true,
		},
		{
			name: "create a group with members", kind: intentGroupCreate,
			setup: func(e *crashEnv) {
				for _, n := range []string{"a", "b"} {
					e.must(request{"POST", "/Users", crashUserBody(n+"@example.com", "Participant")}, n)
				}
			},
			op: request{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Pushed",
				"members":[{"value":"${a}","display":"A"},{"value":"${b}"}]}`},
			lookup: `/Groups?filter=` + url.QueryEscape(`displayName eq "Pushed"`),
		},
		{
			name: "PATCH a group: rename, add, remove", kind: intentGroupUpdate, setup: threeUsers,
			op: request{"PATCH", "/Groups/${g}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"displayName","value":"Team 2"},
				{"op":"add","path":"members","value":[{"value":"${c}","display":"C"}]},
				{"op":"remove","path":"members[value eq \"${a}\"]"}]}`},
		},
		{
			name: "PATCH of custom attributes and a title (instance APIs)", kind: intentUserAttributes, instance: true,
			setup: func(e *crashEnv) {
				e.must(request{"POST", "/Users", crashUserBody("cal@example.com", "Privileged")}, "u")
			},
			op: request{"PATCH", "/Users/${u}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"add","path":"urn:ietf:params:scim:schemas:extension:custom:2.0:User:customAttributes","value":[{"key":"region","values":["EMEA"]}]},
				{"op":"replace","path":"title","value":"Chief"}]}`},
		},
		{
			name: "create with custom attributes and a role by id (instance APIs)", kind: intentUserCreate, instance: true,
			op: request{"POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:custom:2.0:User"],
				"userName":"new@example.com","name":{"givenName":"New","familyName":"Comer"},"roles":[{"value":"3"}],
				"urn:ietf:params:scim:schemas:extension:custom:2.0:User":{"customAttributes":[{"key":"costCenter","values":["CC-7"]}]}}`},
			lookup: `/Users?filter=` + url.QueryEscape(`userName eq "new@example.com"`),
		},
		{
			name: "PATCH a group: four members in bulk (instance APIs)", kind: intentGroupUpdate, instance: true,
			setup: func(e *crashEnv) {
				threeUsers(e)
				for _, n := range []string{"d", "e"} {
					e.must(request{"POST", "/Users", crashUserBody(n+"@example.com", "Participant")}, n)
				}
			},
			op: request{"PATCH", "/Groups/${g}", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"add","path":"members","value":[{"value":"${c}"},{"value":"${d}"},{"value":"${e}"}]},
				{"op":"remove","path":"members[value eq \"${a}\"]"}]}`},
		},
		{
			name: "DELETE a group Domo deletes only once empty", kind: intentGroupDelete, setup: threeUsers,
			sim: domosim.Options{DeleteNonEmptyGroup: "reject"},
			op:  request{"DELETE", "/Groups/${g}", ""},
		},
	}
}

// TestCrashPoints is the exhaustive crash-point test described at the top of this file.
func TestCrashPoints(t *testing.T) {
	scenarios := crashScenarios()
	covered := map[string]bool{}
	for _, sc := range scenarios {
		covered[sc.kind] = true
	}
	for _, kind := range IntentKinds() {
		if !covered[kind] {
			t.Errorf("intent kind %s has no crash scenario: add one to crashScenarios", kind)
		}
	}
	var mu sync.Mutex
	cases, consistent := 0, 0
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			clean := newCrashEnv(t, sc)
			if sc.setup != nil {
				sc.setup(clean)
			}
			a, calls := clean.runOp(0, "")
			if a.status >= 300 {
				t.Fatalf("clean run: %d %s", a.status, a.raw)
			}
			want := clean.outcome()
			if len(want.Intents) > 0 {
				t.Fatalf("clean run left intents %v", want.Intents)
			}
			if len(calls) == 0 {
				t.Fatal("clean run made no Domo call")
			}
			t.Logf("%d Domo calls: %v", len(calls), calls)
			for k := 1; k <= len(calls); k++ {
				for _, kind := range []faultKind{faultBefore, faultAfter, faultKill} {
					for _, restart := range []bool{false, true} {
						if kind == faultKill && !restart {
							continue // a stopped process cannot be retried without a start
						}
						how := "retry"
						if restart {
							how = "restart"
						}
						t.Run(fmt.Sprintf("call %d %s %s %s", k, strings.Fields(calls[k-1])[0], kind, how), func(t *testing.T) {
							e := newCrashEnv(t, sc)
							if sc.setup != nil {
								sc.setup(e)
							}
							before := e.outcome()
							if a, _ := e.runOp(k, kind); a != nil && a.status >= 500 && a.status != http.StatusServiceUnavailable && a.status != http.StatusBadGateway {
								t.Errorf("the IdP got %d: %s", a.status, a.raw)
							}
							if restart {
								e.restart()
								mid := e.outcome()
								if len(mid.Intents) > 0 {
									t.Errorf("after the restart, intents are left: %v", mid.Intents)
								}
								if d1, d2 := diffOutcome(mid, before), diffOutcome(mid, want); d1 != "" && d2 != "" {
									t.Errorf("after the restart the state is neither the start nor the end:\nvs end:%s", d2)
								}
							}
							e.retry()
							got := e.outcome()
							mu.Lock()
							cases++
							mu.Unlock()
							if d := diffOutcome(got, want); d != "" {
								t.Errorf("the end state differs from one clean call:%s", d)
								return
							}
							mu.Lock()
							consistent++
							mu.Unlock()
						})
					}
				}
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("crash-point cases: %d, consistent: %d", cases, consistent)
	})
}

// diffOutcome names what differs between two outcomes, "" when nothing does.
func diffOutcome(got, want outcome) string {
	var out strings.Builder
	section := func(name string, g, w map[string]any) {
		keys := map[string]bool{}
		for k := range g {
			keys[k] = true
		}
		for k := range w {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if a, b := jsonOf(g[k]), jsonOf(w[k]); a != b {
				fmt.Fprintf(&out, "\n%s %s:\n got %s\nwant %s", name, k, a, b)
			}
		}
	}
	section("tenant", got.Tenant, want.Tenant)
	section("store", got.Store, want.Store)
	section("view", got.View, want.View)
	if jsonOf(got.Intents) != jsonOf(want.Intents) {
		fmt.Fprintf(&out, "\nintents: got %v, want %v", got.Intents, want.Intents)
	}
	return out.String()
}
