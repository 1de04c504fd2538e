package scim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ptJSON parses a JSON literal the way the code under test sees JSON (UseNumber).
func ptJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := decodeStrict([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON literal in test: %v\n%s", err, s)
	}
	return v
}

// ptNormal renders v through JSON so that Go-built and decoded values compare equal.
func ptNormal(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return ptJSON(t, string(b))
}

func ptShow(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// ptFile reads a request body from testdata.
func ptFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ptWantError checks that err is a 400 *Error of type typ whose detail contains detail.
func ptWantError(t *testing.T, err error, typ, detail string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T); want *Error", err, err)
	}
	if se.Status != 400 || string(se.Type) != typ || !strings.Contains(se.Detail, detail) {
		t.Fatalf("error = %d %s %q; want 400 %s containing %q", se.Status, se.Type, se.Detail, typ, detail)
	}
}

func TestDecodeResourceRecordedBodies(t *testing.T) {
	tests := []struct {
		file       string
		rt         *ResourceType
		want       string
		wantQuirks Quirks
	}{
		{
			file: "decode/okta-post-user.json", rt: UserType,
			// groups is readOnly and dropped; the writeOnly password is kept for the bridge.
			want: `{"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
				"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
				"password":"1mz050nq","active":true}`,
		},
		{
			file: "decode/okta-spec-post-user.json", rt: UserType,
			want: `{"userName":"{{randomUsername}}","name":{"givenName":"{{randomGivenName}}","familyName":"{{randomFamilyName}}"},
				"emails":[{"primary":true,"value":"{{randomEmail}}","type":"work"}],
				"displayName":"{{randomGivenName}} {{randomFamilyName}}","active":true}`,
		},
		{
			file: "decode/okta-aiw-put-deactivate.json", rt: UserType,
			want: `{"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
				"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
				"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","active":false}`,
		},
		{
			// An empty member list is kept: on PUT it means "no members".
			file: "decode/okta-post-group.json", rt: GroupType,
			want: `{"displayName":"Test SCIMv2","members":[]}`,
		},
		{
			file: "decode/entra-post-user.json", rt: UserType,
			want: `{"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"alice@contoso.com","active":true,
				"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],
				"name":{"formatted":"Alice Smith","familyName":"Smith","givenName":"Alice"},"roles":[]}`,
		},
		{
			// Microsoft's ADSCIM schema URN in schemas is not ours and is ignored.
			file: "decode/entra-post-group.json", rt: GroupType,
			want: `{"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Sales"}`,
		},
		{
			file: "decode/entra-post-user-quirks.json", rt: UserType,
			want: `{"userName":"bob@contoso.com","active":false,
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
					"employeeNumber":"55555555555","manager":{"value":"7"},"department":"Ops"},
				"phoneNumbers":[{"type":"mobile","value":"55555555555"}]}`,
			wantQuirks: Quirks{QuirkManagerString, QuirkStringBool, QuirkFlatExtensionKey},
		},
		{
			// "Primary" capitalised becomes "primary".
			file: "decode/ms-post-user-primary.json", rt: UserType,
			want: `{"userName":"UserName123","active":true,"displayName":"BobIsAmazing","externalId":"${__UUID}",
				"name":{"formatted":"Ryan Leenay","familyName":"Leenay","givenName":"Ryan"},
				"emails":[{"primary":true,"type":"work","value":"testing@bob.com"},
				          {"primary":false,"type":"home","value":"testinghome@bob.com"}]}`,
		},
		{
			file: "decode/ms-post-enterprise-user.json", rt: UserType,
			want: `{"userName":"UserName222","active":true,"displayName":"lennay","externalId":"${__UUID}",
				"name":{"formatted":"Adrew Ryan","familyName":"Ryan","givenName":"Andrew"},
				"emails":[{"primary":true,"type":"work","value":"testing@bob2.com"},
				          {"primary":false,"type":"home","value":"testinghome@bob3.com"}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"bob","manager":{"value":"SuzzyQ"}}}`,
		},
		{
			file: "decode/ms-post-enterprise-department.json", rt: UserType,
			want: `{"active":true,"addresses":[{"country":"Bermuda","formatted":"9132 Jennifer Way Suite 040\nSouth Nancy, MI 55645",
				  "locality":"West Mercedes","postalCode":"99265","primary":false,"region":"Montana","streetAddress":"4939 Hess Fork","type":"work"},
				 {"formatted":"18522 Lisa Unions\nEast Gregory, CT 52311","primary":false,"type":"other"}],
				"displayName":"Kimberly Baker",
				"emails":[{"primary":true,"type":"work","value":"anna33@gmail.com"},{"primary":false,"type":"work","value":"anna33@example.com"}],
				"externalId":"22fbc523-6032-4c5f-939d-5d4850cf3e52","name":{"familyName":"Employee","formatted":"Daniel Mcgee","givenName":"Darl"},
				"phoneNumbers":[{"primary":false,"type":"fax","value":"312-320-0500"},{"primary":false,"type":"mobile","value":"312-320-1707"},
				  {"primary":true,"type":"work","value":"312-320-0932"}],
				"preferredLanguage":"xh","roles":[],"title":"Site engineer",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"some department"},"userName":"enterprise"}`,
		},
		{
			// Nulls inside addresses and name are absent; meta is readOnly.
			file: "decode/ms-post-omalley-nulls.json", rt: UserType,
			want: `{"userName":"OMalley","active":true,
				"addresses":[{"country":"Bermuda","formatted":"9132 Jennifer Way Suite 040\nSouth Nancy, MI 55645",
				  "locality":"West Mercedes","postalCode":"99265","region":"Montana","streetAddress":"4939 Hess Fork",
				  "type":"work","primary":false},
				 {"formatted":"18522 Lisa Unions\nEast Gregory, CT 52311","type":"other","primary":false}],
				"displayName":"Kimberly Baker",
				"emails":[{"type":"work","primary":true,"value":"anna33@example.com"},
				          {"type":"other","primary":false,"value":"anna33@gmail.com"}],
				"name":{"formatted":"Daniel Mcgee","familyName":"OMalley","givenName":"Darl"},
				"phoneNumbers":[{"type":"fax","primary":false,"value":"312-320-0500"},
				  {"type":"mobile","primary":false,"value":"312-320-1707"},
				  {"type":"work","primary":true,"value":"312-320-0932"}],
				"preferredLanguage":"xh","roles":[],"title":"Site engineer",
				"externalId":"22fbc523-6032-4c5f-939d-5d4850cf3e52"}`,
		},
		{
			// The misspelled "adreses" is ignored: Microsoft expects 200.
			file: "decode/ms-put-misspelled.json", rt: UserType,
			want: `{"active":false,"displayName":"Kimberly Baker",
				"emails":[{"primary":true,"type":"work","value":"anna33@example.com"},{"primary":false,"type":"other","value":"anna33@gmail.com"}],
				"externalId":"22fbc523-6032-4c5f-939d-5d4850cf3e52","name":{"familyName":"OMalley","formatted":"Daniel Mcgee","givenName":"Darl"},
				"phoneNumbers":[{"primary":false,"type":"fax","value":"312-320-0500"},{"primary":false,"type":"mobile","value":"312-320-1707"},
				  {"primary":true,"type":"work","value":"312-320-0932"}],
				"preferredLanguage":"xh","roles":[],"title":"Site engineer","userName":"OMalley"}`,
		},
		{
			file: "decode/ms-post-group-members.json", rt: GroupType,
			want: `{"externalId":"${__UUID}","displayName":"GroupDisplayName2","members":[{"value":"{{id3}}","display":"VP"}]}`,
		},
		{
			// id in a PUT body is readOnly and dropped.
			file: "decode/ms-put-group-with-id.json", rt: GroupType,
			want: `{"displayName":"putName","members":[{"value":"{{id3}}","display":"VP"},{"value":"{{id4}}","display":"SenorVP"}]}`,
		},
		{file: "decode/ms-post-group-garbage.json", rt: GroupType,
			want: `{"displayName":"Group 1","externalId":"015489ea-9410-4306-b583-9f002b2446f7"}`},
		{file: "decode/ms-put-group-garbage.json", rt: GroupType,
			want: `{"displayName":"Tiffany Ortiz","externalId":"6c6b54c2-fa81-4234-ad4f-420ec6808049"}`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, q, err := DecodeResource(tt.rt, ptFile(t, tt.file))
			if err != nil {
				t.Fatalf("DecodeResource: %v", err)
			}
			if want := ptJSON(t, tt.want); !reflect.DeepEqual(ptNormal(t, got), want) {
				t.Fatalf("got  %s\nwant %s", ptShow(got), ptShow(want))
			}
			if tt.wantQuirks != nil && !reflect.DeepEqual(ptSorted(q), ptSorted(tt.wantQuirks)) {
				t.Fatalf("quirks = %v; want %v", q, tt.wantQuirks)
			}
		})
	}
}

