package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// A replay is a recorded IdP conversation about groups (testdata/okta-groups,
// testdata/entra-groups): the Domo tenant it starts from, then requests in the order the IdP
// sends them, each with the answer expected and the Domo state it must leave behind. The
// requests go through the real HTTP layer (scim.NewHandler) into the bridge, the Domo client
// and the simulator, and every step is checked against the simulator's own membership.
type groupReplay struct {
	Description string `json:"description"`
	Source      string `json:"source"`
	Domo        struct {
		Knobs              map[string]string `json:"knobs"` // domosim.Options.SetKnob names
		GroupNamesFoldCase bool              `json:"groupNamesFoldCase"`
		GroupUserIDsOnGet  bool              `json:"groupUserIdsOnGet"`
	} `json:"domo"`
	Bridge struct {
		ShowDefaultGroup bool     `json:"showDefaultGroup"`
		ProtectedUsers   []string `json:"protectedUsers"` // user refs
		MemberWorkers    int      `json:"memberWorkers"`
	} `json:"bridge"`
	Users  map[string]string `json:"users"` // ref -> email, created in Domo before the bridge starts
	Groups map[string]struct {
		Name    string   `json:"name"`
		Members []string `json:"members"` // user refs
	} `json:"groups"` // ref -> group, created in Domo before the bridge starts
	Steps []groupReplayStep `json:"steps"`
}

type groupReplayStep struct {
	Name   string          `json:"name"`
	Method string          `json:"method"`
	Path   string          `json:"path"` // under /scim/v2; {{user:ref}}, {{group:ref}}, {{owner}} are substituted
	Body   json.RawMessage `json:"body"`
	// Before changes Domo behind the bridge's back, as an admin in Domo's UI would.
	Before *struct {
		AddUsers    map[string]string   `json:"addUsers"`    // ref -> email
		DeleteUsers []string            `json:"deleteUsers"` // user refs
		AddGroups   map[string]string   `json:"addGroups"`   // ref -> name
		AddMembers  map[string][]string `json:"addMembers"`  // group ref -> user refs
		Faults      []domosim.Fault     `json:"faults"`
	} `json:"before"`
	Status int `json:"status"`
	// Expect holds dotted paths into the answer ("Resources.0.id") and their values;
	// "<absent>" and "<present>" test presence only, and "~text" a string containing text.
	Expect map[string]any `json:"expect"`
	// ExpectMembers is the set of members[].value of the answer, as user refs.
	ExpectMembers []string `json:"expectMembers"`
	// ExpectDisplays maps user refs to the members[].display the answer must carry.
	ExpectDisplays map[string]string `json:"expectDisplays"`
	// Save stores answer values as group refs: {"push": "id"}.
	Save map[string]string `json:"save"`
	// Domo is the group state the step must leave in the simulator.
	Domo []struct {
		Group   string   `json:"group"` // group ref
		Name    string   `json:"name"`
		Members []string `json:"members"` // user refs; nil: not checked
		Deleted bool     `json:"deleted"`
	} `json:"domo"`
	// Calls are exact counts of Domo requests by simulator route during the step.
	Calls map[string]int64 `json:"calls"`
	// MaxCalls bounds all Domo requests of the step (token requests excluded); absent: unchecked.
	MaxCalls *int64 `json:"maxCalls"`
	// Index checks that a displayName filter on the bridge finds the listed group ref with the
	// same members Domo has (the bridge's own view after the step).
	IndexMatchesDomo []string `json:"indexMatchesDomo"`
}

func TestGroupReplays(t *testing.T) {
	var files []string
	for _, dir := range []string{"okta-groups", "entra-groups"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "testdata", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 4 {
		t.Fatalf("found %d replay files, want the Okta and Entra sequences", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var r groupReplay
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			runReplay(t, &r)
		})
	}
}

