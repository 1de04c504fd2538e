package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

const ptEnt = URNEnterprise

// ptPatch parses body and applies it to current (a JSON literal), checking on the way that
// ApplyPatch leaves current untouched whatever happens.
func ptPatch(t testing.TB, rt *ResourceType, current string, body []byte) (Attributes, Quirks, error) {
	t.Helper()
	ops, q1, err := ParsePatch(rt, body)
	if err != nil {
		return nil, q1, err
	}
	cur, _ := ptJSON(t, current).(map[string]any)
	before := ptShow(cur)
	got, q2, err := ApplyPatch(rt, cur, ops)
	if after := ptShow(cur); after != before {
		t.Fatalf("ApplyPatch modified current:\nbefore %s\nafter  %s", before, after)
	}
	if err != nil && got != nil {
		t.Fatalf("ApplyPatch returned attributes with error %v", err)
	}
	for _, n := range q2 {
		for _, m := range q1 {
			if n == m {
				t.Fatalf("quirk %q reported by both ParsePatch and ApplyPatch", n)
			}
		}
		q1.add(n)
	}
	return got, q1, err
}

func ptCheck(t *testing.T, got Attributes, q Quirks, err error, want string, wantQuirks Quirks) {
	t.Helper()
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if w := ptJSON(t, want); !reflect.DeepEqual(ptNormal(t, got), w) {
		t.Fatalf("got  %s\nwant %s", ptShow(got), ptShow(w))
	}
	if wantQuirks != nil && !reflect.DeepEqual(ptSorted(q), ptSorted(wantQuirks)) {
		t.Fatalf("quirks = %v; want %v", q, wantQuirks)
	}
}

const (
	ptUser = `{"id":"42","userName":"alice@contoso.com","active":true,"displayName":"Alice",
		"name":{"givenName":"Alice","familyName":"Smith"},
		"emails":[{"value":"alice@contoso.com","type":"work","primary":true}],
		"meta":{"resourceType":"User"}}`
	ptGroup = `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name",
		"members":[{"value":"89bb1940-b905-4575-9e7f-6f887cfb368e","display":"gone@okta.local"},
		           {"value":"f648f8d5-ea3d-4e1e-a6e5-0a3cbbc2e0a6"},{"value":"7"}]}`
)

// TestPatchRecordedBodies replays every PATCH body of docs/idp-clients.md and Microsoft's
// Postman collection (testdata/patch) against a current resource.
func TestPatchRecordedBodies(t *testing.T) {
	tests := []struct {
		file       string
		rt         *ResourceType
		current    string
		want       string
		wantQuirks Quirks
	}{
		{
			file: "okta-deactivate.json", rt: UserType, current: ptUser,
			want: strings.Replace(ptUser, `"active":true`, `"active":false`, 1), wantQuirks: Quirks{},
		},
		{
			file: "okta-reactivate.json", rt: UserType, current: strings.Replace(ptUser, `"active":true`, `"active":false`, 1),
			want: ptUser, wantQuirks: Quirks{},
		},
		{
			file: "okta-group-push.json", rt: GroupType, current: ptGroup,
			want: `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name",
				"members":[{"value":"f648f8d5-ea3d-4e1e-a6e5-0a3cbbc2e0a6"},{"value":"7"},
				  {"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}`,
			wantQuirks: Quirks{},
		},
		{
			file: "okta-group-replace-members.json", rt: GroupType, current: ptGroup,
			want: `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name",
				"members":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"},
				  {"value":"42","display":"second@okta.local"}]}`,
		},
		{
			// The group's own id in the value is accepted and ignored.
			file: "okta-group-rename.json", rt: GroupType, current: ptGroup,
			want:       strings.Replace(ptGroup, "Old name", "Test SCIMv2", 1),
			wantQuirks: Quirks{QuirkPatchOpSchema, QuirkIDInValue},
		},
		{
			file: "entra-user-default.json", rt: UserType, current: ptUser,
			want: `{"id":"42","userName":"alice@contoso.com","active":true,"displayName":"Pvlo","externalId":"Eqpj",
				"nickName":"Babs","name":{"givenName":"Gtfd","familyName":"Smith"},
				"emails":[{"value":"TestBcwqnm@test.microsoft.com","type":"work","primary":true}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Eqpj"},
				"meta":{"resourceType":"User"}}`,
			wantQuirks: Quirks{QuirkOpCase},
		},
		{
			file: "entra-user-aadoptscim062020.json", rt: UserType, current: ptUser,
			want: `{"id":"42","userName":"alice@contoso.com","active":true,"displayName":"Bjfe",
				"name":{"givenName":"Kkom","familyName":"Unua"},
				"emails":[{"value":"Kkom.Unua@test.microsoft.com","type":"work","primary":true}],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Aklq"},
				"meta":{"resourceType":"User"}}`,
			wantQuirks: Quirks{QuirkPatchOpSchema, QuirkDottedKey, QuirkFlatExtensionKey},
		},
		{
			file: "entra-disable-string.json", rt: UserType, current: ptUser,
			want:       strings.Replace(ptUser, `"active":true`, `"active":false`, 1),
			wantQuirks: Quirks{QuirkOpCase, QuirkStringBool},
		},
		{
			file: "entra-disable-bool.json", rt: UserType, current: ptUser,
			want: strings.Replace(ptUser, `"active":true`, `"active":false`, 1), wantQuirks: Quirks{},
		},
		{
			file: "entra-manager-add.json", rt: UserType, current: ptUser,
			want:       ptWith(ptUser, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"7"}}`),
			wantQuirks: Quirks{QuirkOpCase, QuirkManagerString},
		},
		{
			// Changing the manager drops the displayName that described the old one.
			file: "entra-manager-add.json", rt: UserType,
			current:    ptWith(ptUser, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"6","displayName":"Old Boss"}}`),
			want:       ptWith(ptUser, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":{"value":"7"}}`),
			wantQuirks: Quirks{QuirkOpCase, QuirkManagerString},
		},
		{
			// Removing the last enterprise attribute removes the extension object.
			file: "entra-manager-remove-value.json", rt: UserType,
			current:    ptWith(ptUser, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"7","displayName":"Boss"}}`),
			want:       ptUser,
			wantQuirks: Quirks{QuirkOpCase, QuirkRemoveWithValue},
		},
		{
			file: "entra-add-absent-email-phone.json", rt: UserType,
			current: `{"id":"42","userName":"carol@contoso.com"}`,
			want: `{"id":"42","userName":"carol@contoso.com",
				"emails":[{"type":"work","value":"carol@contoso.com"}],
				"phoneNumbers":[{"type":"mobile","value":"+1 555 0100"}]}`,
			wantQuirks: Quirks{QuirkOpCase},
		},
		{
			// An existing work email with another type spelling is updated, not duplicated.
			file: "entra-add-absent-email-phone.json", rt: UserType,
			current: `{"id":"42","userName":"carol@contoso.com","emails":[{"type":"Work","value":"old@contoso.com"},{"type":"home","value":"h@x.org"}]}`,
			want: `{"id":"42","userName":"carol@contoso.com",
				"emails":[{"type":"Work","value":"carol@contoso.com"},{"type":"home","value":"h@x.org"}],
				"phoneNumbers":[{"type":"mobile","value":"+1 555 0100"}]}`,
		},
		{
			file: "entra-group-rename.json", rt: GroupType, current: ptGroup,
			want: strings.Replace(ptGroup, "Old name", "Sales EMEA", 1),
		},
		{
			// f648… is a member already and is not added twice.
			file: "entra-group-add-members.json", rt: GroupType, current: ptGroup,
			want: `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name",
				"members":[{"value":"89bb1940-b905-4575-9e7f-6f887cfb368e","display":"gone@okta.local"},
				           {"value":"f648f8d5-ea3d-4e1e-a6e5-0a3cbbc2e0a6"},{"value":"7"},{"value":"3"}]}`,
		},
		{
			// Entra's remove with a value list removes only the listed member, never the group.
			file: "entra-group-remove-members.json", rt: GroupType, current: ptGroup,
			want: `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name",
				"members":[{"value":"89bb1940-b905-4575-9e7f-6f887cfb368e","display":"gone@okta.local"},{"value":"7"}]}`,
			wantQuirks: Quirks{QuirkOpCase, QuirkRemoveValueList},
		},
		{
			// Removing a non-member is a no-op.
			file: "entra-group-remove-member-filter.json", rt: GroupType, current: ptGroup,
			want: ptGroup,
		},
		{
			file: "entra-group-remove-member-filter.json", rt: GroupType,
			current: `{"id":"1","displayName":"g","members":[{"value":"7F4B3E5C-5B1A-4C0E-9A0A-2D1F0E6C4B1A"},{"value":"8"}]}`,
			want:    `{"id":"1","displayName":"g","members":[{"value":"8"}]}`,
		},
		{
			file: "ms-group-add-member-displayName.json", rt: GroupType, current: `{"id":"1","displayName":"Group1DisplayName"}`,
			want:       `{"id":"1","displayName":"Group1DisplayName","members":[{"value":"{{id4}}","display":"new User"}]}`,
			wantQuirks: Quirks{QuirkMemberDisplay},
		},
		{
			file: "ms-group-remove-member-filter.json", rt: GroupType,
			current: `{"id":"1","displayName":"g","members":[{"value":"{{id4}}","display":"new User"},{"value":"{{id3}}"}]}`,
			want:    `{"id":"1","displayName":"g","members":[{"value":"{{id3}}"}]}`,
		},
		{
			// Without a value, remove members means all of them.
			file: "ms-group-remove-all-members.json", rt: GroupType, current: ptGroup,
			want: `{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Old name"}`,
		},
		{
			file: "ms-group-add-member-string.json", rt: GroupType, current: `{"id":"1","displayName":"Group 1"}`,
			want:       `{"id":"1","displayName":"Group 1","members":[{"value":"string id 1"}]}`,
			wantQuirks: Quirks{QuirkMemberString},
		},
		{
			file: "ms-user-replace-username.json", rt: UserType, current: ptUser,
			want: strings.Replace(ptUser, "alice@contoso.com\",\"active", "ryan3\",\"active", 1),
		},
		{
			file: "ms-user-replace-username-capital.json", rt: UserType, current: ptUser,
			want:       strings.Replace(ptUser, "alice@contoso.com\",\"active", "newusername\",\"active", 1),
			wantQuirks: Quirks{QuirkOpCase},
		},
		{
			file: "ms-user-replace-active-bool.json", rt: UserType, current: ptUser,
			want: strings.Replace(ptUser, `"active":true`, `"active":false`, 1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, q, err := ptPatch(t, tt.rt, tt.current, ptFile(t, filepath.Join("patch", tt.file)))
			ptCheck(t, got, q, err, tt.want, tt.wantQuirks)
		})
	}
}

