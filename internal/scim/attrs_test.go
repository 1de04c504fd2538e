package scim

import (
	"reflect"
	"testing"
)

const ptFullUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id":"42","externalId":"x1","userName":"alice@contoso.com","active":true,"password":"secret",
	"name":{"givenName":"Alice","familyName":"Smith"},
	"emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"7","displayName":"Boss"}},
	"meta":{"resourceType":"User","location":"/Users/42"},
	"x-backend":"kept only without attributes"}`

func TestSelectAttributes(t *testing.T) {
	const schemas = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]`
	tests := []struct {
		name, attributes, excluded string
		want                       string
	}{
		{"no parameters drops only password", "", "",
			`{` + schemas + `,"id":"42","externalId":"x1","userName":"alice@contoso.com","active":true,
			"name":{"givenName":"Alice","familyName":"Smith"},
			"emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"7","displayName":"Boss"}},
			"meta":{"resourceType":"User","location":"/Users/42"},"x-backend":"kept only without attributes"}`},
		{"Microsoft attributes=userName,emails", "userName,emails", "",
			`{` + schemas + `,"id":"42","userName":"alice@contoso.com",
			"emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}]}`},
		{"Microsoft filter in attributes", `emails[value eq "emailName357"]`, "",
			`{` + schemas + `,"id":"42","emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}]}`},
		{"filter with comma and bracket in quotes", `emails[value eq "a,b]"],userName`, "",
			`{` + schemas + `,"id":"42","userName":"alice@contoso.com","emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}]}`},
		{"dotted name keeps one sub-attribute", "name.givenName, EMAILS.VALUE", "",
			`{` + schemas + `,"id":"42","name":{"givenName":"Alice"},"emails":[{"value":"emailName357"},{"value":"h@x.org"}]}`},
		{"filter then sub-attribute", `emails[type eq "work"].type`, "",
			`{` + schemas + `,"id":"42","emails":[{"type":"work"},{"type":"home"}]}`},
		{"URN-qualified names", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value,urn:ietf:params:scim:schemas:core:2.0:User:userName", "",
			`{` + schemas + `,"id":"42","userName":"alice@contoso.com",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"7"}}}`},
		{"whole extension by URN", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", "",
			`{` + schemas + `,"id":"42","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"7","displayName":"Boss"}}}`},
		{"meta only when named", "meta,password,id", "",
			`{` + schemas + `,"id":"42","meta":{"resourceType":"User","location":"/Users/42"}}`},
		{"unknown names are ignored", "bogus,userName,urn:example:x:1", "",
			`{` + schemas + `,"id":"42","userName":"alice@contoso.com"}`},
		{"only unknown names leave the always-returned", "bogus", "",
			`{` + schemas + `,"id":"42"}`},
		{"excluded", "", "emails,name.familyName,meta,id,schemas,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
			`{` + schemas + `,"id":"42","externalId":"x1","userName":"alice@contoso.com","active":true,
			"name":{"givenName":"Alice"},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops"},
			"x-backend":"kept only without attributes"}`},
		{"excluded extension", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,x-backend,emails.type,emails.primary",
			`{` + schemas + `,"id":"42","externalId":"x1","userName":"alice@contoso.com","active":true,
			"name":{"givenName":"Alice","familyName":"Smith"},"emails":[{"value":"emailName357"},{"value":"h@x.org"}],
			"meta":{"resourceType":"User","location":"/Users/42"},"x-backend":"kept only without attributes"}`},
		{"attributes then excluded", "name,userName", "name.givenName",
			`{` + schemas + `,"id":"42","userName":"alice@contoso.com","name":{"familyName":"Smith"}}`},
		{"blank parameters", " , ", " ",
			`{` + schemas + `,"id":"42","externalId":"x1","userName":"alice@contoso.com","active":true,
			"name":{"givenName":"Alice","familyName":"Smith"},
			"emails":[{"value":"emailName357","type":"work","primary":true},{"value":"h@x.org","type":"home"}],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"7","displayName":"Boss"}},
			"meta":{"resourceType":"User","location":"/Users/42"},"x-backend":"kept only without attributes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ptJSON(t, ptFullUser).(map[string]any)
			before := ptShow(res)
			got := SelectAttributes(UserType, res, tt.attributes, tt.excluded)
			if ptShow(res) != before {
				t.Fatal("SelectAttributes modified its input")
			}
			if want := ptJSON(t, tt.want); !reflect.DeepEqual(ptNormal(t, got), want) {
				t.Fatalf("got  %s\nwant %s", ptShow(got), ptShow(want))
			}
		})
	}
}

func TestSelectAttributesGroup(t *testing.T) {
	res := Attributes{"schemas": []string{URNGroup}, "id": "1", "displayName": "Sales",
		"members": []map[string]any{{"value": "7", "display": "Al"}}, "meta": map[string]any{"resourceType": "Group"}}
	got := SelectAttributes(GroupType, res, "", "members")
	want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"1","displayName":"Sales","meta":{"resourceType":"Group"}}`
	if !reflect.DeepEqual(ptNormal(t, got), ptJSON(t, want)) {
		t.Fatalf("got %s", ptShow(got))
	}
	got = SelectAttributes(GroupType, res, "members.value", "")
	want = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"1","members":[{"value":"7"}]}`
	if !reflect.DeepEqual(ptNormal(t, got), ptJSON(t, want)) {
		t.Fatalf("got %s", ptShow(got))
	}
	// An empty member list the backend sends stays as it is.
	res["members"] = []any{}
	if got := SelectAttributes(GroupType, res, "", ""); got["members"] == nil {
		t.Fatalf("empty members dropped: %s", ptShow(got))
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		rt                         *ResourceType
		attributes, excluded, attr string
		want                       bool
	}{
		{GroupType, "", "", "members", true},
		{GroupType, "", "members", "members", false}, // Entra's group lookups
		{GroupType, "", "MEMBERS", "Members", false}, // any case
		{GroupType, "", "members.display", "members", true},
		{GroupType, "", "members.display", "members.display", false},
		{GroupType, "displayName", "", "members", false},
		{GroupType, "members.value", "", "members", true},
		{GroupType, "members.value", "", "members.display", false},
		{GroupType, `members[value eq "7"]`, "", "members", true},
		{GroupType, "displayName", "", "id", true}, // returned always
		{GroupType, "", "id", "id", true},          // excluded cannot remove it
		{GroupType, "displayName", "", "schemas", true},
		{GroupType, "displayName", "", "meta", false},
		{GroupType, "", "", "meta", true},
		{UserType, "", "", "password", false}, // returned never
		{UserType, "password", "", "password", false},
		{UserType, "", "", "groups", true},
		{UserType, "userName", "", "groups", false},
		{UserType, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", true},
		{UserType, "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", false},
		{UserType, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", true},
		{UserType, "userName", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", false},
		{UserType, "", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", true},
		{UserType, "", "", "bogus", true},
		{UserType, "userName", "", "bogus", false},
	}
	for _, tt := range tests {
		if got := Wants(tt.rt, tt.attributes, tt.excluded, tt.attr); got != tt.want {
			t.Errorf("Wants(%s, %q, %q, %q) = %v; want %v", tt.rt.Name, tt.attributes, tt.excluded, tt.attr, got, tt.want)
		}
	}
}

// TestWantsAgreesWithSelectAttributes checks that Wants says yes exactly for the top-level
// attributes SelectAttributes keeps.
func TestWantsAgreesWithSelectAttributes(t *testing.T) {
	params := []string{"", "userName", "emails", "emails.value", "name.givenName", "meta", "id", "password",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		`emails[type eq "work"]`, "bogus"}
	res := ptJSON(t, ptFullUser).(map[string]any)
	for _, inc := range params {
		for _, exc := range params {
			got := SelectAttributes(UserType, res, inc, exc)
			for _, attr := range []string{"userName", "emails", "name", "meta", "id", "password", "active", "externalId", URNEnterprise} {
				_, kept := got[attr]
				if w := Wants(UserType, inc, exc, attr); w != kept {
					t.Errorf("attributes=%q excluded=%q: Wants(%q) = %v but SelectAttributes kept it: %v", inc, exc, attr, w, kept)
				}
			}
		}
	}
}

func BenchmarkSelectAttributes(b *testing.B) {
	res := ptJSON(b, ptFullUser).(map[string]any)
	b.ReportAllocs()
	for b.Loop() {
		SelectAttributes(UserType, res, "userName,emails,name.givenName", "")
	}
}
