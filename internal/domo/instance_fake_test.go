package domo_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// docFake is a tenant's instance APIs written from Domo's docs and the text alone,
// not from domosim: the test picks each answer's shape, and every request is recorded. It
// holds one user (ownerID) and one group (groupID).
type docFake struct {
	t *testing.T

	identityGet  string // "wrapped" ({"users":[u]}) or "bare"
	patchAnswer  string // "user", "wrapped", "empty" (200, no body) or "204"
	stringIDs    bool
	values       string // "list", "numbers" or "scalar"
	catalogue    int    // status of the catalogue; 200 serves catalogueKeys
	catalogueRaw string // body when 200; default a list of two keys
	rolesBody    string
	groupBody    string // default: the group with string userIds
	bulkAnswer   string // "true", "{}", "" (200, no body) or "204"
	probeStatus  int    // answer to an empty bulk change; 0: as bulkAnswer
	bulkStatus   int    // answer to a non-empty bulk change; 0: as bulkAnswer
	patchStatus  int    // answer to a PATCH; 0: 2xx
	errors       string // "json", "text" or "html"
	retryAfter   int    // the first request gets 429 with this Retry-After (seconds), when > 0

	mu   sync.Mutex
	reqs []fakeReq
}

type fakeReq struct {
	method, path, token, contentType string
	body                             []byte
}

const (
	fakeToken = "doc-fake-token"
	ownerID   = int64(1234567)
	groupID   = int64(77)
)

func newDocFake(t *testing.T, f *docFake) (*docFake, *domo.Instance) {
	t.Helper()
	f.t = t
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	in, err := domo.NewInstance(domo.InstanceConfig{URL: srv.URL, AccessToken: fakeToken, RatePerMinute: 600_000, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return f, in
}

func (f *docFake) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func (f *docFake) fail(w http.ResponseWriter, status int, msg string) {
	switch f.errors {
	case "text":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, msg)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body><h1>Error</h1><p>"+msg+"</p></body></html>")
	default:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "statusReason": http.StatusText(status), "message": msg, "toe": "FAKE"})
	}
}

func (f *docFake) id(n int64) any {
	if f.stringIDs {
		return strconv.FormatInt(n, 10)
	}
	return n
}

func (f *docFake) user() map[string]any {
	vals := map[string]any{"list": []any{"CC-7"}, "numbers": []any{4100, "CC-7"}, "scalar": 4100, "": []any{"CC-7"}}[f.values]
	return map[string]any{"id": f.id(ownerID), "displayName": "Owner", "userName": "owner@example.com", "emailAddress": "owner@example.com",
		"roleId": f.id(1), "attributes": []any{map[string]any{"key": "costCenter", "values": vals}, map[string]any{"key": "odd", "values": nil}}}
}

func (f *docFake) answer(w http.ResponseWriter, status int, body string) {
	switch {
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	case body == "":
		w.WriteHeader(status)
	default:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (f *docFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeReq{method: r.Method, path: r.URL.Path, token: r.Header.Get("X-DOMO-Developer-Token"), contentType: r.Header.Get("Content-Type"), body: body})
	first := len(f.reqs) == 1
	f.mu.Unlock()
	if first && f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		f.fail(w, http.StatusTooManyRequests, "Too Many Requests")
		return
	}
	if r.Header.Get("X-DOMO-Developer-Token") != fakeToken {
		f.fail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/identity/v1/users/"+strconv.FormatInt(ownerID, 10):
		if f.identityGet == "bare" {
			f.answer(w, 200, js(f.user()))
		} else {
			f.answer(w, 200, js(map[string]any{"users": []any{f.user()}}))
		}
	case r.Method == http.MethodPatch && p == "/api/identity/v1/users/"+strconv.FormatInt(ownerID, 10):
		if f.patchStatus != 0 {
			f.fail(w, f.patchStatus, "Unknown attribute key: shoeSize")
			return
		}
		switch f.patchAnswer {
		case "wrapped":
			f.answer(w, 200, js(map[string]any{"users": []any{f.user()}}))
		case "empty":
			f.answer(w, 200, "")
		case "204":
			f.answer(w, 204, "")
		default:
			f.answer(w, 200, js(f.user()))
		}
	case r.Method == http.MethodGet && p == "/api/user/v1/properties/meta/keys":
		if f.catalogue != 200 {
			f.fail(w, f.catalogue, "No handler found")
			return
		}
		f.answer(w, 200, f.catalogueRaw)
	case r.Method == http.MethodGet && p == "/api/authorization/v1/roles":
		f.answer(w, 200, f.rolesBody)
	case r.Method == http.MethodGet && p == "/api/content/v2/groups/"+strconv.FormatInt(groupID, 10):
		f.answer(w, 200, f.groupBody)
	case r.Method == http.MethodPut && (p == "/api/content/v2/groups/access" || p == "/api/content/v2/groups/"+strconv.FormatInt(groupID, 10)+"/user"):
		status := f.bulkStatus
		if strings.TrimSpace(string(body)) == "[]" {
			status = f.probeStatus
		}
		if status >= 400 {
			f.fail(w, status, "refused")
			return
		}
		switch f.bulkAnswer {
		case "204":
			f.answer(w, 204, "")
		default:
			f.answer(w, 200, f.bulkAnswer)
		}
	default:
		f.fail(w, http.StatusNotFound, "No handler found for "+r.Method+" "+p)
	}
}

