package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// Issue 12, "types and schemas first": every value is checked against its attribute's schema
// and every URN of schemas against the resource type before uniqueness and before any Domo
// call, over HTTP through the real handler, bridge, Domo client and simulator.

// domoWrites counts the writes the simulator has seen.
func domoWrites(sim *domosim.Sim) int64 {
	var n int64
	for route, c := range sim.Stats().ByRoute {
		if !strings.HasPrefix(route, "GET ") {
			n += c
		}
	}
	return n
}

func TestTypesCheckedBeforeUniquenessAndDomo(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 5}), nil)
	srv := serveSCIM(t, tb.b)
	// The email every body below uses is taken, so a body that got past the type checks would
	// answer 409 (or, for a new email, create a Domo user).
	if status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"taken@example.com","emails":[{"value":"taken@example.com","type":"work","primary":true}]}`); status != http.StatusCreated {
		t.Fatalf("seed user: %d %v", status, out)
	}
	const core = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	cases := []struct {
		name, body, detail string
	}{
		{"numeric userName", `{` + core + `,"userName":12345,"emails":[{"value":"taken@example.com","type":"work"}]}`, `"userName" must be a string`},
		{"emails as a string", `{` + core + `,"userName":"taken@example.com","emails":"taken@example.com"}`, `"emails" is multi-valued`},
		{"unknown schema URN", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:params:scim:schemas:extension:acme:2.0:User"],"userName":"taken@example.com"}`, `is not a schema of a User`},
		{"numeric title", `{` + core + `,"userName":"taken@example.com","title":42}`, `"title" must be a string`},
		{"phoneNumbers as an object", `{` + core + `,"userName":"taken@example.com","phoneNumbers":{"value":"+1 555 0100","type":"work"}}`, `"phoneNumbers" is multi-valued`},
		{"two primary emails", `{` + core + `,"userName":"taken@example.com","emails":[{"value":"a@example.com","primary":true},{"value":"b@example.com","primary":true}]}`, `may appear on at most one value`},
		{"string active that is not a boolean", `{` + core + `,"userName":"taken@example.com","active":"yes"}`, `"active" must be a boolean`},
	}
	for _, tc := range cases {
		for _, email := range []string{"taken@example.com", "fresh@example.com"} {
			t.Run(tc.name+"/"+email, func(t *testing.T) {
				before := domoWrites(tb.sim)
				body := strings.ReplaceAll(tc.body, "taken@example.com", email)
				status, out := srv.do(http.MethodPost, "/scim/v2/Users", body)
				if status != http.StatusBadRequest || out["scimType"] != "invalidValue" || out["status"] != "400" ||
					!strings.Contains(fmt.Sprint(out["detail"]), tc.detail) {
					t.Fatalf("POST = %d %v; want 400 invalidValue containing %q", status, out, tc.detail)
				}
				if n := domoWrites(tb.sim) - before; n != 0 {
					t.Fatalf("%d Domo writes for a refused body", n)
				}
				if _, ok := tb.index.UserByUserName("fresh@example.com"); ok {
					t.Fatal("a user was created")
				}
			})
		}
	}
}

func TestIdPQuirksStillAccepted(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 6}), nil)
	srv := serveSCIM(t, tb.b)
	// Entra: "True"/"False" strings, a bare manager id, flat extension keys, Microsoft's group URN.
	status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"quirky@example.com","active":"True",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Ops",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"123"}}`)
	if status != http.StatusCreated || out["active"] != true {
		t.Fatalf("Entra-style POST = %d %v", status, out)
	}
	id := out["id"].(string)
	status, out = srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"replace","value":{"name.givenName":"Q","displayName":"Q Y"}}]}`)
	if status != http.StatusOK || out["active"] != false || out["displayName"] != "Q Y" {
		t.Fatalf("Entra-style PATCH = %d %v", status, out)
	}
	status, out = srv.do(http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
		"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"Quirks"}`)
	if status != http.StatusCreated {
		t.Fatalf("Entra group POST = %d %v", status, out)
	}
}

