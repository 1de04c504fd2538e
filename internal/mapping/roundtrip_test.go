package mapping

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// checkNoOp asserts the property the bridge's skip-the-PUT logic rests on: writing back what
// a GET returned (FromDomo -> Attributes -> JSON -> FromAttributes -> ToDomo) changes nothing
// in Domo, gives back the stored shadow when that shadow is current, and otherwise gives a
// shadow that reads the same and is itself a fixed point.
func checkNoOp(t *testing.T, cur domo.User, prev *UserShadow, opt Options) {
	t.Helper()
	u, attrs := read(t, cur, prev, opt)
	upd, sh, err := UserToDomo(u, cur, prev, opt)
	if err != nil {
		t.Fatalf("write-back of %s: %v", jsonString(t, attrs), err)
	}
	if c := ChangedFields(upd, cur); len(c) != 0 || len(upd.Clear) != 0 {
		t.Fatalf("write-back changes %v (clear %v)\nDomo %+v\nread %s\nsent %s", c, upd.Clear, cur, jsonString(t, attrs), jsonString(t, upd))
	}
	if prev != nil && prev.Basis == basisOf(cur) && !ShadowEqual(&sh, prev) {
		t.Fatalf("write-back changes the shadow\nbefore %+v\nafter  %+v", *prev, sh)
	}
	again, _ := read(t, cur, storeShadow(t, &sh), opt)
	if !reflect.DeepEqual(again, u) {
		t.Fatalf("the new shadow reads differently\nbefore %+v\nafter  %+v", u, again)
	}
	_, sh2, err := UserToDomo(again, cur, &sh, opt)
	if err != nil || !ShadowEqual(&sh2, &sh) {
		t.Fatalf("the new shadow is not a fixed point (err %v)\n%+v\n%+v", err, sh, sh2)
	}
}

func TestRoundTripFixtures(t *testing.T) {
	opt := testOpts()
	domain := testOpts()
	domain.LoginDomain = "example.org"

	ui := []domo.User{
		domoUser(),
		{ID: 1, Name: "Cher", Email: "cher@example.com", Role: "Participant", RoleID: 4},
		{ID: 3, Name: "Bob", Email: "bob@localhost", Role: "Social", RoleID: 5}, // a login this mapping calls malformed
		{ID: 4, Name: "Custom Role", Email: "c@example.com", RoleID: 2097317660},
		{ID: 5, Name: "Unknown Role", Email: "u@example.com", Role: "Mystery", RoleID: 99},
		{ID: 6, Name: "Alt Same", Email: "same@example.com", AlternateEmail: "SAME@example.com", Role: "Editor"},
		{ID: 7, Name: "  spaced  out  ", Email: "s@example.com", Role: "Editor", Phone: "1", Location: "L", EmployeeNumber: 9},
	}
	for i, d := range ui {
		t.Run(fmt.Sprintf("domo ui %d", i), func(t *testing.T) { checkNoOp(t, d, nil, opt) })
	}

	bodies := []struct {
		name string
		body string
		opt  Options
	}{
		{"okta", oktaCreate, opt},
		{"entra", entraCreate, opt},
		{"ms UserName123", msUserName123, domain},
		{"ms UserName123 no domain", msUserName123, opt},
		{"ms OMalley", msOMalley, domain},
		{"ms OMalley no domain", msOMalley, opt},
		{"ms emp3", msEmp3, domain},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			tn := newTenant()
			d, sh := tn.create(t, decode(t, b.body), b.opt)
			checkNoOp(t, d, sh, b.opt)
			checkNoOp(t, d, storeShadow(t, sh), b.opt)
			// And after an admin renames the user and changes the login in Domo.
			d.Name, d.Email = "Someone Else", "else@example.com"
			checkNoOp(t, d, sh, b.opt)
		})
	}
}

