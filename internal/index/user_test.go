package index

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// fullUser sets every attribute the index keeps, with repeats that the encoding shares.
func fullUser(id int64) mapping.User {
	created := time.Date(2021, 2, 3, 4, 5, 6, 7, time.FixedZone("MST", -7*3600))
	return mapping.User{
		ID: id, ExternalID: "0a21f0f2-8d2a-4bb6", UserName: "Ada.Lovelace@example.com",
		Name: mapping.Name{Formatted: "Ada Lovelace", FamilyName: "Lovelace", GivenName: "Ada",
			MiddleName: "King", HonorificPrefix: "Lady", HonorificSuffix: "Countess"},
		DisplayName: "Ada Lovelace", NickName: "ada", ProfileURL: "https://example.com/ada",
		Title: "Analyst", UserType: "Employee", PreferredLanguage: "en-GB", Locale: "en-GB",
		Timezone: "Europe/London", Active: false,
		Emails: []mapping.Multi{
			{Value: "Ada.Lovelace@example.com", Type: "work", Primary: true},
			{Value: "ada@home.example", Type: "home"},
			{Display: "no value"},
		},
		PhoneNumbers:     []mapping.Multi{{Value: "+44 20 7946 0000", Type: "work"}, {Value: "+44 7700 900000", Type: "mobile", Primary: true}},
		IMs:              []mapping.Multi{{Value: "ada", Type: "xmpp"}},
		Photos:           []mapping.Multi{{Value: "https://example.com/ada.png", Type: "photo"}},
		Entitlements:     []mapping.Multi{{Value: "engine", Display: "Analytical Engine"}},
		Roles:            []mapping.Multi{{Value: "Editor", Display: "Editor", Primary: true}},
		X509Certificates: []mapping.Multi{{Value: "MIIB"}},
		Addresses: []mapping.Address{
			{Formatted: "12 St James's Square, London", StreetAddress: "12 St James's Square", Locality: "London",
				Region: "Greater London", PostalCode: "SW1Y 4JH", Country: "GB", Type: "work", Primary: true},
			{Locality: "Ockham", Type: "home"},
		},
		Enterprise: mapping.Enterprise{EmployeeNumber: "E-1815", CostCenter: "CC1", Organization: "Babbage & Co",
			Division: "Engines", Department: "Mathematics", Manager: mapping.Manager{Value: "1791", DisplayName: "Charles Babbage"}},
		Domo: mapping.DomoExt{HireDate: "1833-06-05", EmployeeLocation: "London"},
		CustomAttributes: []mapping.CustomAttribute{
			{Key: "costCenter", Values: []string{"CC1"}}, // a back-reference to costCenter's value
			{Key: "region", Values: []string{"EMEA", "UK"}},
			{Key: "badge", Values: []string{"B-7"}, Flat: true},
		},
		Created:      created,
		LastModified: created.Add(90 * time.Minute),
	}
}

// sameUser compares as the index promises: every attribute, times as instants, empty lists
// as absent, groups not kept.
func sameUser(t *testing.T, got, want mapping.User) {
	t.Helper()
	norm := func(u mapping.User) mapping.User {
		u.Groups = nil
		u.Created, u.LastModified = u.Created.UTC(), u.LastModified.UTC()
		for _, l := range []*[]mapping.Multi{&u.Emails, &u.PhoneNumbers, &u.IMs, &u.Photos, &u.Entitlements, &u.Roles, &u.X509Certificates} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if len(u.Addresses) == 0 {
			u.Addresses = nil
		}
		return u
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("user differs:\n got %+v\nwant %+v", g, w)
	}
}

