package scim

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
)

// fltResource is a test double for Resource backed by a map. The real implementation lives in
// internal/mapping. Values are split once, at construction, into the slices Values returns, so
// that benchmarks measure the filter and not the double.
type fltResource struct {
	name string                      // for test messages
	vals map[string]map[string][]any // key, then sub ("" for the attribute itself)
}

// fltNew builds a resource from JSON-shaped attributes: core attributes at the top level,
// extension attributes nested under their URN, complex values as maps, multi-valued ones as
// []map[string]any. Keys may be in any case.
func fltNew(name string, attrs map[string]any) *fltResource {
	r := &fltResource{name: name, vals: map[string]map[string][]any{}}
	for k, v := range attrs {
		if ext, ok := v.(map[string]any); ok && strings.HasPrefix(strings.ToLower(k), "urn:") {
			for k2, v2 := range ext {
				r.add(strings.ToLower(k+":"+k2), v2)
			}
			continue
		}
		r.add(strings.ToLower(k), v)
	}
	return r
}

func (r *fltResource) add(key string, v any) {
	subs := r.vals[key]
	if subs == nil {
		subs = map[string][]any{}
		r.vals[key] = subs
	}
	lower := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[strings.ToLower(k)] = v
			subs[strings.ToLower(k)] = append(subs[strings.ToLower(k)], v)
		}
		return out
	}
	switch v := v.(type) {
	case []map[string]any:
		for _, m := range v {
			subs[""] = append(subs[""], lower(m))
		}
	case map[string]any:
		subs[""] = append(subs[""], lower(v))
	case []any:
		subs[""] = append(subs[""], v...)
	default:
		subs[""] = append(subs[""], v)
	}
}

func (r *fltResource) Values(key, sub string) []any { return r.vals[key][sub] }

func fltTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fltUsers are the users the Match tables run against: alice has everything, bob has the
// Microsoft validator's shapes, oscar almost nothing.
var fltUsers = []*fltResource{
	fltNew("alice", map[string]any{
		"id":          "101",
		"externalId":  "Ext-1",
		"userName":    "Alice@Example.com",
		"displayName": `Alice "Ace" Smith`,
		"title":       "Senior Engineer",
		"active":      true,
		"name":        map[string]any{"givenName": "Alice", "familyName": "Smith"},
		"emails": []map[string]any{
			{"value": "a.smith@home.org", "type": "home"},
			{"value": "alice@example.com", "type": "work", "primary": true},
		},
		"x509Certificates": []map[string]any{{"value": "TUlJQw=="}},
		URNEnterprise: map[string]any{
			"department": "Engineering",
			"manager":    map[string]any{"value": "42", "displayName": "Boss"},
		},
		"meta": map[string]any{
			"created":      fltTime("2016-01-01T00:00:00Z"),
			"lastModified": fltTime("2024-01-02T03:04:05Z"),
		},
	}),
	fltNew("bob", map[string]any{
		"id":          "102",
		"externalId":  "ext-2",
		"userName":    "bob@example.org",
		"displayName": "BobIsAmazing",
		"active":      false,
		"name":        map[string]any{"givenName": "Bob", "familyName": "Employee"},
		"emails":      []map[string]any{{"value": "Bob@Example.ORG", "type": "work"}},
		"meta": map[string]any{
			"created":      fltTime("2015-10-10T21:38:21.8617979Z"),
			"lastModified": fltTime("2023-05-06T07:08:09.123Z"),
		},
	}),
	fltNew("oscar", map[string]any{
		"id":          "103",
		"externalId":  "jyoung",
		"userName":    "Oscar",
		URNEnterprise: map[string]any{"employeeNumber": "12345"},
	}),
}

func fltParse(t *testing.T, s string, rt *ResourceType) *Filter {
	t.Helper()
	f, err := ParseFilter(s, rt)
	if err != nil {
		t.Fatalf("ParseFilter(%q) = %v; want no error", s, err)
	}
	return f
}

func fltMatching(f *Filter, rs []*fltResource) []string {
	out := []string{}
	for _, r := range rs {
		if f.Match(r) {
			out = append(out, r.name)
		}
	}
	return out
}

func fltNames(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, " ")
}

