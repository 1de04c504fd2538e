package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo"
)

func TestDomoExtensionsFromAttributes(t *testing.T) {
	base := func() map[string]any { return map[string]any{"userName": "ada@example.com"} }
	tests := []struct {
		name   string
		attrs  map[string]any
		domo   DomoExt
		custom []CustomAttribute
		err    string
	}{
		{name: "both extensions, as Domo's SCIM sends them", attrs: map[string]any{
			URNDomoUser:   map[string]any{"hireDate": "2021-04-01", "employeeLocation": "Lyon"},
			URNCustomUser: map[string]any{"customAttributes": []any{map[string]any{"key": "costCenter", "values": []any{"CC-1", "CC-2"}}}},
		}, domo: DomoExt{HireDate: "2021-04-01", EmployeeLocation: "Lyon"}, custom: []CustomAttribute{{Key: "costCenter", Values: []string{"CC-1", "CC-2"}}}},
		{name: "URN-qualified keys of a path-less PATCH", attrs: map[string]any{
			URNDomoUser + ":hireDate":                            "2020-01-01",
			strings.ToLower(URNCustomUser) + ":customAttributes": []any{map[string]any{"key": "region", "values": "EMEA"}},
		}, domo: DomoExt{HireDate: "2020-01-01"}, custom: []CustomAttribute{{Key: "region", Values: []string{"EMEA"}}}},
		{name: "numbers and booleans are text; null values are dropped", attrs: map[string]any{
			URNCustomUser: map[string]any{"customAttributes": []any{map[string]any{"key": "level", "values": []any{7.0, true, nil}}}},
		}, custom: []CustomAttribute{{Key: "level", Values: []string{"7", "true"}}}},
		{name: "no values", attrs: map[string]any{
			URNCustomUser: map[string]any{"customAttributes": []any{map[string]any{"key": "region"}}},
		}, custom: []CustomAttribute{{Key: "region"}}},
		{name: "keys of their own, as Okta and Entra write them", attrs: map[string]any{
			URNCustomUser: map[string]any{"region": "EMEA", "level": 3.0, "gone": nil,
				"customAttributes": []any{map[string]any{"key": "costCenter", "values": []any{"CC-1"}}}},
		}, custom: []CustomAttribute{{Key: "costCenter", Values: []string{"CC-1"}}, {Key: "level", Values: []string{"3"}, Flat: true}, {Key: "region", Values: []string{"EMEA"}, Flat: true}}},
		{name: "a key both ways is kept for ResolveCustom", attrs: map[string]any{
			URNCustomUser: map[string]any{"region": "EMEA", "customAttributes": []any{map[string]any{"key": "region", "values": "x"}}},
		}, custom: []CustomAttribute{{Key: "region", Values: []string{"x"}}, {Key: "region", Values: []string{"EMEA"}, Flat: true}}},
		{name: "duplicate key", attrs: map[string]any{
			URNCustomUser: map[string]any{"customAttributes": []any{map[string]any{"key": "a", "values": "1"}, map[string]any{"key": "a", "values": "2"}}},
		}, err: `key "a" appears twice`},
		{name: "empty key", attrs: map[string]any{
			URNCustomUser: map[string]any{"customAttributes": []any{map[string]any{"key": " ", "values": "1"}}},
		}, err: "a key is required"},
		{name: "not an object", attrs: map[string]any{
			URNCustomUser: map[string]any{"customAttributes": []any{"costCenter"}},
		}, err: "must be an object"},
		{name: "hireDate not a string", attrs: map[string]any{URNDomoUser: map[string]any{"hireDate": []any{"x"}}}, err: "hireDate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attrs := base()
			for k, v := range tc.attrs {
				attrs[k] = v
			}
			u, err := UserFromAttributes(attrs)
			if tc.err != "" {
				var ve *ValueError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want a ValueError with %q", err, tc.err)
				}
				return
			}
			if err != nil || u.Domo != tc.domo || !reflect.DeepEqual(u.CustomAttributes, tc.custom) {
				t.Fatalf("got %+v %+v %v", u.Domo, u.CustomAttributes, err)
			}
		})
	}
}