// ptWith adds members to a JSON object literal.
func ptWith(obj, members string) string {
	obj = strings.TrimSpace(obj)
	return obj[:len(obj)-1] + "," + members + "}"
}

// ptOps wraps operations in a PatchOp body.
func ptOps(ops string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`)
}

func TestApplyPatchSemantics(t *testing.T) {
	tests := []struct {
		name       string
		rt         *ResourceType
		current    string
		ops        string
		want       string
		wantQuirks Quirks
	}{
		// RFC 7644 §3.5.2.1 add
		{"RFC add members", GroupType, `{"id":"1","displayName":"g"}`,
			`{"op":"add","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223","value":"2819c223"}]}`,
			`{"id":"1","displayName":"g","members":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223","value":"2819c223"}]}`, nil},
		{"RFC path-less add", UserType, `{"id":"1","userName":"b","emails":[{"value":"b@work.org","type":"work"}]}`,
			`{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}`,
			`{"id":"1","userName":"b","emails":[{"value":"b@work.org","type":"work"},{"value":"babs@jensen.org","type":"home"}],"nickName":"Babs"}`, Quirks{}},
		{"add existing email is not duplicated", UserType, `{"id":"1","userName":"b","emails":[{"value":"b@work.org","type":"work"}]}`,
			`{"op":"add","path":"emails","value":{"value":"b@work.org","type":"work"}}`,
			`{"id":"1","userName":"b","emails":[{"value":"b@work.org","type":"work"}]}`, Quirks{}},
		{"add a primary email clears the old primary", UserType, `{"id":"1","userName":"b","emails":[{"value":"old@x.org","primary":true}]}`,
			`{"op":"add","path":"emails","value":[{"value":"new@x.org","primary":true}]}`,
			`{"id":"1","userName":"b","emails":[{"value":"old@x.org","primary":false},{"value":"new@x.org","primary":true}]}`, nil},
		{"add on single-valued sets", UserType, `{"id":"1","userName":"b","title":"old"}`,
			`{"op":"add","path":"title","value":"new"}`, `{"id":"1","userName":"b","title":"new"}`, nil},
		{"add null is a no-op", UserType, `{"id":"1","userName":"b","title":"old"}`,
			`{"op":"add","path":"title","value":null}`, `{"id":"1","userName":"b","title":"old"}`, nil},
		{"add complex merges", UserType, `{"id":"1","userName":"b","name":{"givenName":"B","familyName":"J"}}`,
			`{"op":"add","path":"name","value":{"middleName":"M"}}`,
			`{"id":"1","userName":"b","name":{"givenName":"B","familyName":"J","middleName":"M"}}`, nil},
		// RFC 7644 §3.5.2.2 remove
		{"RFC remove member by filter", GroupType, `{"id":"1","displayName":"g","members":[{"value":"2819c223"},{"value":"902c246b"}]}`,
			`{"op":"remove","path":"members[value eq \"2819c223\"]"}`,
			`{"id":"1","displayName":"g","members":[{"value":"902c246b"}]}`, nil},
		{"RFC remove all members", GroupType, `{"id":"1","displayName":"g","members":[{"value":"2819c223"}]}`,
			`{"op":"remove","path":"members"}`, `{"id":"1","displayName":"g"}`, nil},
		{"RFC remove emails by complex filter", UserType,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"a@example.com"},{"type":"work","value":"a@other.org"},{"type":"home","value":"h@example.com"}]}`,
			`{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"a@other.org"},{"type":"home","value":"h@example.com"}]}`, nil},
		{"RFC remove then add members", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"},{"value":"2"}]}`,
			`{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"3"}]}`,
			`{"id":"1","displayName":"g","members":[{"value":"3"}]}`, nil},
		{"remove a sub-attribute", UserType, `{"id":"1","userName":"b","name":{"givenName":"B","familyName":"J"}}`,
			`{"op":"remove","path":"name.givenName"}`, `{"id":"1","userName":"b","name":{"familyName":"J"}}`, nil},
		{"remove the last sub-attribute removes the attribute", UserType, `{"id":"1","userName":"b","name":{"givenName":"B"}}`,
			`{"op":"remove","path":"NAME.GIVENNAME"}`, `{"id":"1","userName":"b"}`, nil},
		{"remove a sub-attribute of filtered elements", UserType,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w","display":"W"},{"type":"home","value":"h","display":"H"}]}`,
			`{"op":"remove","path":"emails[type eq \"work\"].display"}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w"},{"type":"home","value":"h","display":"H"}]}`, nil},
		{"remove an absent attribute", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"remove","path":"title"},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},{"op":"remove","path":"emails[type eq \"work\"].value"}`,
			`{"id":"1","userName":"b"}`, nil},
		{"remove the whole extension", UserType, ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"department":"x"}`),
			`{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"}`, `{"id":"1","userName":"b"}`, nil},
		{"remove listed emails by value, case-insensitively", UserType,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"A@X.org"},{"type":"home","value":"h@x.org"}]}`,
			`{"op":"remove","path":"emails","value":[{"value":"a@x.org"}]}`,
			`{"id":"1","userName":"b","emails":[{"type":"home","value":"h@x.org"}]}`, nil},
		{"remove listed members by bare ids", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"},{"value":"2"}]}`,
			`{"op":"remove","path":"members","value":["2","9"]}`,
			`{"id":"1","displayName":"g","members":[{"value":"1"}]}`, Quirks{QuirkMemberString, QuirkRemoveValueList}},
		{"remove every listed member leaves none", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"}]}`,
			`{"op":"remove","path":"members","value":[{"value":"1"}]}`, `{"id":"1","displayName":"g"}`, nil},
		// RFC 7644 §3.5.2.3 replace
		{"RFC replace members", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"}]}`,
			`{"op":"replace","path":"members","value":[{"display":"Babs","value":"2"},{"display":"James","value":"3"}]}`,
			`{"id":"1","displayName":"g","members":[{"display":"Babs","value":"2"},{"display":"James","value":"3"}]}`, nil},
		{"RFC replace work address", UserType,
			`{"id":"1","userName":"b","addresses":[{"type":"work","streetAddress":"old","locality":"X"},{"type":"home","streetAddress":"h"}]}`,
			`{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}`,
			`{"id":"1","userName":"b","addresses":[{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true},{"type":"home","streetAddress":"h"}]}`, nil},
		{"RFC replace work street", UserType,
			`{"id":"1","userName":"b","addresses":[{"type":"work","streetAddress":"old","locality":"X"}]}`,
			`{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}`,
			`{"id":"1","userName":"b","addresses":[{"type":"work","streetAddress":"1010 Broadway Ave","locality":"X"}]}`, nil},
		{"RFC path-less replace", UserType, `{"id":"1","userName":"b","nickName":"x","emails":[{"value":"old@x.org"}]}`,
			`{"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"nickName":"Babs"}}`,
			`{"id":"1","userName":"b","nickName":"Babs","emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`, nil},
		{"replace complex keeps unnamed sub-attributes", UserType, `{"id":"1","userName":"b","name":{"givenName":"B","familyName":"J"}}`,
			`{"op":"replace","path":"name","value":{"givenName":"Barbara","familyName":null}}`,
			`{"id":"1","userName":"b","name":{"givenName":"Barbara"}}`, nil},
		{"replace null removes", UserType, `{"id":"1","userName":"b","title":"t"}`,
			`{"op":"replace","path":"title","value":null}`, `{"id":"1","userName":"b"}`, nil},
		{"replace with empty list removes", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"}]}`,
			`{"op":"replace","path":"members","value":[]}`, `{"id":"1","displayName":"g"}`, nil},
		{"replace filtered element absent adds it", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w@x.org","primary":true}}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w@x.org","primary":true}]}`, nil},
		{"add filtered element merges", UserType, `{"id":"1","userName":"b","emails":[{"type":"work","value":"w"}]}`,
			`{"op":"add","path":"emails[type eq \"work\"]","value":{"display":"W"}}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w","display":"W"}]}`, nil},
		{"filtered add pins every eq", UserType, `{"id":"1","userName":"b","emails":[{"type":"work","value":"w","primary":true}]}`,
			`{"op":"add","path":"emails[type eq \"home\" and primary eq true].value","value":"h"}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w","primary":false},{"type":"home","primary":true,"value":"h"}]}`, nil},
		{"filtered replace of primary", UserType,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w","primary":true},{"type":"home","value":"h"}]}`,
			`{"op":"replace","path":"emails[type eq \"home\"].primary","value":"True"}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w","primary":false},{"type":"home","value":"h","primary":true}]}`, Quirks{QuirkStringBool}},
		{"filtered path with or matches both", UserType,
			`{"id":"1","userName":"b","phoneNumbers":[{"type":"work","value":"1"},{"type":"mobile","value":"2"},{"type":"fax","value":"3"}]}`,
			`{"op":"replace","path":"phoneNumbers[type eq \"work\" or type eq \"mobile\"].display","value":"x"}`,
			`{"id":"1","userName":"b","phoneNumbers":[{"type":"work","value":"1","display":"x"},{"type":"mobile","value":"2","display":"x"},{"type":"fax","value":"3"}]}`, nil},
		{"filtered path with not", UserType,
			`{"id":"1","userName":"b","phoneNumbers":[{"type":"work","value":"1"},{"type":"fax","value":"3"}]}`,
			`{"op":"remove","path":"phoneNumbers[not (type eq \"fax\")]"}`,
			`{"id":"1","userName":"b","phoneNumbers":[{"type":"fax","value":"3"}]}`, nil},
		{"filtered path with pr and sw", UserType,
			`{"id":"1","userName":"b","emails":[{"value":"a@x.org","display":"A"},{"value":"b@y.org"}]}`,
			`{"op":"remove","path":"emails[display pr and value sw \"A@\"]"}`,
			`{"id":"1","userName":"b","emails":[{"value":"b@y.org"}]}`, nil},
		{"filter on primary eq true", UserType,
			`{"id":"1","userName":"b","emails":[{"value":"a","primary":true},{"value":"b"}]}`,
			`{"op":"replace","path":"emails[primary eq true].value","value":"c"}`,
			`{"id":"1","userName":"b","emails":[{"value":"c","primary":true},{"value":"b"}]}`, nil},
		{"sub-attribute of every element", UserType,
			`{"id":"1","userName":"b","emails":[{"value":"a"},{"value":"b"}]}`,
			`{"op":"replace","path":"emails.type","value":"work"}`,
			`{"id":"1","userName":"b","emails":[{"value":"a","type":"work"},{"value":"b","type":"work"}]}`, nil},
		{"sub-attribute of no element creates one", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"emails.value","value":"a@x.org"}`,
			`{"id":"1","userName":"b","emails":[{"value":"a@x.org"}]}`, nil},
		{"unquoted member id", GroupType, `{"id":"1","displayName":"g","members":[{"value":"7f4b"},{"value":"42"}]}`,
			`{"op":"remove","path":"members[value eq 7f4b]"},{"op":"remove","path":"members[value eq 42]"}`,
			`{"id":"1","displayName":"g"}`, Quirks{QuirkUnquotedFilter}},
		{"single-quoted member id", GroupType, `{"id":"1","displayName":"g","members":[{"value":"7f4b"}]}`,
			`{"op":"remove","path":"members[value eq '7f4b']"}`, `{"id":"1","displayName":"g"}`, Quirks{QuirkUnquotedFilter}},
		{"escaped quote in filter", UserType, `{"id":"1","userName":"b","emails":[{"value":"a\"b"},{"value":"c"}]}`,
			`{"op":"remove","path":"emails[value eq \"a\\\"b\"]"}`, `{"id":"1","userName":"b","emails":[{"value":"c"}]}`, nil},
		{"URN-qualified filtered path", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value","value":"w"}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"w"}]}`, nil},
		{"case-insensitive names", UserType, `{"id":"1","userName":"b","emails":[{"type":"work","value":"w"}]}`,
			`{"op":"REPLACE","path":"Emails[TYPE EQ \"WORK\"].Value","value":"n"},{"op":"replace","path":"USERNAME","value":"c"}`,
			`{"id":"1","userName":"c","emails":[{"type":"work","value":"n"}]}`, Quirks{QuirkOpCase}},
		{"path-less nested extension object", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","manager":"9","manager.value":null}}}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"department":"Ops","manager":{"value":"9"}}`),
			Quirks{QuirkManagerString, QuirkDottedKey}},
		{"path-less null extension removes it", UserType, ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"department":"x"}`),
			`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}}`,
			`{"id":"1","userName":"b"}`, nil},
		{"path is the extension URN", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"D"}}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"division":"D"}`), nil},
		{"path-less schemas and meta ignored", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"replace","value":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"meta":{"resourceType":"User"},"title":"T","id":"1"}}`,
			`{"id":"1","userName":"b","title":"T"}`, Quirks{QuirkIDInValue}},
		{"manager as object with readOnly displayName", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"9","displayName":"ignored"}}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"manager":{"value":"9"}}`), nil},
		{"manager.value path", UserType, ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"manager":{"value":"8","displayName":"Old"}}`),
			`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"9"}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"manager":{"value":"9"}}`), nil},
		{"operations apply in order", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"title","value":"a"},{"op":"replace","path":"title","value":"b"},{"op":"remove","path":"title"},{"op":"add","path":"nickName","value":"n"}`,
			`{"id":"1","userName":"b","nickName":"n"}`, nil},
		{"member display may be rewritten", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1","display":"D"}]}`,
			`{"op":"replace","path":"members[value eq \"1\"].display","value":"E"}`,
			`{"id":"1","displayName":"g","members":[{"value":"1","display":"E"}]}`, nil},
		// RFC 7643 §2.4: every sub-attribute sent, primary false included, is kept as sent;
		// exact duplicates (type and value) collapse, the sub-attributes given win.
		{"primary false kept on add", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"emails","value":[{"value":"a@x.org","type":"work","primary":true},{"value":"h@x.org","type":"home","primary":false}]}`,
			`{"id":"1","userName":"b","emails":[{"value":"a@x.org","type":"work","primary":true},{"value":"h@x.org","type":"home","primary":false}]}`, nil},
		{"add of an existing type and value updates it", UserType, `{"id":"1","userName":"b","emails":[{"value":"a@x.org","type":"work"}]}`,
			`{"op":"add","path":"emails","value":[{"value":"A@X.org","type":"Work","display":"A","primary":true}]}`,
			`{"id":"1","userName":"b","emails":[{"value":"A@X.org","type":"Work","display":"A","primary":true}]}`, nil},
		{"duplicates within one add collapse", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"phoneNumbers","value":[{"value":"1","type":"work"},{"value":"1","type":"work","primary":true}]}`,
			`{"id":"1","userName":"b","phoneNumbers":[{"value":"1","type":"work","primary":true}]}`, nil},
		{"a filtered sub-attribute makes a duplicate that collapses", UserType,
			`{"id":"1","userName":"b","phoneNumbers":[{"value":"1","type":"work"},{"value":"1","type":"home"}]}`,
			`{"op":"replace","path":"phoneNumbers[type eq \"home\"].type","value":"work"}`,
			`{"id":"1","userName":"b","phoneNumbers":[{"value":"1","type":"work"}]}`, nil},
		{"whole extension path with schemas in its value", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"department":"Ops","meta":{}}}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"department":"Ops"}`), nil},
		{"path-less extension object with schemas", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"schemas":["x"],"division":"D"}}}`,
			ptWith(`{"id":"1","userName":"b"}`, `"`+ptEnt+`":{"division":"D"}`), nil},
		{"removes by filter leave no holes", UserType,
			`{"id":"1","userName":"b","phoneNumbers":[{"value":"1","type":"a"},{"value":"2","type":"b"},{"value":"3","type":"a"},{"value":"4","type":"c"}]}`,
			`{"op":"remove","path":"phoneNumbers[type eq \"a\"]"},{"op":"add","path":"phoneNumbers[type eq \"a\"].value","value":"5"},{"op":"remove","path":"phoneNumbers[type eq \"c\"]"}`,
			`{"id":"1","userName":"b","phoneNumbers":[{"value":"2","type":"b"},{"value":"5","type":"a"}]}`, nil},
		{"filtered ops see earlier ones", UserType, `{"id":"1","userName":"b"}`,
			`{"op":"add","path":"emails[type eq \"work\"].value","value":"w"},{"op":"add","path":"emails[type eq \"WORK\"].display","value":"W"},{"op":"replace","path":"emails[value eq \"w\"].value","value":"v"},{"op":"add","path":"emails[value eq \"v\"].primary","value":true}`,
			`{"id":"1","userName":"b","emails":[{"type":"work","value":"v","display":"W","primary":true}]}`, nil},
		{"current built in Go", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1"}]}`,
			`{"op":"add","path":"members","value":[{"value":"1"},{"value":"2"}]}`,
			`{"id":"1","displayName":"g","members":[{"value":"1"},{"value":"2"}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, q, err := ptPatch(t, tt.rt, tt.current, ptOps(tt.ops))
			ptCheck(t, got, q, err, tt.want, tt.wantQuirks)
		})
	}
}

// TestApplyPatchGoValues applies operations built in Go rather than parsed from JSON, on a
// current resource built in Go, as the bridge may do.
func TestApplyPatchGoValues(t *testing.T) {
	current := Attributes{"id": "1", "displayName": "g",
		"members": []map[string]any{{"value": "1"}}, "externalId": "x"}
	ops := []PatchOp{
		{Op: "add", Path: "members", Value: []map[string]any{{"value": "2"}}},
		{Op: "Replace", Value: map[string]any{"externalId": "7"}},
	}
	got, _, err := ApplyPatch(GroupType, current, ops)
	ptCheck(t, got, nil, err, `{"id":"1","displayName":"g","members":[{"value":"1"},{"value":"2"}],"externalId":"7"}`, nil)
	if _, _, err := ApplyPatch(GroupType, current, []PatchOp{{Op: "replace", Path: "externalId", Value: 7}}); err == nil {
		t.Fatal("a number for a string was accepted")
	}
	if len(current["members"].([]map[string]any)) != 1 || current["externalId"] != "x" {
		t.Fatalf("current was modified: %v", current)
	}
	if _, _, err := ApplyPatch(GroupType, current, []PatchOp{{Op: "add", Path: "displayName", Value: make(chan int)}}); err == nil {
		t.Fatal("a value that is not JSON was accepted")
	}
}

func TestParsePatchErrors(t *testing.T) {
	tests := []struct {
		name   string
		rt     *ResourceType
		body   string
		typ    string
		detail string
	}{
		{"invalid JSON", UserType, `{"Operations":[`, "invalidSyntax", "not valid JSON"},
		{"not an object", UserType, `[{"op":"add"}]`, "invalidSyntax", "request body is not a JSON object"},
		{"no Operations", UserType, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, "invalidSyntax", `"Operations" must be a non-empty array`},
		{"empty Operations", UserType, `{"Operations":[]}`, "invalidSyntax", `"Operations" must be a non-empty array`},
		{"Operations object", UserType, `{"Operations":{"op":"add"}}`, "invalidSyntax", `"Operations" must be a non-empty array`},
		{"Operations twice", UserType, `{"Operations":[{"op":"remove","path":"title"}],"operations":[{"op":"remove","path":"title"}]}`, "invalidSyntax", `"Operations" is given more than once`},
		{"schemas not strings", UserType, `{"schemas":[1],"Operations":[{"op":"remove","path":"title"}]}`, "invalidSyntax", `"schemas" must be an array of strings`},
		{"operation not object", UserType, `{"Operations":["add"]}`, "invalidSyntax", "operation 1 is not a JSON object"},
		{"op missing", UserType, `{"Operations":[{"path":"title","value":"x"}]}`, "invalidSyntax", `operation 1 has no "op"`},
		{"op not string", UserType, `{"Operations":[{"op":1,"path":"title"}]}`, "invalidSyntax", `operation 1: "op" must be a string`},
		{"op twice", UserType, `{"Operations":[{"op":"add","OP":"remove","path":"title","value":"x"}]}`, "invalidSyntax", `"op" is given more than once`},
		{"op unknown", UserType, `{"Operations":[{"op":"remove","path":"title"},{"op":"move","path":"title"}]}`, "invalidSyntax", `operation 2: unknown op "move"`},
		{"path not string", UserType, `{"Operations":[{"op":"remove","path":["title"]}]}`, "invalidPath", `operation 1: "path" must be a string`},
		{"remove without path", UserType, `{"Operations":[{"op":"remove"}]}`, "noTarget", "operation 1 (remove): a remove needs a path"},
		{"remove with blank path", UserType, `{"Operations":[{"op":"remove","path":"  "}]}`, "noTarget", "a remove needs a path"},
		{"add without value", UserType, `{"Operations":[{"op":"add","path":"title"}]}`, "invalidValue", "operation 1 (add title): a value is required"},
		{"replace without value", UserType, `{"Operations":[{"op":"replace"}]}`, "invalidValue", "a value is required"},
		{"path-less string value", UserType, `{"Operations":[{"op":"replace","value":"x"}]}`, "invalidValue", "without a path, the value must be an object"},
		{"path-less two-element array", UserType, `{"Operations":[{"op":"replace","value":[{},{}]}]}`, "invalidValue", "without a path, the value must be an object"},
		{"unknown attribute", UserType, `{"Operations":[{"op":"replace","path":"adreses","value":"x"}]}`, "invalidPath", `unknown attribute "adreses"`},
		{"unknown sub-attribute", UserType, `{"Operations":[{"op":"replace","path":"name.nick","value":"x"}]}`, "invalidPath", `unknown attribute "name.nick"`},
		{"too many parts", UserType, `{"Operations":[{"op":"replace","path":"name.givenName.x","value":"x"}]}`, "invalidPath", `unknown attribute`},
		{"unknown schema", UserType, `{"Operations":[{"op":"replace","path":"urn:example:x:2.0:User:badge","value":"x"}]}`, "invalidPath", `unknown schema`},
		{"group attribute on user", UserType, `{"Operations":[{"op":"add","path":"members","value":[]}]}`, "invalidPath", `unknown attribute "members"`},
		{"unknown path-less key", UserType, `{"Operations":[{"op":"replace","value":{"active":true,"bogus":1}}]}`, "invalidPath", `operation 1 (replace): unknown attribute "bogus"`},
		{"unknown key in extension object", UserType, `{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"badge":1}}}]}`, "invalidPath", `unknown attribute`},
		{"extension value not object", UserType, `{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}}]}`, "invalidValue", `must be an object`},
		{"extension path value not object", UserType, `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":"x"}]}`, "invalidValue", `the value of an extension must be an object`},
		{"unbalanced filter", UserType, `{"Operations":[{"op":"remove","path":"emails[type eq \"work\""}]}`, "invalidPath", `is not a valid path`},
		{"empty filter", GroupType, `{"Operations":[{"op":"remove","path":"members[]"}]}`, "invalidPath", `is not a valid path`},
		{"filter without value", GroupType, `{"Operations":[{"op":"remove","path":"members[value eq]"}]}`, "invalidPath", `is not a valid path`},
		{"filter on single-valued", UserType, `{"Operations":[{"op":"remove","path":"name[givenName eq \"x\"]"}]}`, "invalidPath", `not a multi-valued complex attribute`},
		{"filter names unknown sub", UserType, `{"Operations":[{"op":"remove","path":"emails[kind eq \"work\"]"}]}`, "invalidPath", `names "kind"`},
		{"filtered unknown sub after", UserType, `{"Operations":[{"op":"add","path":"emails[type eq \"work\"].number","value":"x"}]}`, "invalidPath", `unknown attribute "emails.number"`},
		{"sub before filter", UserType, `{"Operations":[{"op":"remove","path":"emails.value[type eq \"work\"]"}]}`, "invalidPath", `a sub-attribute goes after the filter`},
		{"path too long", UserType, `{"Operations":[{"op":"remove","path":"emails[value eq \"` + strings.Repeat("x", 1100) + `\"]"}]}`, "invalidPath", `longer than 1024 characters`},
		{"nested value path in filter", UserType, `{"Operations":[{"op":"remove","path":"emails[emails[type eq \"x\"]]"}]}`, "invalidPath", `is not a valid path`},
		{"path-less one-element array", UserType, `{"Operations":[{"op":"replace","value":[{"active":false}]}]}`, "invalidValue", "without a path, the value must be an object of attributes, not an array"},
		{"too many operations", UserType, `{"Operations":[` + strings.TrimSuffix(strings.Repeat(`{"op":"remove","path":"title"},`, MaxPatchOperations+1), ",") + `]}`, "tooMany", "at most 1000 are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, _, err := ParsePatch(tt.rt, []byte(tt.body))
			if ops != nil {
				t.Errorf("got operations %v with an error", ops)
			}
			ptWantError(t, err, tt.typ, tt.detail)
		})
	}
}