const fltEnt = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// fltMatchCases is the Match table; want names the matching users of fltUsers.
var fltMatchCases = []struct {
	name, filter, want string
}{
	// string, not case-exact (userName)
	{"eq folds case", `userName eq "alice@example.com"`, "alice"},
	{"names and operators are case-insensitive", `USERNAME EQ "ALICE@EXAMPLE.COM"`, "alice"},
	{"ne", `userName ne "alice@example.com"`, "bob oscar"},
	{"co", `userName co "EXAMPLE"`, "alice bob"},
	{"sw", `userName sw "al"`, "alice"},
	{"ew", `userName ew ".ORG"`, "bob"},
	{"gt", `userName gt "bob"`, "bob oscar"},
	{"ge", `userName ge "BOB@example.org"`, "bob oscar"},
	{"lt", `userName lt "b"`, "alice"},
	{"le", `userName le "BOB@EXAMPLE.ORG"`, "alice bob"},
	{"pr", `userName pr`, "alice bob oscar"},
	{"co empty string", `userName co ""`, "alice bob oscar"},

	// string, case-exact (externalId, id)
	{"exact eq", `externalId eq "Ext-1"`, "alice"},
	{"exact eq other case", `externalId eq "ext-1"`, ""},
	{"exact ne counts missing", `externalId ne "Ext-1"`, "bob oscar"},
	{"exact co", `externalId co "xt-"`, "alice bob"},
	{"exact co case", `externalId co "XT"`, ""},
	{"exact sw", `externalId sw "E"`, "alice"},
	{"exact ew", `externalId ew "-2"`, "bob"},
	{"exact gt orders by code point", `externalId gt "Ext-1"`, "bob oscar"},
	{"exact ge", `externalId ge "ext-2"`, "bob oscar"},
	{"exact lt", `externalId lt "ext"`, "alice"},
	{"exact le", `externalId le "ext-2"`, "alice bob"},
	{"exact pr", `externalId pr`, "alice bob oscar"},
	{"id eq", `id eq "102"`, "bob"},
	{"id eq number literal", `id eq 102`, "bob"},

	// boolean
	{"bool eq true", `active eq true`, "alice"},
	{"bool eq false", `active eq false`, "bob"},
	{"bool literal case", `active eq TRUE`, "alice"},
	{"bool ne counts missing", `active ne true`, "bob oscar"},
	{"bool pr: false is a value", `active pr`, "alice bob"},
	{"bool from string", `active eq "False"`, "bob"},
	{"bool sub-attribute", `emails.primary eq true`, "alice"},

	// dateTime
	{"dateTime gt", `meta.lastModified gt "2023-06-01T00:00:00Z"`, "alice"},
	{"dateTime ge same instant", `meta.lastModified ge "2024-01-02T03:04:05Z"`, "alice"},
	{"dateTime eq other offset", `meta.lastModified eq "2024-01-02T04:04:05+01:00"`, "alice"},
	{"dateTime eq fraction", `meta.lastModified eq "2023-05-06T07:08:09.123000Z"`, "bob"},
	{"dateTime ne", `meta.lastModified ne "2024-01-02T03:04:05Z"`, "bob oscar"},
	{"dateTime lt", `meta.lastModified lt "2024-01-01T00:00:00Z"`, "bob"},
	{"dateTime le", `meta.lastModified le "2024-01-02T03:04:05.000Z"`, "alice bob"},
	{"dateTime pr", `meta.lastModified pr`, "alice bob"},
	{"dateTime lower-case t and z", `meta.lastModified gt "2023-06-01t00:00:00z"`, "alice"},
	{"dateTime without offset is UTC", `meta.lastModified lt "2024-01-02T03:04:05"`, "bob"},
	{"complex pr", `meta pr`, "alice bob"},

	// multi-valued complex attributes
	{"any element", `emails.value eq "alice@example.com"`, "alice"},
	{"any element, folded", `emails.value eq "bob@example.org"`, "bob"},
	{"whole complex compares value", `emails co "home.ORG"`, "alice"},
	{"other sub-attribute", `emails.type eq "home"`, "alice"},
	{"ne is not any eq", `emails.value ne "alice@example.com"`, "bob oscar"},
	{"multi pr", `emails pr`, "alice bob"},
	{"binary eq is case-exact", `x509Certificates.value eq "TUlJQw=="`, "alice"},
	{"binary eq other case", `x509Certificates eq "tuljqw=="`, ""},
	{"separate elements without value path", `emails.type eq "home" and emails.value co "@example.com"`, "alice"},

	// value paths
	{"value path and", `emails[type eq "work" and value co "@example.com"]`, "alice"},
	{"value path binds one element", `emails[type eq "home" and value co "@example.com"]`, ""},
	{"value path or", `emails[type eq "home" or primary eq true]`, "alice"},
	{"value path not", `emails[not (type eq "work")]`, "alice"},
	{"value path three terms", `emails[type eq "work" and primary eq true and value sw "ALICE"]`, "alice"},
	{"value path parentheses", `emails[type eq "work" and (value ew ".org" or value ew ".com")]`, "alice bob"},
	{"value path ne", `emails[type ne "work"]`, "alice"},
	{"value path on single complex", `name[givenName eq "alice"]`, "alice"},
	{"value path and filter", `userName sw "a" and emails[type eq "work"]`, "alice"},
	{"value path or value path", `emails[type eq "home"] or name[familyName eq "Employee"]`, "alice bob"},
	{"value path extension", fltEnt + `:manager[value eq "42"]`, "alice"},
	{"value path with space before bracket", `emails [ type eq "home" ]`, "alice"},

	// sub-attributes and extensions
	{"sub-attribute", `name.familyName eq "smith"`, "alice"},
	{"sub-attribute pr", `name.givenName pr`, "alice bob"},
	{"extension", fltEnt + `:department eq "engineering"`, "alice"},
	{"extension case-insensitive", strings.ToUpper(fltEnt) + `:DEPARTMENT co "ENG"`, "alice"},
	{"extension complex sub", fltEnt + `:manager.value eq "42"`, "alice"},
	{"extension complex compares value", fltEnt + `:manager eq "42"`, "alice"},
	{"extension pr", fltEnt + `:manager pr`, "alice"},
	{"extension unquoted number on a string", fltEnt + `:employeeNumber eq 12345`, "oscar"},
	{"core URN prefix", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "oscar"`, "oscar"},

	// logic
	{"not", `not (userName eq "oscar")`, "alice bob"},
	{"not without space", `not(userName eq "oscar")`, "alice bob"},
	{"and binds tighter than or", `userName eq "oscar" or active eq true and title pr`, "alice oscar"},
	{"parentheses", `(userName eq "oscar" or active eq true) and title pr`, "alice"},
	{"not binds tighter than and", `not (active eq true) and userName pr`, "bob oscar"},
	{"nested parentheses", `((userName eq "oscar") or ((active eq false)))`, "bob oscar"},
	{"long or", `userName eq "x" or userName eq "y" or userName eq "oscar" or userName eq "z"`, "oscar"},
	{"and or not", `not (emails pr) or (active eq false and emails[type eq "work"])`, "bob oscar"},
	{"upper-case logic", `userName eq "oscar" OR active EQ true AND title PR`, "alice oscar"},
	{"eq null", `title eq null`, "bob oscar"},
	{"ne null", `title ne null`, "alice"},

	// escapes
	{"escaped quote", `displayName eq "Alice \"Ace\" Smith"`, "alice"},
	{"unicode escape", `displayName co "\u0022Ace\u0022"`, "alice"},
	{"lower-case unicode escape", `displayName co "\u0022ace"`, "alice"},
	{"non-ASCII value", `displayName eq "Ålice"`, ""},

	// what Microsoft's conformance collection, Entra and Okta send
	{"ms DisplayName", `DisplayName eq "BobIsAmazing"`, "bob"},
	{"ms unquoted and parentheses", `name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`, "bob"},
	{"ms unquoted sw", `userName sw O`, "oscar"},
	{"ms unquoted dateTime", `meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, "alice"},
	{"ms unquoted dateTime eq same instant", `meta.created eq 2015-10-10T14:38:21.8617979-07:00`, "bob"},
	{"okta userName any case", `userName eq "ALICE@example.COM"`, "alice"},
	{"entra externalId", `externalId eq "ext-2"`, "bob"},
	{"entra unquoted externalId", `externalId eq jyoung`, "oscar"},
	{"entra value path sub compare", `emails[type eq "work"].value eq "alice@example.com"`, "alice"},
	{"entra value path sub compare, other element", `emails[type eq "home"].value eq "alice@example.com"`, ""},
	{"value path sub pr", `emails[type eq "work"].value pr`, "alice bob"},
	{"value path sub compare with and inside", `emails[type eq "work" and primary eq true].value co "alice"`, "alice"},
	{"single-quoted", `userName eq 'oscar'`, "oscar"},
	{"single-quoted escape", `displayName eq 'Alice "Ace" Smith'`, "alice"},
	{"extra whitespace", "  userName\teq  \"oscar\"\n ", "oscar"},
}