func TestDomoExtensionsRoundTrip(t *testing.T) {
	u := User{ID: 7, Active: true, UserName: "ada@example.com",
		Domo:             DomoExt{HireDate: "2021-04-01", EmployeeLocation: "Lyon"},
		CustomAttributes: []CustomAttribute{{Key: "region", Values: []string{"EMEA", "UK"}}, {Key: "costCenter", Values: []string{"CC-1"}}},
	}
	attrs := u.Attributes(Options{})
	if got := attrs["schemas"]; !reflect.DeepEqual(got, []any{URNUser, URNDomoUser, URNCustomUser}) {
		t.Fatalf("schemas %v", got)
	}
	if !reflect.DeepEqual(u.Values("schemas", ""), attrs["schemas"]) {
		t.Fatalf("Values(schemas) %v", u.Values("schemas", ""))
	}
	back, err := UserFromAttributes(attrs)
	if err != nil || back.Domo != u.Domo || !reflect.DeepEqual(back.CustomAttributes, u.CustomAttributes) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if v := u.Values(customAttributesKey, "key"); !reflect.DeepEqual(v, []any{"region", "costCenter"}) {
		t.Fatalf("filter values of customAttributes.key: %v", v)
	}
	if v := u.Values(domoHireDate, ""); !reflect.DeepEqual(v, []any{"2021-04-01"}) {
		t.Fatalf("hireDate values %v", v)
	}
	flat := User{ID: 9, UserName: "c@example.com", CustomAttributes: []CustomAttribute{{Key: "region", Values: []string{"EMEA"}, Flat: true}}}
	fa := flat.Attributes(Options{})
	if ext, _ := fa[URNCustomUser].(map[string]any); ext["region"] != "EMEA" || ext["customAttributes"] != nil {
		t.Fatalf("a flat key reads back %v", fa[URNCustomUser])
	}
	if v := flat.Values(customPrefix+"region", ""); !reflect.DeepEqual(v, []any{"EMEA"}) {
		t.Fatalf("filter values of a flat key: %v", v)
	}
	if back, err := UserFromAttributes(fa); err != nil || !reflect.DeepEqual(back.CustomAttributes, flat.CustomAttributes) {
		t.Fatalf("flat round trip: %+v %v", back.CustomAttributes, err)
	}
	plain := User{ID: 8, UserName: "b@example.com"}
	if plain.Version() == (&User{ID: 8, UserName: "b@example.com", CustomAttributes: []CustomAttribute{{Key: "k", Values: []string{"v"}}}}).Version() {
		t.Fatal("custom attributes do not change the version")
	}
}