// ptPhones is n distinct phone numbers as JSON array elements.
func ptPhones(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"+1 555 %07d","type":"other"}`, i)
	}
	return b.String()
}

func TestApplyPatchErrors(t *testing.T) {
	tests := []struct {
		name    string
		rt      *ResourceType
		current string
		ops     string
		typ     string
		detail  string
	}{
		{"another id", GroupType, ptGroup, `{"op":"replace","value":{"id":"other","displayName":"x"}}`, "mutability", `attribute "id" is readOnly`},
		{"id path", UserType, ptUser, `{"op":"replace","path":"id","value":"43"}`, "mutability", `attribute "id" is readOnly`},
		{"remove id", UserType, ptUser, `{"op":"remove","path":"id"}`, "mutability", `attribute "id" is readOnly`},
		{"id when current has none", UserType, `{"userName":"b"}`, `{"op":"replace","value":{"id":"1"}}`, "mutability", `attribute "id" is readOnly`},
		{"groups", UserType, ptUser, `{"op":"add","path":"groups","value":[{"value":"g"}]}`, "mutability", `attribute "groups" is readOnly`},
		{"path-less groups", UserType, ptUser, `{"op":"add","value":{"groups":[{"value":"g"}]}}`, "mutability", `attribute "groups" is readOnly`},
		{"meta path", UserType, ptUser, `{"op":"replace","path":"meta.lastModified","value":"2020-01-01T00:00:00Z"}`, "mutability", `attribute "meta.lastModified" is readOnly`},
		{"manager displayName", UserType, ptUser, `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"x"}`, "mutability", `manager.displayName" is readOnly`},
		{"remove userName", UserType, ptUser, `{"op":"remove","path":"userName"}`, "mutability", `attribute "userName" is required and cannot be removed`},
		{"replace userName null", UserType, ptUser, `{"op":"replace","path":"userName","value":null}`, "mutability", `attribute "userName" is required`},
		{"path-less userName null", UserType, ptUser, `{"op":"replace","value":{"userName":null}}`, "mutability", `attribute "userName" is required`},
		{"remove group displayName", GroupType, ptGroup, `{"op":"remove","path":"displayName"}`, "mutability", `attribute "displayName" is required and cannot be removed`},
		{"empty userName", UserType, ptUser, `{"op":"replace","path":"userName","value":""}`, "invalidValue", `attribute "userName" is required and cannot be empty`},
		{"numeric title", UserType, ptUser, `{"op":"replace","path":"title","value":7}`, "invalidValue", `attribute "title" must be a string, not a number`},
		{"path-less numeric userName", UserType, ptUser, `{"op":"replace","value":{"userName":7}}`, "invalidValue", `attribute "userName" must be a string`},
		{"emails as a string", UserType, ptUser, `{"op":"add","path":"emails","value":"a@x.org"}`, "invalidValue", `attribute "emails" must be an object, not a string`},
		{"two primaries added", UserType, ptUser, `{"op":"add","path":"emails","value":[{"value":"a@x.org","primary":true},{"value":"b@x.org","primary":true}]}`, "invalidValue", `"primary": true may appear on at most one value`},
		{"two primaries replaced", UserType, ptUser, `{"op":"replace","path":"phoneNumbers","value":[{"value":"1","primary":true},{"value":"2","primary":true}]}`, "invalidValue", `"primary": true may appear on at most one value`},
		{"primary set on two", UserType, `{"id":"1","userName":"b","emails":[{"value":"a","type":"work"},{"value":"b","type":"work"}]}`, `{"op":"replace","path":"emails[type eq \"work\"].primary","value":true}`, "invalidValue", `"primary": true may appear on at most one value`},
		{"filtered array value", UserType, ptUser, `{"op":"replace","path":"emails[type eq \"work\"]","value":[{"value":"new"}]}`, "invalidValue", `must be one object, not an array`},
		{"values past the cap", UserType, `{"id":"1","userName":"b","phoneNumbers":[{"value":"x"}]}`, `{"op":"add","path":"phoneNumbers","value":[` + ptPhones(MaxMultiValues) + `]},{"op":"add","path":"phoneNumbers[type eq \"t\"].value","value":"2"}`, "tooMany", `attribute "phoneNumbers" has 1002 values`},
		{"active not boolean", UserType, ptUser, `{"op":"replace","path":"active","value":"nope"}`, "invalidValue", `operation 1 (replace active): attribute "active" must be a boolean`},
		{"path-less active not boolean", UserType, ptUser, `{"op":"replace","value":{"active":"nope"}}`, "invalidValue", `attribute "active" must be a boolean`},
		{"primary not boolean", UserType, ptUser, `{"op":"replace","path":"emails[type eq \"work\"].primary","value":"x"}`, "invalidValue", `attribute "emails.primary" must be a boolean`},
		{"emails not objects", UserType, ptUser, `{"op":"add","path":"emails","value":[true]}`, "invalidValue", `attribute "emails" must be an object`},
		{"name not object", UserType, ptUser, `{"op":"replace","path":"name","value":true}`, "invalidValue", `attribute "name" must be an object`},
		{"givenName not string", UserType, ptUser, `{"op":"replace","path":"name.givenName","value":false}`, "invalidValue", `attribute "name.givenName" must be a string`},
		{"title array", UserType, ptUser, `{"op":"replace","path":"title","value":["a","b"]}`, "invalidValue", `attribute "title" is single-valued`},
		{"filtered replace with two objects", UserType, ptUser, `{"op":"replace","path":"emails[type eq \"work\"]","value":[{"value":"a"},{"value":"b"}]}`, "invalidValue", `must be one object`},
		{"filter pins nothing to create", UserType, ptUser, `{"op":"replace","path":"emails[value co \"nomatch\"].display","value":"x"}`, "noTarget", `no value of "emails" matches the filter`},
		{"member value changed", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1","display":"D"}]}`, `{"op":"replace","path":"members[value eq \"1\"].value","value":"2"}`, "mutability", `"members.value" is immutable`},
		{"manager $ref is derived", UserType, ptUser, `{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref":"../Users/9"}}`, "mutability", `manager.$ref" is readOnly`},
		{"member value removed", GroupType, `{"id":"1","displayName":"g","members":[{"value":"1","display":"D"}]}`, `{"op":"remove","path":"members[value eq \"1\"].value"}`, "mutability", `"members.value" is immutable`},
		{"second op fails", UserType, ptUser, `{"op":"replace","path":"title","value":"T"},{"op":"remove","path":"userName"}`, "mutability", `operation 2 (remove userName)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ptPatch(t, tt.rt, tt.current, ptOps(tt.ops))
			ptWantError(t, err, tt.typ, tt.detail)
		})
	}
}

