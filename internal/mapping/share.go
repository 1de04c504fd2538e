package mapping

import "unique"

// The index keeps one User per Domo user and must stay near 1 KiB each, of which the struct
// alone takes about 650 bytes. UserFromDomo therefore shares what users have in common:
// low-cardinality values (titles, locales, time zones, departments, element types, role
// names) are interned, and a value repeated within a user (the login as an email, displayName
// as name.formatted) is stored once. Interning goes through the unique package, whose table
// forgets values no user refers to any more.

func intern(s string) string {
	switch s {
	case "":
		return ""
	case "work": // the common element types, without a table lookup
		return "work"
	case "home":
		return "home"
	case "other":
		return "other"
	case "mobile":
		return "mobile"
	}
	return unique.Make(s).Value()
}

// shareStrings rewrites u's strings as described above. Lists are copied, never changed in
// place: they may belong to a shadow the caller still holds.
func shareStrings(u *User) {
	for _, p := range []*string{&u.Title, &u.Locale, &u.Timezone, &u.UserType, &u.PreferredLanguage,
		&u.Enterprise.CostCenter, &u.Enterprise.Organization, &u.Enterprise.Division, &u.Enterprise.Department,
		&u.Enterprise.Manager.Value, &u.Enterprise.Manager.DisplayName} {
		*p = intern(*p)
	}
	if u.Name.Formatted == u.DisplayName {
		u.Name.Formatted = u.DisplayName
	}
	u.Emails = compactMultis(u.Emails, u.UserName, false)
	u.PhoneNumbers = compactMultis(u.PhoneNumbers, "", false)
	u.IMs = compactMultis(u.IMs, "", false)
	u.Photos = compactMultis(u.Photos, "", false)
	u.Entitlements = compactMultis(u.Entitlements, "", true)
	u.Roles = compactMultis(u.Roles, "", true)
	u.X509Certificates = compactMultis(u.X509Certificates, "", false)
	if len(u.Addresses) > 0 {
		as := make([]Address, len(u.Addresses))
		for i, a := range u.Addresses {
			a.Type, a.Locality, a.Region, a.Country = intern(a.Type), intern(a.Locality), intern(a.Region), intern(a.Country)
			as[i] = a
		}
		u.Addresses = as
	}
}

// compactMultis copies list with interned types (and values and displays when few distinct
// ones exist, as for roles), reusing same for an equal value.
func compactMultis(list []Multi, same string, lowCardinality bool) []Multi {
	if len(list) == 0 {
		return nil
	}
	out := make([]Multi, len(list))
	for i, m := range list {
		m.Type = intern(m.Type)
		switch {
		case m.Value == same:
			m.Value = same
		case lowCardinality:
			m.Value = intern(m.Value)
		}
		if lowCardinality {
			m.Display = intern(m.Display)
			if m.Display == m.Value {
				m.Display = m.Value
			}
		}
		out[i] = m
	}
	return out
}
