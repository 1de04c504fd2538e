package mapping

import (
	"strconv"
	"strings"
	"time"
)

// Values serves filters and sorting (the scim package's Resource interface) straight from the
// struct: a scan over every indexed user calls it once per user and attribute, so simple
// attributes cost one small slice and build no maps. key is the lower-case canonical
// attribute name (URN-qualified for the enterprise extension), sub a lower-case
// sub-attribute or "". Empty values are absent. A complex attribute asked for without sub
// yields one map per element, keyed by lower-case sub-attribute names, for value-path filters
// such as emails[type eq "work" and value co "x"]. URLs ($ref, meta.location) need the base
// URL, which Values does not have, so they yield nothing. Callers must not modify the slice:
// constant answers (active, resource type, schemas) share one.
func (u *User) Values(key, sub string) []any {
	if sub != "" && !complexUserAttr(key) {
		return nil
	}
	switch key {
	case "id":
		if u.ID == 0 {
			return nil
		}
		return []any{strconv.FormatInt(u.ID, 10)}
	case "externalid":
		return one(u.ExternalID)
	case "username":
		return one(u.UserName)
	case "displayname":
		return one(u.DisplayName)
	case "nickname":
		return one(u.NickName)
	case "profileurl":
		return one(u.ProfileURL)
	case "title":
		return one(u.Title)
	case "usertype":
		return one(u.UserType)
	case "preferredlanguage":
		return one(u.PreferredLanguage)
	case "locale":
		return one(u.Locale)
	case "timezone":
		return one(u.Timezone)
	case "active":
		if u.Active {
			return valsTrue
		}
		return valsFalse
	case "name":
		return nameValues(&u.Name, sub)
	case "emails":
		return multiValues(u.Emails, sub)
	case "phonenumbers":
		return multiValues(u.PhoneNumbers, sub)
	case "ims":
		return multiValues(u.IMs, sub)
	case "photos":
		return multiValues(u.Photos, sub)
	case "entitlements":
		return multiValues(u.Entitlements, sub)
	case "roles":
		return multiValues(u.Roles, sub)
	case "x509certificates":
		return multiValues(u.X509Certificates, sub)
	case "addresses":
		return addressValues(u.Addresses, sub)
	case "groups":
		return groupRefValues(u.Groups, sub)
	case "meta":
		return metaValues(valsUserType, u.Created, u.LastModified, u.Version, sub)
	case "schemas":
		if u.Domo != (DomoExt{}) || len(u.CustomAttributes) > 0 {
			return u.schemaURNs()
		}
		if u.Enterprise != (Enterprise{}) {
			return valsUserEntSchemas
		}
		return valsUserSchemas
	case domoHireDate:
		return one(u.Domo.HireDate)
	case domoEmployeeLocation:
		return one(u.Domo.EmployeeLocation)
	case customAttributesKey:
		return customValues(u.CustomAttributes, sub)
	case entEmployeeNumber:
		return one(u.Enterprise.EmployeeNumber)
	case entCostCenter:
		return one(u.Enterprise.CostCenter)
	case entOrganization:
		return one(u.Enterprise.Organization)
	case entDivision:
		return one(u.Enterprise.Division)
	case entDepartment:
		return one(u.Enterprise.Department)
	case entManager:
		m := &u.Enterprise.Manager
		switch sub {
		case "":
			if *m == (Manager{}) {
				return nil
			}
			o := make(map[string]any, 2)
			putString(o, "value", m.Value)
			putString(o, "displayname", m.DisplayName)
			return []any{o}
		case "value":
			return one(m.Value)
		case "displayname":
			return one(m.DisplayName)
		}
	}
	if k, ok := strings.CutPrefix(key, customPrefix); ok && sub == "" {
		for _, a := range u.CustomAttributes {
			if a.Flat && strings.EqualFold(a.Key, k) && len(a.Values) == 1 {
				return []any{a.Values[0]}
			}
		}
	}
	return nil
}

// Lower-case keys of the enterprise extension attributes, as Values takes them.
const (
	entPrefix         = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:"
	entEmployeeNumber = entPrefix + "employeenumber"
	entCostCenter     = entPrefix + "costcenter"
	entOrganization   = entPrefix + "organization"
	entDivision       = entPrefix + "division"
	entDepartment     = entPrefix + "department"
	entManager        = entPrefix + "manager"
)

// Shared answers that do not depend on the resource.
var (
	valsTrue           = []any{true}
	valsFalse          = []any{false}
	valsUserSchemas    = []any{URNUser}
	valsUserEntSchemas = []any{URNUser, URNEnterprise}
	valsGroupSchemas   = []any{URNGroup}
	valsUserType       = []any{"User"}
	valsGroupType      = []any{"Group"}
)