func ptSorted(q Quirks) []string {
	out := append([]string(nil), q...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDecodeResourceQuirks(t *testing.T) {
	tests := []struct {
		name       string
		rt         *ResourceType
		body       string
		want       string
		wantQuirks Quirks
	}{
		{"string true", UserType, `{"userName":"a","active":"True"}`, `{"userName":"a","active":true}`, Quirks{QuirkStringBool}},
		{"string FALSE in sub-attribute", UserType, `{"userName":"a","emails":[{"value":"x","primary":"FALSE"}]}`,
			`{"userName":"a","emails":[{"value":"x","primary":false}]}`, Quirks{QuirkStringBool}},
		{"manager string nested", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"42"}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"42"}}}`, Quirks{QuirkManagerString}},
		{"manager string flat", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"42"}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"42"}}}`,
			Quirks{QuirkFlatExtensionKey, QuirkManagerString}},
		{"manager displayName readOnly dropped", UserType,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"42","displayName":"Boss"}}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"42"}}}`, Quirks{}},
		{"lower-case URN key", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"Department":"x"}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"}}`, Quirks{}},
		{"nested and flat merge", UserType,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"},
			  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division":"y"}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x","division":"y"}}`,
			Quirks{QuirkFlatExtensionKey}},
		{"core URN-qualified key", UserType, `{"urn:ietf:params:scim:schemas:core:2.0:User:userName":"a"}`, `{"userName":"a"}`, Quirks{}},
		{"member displayName", GroupType, `{"displayName":"g","members":[{"displayName":"new User","value":"9"}]}`,
			`{"displayName":"g","members":[{"display":"new User","value":"9"}]}`, Quirks{QuirkMemberDisplay}},
		{"member display wins over displayName", GroupType, `{"displayName":"g","members":[{"displayName":"x","display":"y","value":"9"}]}`,
			`{"displayName":"g","members":[{"display":"y","value":"9"}]}`, Quirks{}},
		{"member bare string", GroupType, `{"displayName":"g","members":["9"]}`,
			`{"displayName":"g","members":[{"value":"9"}]}`, Quirks{QuirkMemberString}},
		{"dotted key", UserType, `{"userName":"a","name.givenName":"G","name":{"familyName":"F"}}`,
			`{"userName":"a","name":{"givenName":"G","familyName":"F"}}`, Quirks{QuirkDottedKey}},
		{"all-null complex is absent", UserType, `{"userName":"a","name":{"givenName":null},"emails":[{"value":null},null]}`,
			`{"userName":"a","emails":[]}`, Quirks{}},
		{"null is absent", UserType, `{"userName":"a","displayName":null,"schemas":null}`, `{"userName":"a"}`, Quirks{}},
		{"schemas absent", GroupType, `{"displayName":"g"}`, `{"displayName":"g"}`, Quirks{}},
		{"unknown sub-attribute ignored", UserType, `{"userName":"a","emails":[{"value":"x","bogus":1}]}`,
			`{"userName":"a","emails":[{"value":"x"}]}`, Quirks{}},
		{"unknown extension ignored", UserType, `{"userName":"a","urn:example:custom:2.0:User":{"x":1},"urn:example:custom:2.0:User:y":2}`,
			`{"userName":"a"}`, Quirks{}},
		{"key case", UserType, `{"USERNAME":"a","Name":{"GIVENNAME":"g"},"EMAILS":[{"VALUE":"v","Type":"work"}]}`,
			`{"userName":"a","name":{"givenName":"g"},"emails":[{"value":"v","type":"work"}]}`, Quirks{}},
		{"values kept as sent", UserType, `{"userName":"  Mixed@Case.COM ","phoneNumbers":[{"value":"+1 (555) 555-5555"}]}`,
			`{"userName":"  Mixed@Case.COM ","phoneNumbers":[{"value":"+1 (555) 555-5555"}]}`, Quirks{}},
		{"x509 base64", UserType, `{"userName":"a","x509Certificates":[{"value":"TUlJ"}]}`,
			`{"userName":"a","x509Certificates":[{"value":"TUlJ"}]}`, Quirks{}},
		{"Microsoft's ADSCIM group URN is ignored", GroupType,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"g"}`,
			`{"displayName":"g"}`, Quirks{}},
		{"schemas any case", UserType, `{"schemas":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER","urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"],"userName":"a"}`,
			`{"userName":"a"}`, Quirks{}},
		{"empty schemas tolerated", UserType, `{"schemas":[],"userName":"a"}`, `{"userName":"a"}`, Quirks{}},
		{"exact duplicates collapse, primary kept", UserType,
			`{"userName":"a","emails":[{"value":"A@x.org","type":"work"},{"value":"b@x.org","type":"home","primary":false},{"value":"a@X.org","type":"WORK","primary":true}]}`,
			`{"userName":"a","emails":[{"value":"A@x.org","type":"work","primary":true},{"value":"b@x.org","type":"home","primary":false}]}`, Quirks{}},
		{"same value, another type: both kept", UserType,
			`{"userName":"a","phoneNumbers":[{"value":"1","type":"work"},{"value":"1","type":"mobile"}]}`,
			`{"userName":"a","phoneNumbers":[{"value":"1","type":"work"},{"value":"1","type":"mobile"}]}`, Quirks{}},
		{"duplicate members collapse", GroupType, `{"displayName":"g","members":[{"value":"1"},{"value":"1","type":"User","display":"D"}]}`,
			`{"displayName":"g","members":[{"value":"1"}]}`, Quirks{}},
		{"member type User", GroupType, `{"displayName":"g","members":[{"value":"1","type":"user"}]}`,
			`{"displayName":"g","members":[{"value":"1","type":"user"}]}`, Quirks{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, q, err := DecodeResource(tt.rt, []byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeResource: %v", err)
			}
			if want := ptJSON(t, tt.want); !reflect.DeepEqual(ptNormal(t, got), want) {
				t.Fatalf("got  %s\nwant %s", ptShow(got), ptShow(want))
			}
			if !reflect.DeepEqual(ptSorted(q), ptSorted(tt.wantQuirks)) {
				t.Fatalf("quirks = %v; want %v", q, tt.wantQuirks)
			}
		})
	}
}