func TestApplyPatchRejectsBadOps(t *testing.T) {
	for _, op := range []PatchOp{
		{Op: "move", Path: "title", Value: "x"},
		{Op: "remove"},
		{Op: "add", Path: "bogus", Value: "x"},
		{Op: "add", Path: "emails[type eq]", Value: "x"},
	} {
		got, _, err := ApplyPatch(UserType, Attributes{"userName": "b"}, []PatchOp{op})
		var se *Error
		if got != nil || !errors.As(err, &se) || se.Status != 400 {
			t.Errorf("ApplyPatch(%+v) = %v, %v; want a 400 *Error", op, got, err)
		}
	}
}

// TestScanValuePathMatchesFilterParser holds the fast scanner to filter-parser's AST.
func TestScanValuePathMatchesFilterParser(t *testing.T) {
	paths := []string{
		`emails[type eq "work"].value`, `members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]`,
		`phoneNumbers[type eq "mobile"].value`, `addresses[type EQ "work"].streetAddress`,
		`emails[value co "@x.org"]`, `emails[type eq ""]`, `a-b_c[d9 eq "x y"].e_f`, `members[value eq "{{id4}}"]`,
	}
	for _, p := range paths {
		ptSameAsFilterParser(t, p, true)
	}
	for _, p := range []string{`members[value eq 7]`, `emails[type eq "work" and primary eq true]`, `emails[type eq "a\"b"]`,
		`urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]`, `emails[ type eq "work" ]`, `emails[type eq "work"].`, `emails[type eq "é"]`} {
		if _, ok := scanValuePath(p); ok {
			t.Errorf("scanValuePath accepted %q, which it should leave to filter-parser", p)
		}
	}
}