// Issue 12, "multi-valued attributes": primary false and every sub-attribute come back as
// sent, on POST and on PATCH, from GET and from a list; exact duplicates collapse.
func TestMultiValuedRoundTrip(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 7}), nil)
	srv := serveSCIM(t, tb.b)
	status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"multi@example.com",
		"emails":[{"value":"multi@example.com","type":"work","primary":true,"display":"Work"},
		          {"value":"home@example.com","type":"home","primary":false},
		          {"value":"MULTI@example.com","type":"work"}],
		"phoneNumbers":[{"value":"+1 555 0100","type":"work","primary":false},{"value":"+1 555 0101","type":"mobile","primary":true}],
		"addresses":[{"locality":"Oslo","type":"home","primary":false}]}`)
	if status != http.StatusCreated {
		t.Fatalf("POST = %d %v", status, out)
	}
	id := out["id"].(string)
	wantEmails := `[{"display":"Work","primary":true,"type":"work","value":"multi@example.com"},{"primary":false,"type":"home","value":"home@example.com"}]`
	wantPhones := `[{"primary":false,"type":"work","value":"+1 555 0100"},{"primary":true,"type":"mobile","value":"+1 555 0101"}]`
	check := func(where string, res map[string]any) {
		t.Helper()
		if got := jsonText(t, res["emails"]); got != wantEmails {
			t.Errorf("%s emails = %s\nwant %s", where, got, wantEmails)
		}
		if got := jsonText(t, res["phoneNumbers"]); got != wantPhones {
			t.Errorf("%s phoneNumbers = %s\nwant %s", where, got, wantPhones)
		}
		if got, want := jsonText(t, res["addresses"]), `[{"locality":"Oslo","primary":false,"type":"home"}]`; got != want {
			t.Errorf("%s addresses = %s; want %s", where, got, want)
		}
	}
	check("POST", out)
	_, got := srv.do(http.MethodGet, "/scim/v2/Users/"+id, "")
	check("GET", got)
	l := srv.list(http.MethodGet, "/scim/v2/Users?filter="+urlQuery(`userName eq "multi@example.com"`), "")
	if len(l.resources) != 1 {
		t.Fatalf("filter found %d users", len(l.resources))
	}
	check("list", l.resources[0])

	// PATCH: primary false kept on add; an add of an existing type and value updates it.
	wantEmails = `[{"display":"Work","primary":true,"type":"work","value":"multi@example.com"},{"display":"Home","primary":false,"type":"home","value":"home@example.com"},{"primary":false,"type":"other","value":"other@example.com"}]`
	status, out = srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"add","path":"emails","value":[{"value":"other@example.com","type":"other","primary":false},{"value":"home@example.com","type":"home","display":"Home"}]}]}`)
	if status != http.StatusOK {
		t.Fatalf("PATCH = %d %v", status, out)
	}
	check("PATCH", out)
	_, got = srv.do(http.MethodGet, "/scim/v2/Users/"+id, "")
	check("GET after PATCH", got)
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 12: a group PATCH answered 200 carries the whole group, members included (RFC 7644
// §3.5.2), subject to attributes and excludedAttributes; Okta's re-sent rename takes them
// from the index, with one Domo call (the group's GET).
func TestGroupPatchAnswersMembers(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 8}), nil)
	srv := serveSCIM(t, tb.b)
	var ids []string
	for _, n := range []string{"ann", "ben"} {
		status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"`+n+`@example.com","displayName":"`+n+`"}`)
		if status != http.StatusCreated {
			t.Fatalf("create %s: %d %v", n, status, out)
		}
		ids = append(ids, out["id"].(string))
	}
	status, out := srv.do(http.MethodPost, "/scim/v2/Groups", `{"displayName":"Crew","members":[{"value":"`+ids[0]+`"}]}`)
	if status != http.StatusCreated {
		t.Fatalf("create group: %d %v", status, out)
	}
	gid := out["id"].(string)
	memberValues := func(res map[string]any) []string {
		var vs []string
		ms, _ := res["members"].([]any)
		for _, m := range ms {
			vs = append(vs, fmt.Sprint(m.(map[string]any)["value"]))
		}
		return vs
	}
	add := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + ids[1] + `"}]}]}`
	status, out = srv.do(http.MethodPatch, "/scim/v2/Groups/"+gid, add)
	if got := memberValues(out); status != http.StatusOK || len(got) != 2 {
		t.Fatalf("PATCH = %d, members %v; want both", status, got)
	}
	rename := `{"Operations":[{"op":"replace","value":{"id":"` + gid + `","displayName":"Crew"}}]}`
	before := tb.sim.Stats().Requests
	status, out = srv.do(http.MethodPatch, "/scim/v2/Groups/"+gid, rename)
	if got := memberValues(out); status != http.StatusOK || len(got) != 2 || out["displayName"] != "Crew" {
		t.Fatalf("Okta's rename = %d %v; want the group with both members", status, out)
	}
	if n := tb.sim.Stats().Requests - before; n != 1 {
		t.Fatalf("Okta's rename cost %d Domo calls; want 1 (the group's GET)", n)
	}
	for _, q := range []string{"?excludedAttributes=members", "?attributes=displayName", "?attributes=externalId&excludedAttributes=members"} {
		status, out = srv.do(http.MethodPatch, "/scim/v2/Groups/"+gid+q, rename)
		if status != http.StatusOK || out["members"] != nil || out["id"] != gid {
			t.Fatalf("PATCH%s = %d %v; want the group without members", q, status, out)
		}
	}
	status, out = srv.do(http.MethodPatch, "/scim/v2/Groups/"+gid+"?attributes=members", rename)
	if got := memberValues(out); status != http.StatusOK || len(got) != 2 || out["displayName"] != nil {
		t.Fatalf("PATCH?attributes=members = %d %v", status, out)
	}
}

