package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/scimbridge/scimbridge/internal/domo"
)

func TestCreateBodies(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		domain string
		want   domo.User // the POST body's fields
		// checks on the read-back resource (a GET after the create)
		userName, displayName string
		emails                string // JSON of the emails attribute read back
		given, family         string
	}{
		{
			name: "okta", body: oktaCreate,
			want:     domo.User{Name: "Test User", Email: "test.user@okta.local", Role: "Participant", RoleID: 4, Locale: "en-US"},
			userName: "test.user@okta.local", displayName: "Test User", given: "Test", family: "User",
			emails: `[{"primary":true,"type":"work","value":"test.user@okta.local"}]`,
		},
		{
			name: "entra", body: entraCreate,
			want:     domo.User{Name: "Alice Smith", Email: "alice@contoso.com", Role: "Participant", RoleID: 4, EmployeeID: "Eqpj", Department: "Finance"},
			userName: "alice@contoso.com", displayName: "Alice Smith", given: "Alice", family: "Smith",
			emails: `[{"primary":true,"type":"work","value":"alice@contoso.com"}]`,
		},
		{
			name: "microsoft UserName123 with login domain", body: msUserName123, domain: "example.org",
			want: domo.User{Name: "BobIsAmazing", Email: "username123@example.org", AlternateEmail: "Test@testdomain.com",
				Role: "Participant", RoleID: 4},
			userName: "UserName123", displayName: "BobIsAmazing", given: "Ryan", family: "Leenay",
			emails: `[{"primary":true,"type":"work","value":"Test@testdomain.com"},{"type":"home","value":"emailName357"}]`,
		},
		{
			name: "microsoft UserName123 without login domain uses the work email", body: msUserName123,
			want:     domo.User{Name: "BobIsAmazing", Email: "Test@testdomain.com", Role: "Participant", RoleID: 4},
			userName: "UserName123", displayName: "BobIsAmazing", given: "Ryan", family: "Leenay",
			emails: `[{"primary":true,"type":"work","value":"Test@testdomain.com"},{"type":"home","value":"emailName357"}]`,
		},
		{
			name: "microsoft OMalley with login domain", body: msOMalley, domain: "example.org",
			want: domo.User{Name: "Sean O'Malley", Email: "omalley@example.org", AlternateEmail: "Test@testdomain.com",
				Role: "Participant", RoleID: 4},
			userName: "OMalley", displayName: "Sean O'Malley", given: "Sean", family: "O'Malley",
			emails: `[{"primary":true,"type":"work","value":"Test@testdomain.com"}]`,
		},
		{
			name: "microsoft emp3 with login domain", body: msEmp3, domain: "example.org",
			want:     domo.User{Name: "emp3", Email: "emp3@example.org", Role: "Participant", RoleID: 4},
			userName: "emp3", displayName: "emp3",
			emails: `[{"primary":true,"type":"work","value":"emailName357"}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOpts()
			opt.LoginDomain = tt.domain
			u, err := UserFromAttributes(decode(t, tt.body))
			if err != nil {
				t.Fatalf("UserFromAttributes: %v", err)
			}
			upd, _, err := UserToDomo(u, domo.User{}, nil, opt)
			if err != nil {
				t.Fatalf("UserToDomo: %v", err)
			}
			if !reflect.DeepEqual(upd.User, tt.want) || len(upd.Clear) != 0 {
				t.Errorf("POST body = %+v clear %v\nwant %+v", upd.User, upd.Clear, tt.want)
			}
			if body := jsonString(t, upd); strings.Contains(body, "password") || strings.Contains(body, "1mz050nq") {
				t.Errorf("POST body carries the password: %s", body)
			}

			tn := newTenant()
			d, sh := tn.create(t, decode(t, tt.body), opt)
			got, attrs := read(t, d, storeShadow(t, sh), opt)
			if got.UserName != tt.userName || got.DisplayName != tt.displayName {
				t.Errorf("read userName %q displayName %q, want %q %q", got.UserName, got.DisplayName, tt.userName, tt.displayName)
			}
			if got.Name.GivenName != tt.given || got.Name.FamilyName != tt.family {
				t.Errorf("read name %+v, want given %q family %q", got.Name, tt.given, tt.family)
			}
			if e := jsonString(t, attrs["emails"]); e != tt.emails {
				t.Errorf("read emails %s\nwant %s", e, tt.emails)
			}
			if _, ok := attrs["password"]; ok {
				t.Error("read returns a password")
			}
			if !got.Active {
				t.Error("read active = false")
			}
			want := decode(t, tt.body)
			if ext, _ := want["externalId"].(string); got.ExternalID != ext {
				t.Errorf("read externalId %q, want %q", got.ExternalID, ext)
			}
			// Reading back and writing what was read changes nothing.
			if _, _, changed := tn.replace(t, got, d, sh, opt); len(changed) != 0 {
				t.Errorf("no-op write after create changes %v", changed)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		userName string
		emails   []Multi
		domain   string
		want     string
		wantErr  string
	}{
		{name: "address", userName: "Bob.Smith@Example.com", want: "Bob.Smith@Example.com"},
		{name: "address wins over domain", userName: "bob@example.com", domain: "corp.example", want: "bob@example.com"},
		{name: "domain", userName: "OMalley", domain: "corp.example", want: "omalley@corp.example"},
		{name: "domain with leading @", userName: "emp3", domain: "@corp.example", want: "emp3@corp.example"},
		{name: "sanitised", userName: "Jöhn Smith/IT", domain: "corp.example", want: "j-hn-smith-it@corp.example"},
		{name: "windows login", userName: `CONTOSO\jdoe`, domain: "corp.example", want: "contoso-jdoe@corp.example"},
		{name: "keeps . _ - +", userName: "a.b_c-d+e", domain: "corp.example", want: "a.b_c-d+e@corp.example"},
		{name: "nothing left", userName: "ñ°", domain: "corp.example", wantErr: "userName has no letters or digits"},
		{name: "primary email", userName: "UserName123", emails: []Multi{{Value: "x@y.example", Type: "home"}, {Value: "p@y.example", Primary: true}}, want: "p@y.example"},
		{name: "work email", userName: "u1", emails: []Multi{{Value: "h@y.example", Type: "home"}, {Value: "w@y.example", Type: "work"}}, want: "w@y.example"},
		{name: "first email", userName: "u1", emails: []Multi{{Value: "h@y.example", Type: "home"}, {Value: "o@y.example", Type: "other"}}, want: "h@y.example"},
		{name: "primary not an address", userName: "u1", emails: []Multi{{Value: "emailName357", Primary: true}, {Value: "w@y.example", Type: "work"}},
			wantErr: "userName is not an email address and no email address was given to use as the Domo login"},
		{name: "no emails", userName: "u1", wantErr: "userName is not an email address and no email address was given to use as the Domo login"},
		{name: "dotless domain is not an address", userName: "bob@localhost", wantErr: "not an email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := testOpts()
			opt.LoginDomain = tt.domain
			u := User{UserName: tt.userName, Emails: tt.emails, Active: true}
			upd, _, err := UserToDomo(u, domo.User{}, nil, opt)
			if tt.wantErr != "" {
				ve := asValueError(t, err)
				if ve.Attr != "userName" || !strings.Contains(ve.Detail, tt.wantErr) {
					t.Fatalf("error %+v, want userName: %q", ve, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "userName") {
					t.Errorf("Error() = %q does not name the attribute", err.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("UserToDomo: %v", err)
			}
			if upd.User.Email != tt.want {
				t.Errorf("email = %q, want %q", upd.User.Email, tt.want)
			}
		})
	}
}

func TestWellFormedEmail(t *testing.T) {
	good := []string{"a@b.co", "first.last+tag@sub.example.com", "o'malley@example.ie", "UPPER@EXAMPLE.COM", "x_y-z@a-b.example"}
	bad := []string{"", "emailName357", "a@b", "@b.co", "a@", "a@@b.co", "a b@c.co", "a@b..co", "a@-b.co", ".a@b.co", "a.@b.co",
		"a..b@c.co", "Bob <bob@x.co>", "a@b.co ", "a@b_c.co", "\"a\"@b.co"}
	for _, s := range good {
		if !wellFormedEmail(s) {
			t.Errorf("wellFormedEmail(%q) = false", s)
		}
	}
	for _, s := range bad {
		if wellFormedEmail(s) {
			t.Errorf("wellFormedEmail(%q) = true", s)
		}
	}
}

func TestDomoName(t *testing.T) {
	tests := []struct {
		name string
		u    User
		want string
	}{
		{"displayName", User{DisplayName: "Dee", Name: Name{Formatted: "F", GivenName: "G", FamilyName: "H"}, UserName: "u@x.co"}, "Dee"},
		{"formatted", User{Name: Name{Formatted: "Ms Fran Smith", GivenName: "Fran", FamilyName: "Smith"}, UserName: "u@x.co"}, "Ms Fran Smith"},
		{"given family", User{Name: Name{GivenName: " Fran ", FamilyName: "Smith"}, UserName: "u@x.co"}, "Fran Smith"},
		{"given only", User{Name: Name{GivenName: "Fran"}, UserName: "u@x.co"}, "Fran"},
		{"blank displayName skipped", User{DisplayName: "  ", Name: Name{FamilyName: "Smith"}, UserName: "u@x.co"}, "Smith"},
		{"userName", User{UserName: "u@x.co"}, "u@x.co"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.u.Active = true
			upd, _, err := UserToDomo(tt.u, domo.User{}, nil, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if upd.User.Name != tt.want {
				t.Errorf("Domo name = %q, want %q", upd.User.Name, tt.want)
			}
		})
	}
}

// domoUser is a user as an admin made it in Domo's UI: the bridge never wrote it.
func domoUser() domo.User {
	return domo.User{
		ID: 959463190, Name: "Dana Q Scully", Email: "dana.scully@fbi.example", AlternateEmail: "dana@home.example",
		Role: "Editor", RoleID: 3, Title: "Special Agent", Phone: "+1 202 555 0100", Location: "Washington, DC, US",
		Timezone: "America/New_York", Locale: "en-US", EmployeeNumber: 4242, EmployeeID: "X-4242", Department: "Basement",
		CreatedAt: domo.Time{Time: t0}, UpdatedAt: domo.Time{Time: t1},
		Groups: []domo.GroupRef{{ID: 1324037627, Name: "Default"}, {ID: 2079369920, Name: "X Files"}},
	}
}

func TestUserFromDomoWithoutShadow(t *testing.T) {
	opt := testOpts()
	u := UserFromDomo(domoUser(), nil, opt)
	got := jsonString(t, u.Attributes(opt))
	want := `{"active":true,"addresses":[{"formatted":"Washington, DC, US","type":"work"}],"displayName":"Dana Q Scully",` +
		`"emails":[{"primary":true,"type":"work","value":"dana.scully@fbi.example"},{"type":"other","value":"dana@home.example"}],` +
		`"groups":[{"$ref":"` + base + `/Groups/1324037627","display":"Default","type":"direct","value":"1324037627"},` +
		`{"$ref":"` + base + `/Groups/2079369920","display":"X Files","type":"direct","value":"2079369920"}],` +
		`"id":"959463190","locale":"en-US","meta":{"created":"2024-03-01T09:30:00Z","lastModified":"2024-03-02T10:00:00Z",` +
		`"location":"` + base + `/Users/959463190","resourceType":"User","version":"` + strings.ReplaceAll(u.Version(), `"`, `\"`) + `"},` +
		`"name":{"familyName":"Q Scully","formatted":"Dana Q Scully","givenName":"Dana"},` +
		`"phoneNumbers":[{"type":"work","value":"+1 202 555 0100"}],` +
		`"roles":[{"display":"Editor","primary":true,"value":"Editor"}],` +
		`"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"timezone":"America/New_York","title":"Special Agent",` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Basement","employeeNumber":"X-4242"},` +
		`"userName":"dana.scully@fbi.example"}`
	if got != want {
		t.Errorf("Attributes =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "null") {
		t.Error("attributes carry null")
	}
}

func TestNameFromDomo(t *testing.T) {
	tests := []struct{ in, given, family string }{
		{"Ada Lovelace", "Ada", "Lovelace"},
		{"Ada King Lovelace", "Ada", "King Lovelace"},
		{"Cher", "", ""},
		{"  Ada   Lovelace ", "Ada", "Lovelace"},
		{"", "", ""},
	}
	for _, tt := range tests {
		n := nameFromDomo(tt.in)
		if n.Formatted != tt.in || n.GivenName != tt.given || n.FamilyName != tt.family {
			t.Errorf("nameFromDomo(%q) = %+v, want given %q family %q", tt.in, n, tt.given, tt.family)
		}
	}
}

func TestHideDefaultGroup(t *testing.T) {
	opt := testOpts()
	opt.HideDefaultGroup = true
	u := UserFromDomo(domoUser(), nil, opt)
	if len(u.Groups) != 1 || u.Groups[0] != (GroupRef{Value: "2079369920", Display: "X Files"}) {
		t.Errorf("groups = %+v, want only X Files", u.Groups)
	}
	d := domoUser()
	d.Groups = d.Groups[:1]
	if u := UserFromDomo(d, nil, opt); u.Groups != nil {
		t.Errorf("groups = %+v, want none", u.Groups)
	}
	d.Groups = nil // list rows carry no groups
	if _, ok := func() *User { u := UserFromDomo(d, nil, testOpts()); return &u }().Attributes(opt)["groups"]; ok {
		t.Error("groups attribute present without groups")
	}
}

// TestChangedBehindTheBridgesBack: an admin edits the user in Domo; reads follow Domo for the
// attributes whose Domo value moved and keep the IdP's values for the rest.
func TestChangedBehindTheBridgesBack(t *testing.T) {
	opt := testOpts()
	tn := newTenant()
	d, sh := tn.create(t, decode(t, `{"userName":"Pat.Doe@Example.com","displayName":"Pat Doe",
		"name":{"givenName":"Patricia","familyName":"Doe","honorificPrefix":"Dr"},
		"emails":[{"value":"Pat.Doe@Example.com","type":"work","primary":true},{"value":"pat@home.example","type":"home"}],
		"phoneNumbers":[{"value":"555-0100","type":"work"}],"title":"Engineer","roles":[{"value":"editor","primary":true}],
		"addresses":[{"locality":"Oslo","country":"NO","type":"work"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","employeeNumber":"E7","costCenter":"CC1"}}`), opt)

	tests := []struct {
		name  string
		edit  func(*domo.User)
		check func(t *testing.T, u User)
	}{
		{"renamed", func(d *domo.User) { d.Name = "Patricia Doe-Smith" }, func(t *testing.T, u User) {
			if u.DisplayName != "Patricia Doe-Smith" || u.Name != (Name{Formatted: "Patricia Doe-Smith"}) && u.Name != nameFromDomo("Patricia Doe-Smith") {
				t.Errorf("displayName %q name %+v, want Domo's name and derived parts", u.DisplayName, u.Name)
			}
			if u.Name.HonorificPrefix != "" {
				t.Error("stale name parts kept after a rename")
			}
			if u.Title != "Engineer" || u.UserName != "Pat.Doe@Example.com" {
				t.Errorf("unrelated attributes changed: title %q userName %q", u.Title, u.UserName)
			}
		}},
		{"email changed", func(d *domo.User) { d.Email = "pdoe@example.com" }, func(t *testing.T, u User) {
			if u.UserName != "pdoe@example.com" {
				t.Errorf("userName %q, want Domo's email", u.UserName)
			}
			want := []Multi{{Value: "pdoe@example.com", Type: "work", Primary: true}, {Value: "pat@home.example", Type: "other"}}
			if !slices.Equal(u.Emails, want) {
				t.Errorf("emails %+v, want derived %+v", u.Emails, want)
			}
		}},
		{"email case changed", func(d *domo.User) { d.Email = "pat.doe@example.com" }, func(t *testing.T, u User) {
			if u.UserName != "Pat.Doe@Example.com" || len(u.Emails) != 2 || u.Emails[1].Type != "home" {
				t.Errorf("userName %q emails %+v, want as the IdP wrote them", u.UserName, u.Emails)
			}
		}},
		{"role changed", func(d *domo.User) { d.Role, d.RoleID = "Admin", 1 }, func(t *testing.T, u User) {
			if want := []Multi{{Value: "Admin", Display: "Admin", Primary: true}}; !slices.Equal(u.Roles, want) {
				t.Errorf("roles %+v, want %+v", u.Roles, want)
			}
		}},
		{"phone changed", func(d *domo.User) { d.Phone = "555-0199" }, func(t *testing.T, u User) {
			if want := []Multi{{Value: "555-0199", Type: "work"}}; !slices.Equal(u.PhoneNumbers, want) {
				t.Errorf("phones %+v, want %+v", u.PhoneNumbers, want)
			}
		}},
		{"location changed", func(d *domo.User) { d.Location = "Bergen" }, func(t *testing.T, u User) {
			if want := []Address{{Formatted: "Bergen", Type: "work"}}; !slices.Equal(u.Addresses, want) {
				t.Errorf("addresses %+v, want %+v", u.Addresses, want)
			}
		}},
		{"title, department, employee id changed", func(d *domo.User) { d.Title, d.Department, d.EmployeeID = "Lead", "Ops", "E8" },
			func(t *testing.T, u User) {
				if u.Title != "Lead" || u.Enterprise.Department != "Ops" || u.Enterprise.EmployeeNumber != "E8" {
					t.Errorf("title %q department %q employeeNumber %q, want Domo's", u.Title, u.Enterprise.Department, u.Enterprise.EmployeeNumber)
				}
				if u.Enterprise.CostCenter != "CC1" {
					t.Errorf("costCenter %q, want the shadow's", u.Enterprise.CostCenter)
				}
			}},
		{"nothing changed", func(*domo.User) {}, func(t *testing.T, u User) {
			if u.Name.HonorificPrefix != "Dr" || u.Roles[0].Value != "editor" || u.Addresses[0].Locality != "Oslo" || u.PhoneNumbers[0].Value != "555-0100" {
				t.Errorf("shadow attributes lost: %+v", u)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := d
			tt.edit(&edited)
			edited.UpdatedAt = domo.Time{Time: t1.Add(48 * time.Hour)}
			u, _ := read(t, edited, storeShadow(t, sh), opt)
			tt.check(t, u)
			// Writing back what was read changes nothing in Domo, and the new shadow is a
			// fixed point.
			upd, sh2, err := UserToDomo(u, edited, sh, opt)
			if err != nil {
				t.Fatal(err)
			}
			if c := ChangedFields(upd, edited); len(c) != 0 {
				t.Errorf("write-back changes %v", c)
			}
			u2, _ := read(t, edited, &sh2, opt)
			if !reflect.DeepEqual(u2, u) {
				t.Errorf("read with the new shadow differs:\n%+v\n%+v", u2, u)
			}
		})
	}
}

// TestNormalisedValuesReadBack: Domo lower-cases emails and trims titles here; reads still show
// what the IdP wrote, and writing that back sends nothing.
func TestNormalisedValuesReadBack(t *testing.T) {
	opt := testOpts()
	tn := newTenant()
	tn.norm = func(d *domo.User) {
		d.Email = strings.ToLower(d.Email)
		d.Title = strings.TrimSpace(d.Title)
		d.Name = strings.TrimSpace(d.Name)
		d.Timezone = strings.ReplaceAll(d.Timezone, "US/Eastern", "America/New_York")
		d.Locale = strings.ReplaceAll(d.Locale, "-", "_")
	}
	d, sh := tn.create(t, decode(t, `{"userName":"Mixed.Case@Example.COM","displayName":" Padded Name ","title":"  CTO ",
		"timezone":"US/Eastern","locale":"en-GB"}`), opt)
	if d.Email != "mixed.case@example.com" || d.Title != "CTO" || d.Locale != "en_GB" {
		t.Fatalf("tenant did not normalise: %+v", d)
	}
	// The create response has no timezone or locale, so what Domo made of them shows only in
	// a GET: until the bridge rebases on one, reads show Domo's values for those two.
	u, _ := read(t, d, storeShadow(t, sh), opt)
	if u.Timezone != "America/New_York" || u.Locale != "en_GB" {
		t.Errorf("read timezone %q locale %q before a GET rebase, want Domo's", u.Timezone, u.Locale)
	}
	// The IdP corrects them once; the PUT response shows Domo's form, and from then on they
	// read back as sent.
	u.Timezone, u.Locale = "US/Eastern", "en-GB"
	d2, sh2, changed := tn.replace(t, u, d, sh, opt)
	if !slices.Equal(changed, []string{domo.FieldTimezone, domo.FieldLocale}) {
		t.Errorf("changed %v, want timezone and locale", changed)
	}
	if u2, _ := read(t, d2, sh2, opt); u2.Timezone != "US/Eastern" || u2.Locale != "en-GB" {
		t.Errorf("read timezone %q locale %q after the PUT", u2.Timezone, u2.Locale)
	}

	// With a GET after the create (rebase on it), everything reads back as sent at once.
	sh.Rebase(d)
	u, _ = read(t, d, storeShadow(t, sh), opt)
	if u.UserName != "Mixed.Case@Example.COM" || u.Title != "  CTO " || u.DisplayName != " Padded Name " ||
		u.Timezone != "US/Eastern" || u.Locale != "en-GB" {
		t.Errorf("read %q %q %q %q %q, want the values as sent", u.UserName, u.Title, u.DisplayName, u.Timezone, u.Locale)
	}
	if _, _, changed := tn.replace(t, u, d, sh, opt); len(changed) != 0 {
		t.Errorf("no-op write changes %v", changed)
	}
}

func TestCreateResponseWithoutTimezoneKeepsBasis(t *testing.T) {
	opt := testOpts()
	u := User{UserName: "tz@example.com", Timezone: "Europe/Oslo", Locale: "nb-NO", Active: true}
	_, sh, err := UserToDomo(u, domo.User{}, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	sh.Rebase(domo.User{ID: 5, Email: "tz@example.com", Name: "tz@example.com", Role: "Participant", RoleID: 4})
	if sh.Basis.Timezone != "Europe/Oslo" || sh.Basis.Locale != "nb-NO" {
		t.Errorf("basis after create %+v, want the values sent", sh.Basis)
	}
	// An update response is taken as it is: Domo ignored the timezone this time.
	sh.Basis.Timezone = "X"
	cur := domo.User{ID: 5, Email: "tz@example.com", Name: "tz@example.com", Role: "Participant", RoleID: 4, Timezone: "X"}
	_, sh2, err := UserToDomo(User{UserName: "tz@example.com", Timezone: "Europe/Paris", Active: true}, cur, &sh, opt)
	if err != nil {
		t.Fatal(err)
	}
	sh2.Rebase(domo.User{ID: 5, Email: "tz@example.com", Name: "tz@example.com", Role: "Participant", RoleID: 4})
	if sh2.Basis.Timezone != "" {
		t.Errorf("basis timezone after update %q, want Domo's empty value", sh2.Basis.Timezone)
	}
	// So the value reads back as sent while Domo keeps ignoring it.
	if got := UserFromDomo(domo.User{ID: 5, Email: "tz@example.com", Role: "Participant", RoleID: 4}, &sh2, opt); got.Timezone != "Europe/Paris" {
		t.Errorf("timezone read %q, want Europe/Paris", got.Timezone)
	}
}

func TestEmployeeNumber(t *testing.T) {
	opt := testOpts()
	t.Run("non-numeric goes to employeeId and round-trips", func(t *testing.T) {
		tn := newTenant()
		d, sh := tn.create(t, decode(t, entraCreate), opt)
		if d.EmployeeID != "Eqpj" || d.EmployeeNumber != 0 {
			t.Fatalf("Domo employeeId %q employeeNumber %d", d.EmployeeID, d.EmployeeNumber)
		}
		u, attrs := read(t, d, sh, opt)
		ext := attrs[URNEnterprise].(map[string]any)
		if ext["employeeNumber"] != "Eqpj" || u.Enterprise.EmployeeNumber != "Eqpj" {
			t.Errorf("enterprise read back %v", ext)
		}
	})
	t.Run("a Domo that ignores employeeId still reads it back", func(t *testing.T) {
		tn := newTenant()
		tn.norm = func(d *domo.User) { d.EmployeeID = "" }
		d, sh := tn.create(t, decode(t, entraCreate), opt)
		u, _ := read(t, d, storeShadow(t, sh), opt)
		if u.Enterprise.EmployeeNumber != "Eqpj" {
			t.Errorf("employeeNumber %q, want Eqpj", u.Enterprise.EmployeeNumber)
		}
		if _, _, changed := tn.replace(t, u, d, sh, opt); len(changed) != 0 {
			t.Errorf("no-op write changes %v: it would PUT forever", changed)
		}
	})
	t.Run("Domo's integer employeeNumber is kept, never written", func(t *testing.T) {
		cur := domoUser()
		u := UserFromDomo(cur, nil, opt)
		u.Enterprise.EmployeeNumber = "12345"
		upd, _, err := UserToDomo(u, cur, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		if upd.User.EmployeeNumber != 4242 || upd.User.EmployeeID != "12345" {
			t.Errorf("employeeNumber %d employeeId %q", upd.User.EmployeeNumber, upd.User.EmployeeID)
		}
		if c := ChangedFields(upd, cur); !slices.Equal(c, []string{domo.FieldEmployeeID}) {
			t.Errorf("changed %v, want only employeeId", c)
		}
	})
	t.Run("with NumericEmployeeNumber, digits also go to the integer field", func(t *testing.T) {
		num := opt
		num.NumericEmployeeNumber = true
		cur := domoUser() // employeeNumber 4242
		for _, tc := range []struct {
			in   string
			want domo.Int
		}{
			{"12345", 12345},
			{" 007 ", 7},
			{"E123", 4242},                // not a number: Domo's stays
			{"-5", 4242},                  // not digits
			{"1234567890123456789", 4242}, // too long for the field
			{"0", 4242},
			{"", 4242},
		} {
			u := UserFromDomo(cur, nil, num)
			u.Enterprise.EmployeeNumber = tc.in
			upd, _, err := UserToDomo(u, cur, nil, num)
			if err != nil {
				t.Fatal(err)
			}
			if upd.User.EmployeeNumber != tc.want {
				t.Errorf("%q: employeeNumber %d, want %d", tc.in, upd.User.EmployeeNumber, tc.want)
			}
		}
		// Once written, the same value is no change.
		cur.EmployeeNumber, cur.EmployeeID = 12345, "12345"
		u := UserFromDomo(cur, nil, num)
		upd, _, _ := UserToDomo(u, cur, nil, num)
		if c := ChangedFields(upd, cur); len(c) != 0 {
			t.Errorf("no-op write changes %v", c)
		}
	})
}

func TestUserRoles(t *testing.T) {
	opt := testOpts()
	cur := domoUser() // Editor, 3
	tests := []struct {
		name     string
		roles    []Multi
		cur      domo.User
		wantRole string
		wantID   domo.Int
		wantErr  string
	}{
		{name: "name, any case", roles: []Multi{{Value: "aDmIn"}}, cur: cur, wantRole: "Admin", wantID: 1},
		{name: "id", roles: []Multi{{Value: "2"}}, cur: cur, wantRole: "Privileged", wantID: 2},
		{name: "display when no value", roles: []Multi{{Display: "social"}}, cur: cur, wantRole: "Social", wantID: 5},
		{name: "primary wins", roles: []Multi{{Value: "Social"}, {Value: "Admin", Primary: true}}, cur: cur, wantRole: "Admin", wantID: 1},
		{name: "first without primary", roles: []Multi{{Value: "Social"}, {Value: "Admin"}}, cur: cur, wantRole: "Social", wantID: 5},
		{name: "custom role by name", roles: []Multi{{Value: "report viewer"}}, cur: cur, wantRole: "Report Viewer", wantID: 2097317660},
		{name: "custom role by id", roles: []Multi{{Value: "2097317660"}}, cur: cur, wantRole: "Report Viewer", wantID: 2097317660},
		{name: "unknown", roles: []Multi{{Value: "Wizard"}}, cur: cur, wantErr: `unknown Domo role "Wizard"`},
		{name: "unknown id", roles: []Multi{{Value: "77"}}, cur: cur, wantErr: `unknown Domo role "77"`},
		{name: "none on update keeps cur", cur: cur, wantRole: "Editor", wantID: 3},
		{name: "none on create is the default", cur: domo.User{}, wantRole: "Participant", wantID: 4},
		{name: "same role in another case keeps cur", roles: []Multi{{Value: "EDITOR"}}, cur: cur, wantRole: "Editor", wantID: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{UserName: "dana.scully@fbi.example", DisplayName: "Dana Q Scully", Roles: tt.roles, Active: true}
			upd, _, err := UserToDomo(u, tt.cur, nil, opt)
			if tt.wantErr != "" {
				ve := asValueError(t, err)
				if ve.Attr != "roles" || ve.Detail != tt.wantErr {
					t.Fatalf("error %+v, want roles: %s", ve, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if upd.User.Role != tt.wantRole || upd.User.RoleID != tt.wantID {
				t.Errorf("role %q %d, want %q %d", upd.User.Role, upd.User.RoleID, tt.wantRole, tt.wantID)
			}
		})
	}
	t.Run("configured default", func(t *testing.T) {
		opt := testOpts()
		opt.DefaultRole = "social"
		upd, _, err := UserToDomo(User{UserName: "a@b.co", Active: true}, domo.User{}, nil, opt)
		if err != nil || upd.User.Role != "Social" || upd.User.RoleID != 5 {
			t.Errorf("role %q %d err %v, want Social 5", upd.User.Role, upd.User.RoleID, err)
		}
		opt.DefaultRole = "Nobody"
		_, _, err = UserToDomo(User{UserName: "a@b.co", Active: true}, domo.User{}, nil, opt)
		if err == nil {
			t.Fatal("unknown default role accepted")
		}
		if ve := (*ValueError)(nil); errorsAs(err, &ve) {
			t.Errorf("a bad default role is the operator's fault, not a ValueError: %v", err)
		}
	})
	t.Run("read as sent while Domo keeps the role", func(t *testing.T) {
		tn := newTenant()
		d, sh := tn.create(t, decode(t, `{"userName":"r@x.co","roles":[{"value":"4","type":"WindowsAzureActiveDirectoryRole","primary":true}]}`), opt)
		if d.Role != "Participant" {
			t.Fatalf("Domo role %q", d.Role)
		}
		u, _ := read(t, d, sh, opt)
		if want := []Multi{{Value: "4", Type: "WindowsAzureActiveDirectoryRole", Primary: true}}; !slices.Equal(u.Roles, want) {
			t.Errorf("roles %+v, want %+v", u.Roles, want)
		}
	})
	t.Run("a role gone from the catalogue does not block other changes", func(t *testing.T) {
		tn := newTenant()
		d, sh := tn.create(t, decode(t, `{"userName":"r@x.co","roles":[{"value":"Report Viewer"}]}`), opt)
		smaller := opt
		smaller.Roles = NewRoles(nil)
		u, _ := read(t, d, sh, smaller)
		u.Title = "New title"
		_, _, changed := tn.replace(t, u, d, sh, smaller)
		if !slices.Equal(changed, []string{domo.FieldTitle}) {
			t.Errorf("changed %v, want title only", changed)
		}
	})
	t.Run("derived from Domo without a shadow", func(t *testing.T) {
		for _, tt := range []struct {
			d    domo.User
			want []Multi
		}{
			{domo.User{Role: "Editor", RoleID: 3}, []Multi{{Value: "Editor", Display: "Editor", Primary: true}}},
			{domo.User{RoleID: 2097317660}, []Multi{{Value: "Report Viewer", Display: "Report Viewer", Primary: true}}},
			{domo.User{Role: "privileged"}, []Multi{{Value: "Privileged", Display: "Privileged", Primary: true}}},
			{domo.User{Role: "Mystery", RoleID: 99}, []Multi{{Value: "Mystery", Display: "Mystery", Primary: true}}},
			{domo.User{RoleID: 99}, []Multi{{Value: "99", Display: "99", Primary: true}}},
			{domo.User{}, nil},
		} {
			if got := UserFromDomo(tt.d, nil, opt).Roles; !slices.Equal(got, tt.want) {
				t.Errorf("roles of %+v = %+v, want %+v", tt.d, got, tt.want)
			}
		}
	})
}

func errorsAs(err error, target **ValueError) bool {
	ve, ok := err.(*ValueError)
	if ok {
		*target = ve
	}
	return ok
}

func TestEmailsAndAlternate(t *testing.T) {
	opt := testOpts()
	tests := []struct {
		name      string
		emails    []Multi
		userName  string
		cur       domo.User
		prev      func() *UserShadow
		wantAlt   string
		wantClear bool
	}{
		{name: "alternate type first", userName: "a@x.co",
			emails:  []Multi{{Value: "a@x.co", Type: "work", Primary: true}, {Value: "h@x.co", Type: "home"}, {Value: "alt@x.co", Type: "alternate"}},
			wantAlt: "alt@x.co"},
		{name: "other before home", userName: "a@x.co",
			emails:  []Multi{{Value: "h@x.co", Type: "home"}, {Value: "o@x.co", Type: "other"}},
			wantAlt: "o@x.co"},
		{name: "untyped", userName: "a@x.co", emails: []Multi{{Value: "A@X.CO"}, {Value: "z@x.co"}}, wantAlt: "z@x.co"},
		{name: "not an address skipped", userName: "a@x.co", emails: []Multi{{Value: "emailName357", Type: "other"}, {Value: "w@x.co", Type: "work"}}, wantAlt: "w@x.co"},
		{name: "only the login", userName: "a@x.co", emails: []Multi{{Value: "a@x.co", Type: "work"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{UserName: tt.userName, Emails: tt.emails, Active: true}
			upd, sh, err := UserToDomo(u, domo.User{}, nil, opt)
			if err != nil {
				t.Fatal(err)
			}
			if upd.User.AlternateEmail != tt.wantAlt {
				t.Errorf("alternateEmail %q, want %q", upd.User.AlternateEmail, tt.wantAlt)
			}
			if !slices.Equal(sh.Emails, normalized(u).Emails) {
				t.Errorf("shadow emails %+v, want as sent", sh.Emails)
			}
		})
	}

	t.Run("the IdP removes the alternate it wrote: cleared", func(t *testing.T) {
		tn := newTenant()
		d, sh := tn.create(t, decode(t, `{"userName":"a@x.co","emails":[{"value":"a@x.co","type":"work","primary":true},{"value":"b@x.co","type":"other"}]}`), opt)
		if d.AlternateEmail != "b@x.co" {
			t.Fatalf("alternate %q", d.AlternateEmail)
		}
		u, _ := read(t, d, sh, opt)
		u.Emails = u.Emails[:1]
		upd, _, err := UserToDomo(u, d, sh, opt)
		if err != nil {
			t.Fatal(err)
		}
		if upd.User.AlternateEmail != "" || !slices.Equal(upd.Clear, []string{domo.FieldAlternateEmail}) {
			t.Errorf("alternate %q clear %v, want cleared", upd.User.AlternateEmail, upd.Clear)
		}
		if !strings.Contains(jsonString(t, upd), `"alternateEmail":""`) {
			t.Errorf("PUT body does not clear: %s", jsonString(t, upd))
		}
	})
	t.Run("an admin's alternate the IdP never sent survives", func(t *testing.T) {
		cur := domoUser()
		u := User{UserName: cur.Email, DisplayName: cur.Name, Emails: []Multi{{Value: cur.Email, Type: "work", Primary: true}}, Active: true}
		upd, sh, err := UserToDomo(u, cur, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		if upd.User.AlternateEmail != cur.AlternateEmail || len(upd.Clear) != 0 {
			t.Errorf("alternate %q clear %v, want the admin's value kept", upd.User.AlternateEmail, upd.Clear)
		}
		// The IdP sees what it sent, and a write of that changes nothing.
		got := UserFromDomo(cur, &sh, opt)
		if !slices.Equal(got.Emails, u.Emails) {
			t.Errorf("emails read %+v, want %+v", got.Emails, u.Emails)
		}
	})
}

func TestPhoneAndLocation(t *testing.T) {
	tests := []struct {
		name      string
		phones    []Multi
		addresses []Address
		phone     string
		location  string
	}{
		{name: "work phone", phones: []Multi{{Value: "1", Type: "mobile", Primary: true}, {Value: "2", Type: "Work"}}, phone: "2"},
		{name: "primary phone", phones: []Multi{{Value: "1", Type: "mobile"}, {Value: "2", Type: "home", Primary: true}}, phone: "2"},
		{name: "first phone, as sent", phones: []Multi{{Value: "55555555555", Type: "mobile"}, {Value: "2", Type: "fax"}}, phone: "55555555555"},
		{name: "formatted primary address", addresses: []Address{{Formatted: "Home", Type: "home"}, {Formatted: "1 Main St\nOslo", Primary: true}}, location: "1 Main St\nOslo"},
		{name: "work address parts", addresses: []Address{{Locality: "Paris", Type: "home"}, {Locality: "Oslo", Region: "Oslo", Country: "NO", Type: "work"}}, location: "Oslo, Oslo, NO"},
		{name: "first address parts, gaps skipped", addresses: []Address{{Locality: "Reykjavik", Country: "IS", PostalCode: "101"}}, location: "Reykjavik, IS"},
		{name: "address without place", addresses: []Address{{StreetAddress: "1 Main St", Type: "work"}}, location: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := User{UserName: "p@x.co", PhoneNumbers: tt.phones, Addresses: tt.addresses, Active: true}
			upd, sh, err := UserToDomo(u, domo.User{}, nil, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if upd.User.Phone != tt.phone || upd.User.Location != tt.location {
				t.Errorf("phone %q location %q, want %q %q", upd.User.Phone, upd.User.Location, tt.phone, tt.location)
			}
			if !slices.Equal(sh.PhoneNumbers, tt.phones) || !slices.Equal(sh.Addresses, tt.addresses) {
				t.Error("shadow does not keep the full lists")
			}
		})
	}
}

// TestReplaceModeSafety: whatever the IdP leaves out, the update carries every Domo field the
// IdP never wrote, so that a tenant that clears omitted fields on PUT loses nothing.
func TestReplaceModeSafety(t *testing.T) {
	opt := testOpts()
	cur := domoUser()
	// A PUT with a bare minimum user, as a fresh IdP link does.
	u := User{UserName: cur.Email, DisplayName: cur.Name, Active: true}
	upd, sh, err := UserToDomo(u, cur, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := cur
	want.CreatedAt, want.UpdatedAt, want.Groups = domo.Time{}, domo.Time{}, nil
	if !reflect.DeepEqual(upd.User, want) || len(upd.Clear) != 0 {
		t.Errorf("update %+v clear %v\nwant %+v", upd.User, upd.Clear, want)
	}
	if c := ChangedFields(upd, cur); len(c) != 0 {
		t.Errorf("changed %v, want none", c)
	}
	// The IdP reads back what it sent, not the admin's values it never saw.
	got := UserFromDomo(cur, &sh, opt)
	if got.Title != "" || got.PhoneNumbers != nil || got.Addresses != nil || got.Enterprise.Department != "" || got.Roles != nil {
		t.Errorf("read %+v, want only what the IdP sent", got)
	}
	// Later admin edits show through again.
	cur.Title = "Deputy Director"
	if got := UserFromDomo(cur, &sh, opt); got.Title != "Deputy Director" {
		t.Errorf("title %q after an admin edit", got.Title)
	}

	// The IdP removes attributes it wrote: only those are cleared.
	tn := newTenant()
	d, sh2 := tn.create(t, decode(t, `{"userName":"w@x.co","title":"T","phoneNumbers":[{"value":"1"}],
		"addresses":[{"formatted":"Oslo"}],"timezone":"Europe/Oslo","locale":"nb-NO",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","employeeNumber":"E"}}`), opt)
	d.EmployeeNumber = 77 // an admin set the integer one
	u2, _ := read(t, d, sh2, opt)
	u2.Title, u2.PhoneNumbers, u2.Addresses, u2.Timezone, u2.Locale, u2.Enterprise = "", nil, nil, "", "", Enterprise{}
	upd2, _, err := UserToDomo(u2, d, sh2, opt)
	if err != nil {
		t.Fatal(err)
	}
	wantClear := []string{domo.FieldPhone, domo.FieldLocation, domo.FieldTitle, domo.FieldLocale, domo.FieldTimezone, domo.FieldEmployeeID, domo.FieldDepartment}
	slices.Sort(wantClear)
	gotClear := slices.Sorted(slices.Values(upd2.Clear))
	if !slices.Equal(gotClear, wantClear) {
		t.Errorf("clear %v, want %v", gotClear, wantClear)
	}
	if upd2.User.EmployeeNumber != 77 || upd2.User.Name == "" || upd2.User.Email == "" || upd2.User.Role == "" {
		t.Errorf("required or unmanaged fields missing: %+v", upd2.User)
	}
}

func TestShadowOnlyAttributes(t *testing.T) {
	opt := testOpts()
	body := `{"userName":"full@x.co","nickName":"Fu","profileUrl":"https://x.co/full","userType":"Employee",
		"preferredLanguage":"en","active":false,"externalId":"ext-1",
		"ims":[{"value":"full","type":"xmpp"}],"photos":[{"value":"https://x.co/p.png","type":"photo","primary":true}],
		"entitlements":[{"value":"e1"}],"x509Certificates":[{"value":"MIIB"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC","organization":"Org","division":"Div",
		"manager":{"value":"959463190","displayName":"Dana"}}}`
	tn := newTenant()
	d, sh := tn.create(t, decode(t, body), opt)
	u, attrs := read(t, d, storeShadow(t, sh), opt)
	want, err := UserFromAttributes(decode(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if u.NickName != want.NickName || u.ProfileURL != want.ProfileURL || u.UserType != want.UserType ||
		u.PreferredLanguage != want.PreferredLanguage || u.Active || u.ExternalID != "ext-1" ||
		!slices.Equal(u.IMs, want.IMs) || !slices.Equal(u.Photos, want.Photos) ||
		!slices.Equal(u.Entitlements, want.Entitlements) || !slices.Equal(u.X509Certificates, want.X509Certificates) ||
		u.Enterprise != want.Enterprise {
		t.Errorf("read %+v\nwant %+v", u, want)
	}
	mgr := attrs[URNEnterprise].(map[string]any)["manager"].(map[string]any)
	if mgr["$ref"] != base+"/Users/959463190" {
		t.Errorf("manager $ref %v", mgr["$ref"])
	}
	if attrs["active"] != false {
		t.Errorf("active %v", attrs["active"])
	}
}

func TestMeta(t *testing.T) {
	opt := testOpts()
	d := domoUser()
	u := UserFromDomo(d, nil, opt)
	if !u.Created.Equal(t0) || !u.LastModified.Equal(t1) {
		t.Errorf("created %v lastModified %v", u.Created, u.LastModified)
	}
	_, sh, err := UserToDomo(u, d, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	later := t1.Add(time.Hour)
	sh.Modified = later
	if got := UserFromDomo(d, &sh, opt); !got.LastModified.Equal(later) {
		t.Errorf("lastModified %v, want the shadow's later time", got.LastModified)
	}
	sh.Modified = t0
	if got := UserFromDomo(d, &sh, opt); !got.LastModified.Equal(t1) {
		t.Errorf("lastModified %v, want Domo's later time", got.LastModified)
	}
	meta := u.Attributes(Options{BaseURL: base + "/"})["meta"].(map[string]any)
	if meta["location"] != base+"/Users/959463190" || meta["resourceType"] != "User" || meta["version"] != u.Version() {
		t.Errorf("meta %v", meta)
	}
	if v := u.Version(); !strings.HasPrefix(v, `W/"`) || len(v) != 20 {
		t.Errorf("version %q", v)
	}
}

func TestVersion(t *testing.T) {
	u := UserFromDomo(domoUser(), nil, testOpts())
	same := UserFromDomo(domoUser(), nil, testOpts())
	if u.Version() != same.Version() {
		t.Error("equal users have different versions")
	}
	same.Groups = nil
	same.LastModified = t1.Add(time.Hour)
	if u.Version() != same.Version() {
		t.Error("version depends on groups or meta")
	}
	for _, edit := range []func(*User){
		func(u *User) { u.Title = "x" },
		func(u *User) { u.Active = false },
		func(u *User) { u.Emails[0].Primary = false },
		func(u *User) { u.Emails = append(u.Emails, Multi{}) },
		func(u *User) { u.Enterprise.Manager.Value = "1" },
		func(u *User) { u.Name.GivenName, u.Name.FamilyName = "Dana Q", "Scully" },
		func(u *User) { u.Addresses[0].Primary = true },
	} {
		v := UserFromDomo(domoUser(), nil, testOpts())
		v.Emails = slices.Clone(v.Emails)
		v.Addresses = slices.Clone(v.Addresses)
		edit(&v)
		if v.Version() == u.Version() {
			t.Errorf("edit %+v keeps the version", v)
		}
	}
}

func TestChangedFields(t *testing.T) {
	cur := domoUser()
	tests := []struct {
		name string
		edit func(*domo.UserUpdate)
		want []string
	}{
		{"none", func(*domo.UserUpdate) {}, nil},
		{"name and email case", func(u *domo.UserUpdate) { u.User.Name = "D"; u.User.Email = "DANA.scully@fbi.example" }, []string{"name", "email"}},
		{"role", func(u *domo.UserUpdate) { u.User.Role, u.User.RoleID = "Admin", 1 }, []string{"role", "roleId"}},
		{"roleId zero is not a change", func(u *domo.UserUpdate) { u.User.RoleID = 0 }, nil},
		{"clear", func(u *domo.UserUpdate) { u.User.Title = ""; u.Clear = []string{"title"} }, []string{"title"}},
		{"clear of an empty field", func(u *domo.UserUpdate) { u.Clear = []string{"title"} }, nil},
		{"omitted counts for replace mode", func(u *domo.UserUpdate) { u.User.Phone = "" }, []string{"phone"}},
		{"employeeNumber", func(u *domo.UserUpdate) { u.User.EmployeeNumber = 1 }, []string{"employeeNumber"}},
		{"all the rest", func(u *domo.UserUpdate) {
			u.User.AlternateEmail, u.User.Location, u.User.Timezone, u.User.Locale, u.User.EmployeeID, u.User.Department = "a@b.co", "L", "T", "l", "e", "d"
		}, []string{"alternateEmail", "location", "timezone", "locale", "employeeId", "department"}},
		{"read-only fields ignored", func(u *domo.UserUpdate) { u.User.Image, u.User.Groups, u.User.Deleted = "x", nil, true }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upd := domo.UserUpdate{User: writable(cur)}
			tt.edit(&upd)
			if got := ChangedFields(upd, cur); !slices.Equal(got, tt.want) {
				t.Errorf("ChangedFields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShadowJSON(t *testing.T) {
	opt := testOpts()
	tn := newTenant()
	_, sh := tn.create(t, decode(t, msUserName123), Options{LoginDomain: "example.org"})
	sh.Modified = time.Date(2024, 5, 1, 1, 2, 3, 456, time.UTC)
	back := storeShadow(t, sh)
	if !ShadowEqual(sh, back) || !back.Modified.Equal(sh.Modified) {
		t.Errorf("shadow changes through JSON:\n%+v\n%+v", sh, back)
	}
	b, _ := json.Marshal(sh)
	for _, secret := range []string{"password", "create"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("stored shadow has %q: %s", secret, b)
		}
	}
	other := *back
	other.Modified = time.Time{}
	if !ShadowEqual(back, &other) {
		t.Error("ShadowEqual compares Modified")
	}
	other.Emails = slices.Clone(other.Emails)
	other.Emails[1].Type = "work"
	if ShadowEqual(back, &other) {
		t.Error("ShadowEqual misses an email change")
	}
	empty1, empty2 := &UserShadow{}, &UserShadow{Emails: []Multi{}}
	if !ShadowEqual(empty1, empty2) || ShadowEqual(nil, empty1) || !ShadowEqual(nil, nil) {
		t.Error("ShadowEqual nil/empty handling")
	}
	_ = opt
}

func TestValueErrorMessage(t *testing.T) {
	err := error(&ValueError{Attr: "roles", Detail: `unknown Domo role "x"`})
	if err.Error() != `invalid value for roles: unknown Domo role "x"` {
		t.Errorf("Error() = %q", err.Error())
	}
}

// TestRequiredFieldsFilled: a strict Domo PUT needs name, email and role, so a record that
// somehow lacks its name gets one on the next write (once: it then has one).
func TestRequiredFieldsFilled(t *testing.T) {
	cur := domo.User{ID: 2, Email: "noname@example.com", Role: "Admin"}
	u := UserFromDomo(cur, nil, testOpts())
	upd, _, err := UserToDomo(u, cur, nil, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if upd.User.Name != "noname@example.com" || upd.User.Email != cur.Email || upd.User.Role != "Admin" {
		t.Errorf("update %+v, want name, email and role present", upd.User)
	}
}

// TestUserFromDomoSharesStrings: the index keeps many users, so equal low-cardinality values
// share storage, and the caller's shadow is never changed by a read.
func TestUserFromDomoSharesStrings(t *testing.T) {
	opt := testOpts()
	tn := newTenant()
	body := `{"userName":"s%d@x.co","title":"Account Executive","locale":"en-US","timezone":"America/Chicago",
		"emails":[{"value":"s%d@x.co","type":"work","primary":true}],"roles":[{"value":"Participant","display":"Participant"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"959463190"}}}`
	var users []User
	for i := range 2 {
		d, sh := tn.create(t, decode(t, fmt.Sprintf(body, i, i)), opt)
		stored := storeShadow(t, sh)
		before := storeShadow(t, stored)
		u := UserFromDomo(d, stored, opt)
		if !ShadowEqual(stored, before) || !reflect.DeepEqual(stored, before) {
			t.Fatal("UserFromDomo changed the shadow")
		}
		users = append(users, u)
	}
	a, b := users[0], users[1]
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	for _, p := range [][2]string{{a.Title, b.Title}, {a.Locale, b.Locale}, {a.Timezone, b.Timezone},
		{a.Enterprise.Department, b.Enterprise.Department}, {a.Enterprise.Manager.Value, b.Enterprise.Manager.Value},
		{a.Roles[0].Value, b.Roles[0].Display}} {
		if !same(p[0], p[1]) {
			t.Errorf("%q is stored twice", p[0])
		}
	}
	if !same(a.Emails[0].Value, a.UserName) {
		t.Error("the login is stored twice")
	}
}

// TestNamePartsReachDomoWithoutDisplayName: a user the IdP created without a displayName
// (Entra's example) reads back Domo's name as displayName; a later change of name.formatted
// or of the given and family names must still reach Domo's name, and a change of nothing
// must not.
func TestNamePartsReachDomoWithoutDisplayName(t *testing.T) {
	opt := testOpts()
	tests := []struct {
		name     string
		create   string
		change   func(u *User)
		wantName string
	}{
		{"formatted", `{"userName":"a@x.co","name":{"formatted":"Alice Smith","givenName":"Alice","familyName":"Smith"}}`,
			func(u *User) { u.Name.Formatted = "Alice Q Smith" }, "Alice Q Smith"},
		{"given and family", `{"userName":"a@x.co","name":{"givenName":"Alice","familyName":"Smith"}}`,
			func(u *User) { u.Name.GivenName = "Alicia" }, "Alicia Smith"},
		{"unchanged", `{"userName":"a@x.co","name":{"givenName":"Alice","familyName":"Smith"}}`,
			func(u *User) {}, "Alice Smith"},
		{"the IdP's own displayName still wins", `{"userName":"a@x.co","displayName":"Al","name":{"givenName":"Alice","familyName":"Smith"}}`,
			func(u *User) { u.Name.GivenName = "Alicia" }, "Al"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := newTenant()
			d, sh := tn.create(t, decode(t, tt.create), opt)
			view := UserFromDomo(d, sh, opt)
			if view.DisplayName == "" {
				t.Fatal("no displayName read back")
			}
			next, err := UserFromAttributes(view.Attributes(opt))
			if err != nil {
				t.Fatal(err)
			}
			tt.change(&next)
			d2, sh2, changed := tn.replace(t, next, d, sh, opt)
			if d2.Name != tt.wantName {
				t.Fatalf("Domo name %q (changed %v), want %q", d2.Name, changed, tt.wantName)
			}
			if tt.name == "unchanged" && len(changed) != 0 {
				t.Fatalf("an unchanged user sent %v", changed)
			}
			if got := UserFromDomo(d2, sh2, opt); got.Name != next.Name {
				t.Fatalf("name read back %+v, want %+v", got.Name, next.Name)
			}
		})
	}
}