func ptSameAsFilterParser(t *testing.T, p string, mustScan bool) {
	t.Helper()
	fast, ok := scanValuePath(p)
	if !ok {
		if mustScan {
			t.Errorf("scanValuePath(%q) refused", p)
		}
		return
	}
	slow, err := filter.ParsePath([]byte(p))
	if err != nil {
		t.Fatalf("scanValuePath accepted %q but filter-parser refuses it: %v", p, err)
	}
	if se, ok := slow.ValueExpression.(*filter.AttributeExpression); ok {
		se.Operator = filter.CompareOperator(strings.ToLower(string(se.Operator)))
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("scanValuePath(%q) = %v; filter-parser says %v", p, fast, slow)
	}
}

func FuzzScanValuePath(f *testing.F) {
	for _, s := range []string{`emails[type eq "work"].value`, `members[value eq "x"]`, `a[b sw "c"].d`, `x[y eq ""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		ptSameAsFilterParser(t, p, false)
	})
}

// ptPatchSeeds are the request bodies the fuzz targets start from.
func ptPatchSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "patch", "*.json"))
	var seeds [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return append(seeds,
		ptOps(`{"op":"add","path":"emails[type eq \"work\" and primary eq true].value","value":"x"}`),
		ptOps(`{"op":"replace","path":"addresses[type eq \"work\"]","value":[{"streetAddress":"s"}]}`),
		ptOps(`{"op":"remove","path":"members","value":["1",{"value":"2"}]}`),
		ptOps(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"1"},"name.givenName":"g"}}`),
	)
}