// Issue 12: a PATCH whose path names a whole extension may carry schemas in its value (as
// clients that send the extension object whole do); schemas is ignored.
func TestWholeExtensionPatch(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 10}), nil)
	srv := serveSCIM(t, tb.b)
	status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"ext@example.com"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out["id"].(string)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	status, out = srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"`+ent+`","value":{"schemas":["`+ent+`"],"department":"Ops","costCenter":"CC7"}}]}`)
	e, _ := out[ent].(map[string]any)
	if status != http.StatusOK || e["department"] != "Ops" || e["costCenter"] != "CC7" || e["schemas"] != nil {
		t.Fatalf("PATCH = %d %v", status, out)
	}
	_, got := srv.do(http.MethodGet, "/scim/v2/Users/"+id, "")
	if g, _ := got[ent].(map[string]any); g["department"] != "Ops" || g["costCenter"] != "CC7" {
		t.Fatalf("GET after the PATCH: %v", got)
	}
}

// Issue 11 item 5: caps a real IdP never reaches, refused before any Domo call.
func TestCapsOverHTTP(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 11}), nil)
	srv := serveSCIM(t, tb.b)
	status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"cap@example.com"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out["id"].(string)
	phones := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"value":"+1 555 %07d"}`, i)
		}
		return strings.Join(parts, ",")
	}
	writes := domoWrites(tb.sim)
	if status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"many@example.com","phoneNumbers":[`+phones(1001)+`]}`); status != http.StatusBadRequest || out["scimType"] != "tooMany" {
		t.Errorf("POST with 1,001 phone numbers: %d %v", status, out)
	}
	if status, out := srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"Operations":[{"op":"add","path":"phoneNumbers","value":[`+phones(1001)+`]}]}`); status != http.StatusBadRequest || out["scimType"] != "tooMany" {
		t.Errorf("PATCH adding 1,001 phone numbers: %d %v", status, out)
	}
	ops := strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"t"},`, 1001), ",")
	if status, out := srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"Operations":[`+ops+`]}`); status != http.StatusBadRequest || out["scimType"] != "tooMany" {
		t.Errorf("PATCH of 1,001 operations: %d %v", status, out)
	}
	if n := domoWrites(tb.sim) - writes; n != 0 {
		t.Errorf("%d Domo writes for refused requests", n)
	}
	// At the caps, both pass.
	if status, out := srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"Operations":[{"op":"add","path":"phoneNumbers","value":[`+phones(1000)+`]}]}`); status != http.StatusOK || len(out["phoneNumbers"].([]any)) != 1000 {
		t.Errorf("PATCH adding 1,000 phone numbers: %d", status)
	}
	ops = strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"t"},`, 1000), ",")
	if status, out := srv.do(http.MethodPatch, "/scim/v2/Users/"+id, `{"Operations":[`+ops+`]}`); status != http.StatusOK || out["title"] != "t" {
		t.Errorf("PATCH of 1,000 operations: %d %v", status, out["title"])
	}
}
