package mapping

import (
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// UserFromDomo is the SCIM view of a Domo user: Domo's fields, overlaid with the shadow where
// the shadow still matches Domo (see UserShadow). sh is nil for a user the bridge never wrote,
// such as one created in Domo's UI.
func UserFromDomo(d domo.User, sh *UserShadow, opt Options) User {
	v := validityOf(d, sh)
	u := User{
		ID:           d.ID,
		Active:       true,
		DisplayName:  d.Name,
		UserName:     d.Email,
		Title:        d.Title,
		Locale:       d.Locale,
		Timezone:     d.Timezone,
		Created:      d.CreatedAt.Time,
		LastModified: d.UpdatedAt.Time,
		Groups:       groupRefs(d.Groups, opt),
	}
	u.Enterprise.EmployeeNumber = d.EmployeeID
	u.Enterprise.Department = d.Department
	if sh == nil {
		u.Name = nameFromDomo(d.Name)
		u.Emails = emailsFromDomo(d)
		u.PhoneNumbers = phonesFromDomo(d)
		u.Addresses = addressesFromDomo(d)
		u.Roles = rolesFromDomo(d, opt)
		shareStrings(&u)
		return u
	}

	u.ExternalID = sh.ExternalID
	u.NickName = sh.NickName
	u.ProfileURL = sh.ProfileURL
	u.UserType = sh.UserType
	u.PreferredLanguage = sh.PreferredLanguage
	u.Active = !sh.Inactive
	u.IMs = sh.IMs
	u.Photos = sh.Photos
	u.Entitlements = sh.Entitlements
	u.X509Certificates = sh.X509Certificates
	u.Enterprise.CostCenter = sh.Enterprise.CostCenter
	u.Enterprise.Organization = sh.Enterprise.Organization
	u.Enterprise.Division = sh.Enterprise.Division
	u.Enterprise.Manager = sh.Enterprise.Manager
	u.Domo.HireDate = sh.Domo.HireDate
	u.CustomAttributes = cloneCustom(sh.CustomAttributes)
	if sh.Modified.After(u.LastModified) {
		u.LastModified = sh.Modified
	}

	if v.userName {
		u.UserName = sh.UserName
	}
	if v.name {
		if sh.DisplayName != "" {
			u.DisplayName = sh.DisplayName
		}
		u.Name = sh.Name
	} else {
		u.Name = nameFromDomo(d.Name)
	}
	u.Emails = pick(v.emails, sh.Emails, emailsFromDomo, d)
	u.PhoneNumbers = pick(v.phone, sh.PhoneNumbers, phonesFromDomo, d)
	if v.location {
		u.Addresses = sh.Addresses
		u.Domo.EmployeeLocation = sh.Domo.EmployeeLocation
	} else {
		u.Addresses = addressesFromDomo(d)
	}
	if v.title {
		u.Title = sh.Title
	}
	if v.locale {
		u.Locale = sh.Locale
	}
	if v.timezone {
		u.Timezone = sh.Timezone
	}
	if v.role {
		u.Roles = sh.Roles
	} else {
		u.Roles = rolesFromDomo(d, opt)
	}
	if v.employeeID {
		u.Enterprise.EmployeeNumber = sh.Enterprise.EmployeeNumber
	}
	if v.department {
		u.Enterprise.Department = sh.Enterprise.Department
	}
	shareStrings(&u)
	return u
}

func pick(valid bool, shadow []Multi, derive func(domo.User) []Multi, d domo.User) []Multi {
	if valid {
		return shadow
	}
	return derive(d)
}

// nameFromDomo splits Domo's single name field for IdPs that require given and family names
// (Okta does): the first word is the given name, the rest the family name.
func nameFromDomo(full string) Name {
	n := Name{Formatted: full}
	if given, family, ok := strings.Cut(strings.TrimSpace(full), " "); ok {
		n.GivenName, n.FamilyName = given, strings.TrimSpace(family)
	}
	return n
}

func emailsFromDomo(d domo.User) []Multi {
	var out []Multi
	if d.Email != "" {
		out = append(out, Multi{Value: d.Email, Type: "work", Primary: true})
	}
	if d.AlternateEmail != "" {
		out = append(out, Multi{Value: d.AlternateEmail, Type: "other"})
	}
	return out
}

func phonesFromDomo(d domo.User) []Multi {
	if d.Phone == "" {
		return nil
	}
	return []Multi{{Value: d.Phone, Type: "work"}}
}

func addressesFromDomo(d domo.User) []Address {
	if d.Location == "" {
		return nil
	}
	return []Address{{Formatted: d.Location, Type: "work"}}
}

// rolesFromDomo names the user's Domo role as the catalogue spells it, so that the value
// the IdP reads back is one Roles.Lookup accepts.
func rolesFromDomo(d domo.User, opt Options) []Multi {
	name := d.Role
	if r, ok := opt.roles().ByID(int64(d.RoleID)); ok {
		name = r.Name
	} else if r, ok := opt.roles().Lookup(d.Role); ok && d.RoleID == 0 {
		name = r.Name
	} else if name == "" && d.RoleID != 0 {
		name = strconv.FormatInt(int64(d.RoleID), 10)
	}
	if name == "" {
		return nil
	}
	return []Multi{{Value: name, Display: name, Primary: true}}
}

func groupRefs(gs []domo.GroupRef, opt Options) []GroupRef {
	if len(gs) == 0 {
		return nil
	}
	out := make([]GroupRef, 0, len(gs))
	for _, g := range gs {
		if opt.HideDefaultGroup && strings.EqualFold(g.Name, "Default") {
			continue
		}
		out = append(out, GroupRef{Value: strconv.FormatInt(int64(g.ID), 10), Display: g.Name})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UserToDomo turns the SCIM user the IdP wants into the Domo record to send and the shadow to
// keep. cur is a fresh GET of the user (the zero value for a create); prev the stored shadow
// (nil if none).
//
// Each Domo field is decided by comparing what u asks for with what the current SCIM view
// (UserFromDomo(cur, prev)) asks for: when they agree, cur's value stays, even if it is not
// literally what u would write (Domo may have normalised it), so a PUT or PATCH that changes
// nothing sends nothing. When u no longer carries a value that the view had, Domo's value is
// cleared only if the bridge wrote it; an admin's value the IdP never sent survives. Fields
// SCIM does not manage (employeeNumber) are copied from cur, because a tenant in replace mode
// clears every field a PUT omits.
func UserToDomo(u User, cur domo.User, prev *UserShadow, opt Options) (domo.UserUpdate, UserShadow, error) {
	u = normalized(u)
	if strings.TrimSpace(u.UserName) == "" {
		return domo.UserUpdate{}, UserShadow{}, valueErr("userName", "userName is required")
	}
	create := cur.ID == 0
	view := normalized(UserFromDomo(cur, prev, opt))
	v := validityOf(cur, prev)
	upd := domo.UserUpdate{User: writable(cur)}
	out := &upd.User
	optional := func(field string, dst *string, want, wantView string, fromShadow bool) {
		switch {
		case want == wantView:
		case want != "":
			*dst = want
		case fromShadow && *dst != "":
			*dst = ""
			upd.Clear = append(upd.Clear, field)
		}
	}

	// email: the login. Compare inputs before computing, so that a user whose Domo login
	// this mapping could not produce (an address it thinks malformed) can still be patched.
	if u.UserName != view.UserName || !slices.Equal(u.Emails, view.Emails) || out.Email == "" {
		want, err := login(u, opt)
		if err != nil {
			return domo.UserUpdate{}, UserShadow{}, err
		}
		if wantView, err := login(view, opt); err != nil || want != wantView || out.Email == "" {
			out.Email = want
		}
	}

	// A displayName the view took from Domo's name, for a user the IdP wrote without one, is
	// not the IdP's: when u still carries it, the IdP's name parts decide, so that a change
	// of name.formatted (or of given and family names) reaches Domo. Without a shadow there
	// is no telling the IdP's displayName from Domo's, so it counts as the IdP's.
	derivedDisplay := prev != nil && v.name && prev.DisplayName == "" &&
		view.DisplayName != "" && u.DisplayName == view.DisplayName
	uName, viewName := u, view
	if derivedDisplay {
		uName.DisplayName, viewName.DisplayName = "", ""
	}
	if want := domoName(uName); want != domoName(viewName) || out.Name == "" {
		out.Name = want
	}
	optional(domo.FieldAlternateEmail, &out.AlternateEmail,
		alternateEmail(u.Emails, out.Email), alternateEmail(view.Emails, cur.Email), v.emails)
	optional(domo.FieldPhone, &out.Phone, phone(u.PhoneNumbers), phone(view.PhoneNumbers), v.phone)
	optional(domo.FieldLocation, &out.Location, userLocation(u), userLocation(view), v.location)
	optional(domo.FieldTitle, &out.Title, u.Title, view.Title, v.title)
	optional(domo.FieldLocale, &out.Locale, u.Locale, view.Locale, v.locale)
	optional(domo.FieldTimezone, &out.Timezone, u.Timezone, view.Timezone, v.timezone)
	optional(domo.FieldEmployeeID, &out.EmployeeID, u.Enterprise.EmployeeNumber, view.Enterprise.EmployeeNumber, v.employeeID)
	optional(domo.FieldDepartment, &out.Department, u.Enterprise.Department, view.Enterprise.Department, v.department)
	if n, ok := numericEmployeeNumber(u.Enterprise.EmployeeNumber); ok && opt.NumericEmployeeNumber {
		out.EmployeeNumber = domo.Int(n)
	}

	if err := setRole(out, u.Roles, view.Roles, create, opt); err != nil {
		return domo.UserUpdate{}, UserShadow{}, err
	}

	sh := UserShadow{
		ExternalID:        u.ExternalID,
		UserName:          u.UserName,
		DisplayName:       u.DisplayName,
		Name:              u.Name,
		NickName:          u.NickName,
		ProfileURL:        u.ProfileURL,
		Title:             u.Title,
		UserType:          u.UserType,
		PreferredLanguage: u.PreferredLanguage,
		Locale:            u.Locale,
		Timezone:          u.Timezone,
		Inactive:          !u.Active,
		Emails:            slices.Clone(u.Emails),
		PhoneNumbers:      slices.Clone(u.PhoneNumbers),
		IMs:               slices.Clone(u.IMs),
		Photos:            slices.Clone(u.Photos),
		Entitlements:      slices.Clone(u.Entitlements),
		Roles:             slices.Clone(u.Roles),
		X509Certificates:  slices.Clone(u.X509Certificates),
		Addresses:         slices.Clone(u.Addresses),
		Enterprise:        u.Enterprise,
		Domo:              u.Domo,
		CustomAttributes:  cloneCustom(u.CustomAttributes),
		Basis:             basisOf(*out),
		create:            create,
	}
	// A displayName the view took from Domo's name is not the IdP's: keep following Domo.
	if u.DisplayName == view.DisplayName && !(v.name && prev.DisplayName != "") {
		sh.DisplayName = ""
	}
	if prev != nil {
		sh.Modified = prev.Modified
		sh.Delivered = prev.Delivered
	}
	return upd, sh, nil
}

// numericEmployeeNumber reads an employeeNumber made only of digits (at most 18, so that it
// fits Domo's integer field) as a positive number. Anything else stays out of that field:
// Domo's integer cannot hold it, and cannot be cleared.
func numericEmployeeNumber(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 18 || strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// writable copies the fields a POST or PUT may carry (and the id, for the caller).
func writable(d domo.User) domo.User {
	return domo.User{
		ID: d.ID, Name: d.Name, Email: d.Email, AlternateEmail: d.AlternateEmail,
		Role: d.Role, RoleID: d.RoleID, Title: d.Title, Phone: d.Phone, Location: d.Location,
		Timezone: d.Timezone, Locale: d.Locale, EmployeeNumber: d.EmployeeNumber,
		EmployeeID: d.EmployeeID, Department: d.Department,
	}
}

// setRole applies the roles rule: the primary (else first) role names a catalogue role; no
// roles means the default role on create and cur's role otherwise.
func setRole(out *domo.User, roles, viewRoles []Multi, create bool, opt Options) error {
	key := roleKey(roles)
	if key == "" {
		if !create {
			return nil
		}
		r, ok := opt.roles().Lookup(opt.defaultRole())
		if !ok {
			// A configuration fault, not the client's: no ValueError.
			return &configError{"default role " + strconv.Quote(opt.defaultRole()) + " is not in the role catalogue"}
		}
		out.Role, out.RoleID = r.Name, domo.Int(r.ID)
		return nil
	}
	if !create && strings.EqualFold(key, roleKey(viewRoles)) {
		return nil // unchanged: not even looked up, so a role since dropped from the catalogue stays
	}
	r, ok := opt.roles().Lookup(key)
	if !ok {
		return valueErr("roles", "unknown Domo role "+strconv.Quote(key))
	}
	if create || !sameRole(out.Role, int64(out.RoleID), r.Name, r.ID) {
		out.Role, out.RoleID = r.Name, domo.Int(r.ID)
	}
	return nil
}

type configError struct{ msg string }

func (e *configError) Error() string { return "mapping: " + e.msg }

// roleKey is the value (else display) of the primary role, else of the first.
func roleKey(roles []Multi) string {
	m, ok := choose(roles, func(m Multi) bool { return m.Primary })
	if !ok {
		return ""
	}
	if s := strings.TrimSpace(m.Value); s != "" {
		return s
	}
	return strings.TrimSpace(m.Display)
}

// choose returns the first element that satisfies pref, else the first element.
func choose[T any](list []T, prefs ...func(T) bool) (T, bool) {
	for _, pref := range prefs {
		for _, e := range list {
			if pref(e) {
				return e, true
			}
		}
	}
	if len(list) > 0 {
		return list[0], true
	}
	var zero T
	return zero, false
}

// login is the Domo email for u: userName if it is an address; else userName turned into one
// under the login domain; else the primary email.
func login(u User, opt Options) (string, error) {
	if wellFormedEmail(u.UserName) {
		return u.UserName, nil
	}
	if opt.LoginDomain != "" {
		local := loginLocalPart(u.UserName)
		if local == "" {
			return "", valueErr("userName", "userName has no letters or digits to make a Domo login from")
		}
		return local + "@" + strings.TrimPrefix(opt.LoginDomain, "@"), nil
	}
	m, _ := choose(u.Emails, func(m Multi) bool { return m.Primary }, func(m Multi) bool { return strings.EqualFold(m.Type, "work") })
	if wellFormedEmail(m.Value) {
		return m.Value, nil
	}
	return "", valueErr("userName", "userName is not an email address and no email address was given to use as the Domo login")
}

// domoName is Domo's single name field: displayName, else name.formatted, else given and
// family names, else userName, because Domo requires a name.
func domoName(u User) string {
	for _, s := range []string{u.DisplayName, u.Name.Formatted} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	if s := strings.TrimSpace(strings.TrimSpace(u.Name.GivenName) + " " + strings.TrimSpace(u.Name.FamilyName)); s != "" {
		return s
	}
	return u.UserName
}

// alternateRank orders the email types that may become Domo's alternateEmail: Domo's own
// SCIM calls it "alternate"; "other" is what this mapping reads it back as.
var alternateRank = []string{"alternate", "other", "home", "work"}

// alternateEmail is the first well-formed address other than the login, by type in the order
// of alternateRank, then any other type, each in list order.
func alternateEmail(emails []Multi, login string) string {
	ok := func(m Multi) bool { return wellFormedEmail(m.Value) && !strings.EqualFold(m.Value, login) }
	for _, typ := range alternateRank {
		for _, m := range emails {
			if ok(m) && strings.EqualFold(m.Type, typ) {
				return m.Value
			}
		}
	}
	for _, m := range emails {
		if ok(m) {
			return m.Value
		}
	}
	return ""
}

// phone is Domo's single phone: the work number, else the primary, else the first. Values are
// sent as the IdP wrote them (Entra: "don't transform 55555555555").
func phone(phones []Multi) string {
	m, _ := choose(phones, func(m Multi) bool { return strings.EqualFold(m.Type, "work") }, func(m Multi) bool { return m.Primary })
	return m.Value
}

// userLocation is Domo's location for u: Domo SCIM's employeeLocation when the IdP sends it
// (Domo's own SCIM maps Location to it), else the location of its addresses.
func userLocation(u User) string {
	if s := strings.TrimSpace(u.Domo.EmployeeLocation); s != "" {
		return u.Domo.EmployeeLocation
	}
	return location(u.Addresses)
}

// location is Domo's free-text location: the formatted primary (else work, else first)
// address, else its locality, region and country.
func location(addrs []Address) string {
	a, ok := choose(addrs, func(a Address) bool { return a.Primary }, func(a Address) bool { return strings.EqualFold(a.Type, "work") })
	if !ok {
		return ""
	}
	if strings.TrimSpace(a.Formatted) != "" {
		return a.Formatted
	}
	var parts []string
	for _, p := range []string{a.Locality, a.Region, a.Country} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// normalized drops elements of multi-valued attributes that carry nothing and turns empty
// lists into nil, so that a user read back from its attribute map compares equal.
func normalized(u User) User {
	for _, p := range []*[]Multi{&u.Emails, &u.PhoneNumbers, &u.IMs, &u.Photos, &u.Entitlements, &u.Roles, &u.X509Certificates} {
		*p = compact(*p, func(m Multi) bool { return m == Multi{} })
	}
	u.Addresses = compact(u.Addresses, func(a Address) bool { return a == Address{} })
	return u
}

func compact[T any](list []T, empty func(T) bool) []T {
	n := 0
	for _, e := range list {
		if !empty(e) {
			n++
		}
	}
	if n == len(list) {
		if n == 0 {
			return nil
		}
		return list
	}
	out := make([]T, 0, n)
	for _, e := range list {
		if !empty(e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ChangedFields lists, by JSON name, the Domo fields that sending upd would change on cur, in
// the order the fields are sent. An empty result means the PUT can be skipped. A field upd
// leaves empty counts as a change when cur has a value, because a tenant in replace mode
// clears what a PUT omits.
func ChangedFields(upd domo.UserUpdate, cur domo.User) []string {
	var out []string
	str := func(field, want, have string) {
		if want != have && (want != "" || have != "") {
			out = append(out, field)
		}
	}
	u := upd.User
	str(domo.FieldName, u.Name, cur.Name)
	str(domo.FieldEmail, u.Email, cur.Email)
	str(domo.FieldAlternateEmail, u.AlternateEmail, cur.AlternateEmail)
	str(domo.FieldRole, u.Role, cur.Role)
	if u.RoleID != 0 && u.RoleID != cur.RoleID {
		out = append(out, domo.FieldRoleID)
	}
	str(domo.FieldTitle, u.Title, cur.Title)
	str(domo.FieldPhone, u.Phone, cur.Phone)
	str(domo.FieldLocation, u.Location, cur.Location)
	str(domo.FieldTimezone, u.Timezone, cur.Timezone)
	str(domo.FieldLocale, u.Locale, cur.Locale)
	if u.EmployeeNumber != cur.EmployeeNumber {
		out = append(out, domo.FieldEmployeeNumber)
	}
	str(domo.FieldEmployeeID, u.EmployeeID, cur.EmployeeID)
	str(domo.FieldDepartment, u.Department, cur.Department)
	return out
}