func FuzzParsePatch(f *testing.F) {
	for _, b := range ptPatchSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range []*ResourceType{UserType, GroupType} {
			ops, _, err := ParsePatch(rt, body)
			if err != nil {
				ptFuzzError(t, err)
				continue
			}
			if len(ops) == 0 {
				t.Fatal("ParsePatch accepted a body without operations")
			}
		}
	})
}

// FuzzApplyPatch applies fuzzed bodies to a user and a group: no panic, every error a 400
// *Error, current never modified, and a result that is still a valid resource.
func FuzzApplyPatch(f *testing.F) {
	for _, b := range ptPatchSeeds(f) {
		f.Add(b)
	}
	users := ptWith(ptUser, `"`+ptEnt+`":{"manager":{"value":"7","displayName":"Boss"},"department":"Ops"},
		"phoneNumbers":[{"type":"mobile","value":"1"},{"type":"work","value":"2","primary":true}],"addresses":[{"type":"work","locality":"X"}]`)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct {
			rt      *ResourceType
			current string
		}{{UserType, users}, {GroupType, ptGroup}} {
			ops, _, err := ParsePatch(c.rt, body)
			if err != nil {
				continue
			}
			got, _, err := ptPatch(t, c.rt, c.current, body)
			if err != nil {
				ptFuzzError(t, err)
				continue
			}
			// The result must survive a PUT: the canonical form decodes to itself.
			b, merr := json.Marshal(got)
			if merr != nil {
				t.Fatalf("marshal: %v", merr)
			}
			if _, _, err := DecodeResource(c.rt, b); err != nil {
				// Only a required attribute may be missing: the fuzz current may lack none.
				t.Fatalf("result of %v does not decode: %v\n%s", ops, err, b)
			}
		}
	})
}