func complexUserAttr(key string) bool {
	switch key {
	case "name", "emails", "phonenumbers", "ims", "photos", "entitlements", "roles",
		"x509certificates", "addresses", "groups", "meta", entManager, customAttributesKey:
		return true
	}
	return false
}

func one(s string) []any {
	if s == "" {
		return nil
	}
	return []any{s}
}

func nameValues(n *Name, sub string) []any {
	switch sub {
	case "":
		if *n == (Name{}) {
			return nil
		}
		o := make(map[string]any, 6)
		putString(o, "formatted", n.Formatted)
		putString(o, "familyname", n.FamilyName)
		putString(o, "givenname", n.GivenName)
		putString(o, "middlename", n.MiddleName)
		putString(o, "honorificprefix", n.HonorificPrefix)
		putString(o, "honorificsuffix", n.HonorificSuffix)
		return []any{o}
	case "formatted":
		return one(n.Formatted)
	case "familyname":
		return one(n.FamilyName)
	case "givenname":
		return one(n.GivenName)
	case "middlename":
		return one(n.MiddleName)
	case "honorificprefix":
		return one(n.HonorificPrefix)
	case "honorificsuffix":
		return one(n.HonorificSuffix)
	}
	return nil
}

// multiValues yields primary only where it is true, as the resource shows it.
func multiValues(list []Multi, sub string) []any {
	if len(list) == 0 {
		return nil
	}
	var field func(*Multi) string
	switch sub {
	case "":
		out := make([]any, len(list))
		for i := range list {
			m := &list[i]
			o := make(map[string]any, 4)
			putString(o, "value", m.Value)
			putString(o, "display", m.Display)
			putString(o, "type", m.Type)
			if m.Primary {
				o["primary"] = true
			}
			out[i] = o
		}
		return out
	case "primary":
		var out []any
		for i := range list {
			if list[i].Primary {
				out = append(out, true)
			}
		}
		return out
	case "value":
		field = func(m *Multi) string { return m.Value }
	case "display":
		field = func(m *Multi) string { return m.Display }
	case "type":
		field = func(m *Multi) string { return m.Type }
	default:
		return nil
	}
	var out []any
	for i := range list {
		if s := field(&list[i]); s != "" {
			if out == nil {
				out = make([]any, 0, len(list))
			}
			out = append(out, s)
		}
	}
	return out
}

