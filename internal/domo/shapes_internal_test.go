package domo

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestAttributeValuesShapes: "values": number|string[] as the docs write it, and every other
// shape a tenant may send; numbers keep their decimal text, nothing odd fails.
func TestAttributeValuesShapes(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want []string
	}{
		{`["EMEA","APAC"]`, []string{"EMEA", "APAC"}},
		{`[4100]`, []string{"4100"}},
		{`[1, "x", 2.50]`, []string{"1", "x", "2.50"}},
		{`42`, []string{"42"}},
		{`-7.25`, []string{"-7.25"}},
		{`"solo"`, []string{"solo"}},
		{`1e3`, []string{"1000"}},
		{`[2.5E-2]`, []string{"0.025"}},
		{`[12345678901234567890123]`, []string{"12345678901234567890123"}},
		{`[true]`, []string{"true"}},
		{`1e999999999`, []string{"1e999999999"}},
		{`[-1E-101, 5e-100]`, []string{"-1E-101", "0." + strings.Repeat("0", 99) + "5"}},
		{`null`, []string{}},
		{``, []string{}},
		{`[]`, []string{}},
		{`[null, {"a":1}, ["nested"], "kept"]`, []string{"kept"}},
		{`{"value":"x"}`, []string{}},
	} {
		if got := attributeValues([]byte(tt.raw)); !slices.Equal(got, tt.want) {
			t.Errorf("values %s: %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// TestDecodeIdentityUserShapes: a user wrapped in {"users":[…]} (GET's documented answer),
// bare (the create and PATCH examples), in {"user":…} or a list; ids and roleId as numbers or
// strings; attributes as a list or an object; odd fields and entries lose only themselves.
func TestDecodeIdentityUserShapes(t *testing.T) {
	const want = int64(1234567)
	for _, tt := range []struct {
		name string
		body string
	}{
		{"wrapped", `{"users":[{"id":1234567,"displayName":"Ada","roleId":5,"attributes":[{"key":"costCenter","values":["CC-7"]}]}]}`},
		{"bare", `{"id":1234567,"displayName":"Ada","roleId":5,"attributes":[{"key":"costCenter","values":["CC-7"]}]}`},
		{"string ids", `{"users":[{"id":"1234567","displayName":"Ada","roleId":"5","attributes":[{"key":"costCenter","values":"CC-7"}]}]}`},
		{"user member", `{"user":{"id":1234567,"displayName":"Ada","roleId":5.0,"attributes":{"costCenter":["CC-7"]}}}`},
		{"list of several", `[{"id":99,"displayName":"Other","roleId":1},{"id":1234567,"displayName":"Ada","roleId":5,"attributes":[{"key":"costCenter","values":["CC-7"]}]}]`},
		{"odd fields", `{"id":1234567,"displayName":"Ada","roleId":5,"emailAddress":null,"userName":{"x":1},"attributes":[
			{"key":"costCenter","values":["CC-7"]},{"key":"nothing","values":null},{"values":["no key"]},"not an object",{"key":"deep","values":[{"a":1}]}]}`},
	} {
		u, err := decodeIdentityUser([]byte(tt.body), want)
		if err != nil || u.ID != want || u.DisplayName != "Ada" || u.RoleID != 5 {
			t.Errorf("%s: %+v %v", tt.name, u, err)
			continue
		}
		if v, ok := u.Attribute("costCenter"); !ok || !slices.Equal(v, []string{"CC-7"}) {
			t.Errorf("%s: attributes %+v", tt.name, u.Attributes)
		}
	}
	if _, err := decodeIdentityUser([]byte(`{"users":[]}`), want); !errors.Is(err, errNoRecord) {
		t.Errorf("empty list: %v", err)
	}
	if _, err := decodeIdentityUser([]byte(`{"users":[{"id":1},{"id":2}]}`), want); err == nil {
		t.Error("a list without the user asked for was taken")
	}
	for _, bad := range []string{``, `true`, `1`, `"user"`} {
		if _, err := decodeIdentityUser([]byte(bad), want); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	if u, err := decodeIdentityUser([]byte(`{"displayName":"No Id"}`), want); err != nil || u.ID != 0 {
		t.Errorf("record without an id: %+v %v", u, err)
	}
}

// TestDecodeRolesShapes: the roles list bare or wrapped, ids as numbers or strings, extra and
// odd fields ignored, unusable entries skipped.
func TestDecodeRolesShapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
	}{
		{"bare", `[{"id":1,"name":"Admin","userCount":3},{"id":2097317660,"name":"Analyst Plus","description":"d"}]`},
		{"wrapped", `{"roles":[{"id":"1","name":"Admin"},{"id":"2097317660","name":"Analyst Plus","authorities":[],"isSystem":false}],"totalCount":2}`},
		{"other wrapper", `{"count":2,"items":[{"roleId":1,"roleName":"Admin"},{"roleId":2097317660,"roleName":"Analyst Plus"}]}`},
		{"odd entries", `[{"id":1,"name":"Admin","userCount":"many"},{"id":"x","name":"Bad"},{"id":7},"junk",{"id":2097317660,"name":" Analyst Plus "}]`},
	} {
		roles, err := decodeRoles([]byte(tt.body))
		if err != nil || len(roles) != 2 || roles[0].ID != 1 || roles[0].Name != "Admin" || roles[1].ID != 2097317660 || roles[1].Name != "Analyst Plus" {
			t.Errorf("%s: %+v %v", tt.name, roles, err)
		}
	}
	for _, bad := range []string{`{}`, `{"a":[],"b":[]}`, `"roles"`, ``} {
		if _, err := decodeRoles([]byte(bad)); err == nil {
			t.Errorf("%q decoded as roles", bad)
		}
	}
}

// TestDecodeAttributeKeysShapes: the catalogue as a list of objects, of strings, or wrapped.
func TestDecodeAttributeKeysShapes(t *testing.T) {
	for _, body := range []string{
		`[{"key":"costCenter","keyspace":"customer-defined"},{"key":"title","keyspace":"domo-defined"}]`,
		`["costCenter","title"]`,
		`{"keys":[{"key":"costCenter"},{"key":"title"}]}`,
		`{"properties":["costCenter","title", 7, {"name":"no key"}]}`,
	} {
		keys, err := decodeAttributeKeys([]byte(body))
		if err != nil || len(keys) < 2 || keys[0].Key != "costCenter" || keys[1].Key != "title" {
			t.Errorf("%s: %+v %v", body, keys, err)
		}
	}
}