func ptFuzzError(t *testing.T, err error) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) || se.Status != 400 || se.Type == "" || se.Detail == "" {
		t.Fatalf("error %v is not a 400 *Error with a type and detail", err)
	}
}

// BenchmarkPatchEntra measures ParsePatch plus ApplyPatch of Entra's usual three-operation
// user update (a filtered email, a name part, the string-boolean disable).
func BenchmarkPatchEntra(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice.smith@contoso.com"},
		{"op":"Replace","path":"name.givenName","value":"Alicia"},
		{"op":"Replace","path":"active","value":"False"}]}`)
	current := ptJSON(b, ptUser).(map[string]any)
	b.ReportAllocs()
	for b.Loop() {
		ops, _, err := ParsePatch(UserType, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ApplyPatch(UserType, current, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatchEntraSlowPath is the same patch through filter-parser (a path the scanner
// leaves to it), to show what the scanner saves.
func BenchmarkPatchEntraSlowPath(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[ type eq \"work\" ].value","value":"alice.smith@contoso.com"},
		{"op":"Replace","path":"name.givenName","value":"Alicia"},
		{"op":"Replace","path":"active","value":"False"}]}`)
	current := ptJSON(b, ptUser).(map[string]any)
	b.ReportAllocs()
	for b.Loop() {
		ops, _, err := ParsePatch(UserType, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ApplyPatch(UserType, current, ops); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParsePatchOps(t *testing.T) {
	body := []byte(`{"id":"1","SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[
		{"name":"addMember","Op":"Add","Path":"members","Value":[{"value":"1"}]},
		{"op":"remove","path":" members[value eq \"2\"] ","value":null},
		{"op":"replace","value":{"displayName":"x"}}]}`)
	ops, q, err := ParsePatch(GroupType, body)
	if err != nil {
		t.Fatal(err)
	}
	want := []PatchOp{
		{Op: "add", Path: "members", Value: []any{map[string]any{"value": "1"}}},
		{Op: "remove", Path: ` members[value eq "2"] `},
		{Op: "replace", Value: map[string]any{"displayName": "x"}},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops = %#v\nwant %#v", ops, want)
	}
	if !reflect.DeepEqual(q, Quirks{QuirkOpCase}) {
		t.Fatalf("quirks = %v", q)
	}
}

// TestApplyPatchOddCurrent feeds resources a backend should not produce, to make sure they
// give sensible results rather than panics.
func TestApplyPatchOddCurrent(t *testing.T) {
	tests := []struct {
		name, current, ops, want string
	}{
		{"emails as one object", `{"userName":"b","emails":{"value":"a","type":"work"}}`,
			`{"op":"replace","path":"emails[type eq \"work\"].value","value":"n"}`,
			`{"userName":"b","emails":[{"value":"n","type":"work"}]}`},
		{"email element not an object", `{"userName":"b","emails":["a@x.org"]}`,
			`{"op":"add","path":"emails[type eq \"work\"].value","value":"n"},{"op":"remove","path":"emails[type eq \"home\"].value"}`,
			`{"userName":"b","emails":["a@x.org",{"type":"work","value":"n"}]}`},
		{"extension key in another case", `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":{"department":"x"}}`,
			`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division","value":"d"}`,
			ptWith(`{"userName":"b"}`, `"`+ptEnt+`":{"department":"x","division":"d"}`)},
		{"extension not an object", `{"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"junk"}`,
			`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division","value":"d"}`,
			ptWith(`{"userName":"b"}`, `"`+ptEnt+`":{"division":"d"}`)},
		{"attribute key in another case", `{"userName":"b","DISPLAYNAME":"x"}`,
			`{"op":"replace","path":"displayName","value":"y"}`, `{"userName":"b","displayName":"y"}`},
		{"name not an object", `{"userName":"b","name":"x"}`,
			`{"op":"add","path":"name.givenName","value":"g"}`, `{"userName":"b","name":{"givenName":"g"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, q, err := ptPatch(t, UserType, tt.current, ptOps(tt.ops))
			ptCheck(t, got, q, err, tt.want, nil)
		})
	}
}

// TestGroupMembersAreNotCappedLikeOtherLists: an Okta push of a large group carries thousands
// of members in one PATCH (and an AIW app PUTs the whole list); the cap of 1,000 values that
// guards users' lists does not apply to a group's members, and applying them stays linear.
func TestGroupMembersAreNotCappedLikeOtherLists(t *testing.T) {
	const n = 10000
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"%d","display":"user%d@example.com"}`, 100000+i, i)
	}
	ops, _, err := ParsePatch(GroupType, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`+b.String()+`]}]}`))
	if err != nil {
		t.Fatalf("ParsePatch of %d members: %v", n, err)
	}
	cur := Attributes{"id": "1", "displayName": "Big", "members": []any{map[string]any{"value": "99"}}}
	out, _, err := ApplyPatch(GroupType, cur, ops)
	if err != nil {
		t.Fatalf("ApplyPatch of %d members: %v", n, err)
	}
	if got := len(out["members"].([]any)); got != n+1 {
		t.Fatalf("%d members after the add, want %d", got, n+1)
	}
	if _, _, err := DecodeResource(GroupType, []byte(`{"displayName":"Big","members":[`+b.String()+`]}`)); err != nil {
		t.Fatalf("a POST of %d members: %v", n, err)
	}
}