func TestFilterMatch(t *testing.T) {
	for _, tc := range fltMatchCases {
		t.Run(tc.name, func(t *testing.T) {
			f := fltParse(t, tc.filter, UserType)
			if got, want := fltMatching(f, fltUsers), fltNames(tc.want); !slices.Equal(got, want) {
				t.Errorf("ParseFilter(%q) [%s] matches %v; want %v", tc.filter, f, got, want)
			}
			// The canonical form means the same and parses to itself.
			g := fltParse(t, f.String(), UserType)
			if g.String() != f.String() {
				t.Errorf("String() of %q = %q; parsed back it is %q", tc.filter, f, g)
			}
			if got, want := fltMatching(g, fltUsers), fltNames(tc.want); !slices.Equal(got, want) {
				t.Errorf("canonical %q matches %v; want %v", g, got, want)
			}
		})
	}
}

// fltNumberType has integer and decimal attributes, which the standard schemas lack.
var fltNumberType = &ResourceType{
	Name: "Thing", Endpoint: "/Things",
	Schema: schema.Schema{ID: "urn:example:Thing", Attributes: schema.Attributes{
		schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "count", Type: schema.AttributeTypeInteger()})),
		schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "ratio", Type: schema.AttributeTypeDecimal()})),
	}},
}

