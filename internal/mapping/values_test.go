package mapping

import (
	"reflect"
	"testing"
	"time"
)

func fullUser() User {
	return User{
		ID: 871428330, ExternalID: "00ujl29u0le5T6Aj10h7", UserName: "test.user@okta.local", DisplayName: "Test User",
		NickName: "Testy", ProfileURL: "https://x.example/tu", Title: "Tester", UserType: "Employee",
		PreferredLanguage: "en", Locale: "en-US", Timezone: "America/Chicago", Active: true,
		Name:         Name{Formatted: "Dr Test Q User", FamilyName: "User", GivenName: "Test", MiddleName: "Q", HonorificPrefix: "Dr", HonorificSuffix: "III"},
		Emails:       []Multi{{Value: "test.user@okta.local", Type: "work", Primary: true}, {Value: "t@home.example", Type: "home", Display: "home"}},
		PhoneNumbers: []Multi{{Value: "555-0100", Type: "work"}},
		IMs:          []Multi{{Value: "tu", Type: "xmpp"}}, Photos: []Multi{{Value: "https://p", Type: "photo"}},
		Entitlements: []Multi{{Value: "e1"}}, Roles: []Multi{{Value: "Participant", Display: "Participant", Primary: true}},
		X509Certificates: []Multi{{Value: "MIIB"}},
		Addresses:        []Address{{Formatted: "1 Main St, Oslo", StreetAddress: "1 Main St", Locality: "Oslo", Region: "Oslo", PostalCode: "0150", Country: "NO", Type: "work", Primary: true}},
		Groups:           []GroupRef{{Value: "2079369920", Display: "X Files"}},
		Enterprise:       Enterprise{EmployeeNumber: "E1", CostCenter: "CC", Organization: "Org", Division: "Div", Department: "Dept", Manager: Manager{Value: "959463190", DisplayName: "Dana"}},
		Created:          t0, LastModified: t1,
	}
}

