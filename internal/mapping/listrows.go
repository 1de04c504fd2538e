package mapping

import "github.com/scimbridge/scimbridge/internal/domo"

// ListedFields tells which optional Domo user fields a user listing carries. Domo documents
// list rows with only id, name, email, role, title and phone (live rows have been seen with
// more), while GET by id has them all, and Domo omits empty fields: an absent field in a row
// means "empty" only if rows carry that field at all. A field that no row of a whole listing
// has a value for is taken as one the listing does not carry.
type ListedFields struct {
	alternateEmail, title, phone, location, timezone, locale, employeeID, department bool
}

// flags, userFields and basisFields list the optional fields in one order, so that
// ListedFieldsOf and Complete walk the same list.
func (l *ListedFields) flags() []*bool {
	return []*bool{&l.alternateEmail, &l.title, &l.phone, &l.location, &l.timezone, &l.locale, &l.employeeID, &l.department}
}

func userFields(d *domo.User) []*string {
	return []*string{&d.AlternateEmail, &d.Title, &d.Phone, &d.Location, &d.Timezone, &d.Locale, &d.EmployeeID, &d.Department}
}

func basisFields(b *UserBasis) []string {
	return []string{b.AlternateEmail, b.Title, b.Phone, b.Location, b.Timezone, b.Locale, b.EmployeeID, b.Department}
}

// ListedFieldsOf reports which optional fields the rows of a complete listing carry.
func ListedFieldsOf(rows []domo.User) ListedFields {
	var l ListedFields
	flags := l.flags()
	pending := len(flags)
	for i := range rows {
		for j, v := range userFields(&rows[i]) {
			if *v != "" && !*flags[j] {
				*flags[j] = true
				pending--
			}
		}
		if pending == 0 {
			break
		}
	}
	return l
}

// Complete fills the fields of a list row that the listing does not carry with the values
// Domo held at the bridge's last write of the user (the shadow's basis), so that the parts of
// the shadow that depend on them stay in force: without this, a listing that leaves locale out
// would read as "an admin cleared the locale in Domo" and drop the IdP's value. Fields the
// listing carries are Domo's word, as always.
func (l ListedFields) Complete(d *domo.User, sh *UserShadow) {
	if sh == nil || l == (ListedFields{true, true, true, true, true, true, true, true}) {
		return
	}
	basis, fields := basisFields(&sh.Basis), userFields(d)
	for j, listed := range l.flags() {
		if !*listed && *fields[j] == "" {
			*fields[j] = basis[j]
		}
	}
}