// defaults fills in a well-behaved tenant in the docs' shapes.
func (f *docFake) defaults() *docFake {
	if f.catalogue == 0 {
		f.catalogue = 200
	}
	if f.catalogueRaw == "" {
		f.catalogueRaw = `[{"key":"costCenter","keyspace":"customer-defined"},{"key":"title","keyspace":"domo-defined"}]`
	}
	if f.rolesBody == "" {
		f.rolesBody = `[{"id":1,"name":"Admin"},{"id":810756122,"name":"Analyst"}]`
	}
	if f.groupBody == "" {
		f.groupBody = `{"id":"77","name":"Default","userIds":["1234567","11","12"],"memberCount":3,"creatorId":"1"}`
	}
	if f.bulkAnswer == "" && f.probeStatus == 0 && f.bulkStatus == 0 {
		f.bulkAnswer = "true"
	}
	return f
}

var hints = domo.ProbeHints{UserID: ownerID, GroupID: groupID}

// TestInstanceAgainstDocFake: the client works against a tenant written from the docs in
// each of the shapes they leave open, and sends exactly the documented requests: the
// X-DOMO-Developer-Token header and Content-Type: application/json on every request, PATCH
// bodies {"attributes":[{key, values}]} and {"roleId": n}, bulk add [{"id","type":"USER"}],
// bulk remove [{"groupId","removeMembers":[{"type":"USER","id"}]}].
func TestInstanceAgainstDocFake(t *testing.T) {
	for _, tt := range []struct {
		name string
		fake *docFake
	}{
		{"documented", &docFake{}},
		{"bare user, numbers, 204s, wrapped roles", &docFake{identityGet: "bare", values: "numbers", patchAnswer: "204", bulkAnswer: "204",
			rolesBody: `{"roles":[{"id":"1","name":"Admin","extra":{"x":1}},{"id":"810756122","name":"Analyst"}],"totalCount":2}`, stringIDs: true}},
		{"scalar values, wrapped PATCH answer, {} for bulk, strict probe", &docFake{values: "scalar", patchAnswer: "wrapped", bulkAnswer: "{}", probeStatus: 422, stringIDs: true}},
		{"no catalogue, empty answers, text errors", &docFake{catalogue: 404, patchAnswer: "empty", bulkAnswer: "", probeStatus: 400, errors: "text"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, in := newDocFake(t, tt.fake.defaults())
			ctx := ctxT(t, 10*time.Second)
			for _, st := range in.Probe(ctx, hints) {
				if !st.Available {
					t.Fatalf("%s unavailable: %+v", st.Capability, st)
				}
			}
			cat := in.Catalogue()
			if cat.Available != (f.catalogue == 200) {
				t.Fatalf("catalogue %+v", cat)
			}
			if !in.HasAttributeKey("costCenter") {
				t.Fatal("costCenter (in the catalogue or on the probe's user) not known")
			}
			if roles := in.Roles(); len(roles) != 2 || roles[1].ID != 810756122 || roles[1].Name != "Analyst" {
				t.Fatalf("roles %+v", roles)
			}
			g, err := in.Group(ctx, groupID)
			if err != nil || len(g.UserIDs) != 3 || g.UserIDs[0] != domo.Int(ownerID) {
				t.Fatalf("group %+v %v", g, err)
			}
			u, err := in.UpdateUser(ctx, ownerID, domo.IdentityUpdate{Attributes: []domo.Attribute{{Key: "costCenter", Values: []string{"CC-7"}}}})
			if err != nil || u.ID != ownerID {
				t.Fatalf("PATCH attributes: %+v %v", u, err)
			}
			if _, err := in.UpdateUser(ctx, ownerID, domo.IdentityUpdate{RoleID: 810756122}); err != nil {
				t.Fatalf("PATCH role: %v", err)
			}
			if r := in.AddMembers(ctx, groupID, []int64{11, 12}); r.Err != nil || len(r.Applied) != 2 {
				t.Fatalf("bulk add: %+v", r)
			}
			if r := in.RemoveMembers(ctx, groupID, []int64{11}); r.Err != nil || len(r.Applied) != 1 {
				t.Fatalf("bulk remove: %+v", r)
			}

			wantBodies := map[string]string{
				"PATCH attributes":                   `{"attributes":[{"key":"costCenter","values":["CC-7"]}]}`,
				"PATCH role":                         `{"roleId":810756122}`,
				"PUT /api/content/v2/groups/77/user": `[{"id":"11","type":"USER"},{"id":"12","type":"USER"}]`,
				"PUT /api/content/v2/groups/access":  `[{"groupId":"77","removeMembers":[{"type":"USER","id":"11"}]}]`,
			}
			seen := map[string]bool{}
			for _, r := range f.requests() {
				if r.token != fakeToken || !strings.HasPrefix(r.contentType, "application/json") {
					t.Errorf("%s %s: token %q, Content-Type %q", r.method, r.path, r.token, r.contentType)
				}
				key := r.method + " " + r.path
				if r.method == http.MethodPatch {
					key = "PATCH attributes"
					if strings.Contains(string(r.body), "roleId") {
						key = "PATCH role"
					}
				}
				want, ok := wantBodies[key]
				if !ok || string(r.body) == "[]" {
					continue
				}
				seen[key] = true
				var got, exp any
				if json.Unmarshal(r.body, &got) != nil || json.Unmarshal([]byte(want), &exp) != nil || !reflect.DeepEqual(got, exp) {
					t.Errorf("%s body %s, want %s", key, r.body, want)
				}
			}
			if len(seen) != len(wantBodies) {
				t.Fatalf("requests seen %v", seen)
			}
		})
	}
}

