package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Issue 12, "discovery tells the truth": the requests below are derived from what /Schemas
// says, and each is checked against what the bridge then does, through the real handler,
// bridge, Domo client and simulator. For every attribute /Schemas calls writable (and every
// sub-attribute of a single-valued complex one): add, replace and remove it by PATCH, then
// GET and compare. A required attribute must refuse removal; a returned "never" one must
// never come back; a readOnly one must refuse a write; an attribute the bridge fills in when
// removed must say so in its description ("If removed, ..."). So schema and behaviour cannot
// drift apart.

// schemaServer serves the bridge as cmd wires it, role names included.
func schemaServer(t *testing.T, b *Bridge, roles *mapping.Roles) *scimServer {
	t.Helper()
	tokens, err := scim.NewTokens([]scim.Token{{Name: "test", Secret: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens,
		Logger: zerolog.Nop(), Ready: b.Ready, RoleNames: roles.Names}))
	t.Cleanup(ts.Close)
	return &scimServer{t: t, url: ts.URL}
}

// schemaAttr is an attribute as /Schemas describes it.
type schemaAttr struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	MultiValued     bool         `json:"multiValued"`
	Required        bool         `json:"required"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	Description     string       `json:"description"`
	CanonicalValues []string     `json:"canonicalValues"`
	ReferenceTypes  []string     `json:"referenceTypes"`
	SubAttributes   []schemaAttr `json:"subAttributes"`
}

func (a schemaAttr) sub(name string) (schemaAttr, bool) {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return schemaAttr{}, false
}

func (a schemaAttr) writable() bool {
	return a.Mutability == "readWrite" || a.Mutability == "writeOnly"
}

// defaulted reports whether the description says the bridge fills the attribute in when it is
// removed ("If removed, ...").
func (a schemaAttr) defaulted() bool {
	return strings.Contains(strings.ToLower(a.Description), "if removed")
}

func getSchemas(t *testing.T, srv *scimServer) map[string][]schemaAttr {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.url+"/scim/v2/Schemas", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Resources []struct {
			ID         string       `json:"id"`
			Attributes []schemaAttr `json:"attributes"`
		} `json:"Resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string][]schemaAttr{}
	for _, s := range list.Resources {
		out[s.ID] = s.Attributes
	}
	return out
}

// valueGen makes values for attributes from their schema: the type, canonical values and
// reference types say what to send; a few attributes Domo validates get values of the shape
// Domo wants (an email, a time zone).
type valueGen struct {
	userRef string // the id of a user that references may name
	base    string
}

func (g valueGen) value(path string, a schemaAttr, n int) any {
	leaf := strings.ToLower(path[strings.LastIndex(path, ":")+1:])
	switch {
	case len(a.CanonicalValues) > 0:
		return a.CanonicalValues[n%len(a.CanonicalValues)]
	case a.Type == "boolean":
		return n%2 == 1
	case a.Type == "binary":
		return []string{"TUlJ", "TUlK", "TUlM"}[n%3]
	case a.Type == "dateTime":
		return fmt.Sprintf("2020-01-0%dT00:00:00Z", n%9+1)
	case a.Type == "reference" && slices.Contains(a.ReferenceTypes, "User"):
		return g.base + "/Users/" + g.userRef
	case a.Type == "reference":
		return fmt.Sprintf("https://example.com/%s/%d", leaf, n)
	case leaf == "username" || strings.HasPrefix(leaf, "emails"):
		return fmt.Sprintf("v%d-%s@example.com", n, strings.ReplaceAll(leaf, ".", "-"))
	case strings.HasPrefix(leaf, "phonenumbers"):
		return fmt.Sprintf("+1 555 01%02d", n)
	case leaf == "timezone":
		return []string{"Europe/Oslo", "America/Chicago", "Asia/Tokyo"}[n%3]
	case leaf == "locale" || leaf == "preferredlanguage":
		return []string{"en-US", "fr-FR", "nb-NO"}[n%3]
	}
	return fmt.Sprintf("v%d-%s", n, leaf)
}