func TestFilterMatchNumbers(t *testing.T) {
	things := []*fltResource{
		fltNew("a", map[string]any{"count": int64(3), "ratio": 0.5}),
		fltNew("b", map[string]any{"count": int64(10), "ratio": 1.25}),
		fltNew("c", map[string]any{}),
	}
	for _, tc := range []struct{ filter, want string }{
		{`count eq 3`, "a"},
		{`count ne 3`, "b c"},
		{`count gt 3`, "b"},
		{`count ge 3`, "a b"},
		{`count lt 10`, "a"},
		{`count le 10`, "a b"},
		{`count lt 1e1`, "a"},
		{`count eq "10"`, "b"},
		{`count pr`, "a b"},
		{`ratio gt 0.5`, "b"},
		{`ratio ge 0.50`, "a b"},
		{`ratio lt -1`, ""},
		{`ratio eq 1.25`, "b"},
	} {
		f := fltParse(t, tc.filter, fltNumberType)
		if got, want := fltMatching(f, things), fltNames(tc.want); !slices.Equal(got, want) {
			t.Errorf("ParseFilter(%q) matches %v; want %v", tc.filter, got, want)
		}
	}
	for _, bad := range []string{`count co 1`, `count eq "many"`, `ratio sw 1`, `count eq true`, `ratio gt "NaN"`, `ratio lt "-Inf"`} {
		fltWantInvalid(t, bad, fltNumberType, "")
	}
}

func TestFilterMatchGroups(t *testing.T) {
	groups := []*fltResource{
		fltNew("sales", map[string]any{"id": "7", "displayName": "Sales", "members": []map[string]any{{"value": "101", "display": "Alice"}}}),
		fltNew("ops", map[string]any{"id": "8", "displayName": "Ops"}),
	}
	for _, tc := range []struct{ filter, want string }{
		{`displayName eq "Sales"`, "sales"},
		{`displayName eq "sales"`, "sales"},
		{`members[value eq "101"]`, "sales"},
		{`members.value eq "101"`, "sales"},
		{`members pr`, "sales"},
		{`not (members pr)`, "ops"},
		{`externalId eq "x"`, ""},
	} {
		f := fltParse(t, tc.filter, GroupType)
		if got, want := fltMatching(f, groups), fltNames(tc.want); !slices.Equal(got, want) {
			t.Errorf("ParseFilter(%q) matches %v; want %v", tc.filter, got, want)
		}
	}
	fltWantInvalid(t, `userName eq "x"`, GroupType, "userName")
}

// TestFilterMatchValueTypes covers values a Resource may hand back in other forms than the
// schema type suggests: integer ids, dateTimes as strings.
func TestFilterMatchValueTypes(t *testing.T) {
	r := fltNew("r", map[string]any{
		"id":     int64(42),
		"active": "True",
		"meta":   map[string]any{"lastModified": "2024-01-02T03:04:05Z"},
	})
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`id eq "42"`, true},
		{`id sw "4"`, true},
		{`id eq "43"`, false},
		{`active eq true`, true},
		{`meta.lastModified eq "2024-01-02T03:04:05Z"`, true},
		{`meta.lastModified gt "2024-01-02T03:04:05Z"`, false},
	} {
		if got := fltParse(t, tc.filter, UserType).Match(r); got != tc.want {
			t.Errorf("ParseFilter(%q).Match = %v; want %v", tc.filter, got, tc.want)
		}
	}
}

func TestFilterRewrites(t *testing.T) {
	for _, tc := range []struct {
		filter, want string
		quirks       []string
	}{
		{`userName eq "a@b.c"`, `userName eq "a@b.c"`, nil},
		{`DisplayName eq "BobIsAmazing"`, `displayName eq "BobIsAmazing"`, nil},
		{`externalId eq jyoung`, `externalId eq "jyoung"`, []string{"unquoted-value"}},
		{`userName sw O`, `userName sw "O"`, []string{"unquoted-value"}},
		{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
			`name.familyName eq "Employee" and (emails.value co "example.com" or emails.value co "example.org")`,
			[]string{"unquoted-value"}},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, `meta.created gt "2015-10-10T14:38:21.8617979-07:00"`, []string{"unquoted-value"}},
		{`active eq True`, `active eq true`, nil},
		{`title eq NULL`, `title eq null`, nil},
		{fltEnt + `:employeeNumber eq 12345`, fltEnt + `:employeeNumber eq 12345`, nil},
		{fltEnt + `:employeeNumber eq 0123`, fltEnt + `:employeeNumber eq "0123"`, []string{"unquoted-value"}},
		{`emails[type eq "work"].value eq "a@b.c"`, `emails[type eq "work" and value eq "a@b.c"]`, []string{"valuepath-subattr-compare"}},
		{`emails[type eq work].value eq a@b.c`, `emails[type eq "work" and value eq "a@b.c"]`, []string{"unquoted-value", "valuepath-subattr-compare"}},
		{`emails[type eq "work" or type eq "home"].value eq "x"`, `emails[(type eq "work" or type eq "home") and value eq "x"]`, []string{"valuepath-subattr-compare"}},
		{`userName eq 'o\'neil'`, `userName eq "o'neil"`, []string{"single-quoted-value"}},
		{`displayName eq "\u00e9"`, `displayName eq "é"`, []string{"lowercase-unicode-escape"}},
		{`displayName eq "a\\b\/c"`, `displayName eq "a\\b/c"`, nil},
		{`not(userName pr)`, `not (userName pr)`, nil},
		{`((userName pr))`, `userName pr`, nil},
		{`a.b.c eq 1`, ``, nil}, // invalid: see TestParseFilterInvalid
	} {
		if tc.want == "" {
			continue
		}
		f := fltParse(t, tc.filter, UserType)
		if got := f.String(); got != tc.want {
			t.Errorf("ParseFilter(%q).String() = %q; want %q", tc.filter, got, tc.want)
		}
		if got := f.Quirks(); !slices.Equal(got, tc.quirks) {
			t.Errorf("ParseFilter(%q).Quirks() = %q; want %q", tc.filter, got, tc.quirks)
		}
	}
}