// groupReplayRun is the state of one replay: the simulator, the bridge behind its HTTP face, and
// the refs the steps use.
type groupReplayRun struct {
	t      *testing.T
	sim    *domosim.Sim
	tb     *testBridge
	front  *scimFront
	users  map[string]int64
	groups map[string]int64
}

func runReplay(t *testing.T, r *groupReplay) {
	opts := domosim.Options{Seed: 42, GroupNamesFoldCase: r.Domo.GroupNamesFoldCase, GroupUserIDsOnGet: r.Domo.GroupUserIDsOnGet}
	for k, v := range r.Domo.Knobs {
		if err := opts.SetKnob(k, v); err != nil {
			t.Fatal(err)
		}
	}
	sim := domosim.New(opts)
	run := &groupReplayRun{t: t, sim: sim, users: map[string]int64{"owner": sim.OwnerID()}, groups: map[string]int64{"default": sim.DefaultGroupID()}}
	run.addUsers(r.Users)
	for _, ref := range slices.Sorted(maps.Keys(r.Groups)) {
		g := r.Groups[ref]
		run.addGroup(ref, g.Name)
		run.addMembers(ref, g.Members)
	}
	var protected []string
	for _, ref := range r.Bridge.ProtectedUsers {
		u, _ := sim.User(run.user(ref))
		protected = append(protected, u.Email)
	}
	run.tb = newGroupBridge(t, sim, func(c *Config) {
		c.ShowDefaultGroup = r.Bridge.ShowDefaultGroup
		c.Mapping.HideDefaultGroup = !r.Bridge.ShowDefaultGroup
		c.ProtectedUsers = protected
		c.MemberWorkers = r.Bridge.MemberWorkers
	})
	run.front = newSCIMFront(t, run.tb)
	for i, st := range r.Steps {
		if !t.Run(fmt.Sprintf("%02d %s", i+1, st.Name), func(t *testing.T) { run.step(t, st) }) {
			t.FailNow() // later steps depend on this one
		}
	}
}

func (r *groupReplayRun) addUsers(users map[string]string) {
	for _, ref := range slices.Sorted(maps.Keys(users)) {
		id := r.sim.AddUser(domosim.SimUser{Name: strings.ToUpper(ref[:1]) + ref[1:] + " Replay", Email: users[ref]})
		if id == 0 {
			r.t.Fatalf("user %s not added", ref)
		}
		r.users[ref] = id
	}
}

func (r *groupReplayRun) addGroup(ref, name string) {
	id := r.sim.AddGroup(name)
	if id == 0 {
		r.t.Fatalf("group %s not added", ref)
	}
	r.groups[ref] = id
}

func (r *groupReplayRun) addMembers(group string, users []string) {
	for _, u := range users {
		if err := r.sim.AddMemberDirect(r.group(group), r.user(u)); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *groupReplayRun) user(ref string) int64 {
	id, ok := r.users[ref]
	if !ok {
		r.t.Fatalf("unknown user ref %q", ref)
	}
	return id
}

func (r *groupReplayRun) group(ref string) int64 {
	id, ok := r.groups[ref]
	if !ok {
		r.t.Fatalf("unknown group ref %q", ref)
	}
	return id
}

var refPattern = regexp.MustCompile(`\{\{(user|group):([^}]+)\}\}|\{\{owner\}\}`)

// expand substitutes refs in s with Domo ids.
func (r *groupReplayRun) expand(s string) string {
	return refPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := refPattern.FindStringSubmatch(m)
		switch sub[1] {
		case "user":
			return strconv.FormatInt(r.user(sub[2]), 10)
		case "group":
			return strconv.FormatInt(r.group(sub[2]), 10)
		}
		return strconv.FormatInt(r.sim.OwnerID(), 10)
	})
}

// refOf names a user id by its ref, for readable failures.
func (r *groupReplayRun) refOf(id int64) string {
	for ref, uid := range r.users {
		if uid == id {
			return ref
		}
	}
	return strconv.FormatInt(id, 10)
}

func (r *groupReplayRun) refsOf(ids []int64) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, r.refOf(id))
	}
	slices.Sort(out)
	return out
}