// TestRoundTripGenerated runs the no-op property over generated users: random attribute sets,
// a tenant that normalises some fields, admin edits in Domo and IdP updates in between.
func TestRoundTripGenerated(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		r := rand.New(rand.NewPCG(uint64(i), 42))
		opt := testOpts()
		if r.IntN(3) == 0 {
			opt.LoginDomain = "corp.example"
		}
		opt.HideDefaultGroup = r.IntN(2) == 0
		attrs := genUser(r)
		if _, err := UserFromAttributes(attrs); err != nil {
			t.Fatalf("seed %d: generated user rejected: %v", i, err)
		}
		u, _ := UserFromAttributes(attrs)
		if _, _, err := UserToDomo(u, domo.User{}, nil, opt); err != nil {
			continue // a login the rules refuse; TestLogin covers those
		}
		tn := newTenant()
		tn.norm = genNorm(r)
		d, sh := tn.create(t, attrs, opt)
		if r.IntN(2) == 0 {
			sh.Rebase(d) // the bridge re-read the user after the create
		}
		ok := t.Run(fmt.Sprintf("seed %d", i), func(t *testing.T) {
			checkNoOp(t, d, sh, opt)
			for step := 0; step < 3; step++ {
				switch r.IntN(3) {
				case 0: // an admin edits the user in Domo
					adminEdit(r, &d)
				case 1: // the IdP changes something
					cur, _ := read(t, d, sh, opt)
					idpEdit(r, &cur)
					if _, _, err := UserToDomo(cur, d, sh, opt); err != nil {
						if _, ok := err.(*ValueError); ok {
							continue
						}
						t.Fatalf("IdP edit: %v", err)
					}
					d, sh, _ = tn.replace(t, cur, d, sh, opt)
				case 2:
					sh = storeShadow(t, sh)
				}
				checkNoOp(t, d, sh, opt)
			}
		})
		if !ok {
			t.Logf("generated body: %s", jsonString(t, attrs))
			return
		}
	}
}

func genUser(r *rand.Rand) map[string]any {
	oneOf := func(s ...string) string { return s[r.IntN(len(s))] }
	maybe := func(s string) string {
		if r.IntN(2) == 0 {
			return ""
		}
		return s
	}
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	local := oneOf("alice", "Bob.Smith", "o'malley", "UserName123", "x")
	userName := oneOf(local+"@example.com", strings.ToUpper(local)+"@Example.COM", local, "emp3", "Jöhn Dœ")
	m["userName"] = userName
	put("displayName", maybe(oneOf("Alice Smith", " Padded ", "Cher", "Ünïcode Ñame")))
	name := map[string]any{}
	for _, k := range []string{"formatted", "givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix"} {
		if r.IntN(3) == 0 {
			name[k] = oneOf("A", "Smith", "Dr", "Jr.", "Mary Ann")
		}
	}
	if len(name) > 0 {
		m["name"] = name
	}
	multi := func(key string, values ...string) {
		var list []any
		for range r.IntN(4) {
			e := map[string]any{"value": oneOf(values...)}
			if t := maybe(oneOf("work", "home", "other", "alternate", "mobile", "Work")); t != "" {
				e["type"] = t
			}
			if r.IntN(3) == 0 {
				e["primary"] = r.IntN(2) == 0
			}
			if r.IntN(5) == 0 {
				e["display"] = "shown"
			}
			list = append(list, e)
		}
		if list != nil {
			m[key] = list
		}
	}
	multi("emails", userName, strings.ToLower(userName), "w@example.com", "W@EXAMPLE.COM", "emailName357", "h@home.example")
	multi("phoneNumbers", "555-0100", "+47 22 00 00 00", "55555555555")
	multi("ims", "im1", "im2")
	multi("photos", "https://x.example/p.png")
	multi("entitlements", "e1")
	multi("x509Certificates", "MIIB")
	if r.IntN(3) == 0 {
		var roles []any
		for range 1 + r.IntN(2) {
			e := map[string]any{"value": oneOf("Admin", "editor", "PARTICIPANT", "4", "report viewer", "2097317660")}
			if r.IntN(2) == 0 {
				e["primary"] = true
			}
			roles = append(roles, e)
		}
		m["roles"] = roles
	}
	if r.IntN(3) == 0 {
		var addrs []any
		for range 1 + r.IntN(2) {
			a := map[string]any{}
			for _, k := range []string{"formatted", "locality", "region", "country", "streetAddress", "postalCode", "type"} {
				if r.IntN(2) == 0 {
					a[k] = oneOf("Oslo", "NO", "work", "home", "1 Main St")
				}
			}
			if r.IntN(3) == 0 {
				a["primary"] = true
			}
			addrs = append(addrs, a)
		}
		m["addresses"] = addrs
	}
	for _, k := range []string{"title", "locale", "timezone", "nickName", "profileUrl", "userType", "preferredLanguage", "externalId"} {
		put(k, maybe(oneOf(" Engineer ", "en-US", "US/Eastern", "x", "y y")))
	}
	if r.IntN(4) == 0 {
		m["active"] = oneOf("False", "true")
	} else if r.IntN(3) == 0 {
		m["active"] = false
	}
	ent := map[string]any{}
	for _, k := range []string{"employeeNumber", "costCenter", "organization", "division", "department"} {
		if r.IntN(3) == 0 {
			ent[k] = oneOf("Eqpj", "42", "R&D", " Ops ")
		}
	}
	if r.IntN(4) == 0 {
		ent["manager"] = oneOf("959463190", "x")
	}
	if len(ent) > 0 {
		m[URNEnterprise] = ent
	}
	return m
}