func TestDomoExtensionsReachDomoAndShadow(t *testing.T) {
	u := User{UserName: "ada@example.com", Active: true, DisplayName: "Ada",
		Addresses:        []Address{{Formatted: "London", Type: "work"}},
		Domo:             DomoExt{HireDate: "2021-04-01", EmployeeLocation: "Lyon"},
		Enterprise:       Enterprise{Manager: Manager{Value: "123456789"}, Organization: "Acme"},
		CustomAttributes: []CustomAttribute{{Key: "region", Values: []string{"EMEA"}}},
	}
	upd, sh, err := UserToDomo(u, domo.User{}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// employeeLocation is Domo's Location, as in Domo's own SCIM; it wins over addresses.
	if upd.User.Location != "Lyon" {
		t.Fatalf("location %q", upd.User.Location)
	}
	if sh.Domo != u.Domo || !customEqual(sh.CustomAttributes, u.CustomAttributes) {
		t.Fatalf("shadow %+v", sh)
	}
	d := upd.User
	d.ID = 99
	sh.Rebase(d)
	back := UserFromDomo(d, &sh, Options{})
	if back.Domo != u.Domo || !customEqual(back.CustomAttributes, u.CustomAttributes) || back.Enterprise.Manager.Value != "123456789" {
		t.Fatalf("read back %+v", back)
	}
	// An admin moving the user in Domo: Domo's location wins, employeeLocation is no longer
	// claimed.
	d.Location = "Paris"
	if back := UserFromDomo(d, &sh, Options{}); back.Domo.EmployeeLocation != "" || back.Addresses[0].Formatted != "Paris" {
		t.Fatalf("after an admin's change: %+v %+v", back.Domo, back.Addresses)
	}
}

func TestIdentityAttributes(t *testing.T) {
	has := func(k string) bool { return k == "organization" }
	tests := []struct {
		name string
		u    User
		has  func(string) bool
		want map[string][]string
		err  string
	}{
		{"manager, hire date, organization, custom", User{ID: 5,
			Enterprise:       Enterprise{Manager: Manager{Value: "42"}, Organization: "Acme"},
			Domo:             DomoExt{HireDate: "2021-04-01", EmployeeLocation: "Lyon"},
			CustomAttributes: []CustomAttribute{{Key: "region", Values: []string{"EMEA"}}, {Key: "empty"}},
		}, has, map[string][]string{"reportsTo": {"42"}, "hireDate": {"2021-04-01"}, "organization": {"Acme"}, "region": {"EMEA"}}, ""},
		{"organization without the key", User{Enterprise: Enterprise{Organization: "Acme"}}, func(string) bool { return false }, map[string][]string{}, ""},
		{"manager not an id: not Domo's", User{Enterprise: Enterprise{Manager: Manager{Value: "00ub0oNGTSWTBKOLGLNR"}}}, has, map[string][]string{}, ""},
		{"manager with a leading zero", User{Enterprise: Enterprise{Manager: Manager{Value: "042"}}}, has, map[string][]string{}, ""},
		{"own manager", User{ID: 5, Enterprise: Enterprise{Manager: Manager{Value: "5"}}}, has, map[string][]string{}, ""},
		{"custom reportsTo", User{CustomAttributes: []CustomAttribute{{Key: "reportsTo", Values: []string{"1"}}}}, has, nil, "set through manager"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IdentityAttributes(tc.u, tc.has)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v", got, err)
			}
		})
	}
}

func TestAttributeChanges(t *testing.T) {
	want := map[string][]string{"a": {"1"}, "b": {"2", "3"}, "c": {"x"}}
	have := map[string][]string{"a": {"1"}, "b": {"3", "2"}, "d": {"old"}}
	got := AttributeChanges(want, have)
	exp := []domo.Attribute{{Key: "b", Values: []string{"2", "3"}}, {Key: "c", Values: []string{"x"}}, {Key: "d", Values: []string{}}}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("got %+v", got)
	}
	if len(AttributeChanges(want, want)) != 0 || len(AttributeChanges(nil, nil)) != 0 {
		t.Fatal("no change reported as one")
	}
}

func TestResolveCustom(t *testing.T) {
	elem := func(k, v string) CustomAttribute { return CustomAttribute{Key: k, Values: []string{v}} }
	flat := func(k, v string) CustomAttribute { return CustomAttribute{Key: k, Values: []string{v}, Flat: true} }
	tests := []struct {
		name       string
		list, prev []CustomAttribute
		want       []CustomAttribute
		err        bool
	}{
		{"no twins", []CustomAttribute{elem("a", "1"), flat("b", "2")}, nil, []CustomAttribute{elem("a", "1"), flat("b", "2")}, false},
		{"the flat key is new", []CustomAttribute{elem("a", "old"), flat("a", "new")}, []CustomAttribute{elem("a", "old")}, []CustomAttribute{flat("a", "new")}, false},
		{"the element is new", []CustomAttribute{elem("a", "new"), flat("a", "old")}, []CustomAttribute{flat("a", "old")}, []CustomAttribute{elem("a", "new")}, false},
		{"the same both ways", []CustomAttribute{elem("a", "x"), flat("a", "x")}, nil, []CustomAttribute{elem("a", "x")}, false},
		{"both changed", []CustomAttribute{elem("a", "1"), flat("a", "2")}, []CustomAttribute{elem("a", "0")}, nil, true},
		{"a create with both", []CustomAttribute{flat("a", "2"), elem("a", "1")}, nil, nil, true},
	}
	for _, tc := range tests {
		got, err := ResolveCustom(tc.list, tc.prev)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: got %+v, %v", tc.name, got, err)
		}
	}
}