func (r *groupReplayRun) step(t *testing.T, st groupReplayStep) {
	r.t = t
	if b := st.Before; b != nil {
		r.addUsers(b.AddUsers)
		for _, ref := range b.DeleteUsers {
			if err := r.sim.DeleteUserDirect(r.user(ref)); err != nil {
				t.Fatal(err)
			}
		}
		for _, ref := range slices.Sorted(maps.Keys(b.AddGroups)) {
			r.addGroup(ref, b.AddGroups[ref])
		}
		for _, ref := range slices.Sorted(maps.Keys(b.AddMembers)) {
			r.addMembers(ref, b.AddMembers[ref])
		}
		for _, f := range b.Faults {
			r.sim.InjectFault(f)
		}
	}
	var body []byte
	if len(st.Body) > 0 {
		body = []byte(r.expand(string(st.Body)))
	}
	before := r.sim.Stats().ByRoute
	status, res := r.front.do(st.Method, r.expand(st.Path), body)
	after := r.sim.Stats().ByRoute
	if status != st.Status {
		t.Fatalf("%s %s: status %d, want %d; answer %v", st.Method, st.Path, status, st.Status, res)
	}
	for path, want := range st.Expect {
		if s, ok := want.(string); ok {
			want = r.expand(s)
		}
		got, found := lookupPath(res, path)
		switch want {
		case "<absent>":
			if found {
				t.Errorf("%s: present (%v), want absent", path, got)
			}
		case "<present>":
			if !found {
				t.Errorf("%s: absent, want present", path)
			}
		default:
			if w, ok := want.(string); ok && strings.HasPrefix(w, "~") {
				if g, _ := got.(string); !strings.Contains(g, w[1:]) {
					t.Errorf("%s = %#v, want it to contain %q", path, got, w[1:])
				}
				continue
			}
			if !found || !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v (found %v), want %#v", path, got, found, want)
			}
		}
	}
	if st.ExpectMembers != nil {
		var got []int64
		members, _ := res["members"].([]any)
		for _, m := range members {
			id, _ := strconv.ParseInt(fmt.Sprint(m.(map[string]any)["value"]), 10, 64)
			got = append(got, id)
		}
		if g, w := r.refsOf(got), sortedCopy(st.ExpectMembers); !slices.Equal(g, w) {
			t.Errorf("answer members %v, want %v", g, w)
		}
	}
	for ref, want := range st.ExpectDisplays {
		members, _ := res["members"].([]any)
		uid := strconv.FormatInt(r.user(ref), 10)
		got, found := "", false
		for _, m := range members {
			if mm := m.(map[string]any); mm["value"] == uid {
				got, found = fmt.Sprint(mm["display"]), true
			}
		}
		if !found || got != want {
			t.Errorf("display of member %s: %q (found %v), want %q", ref, got, found, want)
		}
	}
	for ref, path := range st.Save {
		v, ok := lookupPath(res, path)
		id, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		if !ok || err != nil {
			t.Fatalf("save %s from %s: %v", ref, path, v)
		}
		r.groups[ref] = id
	}
	r.checkDomo(t, st)
	calls := map[string]int64{}
	var total int64
	for route, n := range after {
		if d := n - before[route]; d > 0 && !strings.Contains(route, "/oauth/token") {
			calls[route] = d
			total += d
		}
	}
	for route, want := range st.Calls {
		if calls[route] != want {
			t.Errorf("Domo calls %s: %d, want %d (all: %v)", route, calls[route], want, calls)
		}
	}
	if st.MaxCalls != nil && total > *st.MaxCalls {
		t.Errorf("%d Domo calls, want at most %d: %v", total, *st.MaxCalls, calls)
	}
	for _, ref := range st.IndexMatchesDomo {
		r.checkIndex(t, ref)
	}
}