// complexValue is a value of a complex attribute: every writable sub-attribute; a value whose
// sibling $ref references Users is a user's id.
func (g valueGen) complexValue(path string, a schemaAttr, n int) map[string]any {
	m := map[string]any{}
	for _, s := range a.SubAttributes {
		if !s.writable() && s.Mutability != "immutable" || s.Name == "$ref" {
			continue
		}
		if s.Name == "value" {
			if ref, ok := a.sub("$ref"); ok && slices.Contains(ref.ReferenceTypes, "User") {
				m["value"] = g.userRef
				continue
			}
		}
		if s.Name == "primary" {
			m["primary"] = true
			continue
		}
		m[s.Name] = g.value(path+"."+s.Name, s, n)
	}
	return m
}

func (g valueGen) of(path string, a schemaAttr, n int) any {
	switch {
	case a.Type == "complex" && a.MultiValued:
		return []any{g.complexValue(path, a, n)}
	case a.Type == "complex":
		return g.complexValue(path, a, n)
	case a.MultiValued:
		return []any{g.value(path, a, n)}
	}
	return g.value(path, a, n)
}

// matches reports whether got holds want: equal scalars, a complex value with want's
// sub-attributes, a list with want's elements (exactly them when exact).
func matches(got, want any, exact bool) bool {
	switch w := want.(type) {
	case []any:
		g, _ := got.([]any)
		if exact && len(g) != len(w) {
			return false
		}
		for _, we := range w {
			if !slices.ContainsFunc(g, func(ge any) bool { return matches(ge, we, false) }) {
				return false
			}
		}
		return true
	case map[string]any:
		g, _ := got.(map[string]any)
		for k, wv := range w {
			if !matches(g[k], wv, exact) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(fmt.Sprint(got), fmt.Sprint(want))
}

// at reads the attribute at path ("urn:…:User:manager" in its extension, "name.givenName").
func at(res map[string]any, path string) (any, bool) {
	container := res
	if i := strings.LastIndex(path, ":"); i >= 0 {
		container, _ = res[path[:i]].(map[string]any)
		path = path[i+1:]
	}
	name, sub, dotted := strings.Cut(path, ".")
	v, ok := container[name]
	if dotted && ok {
		v, ok = v.(map[string]any)[sub]
	}
	return v, ok
}

type schemaCase struct {
	resource, id, path string
	attr               schemaAttr
}

func TestBehaviourMatchesSchemas(t *testing.T) {
	custom := []domosim.Role{{ID: 2097317660, Name: "Report Viewer"}}
	roles := mapping.NewRoles([]mapping.Role{{ID: 2097317660, Name: "Report Viewer"}})
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 31, CustomRoles: custom}), func(c *Config) { c.Mapping.Roles = roles })
	srv := schemaServer(t, tb.b, roles)
	schemas := getSchemas(t, srv)

	// Discovery declares what the bridge accepts.
	var members, rolesAttr schemaAttr
	for _, a := range schemas[scim.URNGroup] {
		if a.Name == "members" {
			members = a
		}
		if a.Name == "displayName" && a.Uniqueness != "server" {
			t.Errorf("group displayName uniqueness %q; the bridge refuses duplicates", a.Uniqueness)
		}
	}
	for _, a := range schemas[scim.URNUser] {
		if a.Name == "roles" {
			rolesAttr = a
		}
		if a.Name == "userName" && a.Uniqueness != "server" {
			t.Errorf("userName uniqueness %q", a.Uniqueness)
		}
	}
	if typ, _ := members.sub("type"); !slices.Equal(typ.CanonicalValues, []string{"User"}) {
		t.Errorf("members.type canonicalValues %v; want [User]", typ.CanonicalValues)
	}
	if ref, _ := members.sub("$ref"); !slices.Equal(ref.ReferenceTypes, []string{"User"}) {
		t.Errorf("members.$ref referenceTypes %v; want [User]", ref.ReferenceTypes)
	}
	if v, _ := rolesAttr.sub("value"); !slices.Equal(v.CanonicalValues, roles.Names()) {
		t.Errorf("roles.value canonicalValues %v; want the tenant's roles %v", v.CanonicalValues, roles.Names())
	}

	create := func(path, body string) string {
		status, out := srv.do(http.MethodPost, "/scim/v2"+path, body)
		if status != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", path, status, out)
		}
		return out["id"].(string)
	}
	ref := create("/Users", `{"userName":"referenced@example.com","displayName":"Referenced"}`)
	uid := create("/Users", `{"userName":"subject@example.com","displayName":"Subject"}`)
	gid := create("/Groups", `{"displayName":"Subject group"}`)
	gen := valueGen{userRef: ref, base: srv.url + "/scim/v2"}

	var cases []schemaCase
	add := func(resource, id, prefix string, attrs []schemaAttr) {
		for _, a := range attrs {
			path := prefix + a.Name
			cases = append(cases, schemaCase{resource, id, path, a})
			if a.Type == "complex" && !a.MultiValued {
				for _, s := range a.SubAttributes {
					cases = append(cases, schemaCase{resource, id, path + "." + s.Name, s})
				}
			}
		}
	}
	// externalId is one of RFC 7643 §3.1's common attributes, which no schema lists.
	externalID := schemaAttr{Name: "externalId", Type: "string", Mutability: "readWrite", Returned: "default"}
	add("Users", uid, "", append(schemas[scim.URNUser], externalID))
	add("Users", uid, scim.URNEnterprise+":", schemas[scim.URNEnterprise])
	add("Groups", gid, "", append(schemas[scim.URNGroup], externalID))

	checked := 0
	for i, c := range cases {
		t.Run(c.resource+"/"+c.path, func(t *testing.T) {
			url := "/scim/v2/" + c.resource + "/" + c.id
			patch := func(op string, v any) (int, map[string]any) {
				o := map[string]any{"op": op, "path": c.path}
				if v != nil {
					o["value"] = v
				}
				b, _ := json.Marshal(map[string]any{"schemas": []string{scim.URNPatchOp}, "Operations": []any{o}})
				return srv.do(http.MethodPatch, url, string(b))
			}
			get := func() map[string]any {
				status, out := srv.do(http.MethodGet, url, "")
				if status != http.StatusOK {
					t.Fatalf("GET: %d %v", status, out)
				}
				return out
			}
			if !c.attr.writable() {
				if c.attr.Mutability == "readOnly" {
					if status, out := patch("replace", gen.of(c.path, c.attr, 1)); status != http.StatusBadRequest || out["scimType"] != "mutability" {
						t.Errorf("replace of a readOnly attribute: %d %v", status, out)
					}
				}
				return
			}
			checked++
			for n, op := range []string{"add", "replace"} {
				v := gen.of(c.path, c.attr, i*3+n+1)
				if status, out := patch(op, v); status != http.StatusOK {
					t.Fatalf("%s %v: %d %v", op, v, status, out)
				}
				got, present := at(get(), c.path)
				switch {
				case c.attr.Returned == "never":
					if present {
						t.Errorf("%s: a returned-never attribute came back: %v", op, got)
					}
				case !matches(got, v, op == "replace"):
					t.Errorf("%s %v: GET has %v", op, v, got)
				}
			}
			status, out := patch("remove", nil)
			if c.attr.Required {
				if status != http.StatusBadRequest || out["scimType"] != "mutability" {
					t.Errorf("remove of a required attribute: %d %v", status, out)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("remove: %d %v", status, out)
			}
			got, present := at(get(), c.path)
			if present && !c.attr.defaulted() {
				t.Errorf("removed, yet GET has %v, and the schema's description says nothing of a default: %q", got, c.attr.Description)
			}
			if !present && c.attr.defaulted() {
				t.Errorf("removed and absent, though the description says it reads back otherwise: %q", c.attr.Description)
			}
		})
	}
	if checked < 30 {
		t.Fatalf("only %d writable attributes checked", checked)
	}
}