func fltWantInvalid(t *testing.T, s string, rt *ResourceType, detail string) {
	t.Helper()
	f, err := ParseFilter(s, rt)
	if err == nil {
		t.Errorf("ParseFilter(%q) = %q; want an invalidFilter error", s, f)
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Type != TypeInvalidFilter {
		t.Errorf("ParseFilter(%q) error = %#v; want *Error 400 invalidFilter", s, err)
		return
	}
	if !strings.Contains(e.Detail, detail) {
		t.Errorf("ParseFilter(%q) detail = %q; want it to mention %q", s, e.Detail, detail)
	}
}

func TestParseFilterInvalid(t *testing.T) {
	deep := func(n int, open, close string) string {
		return strings.Repeat(open, n) + `userName pr` + strings.Repeat(close, n)
	}
	for _, tc := range []struct{ name, filter, detail string }{
		{"empty", ``, "empty"},
		{"blank", "  \t", "empty"},
		{"missing value", `userName eq`, "missing value"},
		{"missing operator", `userName`, "operator"},
		{"unknown operator", `userName xx "a"`, "expected an operator"},
		{"value where operator", `displayName Sales`, "expected an operator"},
		{"trailing and", `userName eq "a" and`, "attribute name was expected"},
		{"unclosed parenthesis", `(userName eq "a"`, "unclosed"},
		{"unopened parenthesis", `userName eq "a")`, "no matching"},
		{"unterminated string", `userName eq "abc`, "not terminated"},
		{"unterminated single quote", `userName eq 'abc`, "not terminated"},
		{"invalid escape", `userName eq "a\qb"`, "invalid escape"},
		{"invalid unicode escape", `userName eq "\u12G4"`, "\\u escape"},
		{"short unicode escape", `userName eq "\u12"`, "\\u escape"},
		{"control character", "userName eq \"a\x01b\"", "control character"},
		{"invalid UTF-8", "userName eq \"\xff\"", "UTF-8"},
		{"unknown word between", `userName eq "a" xor userName eq "b"`, `expected "and", "or"`},
		{"two values", `displayName eq Sales Team`, `expected "and", "or"`},
		{"not without parentheses", `not userName eq "x"`, "parentheses"},
		{"operator first", `eq "x"`, "operator"},
		{"string first", `"x" eq userName`, "attribute name"},
		{"empty parentheses", `()`, "attribute name"},
		{"unknown attribute", `bogus eq "x"`, `"bogus"`},
		{"unknown sub-attribute", `name.bogus eq "x"`, "bogus"},
		{"too many parts", `name.givenName.x eq "x"`, "not an attribute path"},
		{"bad attribute characters", `user*Name eq "x"`, "not an attribute path"},
		{"attribute starts with a digit", `1userName eq "x"`, "not an attribute path"},
		{"bad URN characters", `urn:a_b:c:userName eq "x"`, "not an attribute path"},
		{"empty URN segment", `urn::userName eq "x"`, "not an attribute path"},
		{"attribute path too long", strings.Repeat("a", 300) + ` pr`, "longer than 256"},
		{"unknown schema", `urn:example:foo:bar eq "x"`, "urn:example:foo"},
		{"unknown extension attribute", fltEnt + `:shoeSize eq "x"`, "shoeSize"},
		{"placeholder injection", `$vp0 pr`, "unknown attribute"},
		{"gt on boolean", `active gt true`, "booleans"},
		{"co on boolean", `active co "t"`, "booleans"},
		{"boolean from a word", `active eq "yes"`, "true or false"},
		{"boolean from a number", `active eq 1`, "true or false"},
		{"unparseable dateTime", `meta.lastModified gt "yesterday"`, "date-time"},
		{"dateTime from a number", `meta.lastModified gt 2015`, "date-time"},
		{"co on dateTime", `meta.lastModified co "2020"`, "dateTime"},
		{"complex without value", `name eq "x"`, "complex"},
		{"complex without value, gt", `meta gt "x"`, "complex"},
		{"ordering on binary", `x509Certificates.value gt "a"`, "binary"},
		{"null with gt", `title gt null`, "null"},
		{"password", `password eq "secret"`, "password"},
		{"value path on a simple attribute", `userName[value eq "x"]`, "complex"},
		{"value path on a sub-attribute", `name.givenName[value eq "x"]`, "complex"},
		{"value path unknown sub", `emails[bogus eq "x"]`, "bogus"},
		{"value path dotted inner", `emails[emails.value eq "x"]`, "sub-attribute"},
		{"value path URN inner", `emails[urn:x:value eq "x"]`, "sub-attribute"},
		{"nested value path", `emails[type[value eq "x"]]`, "nested"},
		{"unclosed bracket", `emails[type eq "x"`, `"]"`},
		{"empty value path", `emails[]`, "attribute name"},
		{"value path sub without comparison", `emails[type eq "work"].value`, "operator"},
		{"value path bare dot", `emails[type eq "work"]. eq "x"`, "sub-attribute"},
		{"value path sub unknown", `emails[type eq "work"].bogus eq "x"`, "bogus"},
		{"too long", `userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`, "at most 4096"},
		{"too deep not", deep(MaxFilterDepth+1, "not (", ")"), "levels deep"},
		{"too deep parentheses", deep(MaxFilterDepth+1, "(", ")"), "levels deep"},
		{"too deep logic", strings.Repeat(`userName pr and (userName pr or (`, MaxFilterDepth/2) + `userName pr and userName pr` + strings.Repeat(`))`, MaxFilterDepth/2), "levels deep"},
		{"too deep value path", strings.Repeat("not (", MaxFilterDepth) + `emails[type pr]` + strings.Repeat(")", MaxFilterDepth), "levels deep"},
	} {
		t.Run(tc.name, func(t *testing.T) { fltWantInvalid(t, tc.filter, UserType, tc.detail) })
	}
}

func TestParseFilterLimitsInclusive(t *testing.T) {
	s := `userName eq "` + strings.Repeat("a", MaxFilterLength-len(`userName eq ""`)) + `"`
	if len(s) != MaxFilterLength {
		t.Fatalf("test filter is %d bytes", len(s))
	}
	fltParse(t, s, UserType)
	fltParse(t, strings.Repeat("not (", MaxFilterDepth)+`userName pr`+strings.Repeat(")", MaxFilterDepth), UserType)
	fltParse(t, strings.Repeat("(", MaxFilterDepth)+`userName pr`+strings.Repeat(")", MaxFilterDepth), UserType)
	fltParse(t, strings.Repeat(`userName pr and (userName pr or (`, MaxFilterDepth/2)+`userName pr`+strings.Repeat(`))`, MaxFilterDepth/2), UserType)
	// A long flat chain is one level, however many terms it has.
	fltParse(t, `userName eq "a"`+strings.Repeat(` or userName eq "a"`, 100), UserType)
}

func TestFilterCandidates(t *testing.T) {
	type L = Lookup
	for _, tc := range []struct {
		filter string
		rt     *ResourceType
		want   []Lookup // nil: ok=false
	}{
		{`userName eq "a@b.c"`, UserType, []L{{"username", "a@b.c"}}},
		{`USERNAME eq "A@b.c"`, UserType, []L{{"username", "A@b.c"}}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`, UserType, []L{{"username", "a"}}},
		{`externalId eq "0a21f0f2-8d2a-4f8e-9f1b-1c2d3e4f5a6b"`, UserType, []L{{"externalid", "0a21f0f2-8d2a-4f8e-9f1b-1c2d3e4f5a6b"}}},
		{`externalId eq jyoung`, UserType, []L{{"externalid", "jyoung"}}},
		{`id eq "101"`, UserType, []L{{"id", "101"}}},
		{`id eq 101`, UserType, []L{{"id", "101"}}},
		{`emails.value eq "x@y"`, UserType, []L{{"emails.value", "x@y"}}},
		{`emails eq "x@y"`, UserType, []L{{"emails.value", "x@y"}}},
		{`emails[value eq "x@y"]`, UserType, []L{{"emails.value", "x@y"}}},
		{`emails[type eq "work"].value eq "x@y"`, UserType, []L{{"emails.value", "x@y"}}},
		{`emails[type eq "work" and value eq "x@y"]`, UserType, []L{{"emails.value", "x@y"}}},
		{`emails[value eq "x" or value eq "y"]`, UserType, []L{{"emails.value", "x"}, {"emails.value", "y"}}},
		{`displayName eq "Sales"`, GroupType, []L{{"displayname", "Sales"}}},
		{`externalId eq "g1"`, GroupType, []L{{"externalid", "g1"}}},
		{`id eq "7"`, GroupType, []L{{"id", "7"}}},
		{`displayName eq "x\"y"`, GroupType, []L{{"displayname", `x"y`}}},

		// and: either side that has lookups, the shorter list
		{`userName eq "a" and title co "x"`, UserType, []L{{"username", "a"}}},
		{`title co "x" and externalId eq "e"`, UserType, []L{{"externalid", "e"}}},
		{`(externalId eq "b" or externalId eq "c") and userName eq "a"`, UserType, []L{{"username", "a"}}},
		{`userName eq "a" and (externalId eq "b" or externalId eq "c")`, UserType, []L{{"username", "a"}}},
		{`(externalId eq "b" or externalId eq "c") and title pr`, UserType, []L{{"externalid", "b"}, {"externalid", "c"}}},
		{`title pr and active eq true`, UserType, nil},

		// or: the union, only when every side has lookups
		{`userName eq "a" or externalId eq "b"`, UserType, []L{{"username", "a"}, {"externalid", "b"}}},
		{`userName eq "a" or userName eq "a"`, UserType, []L{{"username", "a"}}},
		{`userName eq "a" or emails[type eq "work"].value eq "a"`, UserType, []L{{"username", "a"}, {"emails.value", "a"}}},
		{`userName eq "a" or title co "x"`, UserType, nil},
		{`emails[type eq "work" or value eq "x"]`, UserType, nil},

		// no lookup shape
		{`displayName eq "Sales"`, UserType, nil},
		{`not (userName eq "a")`, UserType, nil},
		{`userName ne "a"`, UserType, nil},
		{`userName co "a"`, UserType, nil},
		{`userName sw "a"`, UserType, nil},
		{`userName pr`, UserType, nil},
		{`userName eq null`, UserType, nil},
		{`emails.type eq "work"`, UserType, nil},
		{`emails[not (value eq "x")]`, UserType, nil},
		{`name.givenName eq "x"`, UserType, nil},
		{`members.value eq "x"`, GroupType, nil},
		{`meta.lastModified gt "2020-01-01T00:00:00Z"`, UserType, nil},
		{`active eq true`, UserType, nil},
		{fltEnt + `:manager.value eq "42"`, UserType, nil},
	} {
		f := fltParse(t, tc.filter, tc.rt)
		got, ok := f.Candidates()
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseFilter(%q, %s).Candidates() = %v, %v; want %v, %v", tc.filter, tc.rt.Name, got, ok, tc.want, tc.want != nil)
		}
	}
}

// fltSatisfies is how an index answers a lookup, as permissively as Match compares.
func fltSatisfies(r Resource, l Lookup) bool {
	key, sub, _ := strings.Cut(l.Key, ".")
	for _, v := range r.Values(key, sub) {
		s, _ := v.(string)
		if (l.Key == "id" || l.Key == "externalid") && s == l.Value {
			return true
		}
		if l.Key != "id" && l.Key != "externalid" && strings.EqualFold(s, l.Value) {
			return true
		}
	}
	return false
}

// TestFilterCandidatesNeverMiss checks, for every filter of the Match table, that each matching
// user satisfies one of the filter's lookups: the index may over-approximate, never miss.
func TestFilterCandidatesNeverMiss(t *testing.T) {
	withLookups := 0
	for _, tc := range fltMatchCases {
		f := fltParse(t, tc.filter, UserType)
		ls, ok := f.Candidates()
		if !ok {
			continue
		}
		withLookups++
		for _, r := range fltUsers {
			if f.Match(r) && !slices.ContainsFunc(ls, func(l Lookup) bool { return fltSatisfies(r, l) }) {
				t.Errorf("%q matches %s, which satisfies none of its lookups %v", tc.filter, r.name, ls)
			}
		}
	}
	if withLookups < 10 {
		t.Errorf("only %d filters of the table have lookups; the check proves little", withLookups)
	}
}

func TestFoldHelpers(t *testing.T) {
	for _, tc := range []struct {
		s, sub             string
		prefix, suffix, co bool
	}{
		{"Hello World", "hello", true, false, true},
		{"Hello World", "WORLD", false, true, true},
		{"Hello World", "O W", false, false, true},
		{"Hello", "", true, true, true},
		{"", "a", false, false, false},
		{"Straße", "STRASSE", false, false, false}, // simple folding only, like strings.EqualFold
		{"ÅNGSTRÖM", "ångström", true, true, true},
		{"Kelvin", "\u212Aelvin", true, true, true}, // KELVIN SIGN folds to k
		{"aſb", "SB", false, true, true},            // LONG S folds to s
		{"日本語", "本", false, false, true},
		{"ab", "abc", false, false, false},
	} {
		if got := foldHasPrefix(tc.s, tc.sub); got != tc.prefix {
			t.Errorf("foldHasPrefix(%q, %q) = %v", tc.s, tc.sub, got)
		}
		if got := foldHasSuffix(tc.s, tc.sub); got != tc.suffix {
			t.Errorf("foldHasSuffix(%q, %q) = %v", tc.s, tc.sub, got)
		}
		if got := foldContains(tc.s, tc.sub); got != tc.co {
			t.Errorf("foldContains(%q, %q) = %v", tc.s, tc.sub, got)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"abc", "ABC", 0},
		{"abc", "abd", -1},
		{"B", "a", 1},
		{"ab", "abc", -1},
		{"\u212Aelvin", "kelvin", 0},
		{"ſ", "S", 0},
		{"é", "É", 0},
		{"z", "é", -1},
	} {
		if got := foldCompare(tc.a, tc.b); got != tc.want {
			t.Errorf("foldCompare(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
		if (foldCompare(tc.a, tc.b) == 0) != strings.EqualFold(tc.a, tc.b) {
			t.Errorf("foldCompare(%q, %q) disagrees with strings.EqualFold", tc.a, tc.b)
		}
	}
}

func TestFilterConcurrentMatch(t *testing.T) {
	f := fltParse(t, `emails[type eq "work" and value co "example"] or title co "eng"`, UserType)
	done := make(chan []string)
	for range 8 {
		go func() { done <- fltMatching(f, fltUsers) }()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("concurrent Match = %v", got)
		}
	}
}

// fltSeeds is every filter of the tables, for the fuzz corpus.
func fltSeeds() []string {
	var out []string
	for _, tc := range fltMatchCases {
		out = append(out, tc.filter)
	}
	out = append(out, `emails[type eq work].value eq a@b.c`, `userName eq 'o\'neil'`, `displayName eq "\u00e9"`,
		`userName xx "a"`, `(userName eq "a"`, `emails[type[value eq "x"]]`, `$vp0 pr`, `active gt true`,
		`meta.lastModified gt "yesterday"`, `not userName eq "x"`, `emails[type eq "work"].value`, "userName eq \"\xff\"")
	sort.Strings(out)
	return slices.Compact(out)
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range fltSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rt := range []*ResourceType{UserType, GroupType} {
			flt, err := ParseFilter(s, rt)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Type != TypeInvalidFilter || e.Detail == "" {
					t.Fatalf("ParseFilter(%q) error = %#v; want *Error 400 invalidFilter with a detail", s, err)
				}
				continue
			}
			for _, r := range fltUsers {
				flt.Match(r)
			}
			flt.Candidates()
			canon := flt.String()
			if len(canon) > MaxFilterLength {
				continue // quoting unquoted values may grow a filter past the limit
			}
			again, err := ParseFilter(canon, rt)
			if err != nil {
				t.Fatalf("ParseFilter(%q) is %q, which does not parse: %v", s, canon, err)
			}
			if again.String() != canon {
				t.Fatalf("ParseFilter(%q) is %q, which parses to %q", s, canon, again)
			}
			for _, r := range fltUsers {
				if flt.Match(r) != again.Match(r) {
					t.Fatalf("%q and its canonical form %q disagree on %s", s, canon, r.name)
				}
			}
		}
	})
}