func TestUserValues(t *testing.T) {
	u := fullUser()
	ent := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:"
	tests := []struct {
		key, sub string
		want     []any
	}{
		{"id", "", []any{"871428330"}},
		{"externalid", "", []any{"00ujl29u0le5T6Aj10h7"}},
		{"username", "", []any{"test.user@okta.local"}},
		{"displayname", "", []any{"Test User"}},
		{"nickname", "", []any{"Testy"}},
		{"profileurl", "", []any{"https://x.example/tu"}},
		{"title", "", []any{"Tester"}},
		{"usertype", "", []any{"Employee"}},
		{"preferredlanguage", "", []any{"en"}},
		{"locale", "", []any{"en-US"}},
		{"timezone", "", []any{"America/Chicago"}},
		{"active", "", []any{true}},
		{"name", "formatted", []any{"Dr Test Q User"}},
		{"name", "familyname", []any{"User"}},
		{"name", "givenname", []any{"Test"}},
		{"name", "middlename", []any{"Q"}},
		{"name", "honorificprefix", []any{"Dr"}},
		{"name", "honorificsuffix", []any{"III"}},
		{"name", "", []any{map[string]any{"formatted": "Dr Test Q User", "familyname": "User", "givenname": "Test", "middlename": "Q", "honorificprefix": "Dr", "honorificsuffix": "III"}}},
		{"emails", "value", []any{"test.user@okta.local", "t@home.example"}},
		{"emails", "type", []any{"work", "home"}},
		{"emails", "display", []any{"home"}},
		{"emails", "primary", []any{true}},
		{"emails", "", []any{
			map[string]any{"value": "test.user@okta.local", "type": "work", "primary": true},
			map[string]any{"value": "t@home.example", "type": "home", "display": "home"},
		}},
		{"phonenumbers", "value", []any{"555-0100"}},
		{"ims", "type", []any{"xmpp"}},
		{"photos", "value", []any{"https://p"}},
		{"entitlements", "value", []any{"e1"}},
		{"roles", "value", []any{"Participant"}},
		{"roles", "display", []any{"Participant"}},
		{"x509certificates", "value", []any{"MIIB"}},
		{"addresses", "locality", []any{"Oslo"}},
		{"addresses", "formatted", []any{"1 Main St, Oslo"}},
		{"addresses", "streetaddress", []any{"1 Main St"}},
		{"addresses", "region", []any{"Oslo"}},
		{"addresses", "postalcode", []any{"0150"}},
		{"addresses", "country", []any{"NO"}},
		{"addresses", "type", []any{"work"}},
		{"addresses", "primary", []any{true}},
		{"addresses", "", []any{map[string]any{"formatted": "1 Main St, Oslo", "streetaddress": "1 Main St", "locality": "Oslo", "region": "Oslo", "postalcode": "0150", "country": "NO", "type": "work", "primary": true}}},
		{"groups", "value", []any{"2079369920"}},
		{"groups", "display", []any{"X Files"}},
		{"groups", "type", []any{"direct"}},
		{"groups", "", []any{map[string]any{"value": "2079369920", "display": "X Files", "type": "direct"}}},
		{"meta", "created", []any{t0}},
		{"meta", "lastmodified", []any{t1}},
		{"meta", "resourcetype", []any{"User"}},
		{"meta", "version", []any{u.Version()}},
		{"meta", "", []any{map[string]any{"resourcetype": "User", "created": t0, "lastmodified": t1, "version": u.Version()}}},
		{"schemas", "", []any{URNUser, URNEnterprise}},
		{ent + "employeenumber", "", []any{"E1"}},
		{ent + "costcenter", "", []any{"CC"}},
		{ent + "organization", "", []any{"Org"}},
		{ent + "division", "", []any{"Div"}},
		{ent + "department", "", []any{"Dept"}},
		{ent + "manager", "value", []any{"959463190"}},
		{ent + "manager", "displayname", []any{"Dana"}},
		{ent + "manager", "", []any{map[string]any{"value": "959463190", "displayname": "Dana"}}},
		// Absent, unknown, or not servable without the base URL.
		{"password", "", nil},
		{"nosuch", "", nil},
		{"username", "value", nil},
		{"emails", "nosuch", nil},
		{"name", "nosuch", nil},
		{"groups", "$ref", nil},
		{"meta", "location", nil},
		{"userName", "", nil}, // keys are lower-case by contract
		{ent + "nosuch", "", nil},
	}
	for _, tt := range tests {
		got := u.Values(tt.key, tt.sub)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Values(%q, %q) = %#v, want %#v", tt.key, tt.sub, got, tt.want)
		}
	}

	var empty User
	for _, tt := range tests {
		if tt.key == "active" || tt.key == "schemas" || tt.key == "meta" && (tt.sub == "" || tt.sub == "resourcetype" || tt.sub == "version") {
			continue
		}
		if got := empty.Values(tt.key, tt.sub); got != nil {
			t.Errorf("empty user: Values(%q, %q) = %#v, want nothing", tt.key, tt.sub, got)
		}
	}
	if got := empty.Values("active", ""); !reflect.DeepEqual(got, []any{false}) {
		t.Errorf("empty user active = %v", got)
	}
	if got := empty.Values("schemas", ""); !reflect.DeepEqual(got, []any{URNUser}) {
		t.Errorf("empty user schemas = %v", got)
	}
	// Value types are what the filter evaluator compares: string, bool, time.Time.
	if _, ok := u.Values("meta", "created")[0].(time.Time); !ok {
		t.Error("meta.created is not a time.Time")
	}
}

func TestGroupValues(t *testing.T) {
	g := Group{ID: 2079369920, ExternalID: "8aa1a0c0", DisplayName: "Sales", Created: t0, LastModified: t1,
		Members: []Member{{Value: "1", Display: "One"}, {Value: "2"}}}
	tests := []struct {
		key, sub string
		want     []any
	}{
		{"id", "", []any{"2079369920"}},
		{"externalid", "", []any{"8aa1a0c0"}},
		{"displayname", "", []any{"Sales"}},
		{"members", "value", []any{"1", "2"}},
		{"members", "display", []any{"One"}},
		{"members", "type", []any{"User", "User"}},
		{"members", "", []any{map[string]any{"value": "1", "display": "One", "type": "User"}, map[string]any{"value": "2", "type": "User"}}},
		{"meta", "resourcetype", []any{"Group"}},
		{"meta", "created", []any{t0}},
		{"meta", "lastmodified", []any{t1}},
		{"meta", "version", []any{g.Version()}},
		{"schemas", "", []any{URNGroup}},
		{"displayname", "x", nil},
		{"members", "$ref", nil},
		{"nosuch", "", nil},
	}
	for _, tt := range tests {
		if got := g.Values(tt.key, tt.sub); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Values(%q, %q) = %#v, want %#v", tt.key, tt.sub, got, tt.want)
		}
	}
	var empty Group
	for _, key := range []string{"id", "externalid", "displayname", "members"} {
		if got := empty.Values(key, ""); got != nil {
			t.Errorf("empty group: Values(%q) = %v", key, got)
		}
	}
}