func (r *groupReplayRun) checkDomo(t *testing.T, st groupReplayStep) {
	snap := map[int64]domosim.SimGroup{}
	for _, g := range r.sim.GroupsSnapshot() {
		snap[g.ID] = g
	}
	for _, want := range st.Domo {
		g, ok := snap[r.group(want.Group)]
		if !ok {
			t.Errorf("group %s not in Domo", want.Group)
			continue
		}
		if g.Deleted != want.Deleted {
			t.Errorf("group %s deleted=%v, want %v", want.Group, g.Deleted, want.Deleted)
		}
		if want.Name != "" && g.Name != want.Name {
			t.Errorf("group %s named %q in Domo, want %q", want.Group, g.Name, want.Name)
		}
		if want.Members != nil {
			if got, w := r.refsOf(g.Members), sortedCopy(want.Members); !slices.Equal(got, w) {
				t.Errorf("group %s members in Domo %v, want %v", want.Group, got, w)
			}
			if len(g.Members) != len(slices.Compact(slices.Sorted(slices.Values(g.Members)))) {
				t.Errorf("group %s has duplicate members in Domo: %v", want.Group, g.Members)
			}
		}
	}
	// Domo never holds two live groups whose names differ only by case.
	seen := map[string]int64{}
	for _, g := range snap {
		if g.Deleted {
			continue
		}
		k := strings.ToLower(g.Name)
		if other, dup := seen[k]; dup {
			t.Errorf("Domo holds groups %d and %d both named %q", other, g.ID, g.Name)
		}
		seen[k] = g.ID
	}
}

// checkIndex compares the bridge's index view of a group (a list request with members, which
// the bridge answers without Domo) with the simulator.
func (r *groupReplayRun) checkIndex(t *testing.T, ref string) {
	gid := r.group(ref)
	var name string
	for _, g := range r.sim.GroupsSnapshot() {
		if g.ID == gid {
			name = g.Name
		}
	}
	q := "/Groups?attributes=members,displayName&filter=" + urlQuery(fmt.Sprintf("displayName eq %q", name))
	status, res := r.front.do(http.MethodGet, q, nil)
	if status != http.StatusOK {
		t.Fatalf("index check %s: %d %v", ref, status, res)
	}
	list, _ := res["Resources"].([]any)
	if len(list) != 1 {
		t.Fatalf("index check %s: %d groups named %q", ref, len(list), name)
	}
	var got []int64
	members, _ := list[0].(map[string]any)["members"].([]any)
	for _, m := range members {
		id, _ := strconv.ParseInt(fmt.Sprint(m.(map[string]any)["value"]), 10, 64)
		got = append(got, id)
	}
	var want []int64
	for _, id := range r.sim.Members(gid) {
		if _, visible := r.tb.index.User(id); visible {
			want = append(want, id)
		}
	}
	if g, w := r.refsOf(got), r.refsOf(want); !slices.Equal(g, w) {
		t.Errorf("index members of %s %v, Domo has %v", ref, g, w)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// lookupPath follows a dotted path ("Resources.0.members.1.value") through decoded JSON.
func lookupPath(v any, path string) (any, bool) {
	return walkJSON(v, strings.Split(path, "."))
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22")
	return r.Replace(s)
}

// scimFront serves a test bridge through the real SCIM HTTP layer.
type scimFront struct {
	t     testing.TB
	url   string
	token string
}

const frontToken = "replay-token-0123456789"

func newSCIMFront(t testing.TB, tb *testBridge) *scimFront {
	t.Helper()
	tokens, err := scim.NewTokens([]scim.Token{{Name: "idp", Secret: frontToken}})
	if err != nil {
		t.Fatal(err)
	}
	h := scim.NewHandler(scim.Config{
		Users: tb.users, Groups: tb.groups, Tokens: tokens, Logger: zerolog.Nop(),
		Available: func() bool { return true },
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &scimFront{t: t, url: srv.URL + scim.Prefix, token: frontToken}
}

// do sends one SCIM request and decodes the answer (nil for an empty body).
func (f *scimFront) do(method, path string, body []byte) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}