// TestFoldCompareAgreesWithEqualFold checks the ordering key against strings.EqualFold on the
// runes where lower-casing leaves the fold orbit.
func TestFoldCompareAgreesWithEqualFold(t *testing.T) {
	for _, pair := range [][2]string{{"İ", "i"}, {"ſ", "s"}, {"K", "k"}, {"ς", "σ"}, {"Σ", "ς"}, {"ǅ", "ǆ"}, {"ı", "I"}} {
		eq := strings.EqualFold(pair[0], pair[1])
		if got := foldCompare(pair[0], pair[1]) == 0; got != eq {
			t.Errorf("foldCompare(%q, %q) == 0 is %v, strings.EqualFold says %v", pair[0], pair[1], got, eq)
		}
	}
}

// TestFilterFastPathAgreesWithFilterParser: the filters built without filter-parser print,
// match and fail exactly like the ones built through it.
func TestFilterFastPathAgreesWithFilterParser(t *testing.T) {
	extra := []string{`userName eq "a\"b"`, `emails.value co "@x.com"`, `name.givenName sw "Al"`,
		`meta.lastModified gt "2020-01-01T00:00:00Z"`, `active eq "true"`, `title eq "\u00e9"`, `bogus eq "x"`,
		`name.bogus eq "x"`, `externalId eq "00u1"`, `id eq "42"`, `userName gt "m"`}
	for _, s := range append(fltSeeds(), extra...) {
		fast, ferr := parseFilter(s, UserType, false)
		slow, serr := parseFilter(s, UserType, true)
		if (ferr == nil) != (serr == nil) {
			t.Errorf("%q: fast error %v, filter-parser error %v", s, ferr, serr)
			continue
		}
		if ferr != nil {
			if asError(ferr).Type != asError(serr).Type || asError(ferr).Status != asError(serr).Status {
				t.Errorf("%q: fast error %v, filter-parser error %v", s, ferr, serr)
			}
			continue
		}
		if fast.String() != slow.String() {
			t.Errorf("%q: fast %q, filter-parser %q", s, fast, slow)
		}
		if f, g := fltMatching(fast, fltUsers), fltMatching(slow, fltUsers); !slices.Equal(f, g) {
			t.Errorf("%q: fast matches %v, filter-parser %v", s, f, g)
		}
		fc, fok := fast.Candidates()
		sc, sok := slow.Candidates()
		if fok != sok || !slices.Equal(fc, sc) {
			t.Errorf("%q: fast candidates %v %v, filter-parser %v %v", s, fc, fok, sc, sok)
		}
	}
}