// TestCatalogueIsOptional: whatever the catalogue answers (nothing, a refusal, an empty list,
// garbage), the attributes capability is the identity API; the catalogue's state is reported
// apart; without it, keys are judged by what Domo shows and takes.
func TestCatalogueIsOptional(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"404", 404, ""}, {"401", 401, ""}, {"403", 403, ""}, {"405", 405, ""}, {"500", 500, ""},
		{"empty list", 200, `[]`}, {"not a list", 200, `{"a":[],"b":[]}`}, {"html", 200, `<html>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, in := newDocFake(t, (&docFake{catalogue: tt.status, catalogueRaw: tt.body, errors: "html"}).defaults())
			if tt.body == "" {
				f.catalogueRaw = ""
			}
			ctx := ctxT(t, 10*time.Second)
			in.Probe(ctx, hints)
			if !in.Available(domo.CapAttributes) {
				t.Fatalf("attributes unavailable: %+v", in.Capabilities())
			}
			for _, st := range in.Capabilities() {
				if !st.Available {
					t.Fatalf("%s unavailable: %+v", st.Capability, st)
				}
			}
			cat := in.Catalogue()
			if cat.Available || cat.Reason == "" || (tt.status != 200 && cat.Status != tt.status) {
				t.Fatalf("catalogue %+v", cat)
			}
			if in.AttributeKeys() != nil || in.UnknownKeys([]string{"shoeSize"}) != nil {
				t.Fatal("keys judged without a catalogue")
			}
			// The probe's user showed costCenter; region is known once Domo takes it.
			if !in.HasAttributeKey("costCenter") || in.HasAttributeKey("region") {
				t.Fatal("learnt keys")
			}
			if got := in.UncertainKeys([]string{"costCenter", "region", "region"}); len(got) != 1 || got[0] != "region" {
				t.Fatalf("uncertain %v", got)
			}
			if _, err := in.UpdateUser(ctx, ownerID, domo.IdentityUpdate{Attributes: []domo.Attribute{{Key: "region", Values: []string{"EMEA"}}}}); err != nil {
				t.Fatal(err)
			}
			if !in.HasAttributeKey("region") {
				t.Fatal("a key Domo took is not known")
			}
			// One Domo refused alone is unknown until the next probe.
			in.NoteKey("organization", false)
			if got := in.UnknownKeys([]string{"organization"}); len(got) != 1 {
				t.Fatalf("unknown %v", got)
			}
			in.Probe(ctx, hints)
			if _, decided := in.KeyState("organization"); decided {
				t.Fatal("a refused key is still judged after a probe")
			}
		})
	}
}

// TestIdentityRefusalInAnyEnvelope: Domo's 400 to a PATCH is an *APIError with status 400
// whatever its body (Domo's envelope, plain text, HTML); the body never leaks into the error.
func TestIdentityRefusalInAnyEnvelope(t *testing.T) {
	for _, envelope := range []string{"json", "text", "html"} {
		_, in := newDocFake(t, (&docFake{patchStatus: 400, errors: envelope}).defaults())
		ctx := ctxT(t, 10*time.Second)
		in.Probe(ctx, hints)
		_, err := in.UpdateUser(ctx, ownerID, domo.IdentityUpdate{Attributes: []domo.Attribute{{Key: "shoeSize", Values: []string{"44"}}}})
		var ae *domo.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || strings.Contains(err.Error(), "<html") || !in.Available(domo.CapAttributes) {
			t.Fatalf("%s: %v", envelope, err)
		}
		if (envelope == "json") != strings.Contains(ae.Message, "shoeSize") {
			t.Fatalf("%s: message %q", envelope, ae.Message)
		}
		if in.HasAttributeKey("shoeSize") {
			t.Fatalf("%s: a refused key is known", envelope)
		}
	}
}

// TestBulkProbeRule: the empty bulk change decides bulk-membership only by answers a real
// call would get too: 401/403/404/405 are unavailable, 5xx unavailable for now; a tenant that
// merely refuses an empty change (400, 409, 415, 422) has the endpoint.
func TestBulkProbeRule(t *testing.T) {
	for status, want := range map[int]bool{200: true, 204: true, 400: true, 409: true, 415: true, 422: true,
		401: false, 403: false, 404: false, 405: false, 500: false} {
		f := (&docFake{}).defaults()
		switch {
		case status == 204:
			f.bulkAnswer = "204"
		case status >= 400:
			f.probeStatus = status
		}
		_, in := newDocFake(t, f)
		st := in.ProbeCapability(ctxT(t, 10*time.Second), domo.CapBulkMembership, hints)
		if st.Available != want || (status == 500) != st.Transient {
			t.Errorf("probe answered %d: %+v", status, st)
		}
	}
}

// TestBulkUnusableAtFirstUse: an endpoint the probe let pass but that refuses real calls (a
// 415, a 422, or 400 for every member alone) loses the capability in the call that finds it,
// with every member left pending (the caller moves them to v1), after few calls.
func TestBulkUnusableAtFirstUse(t *testing.T) {
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(1000 + i)
	}
	for _, status := range []int{415, 422, 400} {
		f, in := newDocFake(t, (&docFake{probeStatus: 422, bulkStatus: status}).defaults())
		ctx := ctxT(t, 10*time.Second)
		if st := in.ProbeCapability(ctx, domo.CapBulkMembership, hints); !st.Available {
			t.Fatalf("%d: probe %+v", status, st)
		}
		before := len(f.requests())
		r := in.AddMembers(ctx, groupID, ids)
		calls := len(f.requests()) - before
		if !errors.Is(r.Err, domo.ErrCapability) || in.Available(domo.CapBulkMembership) || len(r.Applied) != 0 || len(r.Pending)+len(r.Refused) != len(ids) {
			t.Fatalf("%d: %+v (pending %d, refused %d)", status, r.Err, len(r.Pending), len(r.Refused))
		}
		if calls > 12 {
			t.Fatalf("%d: %d calls before giving up", status, calls)
		}
	}
}

// TestGroupReadShapes: userIds as strings make a full read; a list cut short is
// ErrIncomplete (the probe still finds the endpoint usable); no userIds at all make the
// capability unavailable.
func TestGroupReadShapes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		body      string
		available bool
		full      bool
	}{
		{"string ids", `{"id":"77","userIds":["1","2"],"memberCount":"2"}`, true, true},
		{"numbers, no count", `{"id":77,"userIds":[1,2]}`, true, true},
		{"cut short", `{"id":77,"userIds":[1,2],"memberCount":5000}`, true, false},
		{"no userIds", `{"id":77,"name":"Default","memberCount":2}`, false, false},
		{"null userIds", `{"id":77,"userIds":null,"memberCount":0}`, false, false},
	} {
		_, in := newDocFake(t, (&docFake{groupBody: tt.body}).defaults())
		ctx := ctxT(t, 10*time.Second)
		st := in.ProbeCapability(ctx, domo.CapGroupRead, hints)
		if st.Available != tt.available {
			t.Errorf("%s: probe %+v", tt.name, st)
		}
		g, err := in.Group(ctx, groupID)
		if tt.full != (err == nil) || (!tt.full && !errors.Is(err, domo.ErrIncomplete)) || (tt.full && len(g.UserIDs) != 2) {
			t.Errorf("%s: %+v %v", tt.name, g, err)
		}
	}
}

// TestInstance429RetryAfter: a 429 from the instance host with Retry-After is waited out (the
// instance APIs' own pacer pauses) and the call repeated.
func TestInstance429RetryAfter(t *testing.T) {
	f, in := newDocFake(t, (&docFake{retryAfter: 1, errors: "text"}).defaults())
	start := time.Now()
	u, err := in.User(ctxT(t, 10*time.Second), ownerID)
	if err != nil || u.ID != ownerID {
		t.Fatalf("%+v %v", u, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("answered after %s: Retry-After: 1 not honoured", d)
	}
	if n := len(f.requests()); n != 2 {
		t.Fatalf("%d requests", n)
	}
}
