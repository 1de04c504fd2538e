package mapping

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

func TestUserFromAttributesLenient(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		check func(t *testing.T, u User)
	}{
		{"keys in any case", map[string]any{"USERNAME": "a@b.co", "DisplayName": "D", "NAME": map[string]any{"GIVENNAME": "G"},
			"Emails": []any{map[string]any{"VALUE": "a@b.co", "Primary": "True"}}},
			func(t *testing.T, u User) {
				if u.UserName != "a@b.co" || u.DisplayName != "D" || u.Name.GivenName != "G" ||
					!slices.Equal(u.Emails, []Multi{{Value: "a@b.co", Primary: true}}) {
					t.Errorf("%+v", u)
				}
			}},
		{"numbers for strings", map[string]any{"userName": "a@b.co", "externalId": json.Number("12345678901234567890"),
			"title": int64(7), "nickName": 3.5, "phoneNumbers": []any{map[string]any{"value": json.Number("5555555555")}},
			URNEnterprise: map[string]any{"employeeNumber": json.Number("0042"), "costCenter": 12}},
			func(t *testing.T, u User) {
				if u.ExternalID != "12345678901234567890" || u.Title != "7" || u.NickName != "3.5" ||
					u.PhoneNumbers[0].Value != "5555555555" || u.Enterprise.EmployeeNumber != "0042" || u.Enterprise.CostCenter != "12" {
					t.Errorf("%+v", u)
				}
			}},
		{"Entra string booleans", map[string]any{"userName": "a@b.co", "active": "False"},
			func(t *testing.T, u User) {
				if u.Active {
					t.Error("active")
				}
			}},
		{"active defaults to true", map[string]any{"userName": "a@b.co"},
			func(t *testing.T, u User) {
				if !u.Active {
					t.Error("active")
				}
			}},
		{"null is absent", map[string]any{"userName": "a@b.co", "title": nil, "active": nil, "emails": nil, "name": nil},
			func(t *testing.T, u User) {
				if u.Title != "" || !u.Active || u.Emails != nil || u.Name != (Name{}) {
					t.Errorf("%+v", u)
				}
			}},
		{"Entra manager as a bare string", map[string]any{"userName": "a@b.co", URNEnterprise: map[string]any{"manager": "959463190"}},
			func(t *testing.T, u User) {
				if u.Enterprise.Manager != (Manager{Value: "959463190"}) {
					t.Errorf("%+v", u.Enterprise.Manager)
				}
			}},
		{"URN-qualified keys at the top level", map[string]any{"userName": "a@b.co",
			URNEnterprise:                 map[string]any{"department": "old", "division": "Div"},
			URNEnterprise + ":department": "new", "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber": "E1"},
			func(t *testing.T, u User) {
				if u.Enterprise.Department != "new" || u.Enterprise.Division != "Div" || u.Enterprise.EmployeeNumber != "E1" {
					t.Errorf("%+v", u.Enterprise)
				}
			}},
		{"single object for a list, bare strings as values", map[string]any{"userName": "a@b.co",
			"emails": map[string]any{"value": "a@b.co"}, "phoneNumbers": []any{"123", nil}},
			func(t *testing.T, u User) {
				if !slices.Equal(u.Emails, []Multi{{Value: "a@b.co"}}) || !slices.Equal(u.PhoneNumbers, []Multi{{Value: "123"}}) {
					t.Errorf("%+v %+v", u.Emails, u.PhoneNumbers)
				}
			}},
		{"empty elements dropped, explicit false primary kept", map[string]any{"userName": "a@b.co",
			"emails": []any{map[string]any{}, map[string]any{"value": "", "primary": false}, map[string]any{"value": "x", "primary": false}}},
			func(t *testing.T, u User) {
				if !slices.Equal(u.Emails, []Multi{{Value: "x", PrimaryFalse: true}}) {
					t.Errorf("%+v", u.Emails)
				}
			}},
		{"read-only and write-only attributes ignored", map[string]any{"userName": "a@b.co", "id": "99", "password": "secret",
			"groups": []any{map[string]any{"value": "1"}}, "meta": map[string]any{"created": "x"}, "schemas": []any{URNUser}},
			func(t *testing.T, u User) {
				if u.ID != 0 || u.Groups != nil || !u.Created.IsZero() {
					t.Errorf("%+v", u)
				}
			}},
		{"addresses", map[string]any{"userName": "a@b.co", "addresses": []any{map[string]any{"streetAddress": "1 Main", "locality": "Oslo",
			"region": "Oslo", "postalCode": json.Number("150"), "country": "NO", "formatted": "F", "type": "work", "primary": true}, map[string]any{}}},
			func(t *testing.T, u User) {
				want := []Address{{Formatted: "F", StreetAddress: "1 Main", Locality: "Oslo", Region: "Oslo", PostalCode: "150", Country: "NO", Type: "work", Primary: true}}
				if !slices.Equal(u.Addresses, want) {
					t.Errorf("%+v", u.Addresses)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := UserFromAttributes(tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, u)
		})
	}
}