func TestUserEncodingRoundTrips(t *testing.T) {
	long := strings.Repeat("x", 300) // lengths past one varint byte
	cases := []struct {
		name string
		u    mapping.User
		domo string
	}{
		{"every attribute", fullUser(42), "ada.lovelace@example.com"},
		{"empty", mapping.User{ID: 1}, ""},
		{"active only", mapping.User{ID: 2, Active: true, UserName: "x"}, "x"},
		{"non-ASCII and long", mapping.User{ID: 3, Active: true, UserName: "Straße@例え.jp", DisplayName: long,
			Name: mapping.Name{Formatted: long, GivenName: "Ǆ"}, Title: long}, "strasse@example.jp"},
		{"repeats across fields", mapping.User{ID: 4, UserName: "a", DisplayName: "a", ExternalID: "a", Title: "a",
			Emails: []mapping.Multi{{Value: "a", Display: "a", Type: "a"}}}, "a"},
		{"times only", mapping.User{ID: 5, Created: time.Unix(0, 0), LastModified: time.Unix(-62135596799, 999999999)}, ""},
		{"negative id", mapping.User{ID: -7, UserName: "neg"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewUser(c.u, c.domo)
			if e.ID != c.u.ID || e.UserName != c.u.UserName || e.DisplayName != c.u.DisplayName ||
				e.ExternalID != c.u.ExternalID || e.DomoEmail != c.domo || e.Title() != c.u.Title ||
				e.GivenName() != c.u.Name.GivenName || e.FamilyName() != c.u.Name.FamilyName || e.Active() != c.u.Active {
				t.Fatalf("decoded fields wrong: %+v", e)
			}
			sameUser(t, e.SCIM(), c.u)

			// Expanding into a scratch that held a bigger user leaves nothing of it behind.
			scratch := fullUser(99)
			scratch.Groups = []mapping.GroupRef{{Value: "1"}}
			e.Expand(&scratch)
			sameUser(t, scratch, c.u)
			if scratch.Groups != nil {
				t.Fatal("Expand kept groups")
			}
		})
	}
}

func TestUserEncodingSharesRepeats(t *testing.T) {
	u := fullUser(1)
	e := NewUser(u, strings.ToLower(u.UserName))
	// The login differs in case only; the primary email, name.formatted and the role's
	// display repeat other fields and take a back-reference of a few bytes each.
	distinct := 0
	for _, s := range []string{u.ExternalID, u.UserName, "ada.lovelace@example.com", u.DisplayName, u.Title} {
		distinct += len(s)
	}
	if e.Size() > 650 {
		t.Fatalf("encoding of %d bytes for a user whose distinct strings take about %d", e.Size(), distinct)
	}
	if strings.Count(e.data, u.UserName) != 1 || strings.Count(e.data, u.DisplayName) != 1 {
		t.Fatalf("repeated strings stored more than once: %q", e.data)
	}
}

func TestUserFromDataRejectsDamage(t *testing.T) {
	good := NewUser(fullUser(7), "ada@example.com").data
	for n := range len(good) {
		// Every truncation is either a shorter valid encoding or an error: never a panic.
		if u, err := userFromData(7, good[:n]); err == nil && u.ID != 7 {
			t.Fatalf("truncation at %d: %+v", n, u)
		}
	}
	for _, bad := range []string{"\xff", string([]byte{byte(tagUserName), 0x05}), string([]byte{byte(tagUserName), 0xff, 0x01})} {
		if _, err := userFromData(1, bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestFoldKeyIsEqualFold(t *testing.T) {
	// Every rune's key is a member of its folding orbit, and every member of an orbit has the
	// same key: so keys are equal exactly when strings.EqualFold holds.
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		k := foldRune(r)
		if !strings.EqualFold(string(r), string(k)) {
			t.Fatalf("key %U of %U is outside its orbit", k, r)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if foldRune(f) != k {
				t.Fatalf("%U and %U fold together but have keys %U and %U", r, f, k, foldRune(f))
			}
		}
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"Ada@Example.COM", "ada@example.com", true},
		{"ſam", "SAM", true},         // long s
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true}, // final sigma
		{"\u212Aelvin", "kelvin", true},
		{"İstanbul", "istanbul", false}, // lower-cases alike, does not fold alike
		{"straße", "strasse", false},
		{"a\xffb", "a\xfeb", true}, // invalid bytes read as U+FFFD, as EqualFold reads them
	} {
		if got := foldKey(c.a) == foldKey(c.b); got != c.same || got != strings.EqualFold(c.a, c.b) {
			t.Errorf("foldKey(%q) == foldKey(%q) is %v; EqualFold says %v", c.a, c.b, got, strings.EqualFold(c.a, c.b))
		}
	}
	if s := "already.lower@example.com"; foldKey(s) != s || unsafe.StringData(foldKey(s)) != unsafe.StringData(s) {
		t.Error("a lower-case ASCII key is not the string itself")
	}
}
