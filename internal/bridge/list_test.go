package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// indexBridge is a bridge over an index filled by the caller, for what never calls Domo
// (listing, filtering): its Domo client points at a closed port.
func indexBridge(tb testing.TB, ix *index.Index) *Bridge {
	tb.Helper()
	client, err := domo.New(domo.Config{BaseURL: "http://127.0.0.1:1", ClientID: "id", ClientSecret: "secret", Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "state.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	b, err := New(Config{Domo: client, Store: st, Index: ix, Logger: zerolog.Nop(),
		Mapping: mapping.Options{BaseURL: "https://bridge.test/scim/v2", Roles: mapping.NewRoles(nil), HideDefaultGroup: true}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// plainUser is a user as filters saw it before the fast paths: Values only.
type plainUser struct{ u mapping.User }

func (p plainUser) Values(key, sub string) []any { return p.u.Values(key, sub) }

// viewUsers are users whose attributes cover every type and shape a filter can meet.
func viewUsers() []mapping.User {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	full := mapping.User{
		ID: 1001, ExternalID: "0a21f0f2-8d2a-4bb6", UserName: "Ada.Lovelace@Example.com",
		Name: mapping.Name{Formatted: "Ada Lovelace", FamilyName: "Lovelace", GivenName: "Ada", MiddleName: "King",
			HonorificPrefix: "Lady", HonorificSuffix: "Countess"},
		DisplayName: "Ada Lovelace", NickName: "ada", ProfileURL: "https://example.com/ada", Title: "Senior Engineer",
		UserType: "Employee", PreferredLanguage: "en-GB", Locale: "en-GB", Timezone: "Europe/London", Active: true,
		Emails: []mapping.Multi{{Value: "Ada.Lovelace@Example.com", Type: "work", Primary: true},
			{Value: "ada@home.example", Type: "home"}, {Display: "no value"}},
		PhoneNumbers:     []mapping.Multi{{Value: "+44 20 7946 0000", Type: "work"}, {Value: "+44 7700 900000", Type: "mobile", Primary: true}},
		IMs:              []mapping.Multi{{Value: "ada", Type: "xmpp"}},
		Photos:           []mapping.Multi{{Value: "https://example.com/ada.png", Type: "photo"}},
		Entitlements:     []mapping.Multi{{Value: "engine", Display: "Analytical Engine"}},
		Roles:            []mapping.Multi{{Value: "Editor", Display: "Editor", Primary: true}},
		X509Certificates: []mapping.Multi{{Value: "MIIB"}},
		Addresses: []mapping.Address{{Formatted: "12 St James's Square, London", StreetAddress: "12 St James's Square",
			Locality: "London", Region: "Greater London", PostalCode: "SW1Y 4JH", Country: "GB", Type: "work", Primary: true},
			{Locality: "Ockham", Type: "home"}},
		Enterprise: mapping.Enterprise{EmployeeNumber: "1815", CostCenter: "CC1", Organization: "Babbage & Co",
			Division: "Engines", Department: "Mathematics", Manager: mapping.Manager{Value: "1791", DisplayName: "Charles Babbage"}},
		Created: t0, LastModified: t0.Add(time.Hour),
	}
	inactive := mapping.User{ID: 1002, UserName: "ſam@example.com", DisplayName: "Σίσυφος", Title: "engineer",
		Emails: []mapping.Multi{{Value: "SAM@example.com", Type: "other"}}, Roles: []mapping.Multi{{Display: "Viewer"}}}
	bare := mapping.User{ID: 1003, UserName: "bare", Active: true}
	return []mapping.User{full, inactive, bare}
}

// filtersFor builds, from the schema, a comparison of every attribute and sub-attribute with
// every operator, with operands taken from the users' own values (so that some match, in
// either case) and ones that match nothing, plus value paths and compounds. Filters the
// parser rejects (co on a boolean) are left out.
func filtersFor(rt *scim.ResourceType, users []mapping.User) []*scim.Filter {
	type path struct{ text, key, sub string }
	var paths []path
	add := func(prefix string, attrs schema.Attributes) {
		for _, a := range attrs {
			name := prefix + a.Name()
			key := strings.ToLower(name)
			paths = append(paths, path{name, key, ""})
			for _, s := range a.SubAttributes() {
				paths = append(paths, path{name + "." + s.Name(), key, strings.ToLower(s.Name())})
			}
		}
	}
	add("", rt.Schema.Attributes)
	add("", schema.CommonAttributes())
	for _, e := range rt.Extensions {
		add(e.ID+":", e.Attributes)
	}
	literal := func(v any) []string {
		switch v := v.(type) {
		case string:
			return []string{fmt.Sprintf("%q", v), fmt.Sprintf("%q", strings.ToUpper(v)), fmt.Sprintf("%q", v[:(len(v)+1)/2])}
		case bool:
			return []string{fmt.Sprint(v), fmt.Sprint(!v)}
		case time.Time:
			return []string{fmt.Sprintf("%q", v.Format(time.RFC3339))}
		}
		return nil
	}
	var texts []string
	for _, p := range paths {
		operands := []string{`"zzz-no-match"`, `null`, `1815`}
		seen := map[string]bool{}
		for _, u := range users {
			sub := p.sub
			if sub == "" {
				sub = "value" // a complex attribute compared whole compares its value
			}
			vals := u.Values(p.key, p.sub)
			if p.sub == "" && len(vals) > 0 {
				if _, isMap := vals[0].(map[string]any); isMap {
					vals = u.Values(p.key, sub)
				}
			}
			for _, v := range vals {
				for _, l := range literal(v) {
					if !seen[l] {
						seen[l] = true
						operands = append(operands, l)
					}
				}
			}
		}
		texts = append(texts, p.text+" pr")
		for _, op := range []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"} {
			for _, v := range operands {
				texts = append(texts, p.text+" "+op+" "+v)
			}
		}
	}
	texts = append(texts,
		`emails[type eq "work" and value co "example.com"]`, `emails[primary eq true]`, `emails[not (type eq "work")]`,
		`addresses[locality eq "ockham" or primary eq true]`, `roles[display pr]`, `emails[type eq "work"].value eq "ada.lovelace@example.com"`,
		`phoneNumbers[type eq "mobile" and value sw "+44"]`, `groups[display eq "engines"]`, `groups[value eq "77"]`,
		`title co "eng" and not (emails.type eq "home")`, `userName sw "ada" or name.familyName ew "ACE"`)
	var out []*scim.Filter
	for _, s := range texts {
		if f, err := scim.ParseFilter(s, rt); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// The fast paths (StringValue, Elements) must decide every filter exactly as Values does.
func TestUserViewAgreesWithValues(t *testing.T) {
	users := viewUsers()
	var entries []index.User
	for _, u := range users {
		entries = append(entries, index.NewUser(u, strings.ToLower(u.UserName)))
	}
	ix := index.New()
	ix.Restore(&index.Snapshot{Users: entries, Groups: []index.Group{
		{Group: mapping.Group{ID: 77, DisplayName: "Engines"}, MemberIDs: []int64{1001, 1002}}}})
	b := indexBridge(t, ix)
	opt := b.cfg.Mapping
	filters := filtersFor(scim.UserType, users)
	if len(filters) < 1000 {
		t.Fatalf("only %d filters parsed", len(filters))
	}
	v := b.newUserView(opt)
	hits := 0
	for _, u := range users {
		want := u
		want.Groups = b.groupRefs(u.ID, opt)
		e, _ := ix.User(u.ID)
		for _, f := range filters {
			got, exp := v.of(e).matches(f), f.Match(plainUser{want})
			if got != exp {
				t.Errorf("user %d, filter %s: fast paths say %v, Values says %v", u.ID, f, got, exp)
			}
			if exp {
				hits++
			}
		}
	}
	if hits < len(filters)/4 {
		t.Fatalf("only %d matches over %d filters: the operands miss too often to prove much", hits, len(filters))
	}
}

// StringValue and Elements answer exactly what Values does, attribute by attribute.
func TestUserViewFastPathsAreValues(t *testing.T) {
	users := viewUsers()
	ix := index.New()
	var entries []index.User
	for _, u := range users {
		entries = append(entries, index.NewUser(u, u.UserName))
	}
	ix.Restore(&index.Snapshot{Users: entries})
	b := indexBridge(t, ix)
	v := b.newUserView(b.cfg.Mapping)
	keys := []string{"id", "externalid", "username", "displayname", "nickname", "profileurl", "title", "usertype",
		"preferredlanguage", "locale", "timezone", "active", "name", "emails", "phonenumbers", "ims", "photos",
		"entitlements", "roles", "x509certificates", "addresses", "groups", "meta", "schemas", "nosuch",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeenumber",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager"}
	subs := []string{"", "value", "display", "type", "primary", "givenname", "familyname", "formatted", "locality",
		"displayname", "resourcetype", "version", "created", "nosuch"}
	for _, u := range users {
		e, _ := ix.User(u.ID)
		for _, k := range keys {
			for _, s := range subs {
				want := v.of(e).Values(k, s)
				if got, ok := v.of(e).StringValue(k, s); ok {
					if (got == "" && len(want) != 0) || (got != "" && !slices.Equal(want, []any{got})) {
						t.Errorf("user %d %s.%s: StringValue %q, Values %v", u.ID, k, s, got, want)
					}
				}
				elems, ok := v.of(e).Elements(k)
				if !ok || s == "" {
					continue
				}
				var flat []any
				for _, el := range elems {
					flat = append(flat, el.Values(s, "")...)
				}
				if !slices.Equal(flat, want) && len(flat)+len(want) > 0 {
					t.Errorf("user %d %s.%s: elements give %v, Values %v", u.ID, k, s, flat, want)
				}
			}
		}
	}
}