func addressValues(list []Address, sub string) []any {
	if len(list) == 0 {
		return nil
	}
	if sub == "" {
		out := make([]any, len(list))
		for i := range list {
			a := &list[i]
			o := make(map[string]any, 8)
			putString(o, "formatted", a.Formatted)
			putString(o, "streetaddress", a.StreetAddress)
			putString(o, "locality", a.Locality)
			putString(o, "region", a.Region)
			putString(o, "postalcode", a.PostalCode)
			putString(o, "country", a.Country)
			putString(o, "type", a.Type)
			if a.Primary {
				o["primary"] = true
			}
			out[i] = o
		}
		return out
	}
	var out []any
	for i := range list {
		a := &list[i]
		var s string
		switch sub {
		case "formatted":
			s = a.Formatted
		case "streetaddress":
			s = a.StreetAddress
		case "locality":
			s = a.Locality
		case "region":
			s = a.Region
		case "postalcode":
			s = a.PostalCode
		case "country":
			s = a.Country
		case "type":
			s = a.Type
		case "primary":
			if a.Primary {
				out = append(out, true)
			}
			continue
		default:
			return nil
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// refValues answers Values for a list of references (a user's groups, a group's members):
// each has a value, an optional display and a fixed type.
func refValues[T any](list []T, sub, typ string, ref func(*T) (value, display string)) []any {
	var out []any
	for i := range list {
		value, display := ref(&list[i])
		switch sub {
		case "":
			o := map[string]any{"value": value, "type": typ}
			putString(o, "display", display)
			out = append(out, o)
		case "value":
			out = append(out, value)
		case "display":
			if display != "" {
				out = append(out, display)
			}
		case "type":
			out = append(out, typ)
		default:
			return nil
		}
	}
	return out
}

func groupRefValues(list []GroupRef, sub string) []any {
	return refValues(list, sub, "direct", func(g *GroupRef) (string, string) { return g.Value, g.Display })
}

func metaValues(resourceType []any, created, modified time.Time, version func() string, sub string) []any {
	switch sub {
	case "":
		o := map[string]any{"resourcetype": resourceType[0], "version": version()}
		if !created.IsZero() {
			o["created"] = created
		}
		if !modified.IsZero() {
			o["lastmodified"] = modified
		}
		return []any{o}
	case "resourcetype":
		return resourceType
	case "version":
		return []any{version()}
	case "created":
		if created.IsZero() {
			return nil
		}
		return []any{created}
	case "lastmodified":
		if modified.IsZero() {
			return nil
		}
		return []any{modified}
	}
	return nil
}

// StringValue is Values without allocating, for attributes with at most one value, a string:
// when Values(key, sub) would return nothing or one string, it returns that string (or "") and
// true. For anything else (ids, booleans, times, multi-valued and complex attributes asked for
// whole) it returns false and the caller uses Values. Filters over a scan of the index call it
// for every user.
func (u *User) StringValue(key, sub string) (string, bool) {
	if sub != "" && !complexUserAttr(key) {
		return "", true
	}
	switch key {
	case "externalid":
		return u.ExternalID, true
	case "username":
		return u.UserName, true
	case "displayname":
		return u.DisplayName, true
	case "nickname":
		return u.NickName, true
	case "profileurl":
		return u.ProfileURL, true
	case "title":
		return u.Title, true
	case "usertype":
		return u.UserType, true
	case "preferredlanguage":
		return u.PreferredLanguage, true
	case "locale":
		return u.Locale, true
	case "timezone":
		return u.Timezone, true
	case "name":
		n := &u.Name
		switch sub {
		case "":
			return "", false
		case "formatted":
			return n.Formatted, true
		case "familyname":
			return n.FamilyName, true
		case "givenname":
			return n.GivenName, true
		case "middlename":
			return n.MiddleName, true
		case "honorificprefix":
			return n.HonorificPrefix, true
		case "honorificsuffix":
			return n.HonorificSuffix, true
		}
		return "", true
	case "meta":
		if sub == "resourcetype" {
			return "User", true
		}
		return "", false
	case entEmployeeNumber:
		return u.Enterprise.EmployeeNumber, true
	case entCostCenter:
		return u.Enterprise.CostCenter, true
	case entOrganization:
		return u.Enterprise.Organization, true
	case entDivision:
		return u.Enterprise.Division, true
	case entDepartment:
		return u.Enterprise.Department, true
	case entManager:
		switch sub {
		case "value":
			return u.Enterprise.Manager.Value, true
		case "displayname":
			return u.Enterprise.Manager.DisplayName, true
		case "":
			return "", false
		}
		return "", true
	case "id", "active", "schemas", "emails", "phonenumbers", "ims", "photos", "entitlements",
		"roles", "x509certificates", "addresses", "groups":
		return "", false
	}
	return "", true // unknown to Values too: no value
}

// An element of a multi-valued complex attribute (emails, addresses, groups) is itself a
// resource to value-path filters such as emails[type eq "work" and value co "@x.com"]: its
// Values(sub, "") and StringValue(sub, "") answer what the element's map in
// Values(attribute, "") holds under sub, so that a scan builds no map per element.

// elementValues is Values for an element whose StringValue s answers every key but primary.
func elementValues(key string, primary bool, s string) []any {
	if key != "primary" {
		return one(s)
	}
	if primary {
		return valsTrue
	}
	return nil
}

// Values answers for sub-attribute key of the element.
func (m *Multi) Values(key, _ string) []any {
	s, _ := m.StringValue(key, "")
	return elementValues(key, m.Primary, s)
}

// StringValue is Values without allocating; false for primary.
func (m *Multi) StringValue(key, _ string) (string, bool) {
	switch key {
	case "value":
		return m.Value, true
	case "display":
		return m.Display, true
	case "type":
		return m.Type, true
	case "primary":
		return "", false
	}
	return "", true
}

// Values answers for sub-attribute key of the address.
func (a *Address) Values(key, _ string) []any {
	s, _ := a.StringValue(key, "")
	return elementValues(key, a.Primary, s)
}

// StringValue is Values without allocating; false for primary.
func (a *Address) StringValue(key, _ string) (string, bool) {
	switch key {
	case "formatted":
		return a.Formatted, true
	case "streetaddress":
		return a.StreetAddress, true
	case "locality":
		return a.Locality, true
	case "region":
		return a.Region, true
	case "postalcode":
		return a.PostalCode, true
	case "country":
		return a.Country, true
	case "type":
		return a.Type, true
	case "primary":
		return "", false
	}
	return "", true
}

// Values answers for sub-attribute key of the group reference; its type is always "direct",
// and its value is there even when empty, as in its map.
func (g *GroupRef) Values(key, _ string) []any {
	if key == "value" {
		return []any{g.Value}
	}
	s, _ := g.StringValue(key, "")
	return one(s)
}

// StringValue is Values without allocating; false for an empty value, which Values returns.
func (g *GroupRef) StringValue(key, _ string) (string, bool) {
	switch key {
	case "value":
		return g.Value, g.Value != ""
	case "display":
		return g.Display, true
	case "type":
		return "direct", true
	}
	return "", true
}