func TestUserFromAttributesErrors(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		attr  string
	}{
		{"no userName", map[string]any{"displayName": "x"}, "userName"},
		{"blank userName", map[string]any{"userName": "  "}, "userName"},
		{"userName object", map[string]any{"userName": map[string]any{}}, "userName"},
		{"active not boolean", map[string]any{"userName": "a@b.co", "active": "maybe"}, "active"},
		{"active number", map[string]any{"userName": "a@b.co", "active": json.Number("1")}, "active"},
		{"name not an object", map[string]any{"userName": "a@b.co", "name": "Bob"}, "name"},
		{"name part not a string", map[string]any{"userName": "a@b.co", "name": map[string]any{"givenName": []any{}}}, "name.givenName"},
		{"emails not a list", map[string]any{"userName": "a@b.co", "emails": true}, "emails"},
		{"email element not an object", map[string]any{"userName": "a@b.co", "emails": []any{json.Number("1")}}, "emails"},
		{"email primary not boolean", map[string]any{"userName": "a@b.co", "emails": []any{map[string]any{"value": "x", "primary": "yes"}}}, "emails"},
		{"roles value object", map[string]any{"userName": "a@b.co", "roles": []any{map[string]any{"value": map[string]any{}}}}, "roles"},
		{"address element string", map[string]any{"userName": "a@b.co", "addresses": []any{"Oslo"}}, "addresses"},
		{"enterprise not an object", map[string]any{"userName": "a@b.co", URNEnterprise: "x"}, URNEnterprise},
		{"manager list", map[string]any{"userName": "a@b.co", URNEnterprise: map[string]any{"manager": []any{}}}, "manager"},
		{"department list", map[string]any{"userName": "a@b.co", URNEnterprise: map[string]any{"department": []any{"a"}}}, "department"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := UserFromAttributes(tt.attrs)
			if ve := asValueError(t, err); ve.Attr != tt.attr {
				t.Errorf("attr %q, want %q (%v)", ve.Attr, tt.attr, err)
			}
		})
	}
}

// TestAttributesRoundTrip: every attribute survives Attributes -> JSON -> UserFromAttributes.
func TestAttributesRoundTrip(t *testing.T) {
	u := User{
		ID: 5, ExternalID: "e", UserName: "u@x.co", DisplayName: "D", NickName: "N", ProfileURL: "P", Title: "T",
		UserType: "UT", PreferredLanguage: "PL", Locale: "L", Timezone: "TZ", Active: false,
		Name:             Name{Formatted: "F", FamilyName: "Fa", GivenName: "G", MiddleName: "M", HonorificPrefix: "HP", HonorificSuffix: "HS"},
		Emails:           []Multi{{Value: "u@x.co", Display: "d", Type: "work", Primary: true}, {Value: "emailName357", Type: "home"}},
		PhoneNumbers:     []Multi{{Value: "1"}},
		IMs:              []Multi{{Value: "im", Type: "aim"}},
		Photos:           []Multi{{Value: "https://p"}},
		Entitlements:     []Multi{{Value: "en"}},
		Roles:            []Multi{{Value: "Admin", Primary: true}},
		X509Certificates: []Multi{{Value: "MII"}},
		Addresses:        []Address{{Formatted: "F", StreetAddress: "S", Locality: "L", Region: "R", PostalCode: "P", Country: "C", Type: "work", Primary: true}},
		Enterprise:       Enterprise{EmployeeNumber: "1", CostCenter: "2", Organization: "3", Division: "4", Department: "5", Manager: Manager{Value: "6", DisplayName: "7"}},
	}
	back, err := UserFromAttributes(viaJSON(t, u.Attributes(testOpts())))
	if err != nil {
		t.Fatal(err)
	}
	want := u
	want.ID = 0
	if !reflect.DeepEqual(back, want) {
		t.Errorf("round trip\n%+v\nwant\n%+v", back, want)
	}
}