// genNorm picks what the generated tenant does to values it is sent.
func genNorm(r *rand.Rand) func(*domo.User) {
	var steps []func(*domo.User)
	for _, f := range []func(*domo.User){
		func(d *domo.User) { d.Email = strings.ToLower(d.Email) },
		func(d *domo.User) { d.AlternateEmail = strings.ToLower(d.AlternateEmail) },
		func(d *domo.User) { d.Title = strings.TrimSpace(d.Title); d.Name = strings.TrimSpace(d.Name) },
		func(d *domo.User) { d.EmployeeID = "" },
		func(d *domo.User) { d.Department = strings.ToUpper(d.Department) },
		func(d *domo.User) { d.Timezone = "" },
		func(d *domo.User) { d.Locale = strings.ReplaceAll(d.Locale, "-", "_") },
		func(d *domo.User) { d.Phone = strings.ReplaceAll(d.Phone, " ", "") },
	} {
		if r.IntN(4) == 0 {
			steps = append(steps, f)
		}
	}
	return func(d *domo.User) {
		for _, f := range steps {
			f(d)
		}
	}
}

func adminEdit(r *rand.Rand, d *domo.User) {
	switch r.IntN(9) {
	case 0:
		d.Name = "Renamed By Admin"
	case 1:
		d.Email = "admin.changed@example.com"
	case 2:
		d.AlternateEmail = "admin.alt@example.com"
	case 3:
		d.Role, d.RoleID = "Privileged", 2
	case 4:
		d.Phone = ""
	case 5:
		d.Location = "Bergen"
	case 6:
		d.Title, d.Department = "Admin title", ""
	case 7:
		d.Timezone, d.Locale = "Europe/Oslo", "nb-NO"
	case 8:
		d.EmployeeID, d.EmployeeNumber = "ADM", 7
	}
}

func idpEdit(r *rand.Rand, u *User) {
	switch r.IntN(10) {
	case 0:
		u.DisplayName = "IdP Rename"
	case 1:
		u.UserName = "idp.changed@example.com"
	case 2:
		u.Emails = append(u.Emails, Multi{Value: "extra@example.com", Type: "other"})
	case 3:
		u.Emails = nil
	case 4:
		u.Title, u.Enterprise.Department = "", ""
	case 5:
		u.Roles = []Multi{{Value: "Editor", Primary: true}}
	case 6:
		u.Roles = nil
	case 7:
		u.PhoneNumbers = []Multi{{Value: "999", Type: "mobile"}}
	case 8:
		u.Name = Name{GivenName: "Only"}
		u.DisplayName = ""
	case 9:
		u.Active = !u.Active
		u.Enterprise.EmployeeNumber = "E-99"
	}
}