func TestDecodeResourceErrors(t *testing.T) {
	tests := []struct {
		name   string
		rt     *ResourceType
		body   string
		typ    string
		detail string
	}{
		{"junk", UserType, string(ptFile(t, "decode/ms-post-junk.json")), "invalidSyntax", "not valid JSON"},
		{"empty", UserType, ``, "invalidSyntax", "not valid JSON"},
		{"array", UserType, `[{"userName":"a"}]`, "invalidSyntax", "request body is not a JSON object"},
		{"string", UserType, `"a"`, "invalidSyntax", "request body is not a JSON object"},
		{"null", UserType, `null`, "invalidSyntax", "request body is not a JSON object"},
		{"trailing data", UserType, `{"userName":"a"} {}`, "invalidSyntax", "not valid JSON"},
		{"trailing bracket", UserType, `{"userName":"a"}]`, "invalidSyntax", "not valid JSON"},
		{"no userName (Microsoft POST)", UserType, string(ptFile(t, "decode/ms-post-no-username.json")), "invalidValue", "userName is required"},
		{"no userName (Microsoft PUT)", UserType, string(ptFile(t, "decode/ms-put-no-username.json")), "invalidValue", "userName is required"},
		{"blank userName", UserType, `{"userName":"  "}`, "invalidValue", "userName is required"},
		{"null userName", UserType, `{"userName":null}`, "invalidValue", "userName is required"},
		{"no displayName", GroupType, `{"members":[]}`, "invalidValue", "displayName is required"},
		{"active not boolean", UserType, `{"userName":"a","active":"yes"}`, "invalidValue", `attribute "active" must be a boolean`},
		{"active number", UserType, `{"userName":"a","active":1}`, "invalidValue", `attribute "active" must be a boolean`},
		{"primary not boolean", UserType, `{"userName":"a","emails":[{"value":"x","primary":"maybe"}]}`, "invalidValue", `attribute "emails.primary" must be a boolean`},
		{"userName object", UserType, `{"userName":{"a":1}}`, "invalidValue", `attribute "userName" must be a string`},
		{"displayName bool", UserType, `{"userName":"a","displayName":true}`, "invalidValue", `attribute "displayName" must be a string`},
		{"name not object", UserType, `{"userName":"a","name":"x"}`, "invalidValue", `attribute "name" must be an object`},
		{"name an array", UserType, `{"userName":"a","name":["x"]}`, "invalidValue", `attribute "name" is single-valued`},
		{"emails of booleans", UserType, `{"userName":"a","emails":[true]}`, "invalidValue", `attribute "emails" must be an object`},
		{"extension not object", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, "invalidValue", "must be an object"},
		{"manager bool", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":true}}`, "invalidValue", `attribute "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" must be an object`},
		{"schemas string", UserType, `{"userName":"a","schemas":"urn:ietf:params:scim:schemas:core:2.0:User"}`, "invalidSyntax", `"schemas" must be an array of strings`},
		{"schemas numbers", UserType, `{"userName":"a","schemas":[1]}`, "invalidSyntax", `"schemas" must be an array of strings`},
		{"case-variant duplicate", UserType, `{"userName":"a","USERNAME":"b"}`, "invalidSyntax", `"userName" is given more than once`},
		{"duplicate sub-attribute", UserType, `{"userName":"a","name":{"givenName":"x","GivenName":"y"}}`, "invalidSyntax", `"name.givenName" is given more than once`},
		{"nested and flat duplicate", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"y"}`, "invalidSyntax", `"department" is given more than once`},
		{"single-valued array", UserType, `{"userName":["a","b"]}`, "invalidValue", `attribute "userName" is single-valued`},
		{"bad base64", UserType, `{"userName":"a","x509Certificates":[{"value":"%%%"}]}`, "invalidValue", `attribute "x509Certificates.value" must be a valid binary`},
		// RFC 7643 §2.3: a value has its attribute's type; only documented IdP quirks are coerced.
		{"numeric userName", UserType, `{"userName":12345}`, "invalidValue", `attribute "userName" must be a string, not a number`},
		{"numeric title", UserType, `{"userName":"a","title":7}`, "invalidValue", `attribute "title" must be a string, not a number`},
		{"numeric phone value", UserType, `{"userName":"a","phoneNumbers":[{"value":55555555555}]}`, "invalidValue", `attribute "phoneNumbers.value" must be a string`},
		{"numeric manager", UserType, `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":42}}`, "invalidValue", `manager" must be an object, not a number`},
		{"emails as a string", UserType, `{"userName":"a","emails":"a@example.com"}`, "invalidValue", `attribute "emails" is multi-valued: its value must be an array, not a string`},
		{"email element a string", UserType, `{"userName":"a","emails":["a@example.com"]}`, "invalidValue", `attribute "emails" must be an object, not a string`},
		{"phoneNumbers as an object", UserType, `{"userName":"a","phoneNumbers":{"value":"1"}}`, "invalidValue", `attribute "phoneNumbers" is multi-valued: its value must be an array, not an object`},
		{"nested array", UserType, `{"userName":"a","emails":[[{"value":"x"}]]}`, "invalidValue", `a value is an array`},
		{"profileUrl not a URI", UserType, `{"userName":"a","profileUrl":"http://x y"}`, "invalidValue", `attribute "profileUrl" must be a URI reference`},
		{"member of another type", GroupType, `{"displayName":"g","members":[{"value":"1","type":"Group"}]}`, "invalidValue", `attribute "members.type" must be one of User; got "Group"`},
		{"unknown schema", UserType, `{"userName":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:custom:2.0:User"]}`, "invalidValue", `schemas: "urn:example:custom:2.0:User" is not a schema of a User`},
		{"group schema on a user", UserType, `{"userName":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, "invalidValue", `not a schema of a User`},
		{"Microsoft's group URN on a user", UserType, `{"userName":"a","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]}`, "invalidValue", `not a schema of a User`},
		{"extension without core", UserType, `{"userName":"a","schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`, "invalidValue", `schemas must include "urn:ietf:params:scim:schemas:core:2.0:User"`},
		// RFC 7643 §2.4
		{"two primaries", UserType, `{"userName":"a","emails":[{"value":"a@x.org","primary":true},{"value":"b@x.org","primary":true}]}`, "invalidValue", `"primary": true may appear on at most one value`},
		{"too many values", UserType, `{"userName":"a","phoneNumbers":[` + strings.TrimSuffix(strings.Repeat(`{"value":"1"},`, MaxMultiValues+1), ",") + `]}`, "tooMany", `at most 1000 are accepted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := DecodeResource(tt.rt, []byte(tt.body))
			if got != nil {
				t.Errorf("got attributes %v with an error", got)
			}
			ptWantError(t, err, tt.typ, tt.detail)
		})
	}
}

// FuzzDecodeResource checks that no body makes DecodeResource panic, that every failure is a
// 400 *Error, and that a success is a valid resource that decodes again to itself.
func FuzzDecodeResource(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.Contains(name, "group"))
	}
	f.Add([]byte(`{"userName":"a","active":"True","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"1"}`), false)
	f.Add([]byte(`{"displayName":"g","members":[{"displayName":"x","value":1},"2",null]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, group bool) {
		rt := UserType
		if group {
			rt = GroupType
		}
		got, _, err := DecodeResource(rt, body)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Status != 400 || se.Type == "" || se.Detail == "" {
				t.Fatalf("error %v is not a 400 *Error with a type and detail", err)
			}
			return
		}
		// The canonical form is a fixed point: decoding it again changes nothing.
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("marshal result: %v", err)
		}
		again, _, err := DecodeResource(rt, b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(ptNormal(t, again), ptNormal(t, got)) {
			t.Fatalf("not a fixed point:\n%s\n%s", ptShow(got), ptShow(again))
		}
	})
}
