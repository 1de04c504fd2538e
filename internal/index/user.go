package index

import (
	"fmt"
	"sync"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// User is one indexed user. A tenant of 100,000 users must fit in about 100 MiB, so a user is
// not kept as a mapping.User (650 bytes before its strings and lists): every attribute is
// encoded into one string, and the attributes that lookups and common filters read are
// substrings of it. Expand and SCIM give the full mapping.User back.
//
// Build one with NewUser: the exported fields are views of the encoding, not its source.
// Entries are immutable once built: a change replaces the entry, so readers may keep a
// pointer without locking.
type User struct {
	ID          int64
	UserName    string
	DisplayName string
	ExternalID  string
	DomoEmail   string // the Domo login; differs from UserName when the IdP's is not an address

	title, givenName, familyName string
	active                       bool
	data                         string
}

// Title is the user's title.
func (u *User) Title() string { return u.title }

// GivenName is name.givenName.
func (u *User) GivenName() string { return u.givenName }

// FamilyName is name.familyName.
func (u *User) FamilyName() string { return u.familyName }

// Active is the SCIM active flag.
func (u *User) Active() bool { return u.active }

// Size is the number of bytes the user's encoded attributes take.
func (u *User) Size() int { return len(u.data) }

// NewUser builds the index entry of u, whose Domo login is domoEmail. u.Groups is not kept:
// memberships come from the group index.
func NewUser(u mapping.User, domoEmail string) User {
	e := encoders.Get().(*encoder)
	defer func() {
		e.buf, e.seen = e.buf[:0], e.seen[:0]
		encoders.Put(e)
	}()
	// Strings first, those filters read most at the front: a scan looks one up by walking
	// the strings (see stringOf), and the lists after them reference them.
	ent := &u.Enterprise
	e.str(tagUserName, u.UserName)
	e.str(tagDomoEmail, domoEmail)
	e.str(tagDisplayName, u.DisplayName)
	e.str(tagExternalID, u.ExternalID)
	e.str(tagTitle, u.Title)
	e.str(tagGivenName, u.Name.GivenName)
	e.str(tagFamilyName, u.Name.FamilyName)
	e.str(tagEmployeeNumber, ent.EmployeeNumber)
	e.str(tagDepartment, ent.Department)
	e.str(tagLocale, u.Locale)
	e.str(tagTimezone, u.Timezone)
	e.str(tagFormatted, u.Name.Formatted)
	e.str(tagMiddleName, u.Name.MiddleName)
	e.str(tagHonorificPrefix, u.Name.HonorificPrefix)
	e.str(tagHonorificSuffix, u.Name.HonorificSuffix)
	e.str(tagNickName, u.NickName)
	e.str(tagProfileURL, u.ProfileURL)
	e.str(tagUserType, u.UserType)
	e.str(tagPreferredLanguage, u.PreferredLanguage)
	e.str(tagCostCenter, ent.CostCenter)
	e.str(tagOrganization, ent.Organization)
	e.str(tagDivision, ent.Division)
	e.str(tagManagerValue, ent.Manager.Value)
	e.str(tagManagerDisplay, ent.Manager.DisplayName)
	e.str(tagHireDate, u.Domo.HireDate)
	e.str(tagEmployeeLocation, u.Domo.EmployeeLocation)
	if !u.Active {
		e.tag(tagInactive)
	}
	e.multis(tagEmails, u.Emails)
	e.multis(tagPhoneNumbers, u.PhoneNumbers)
	e.multis(tagIMs, u.IMs)
	e.multis(tagPhotos, u.Photos)
	e.multis(tagEntitlements, u.Entitlements)
	e.multis(tagRoles, u.Roles)
	e.multis(tagX509Certificates, u.X509Certificates)
	e.addresses(u.Addresses)
	e.custom(u.CustomAttributes)
	e.time(tagCreated, u.Created)
	e.time(tagLastModified, u.LastModified)
	out, err := userFromData(u.ID, string(e.buf))
	if err != nil {
		panic("index: user encoding does not decode: " + err.Error()) // a bug in this file
	}
	return out
}

// encoders recycles encoding buffers: a load encodes 100,000 users.
var encoders = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 512)} }}

// userFromData builds an entry from its encoded attributes, checking them: snapshots come
// from disk.
func userFromData(id int64, data string) (User, error) {
	u := User{ID: id, data: data, active: true}
	d := decoder{data: data}
	inStrings := true
	for !d.done() {
		t := d.tag()
		if t.isString() && !inStrings {
			return User{}, fmt.Errorf("user %d: %w: a string after the lists", id, errCorrupt)
		}
		inStrings = inStrings && t.isString()
		switch t {
		case tagInactive:
			u.active = false
		case tagUserName:
			u.UserName = d.str()
		case tagDomoEmail:
			u.DomoEmail = d.str()
		case tagDisplayName:
			u.DisplayName = d.str()
		case tagExternalID:
			u.ExternalID = d.str()
		case tagTitle:
			u.title = d.str()
		case tagGivenName:
			u.givenName = d.str()
		case tagFamilyName:
			u.familyName = d.str()
		default:
			d.skip(t)
		}
	}
	if d.err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, d.err)
	}
	return u, nil
}

// SCIM returns the user as a new mapping.User (without groups).
func (u *User) SCIM() mapping.User {
	var m mapping.User
	u.expand(&m, false)
	return m
}

// Expand overwrites dst with the user (without groups), reusing dst's lists: a scan that
// evaluates a filter on every user expands each into one scratch value without allocating.
// dst's lists are overwritten by the next Expand, so values taken from them must not be kept
// beyond it (strings may: they belong to the entry).
func (u *User) Expand(dst *mapping.User) { u.expand(dst, true) }

func (u *User) expand(dst *mapping.User, reuse bool) {
	var lists [tagX509Certificates - tagEmails + 1][]mapping.Multi
	var addrs []mapping.Address
	if reuse {
		for i, l := range listsOf(dst) {
			lists[i] = (*l)[:0]
		}
		addrs = dst.Addresses[:0]
	}
	*dst = mapping.User{ID: u.ID, Active: true}
	d := decoder{data: u.data}
	for !d.done() {
		t := d.tag()
		switch {
		case t == tagInactive:
			dst.Active = false
		case t.isString():
			s := d.str()
			if p := stringField(dst, t); p != nil {
				*p = s
			}
		case t.isMultis():
			i := t - tagEmails
			lists[i] = d.multis(lists[i])
		case t == tagAddresses:
			addrs = d.addresses(addrs)
		case t == tagCustomAttributes:
			dst.CustomAttributes = d.custom(true)
		case t == tagCreated:
			dst.Created = d.time()
		case t == tagLastModified:
			dst.LastModified = d.time()
		default:
			d.skip(t)
		}
	}
	for i, l := range listsOf(dst) {
		if len(lists[i]) > 0 {
			*l = lists[i]
		} else if reuse {
			*l = lists[i][:0]
		}
	}
	if len(addrs) > 0 || reuse {
		dst.Addresses = addrs
	}
}

// Values is mapping.User's Values on a fresh expansion: correct, not fast. Scans use a
// scratch expansion instead (see Expand).
func (u *User) Values(key, sub string) []any {
	m := u.SCIM()
	return m.Values(key, sub)
}

// StringValue answers scim.StringValuer's question for the single-valued string attributes
// (key and sub as scim.Resource takes them) by reading just that string: the attributes the
// entry holds decoded at once, any other by walking the encoded strings. It returns false for
// every other attribute.
func (u *User) StringValue(key, sub string) (string, bool) {
	t, ok := stringTag(key, sub)
	if !ok {
		return "", false
	}
	return u.stringOf(t), true
}

// stringOf returns the string field with tag t, "" when absent.
func (u *User) stringOf(t tag) string {
	switch t {
	case tagUserName:
		return u.UserName
	case tagDisplayName:
		return u.DisplayName
	case tagExternalID:
		return u.ExternalID
	case tagTitle:
		return u.title
	case tagGivenName:
		return u.givenName
	case tagFamilyName:
		return u.familyName
	}
	d := decoder{data: u.data}
	for !d.done() {
		f := d.tag()
		if !f.isString() {
			break // strings come first
		}
		if s := d.str(); f == t {
			return s
		}
	}
	return ""
}

// AppendMultis appends the elements of the []Multi attribute key (emails, phonenumbers, ims,
// photos, entitlements, roles, x509certificates) to dst, decoding nothing else: value-path
// filters read one list of every user. ok is false for other keys.
func (u *User) AppendMultis(dst []mapping.Multi, key string) ([]mapping.Multi, bool) {
	t, ok := multisTag(key)
	if !ok {
		return dst, false
	}
	d := decoder{data: u.data}
	for !d.done() {
		f := d.tag()
		if f == t {
			return d.multis(dst), true
		}
		d.skip(f)
	}
	return dst, true
}

// stringTag is the tag of the single-valued string attribute at key and sub.
func stringTag(key, sub string) (tag, bool) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:"
	if sub == "" {
		switch key {
		case "username":
			return tagUserName, true
		case "displayname":
			return tagDisplayName, true
		case "externalid":
			return tagExternalID, true
		case "title":
			return tagTitle, true
		case "nickname":
			return tagNickName, true
		case "profileurl":
			return tagProfileURL, true
		case "usertype":
			return tagUserType, true
		case "preferredlanguage":
			return tagPreferredLanguage, true
		case "locale":
			return tagLocale, true
		case "timezone":
			return tagTimezone, true
		case ent + "employeenumber":
			return tagEmployeeNumber, true
		case ent + "costcenter":
			return tagCostCenter, true
		case ent + "organization":
			return tagOrganization, true
		case ent + "division":
			return tagDivision, true
		case ent + "department":
			return tagDepartment, true
		case "urn:ietf:params:scim:schemas:extension:domo:2.0:user:hiredate":
			return tagHireDate, true
		case "urn:ietf:params:scim:schemas:extension:domo:2.0:user:employeelocation":
			return tagEmployeeLocation, true
		}
		return 0, false
	}
	switch key {
	case "name":
		switch sub {
		case "givenname":
			return tagGivenName, true
		case "familyname":
			return tagFamilyName, true
		case "formatted":
			return tagFormatted, true
		case "middlename":
			return tagMiddleName, true
		case "honorificprefix":
			return tagHonorificPrefix, true
		case "honorificsuffix":
			return tagHonorificSuffix, true
		}
	case ent + "manager":
		switch sub {
		case "value":
			return tagManagerValue, true
		case "displayname":
			return tagManagerDisplay, true
		}
	}
	return 0, false
}

func multisTag(key string) (tag, bool) {
	switch key {
	case "emails":
		return tagEmails, true
	case "phonenumbers":
		return tagPhoneNumbers, true
	case "ims":
		return tagIMs, true
	case "photos":
		return tagPhotos, true
	case "entitlements":
		return tagEntitlements, true
	case "roles":
		return tagRoles, true
	case "x509certificates":
		return tagX509Certificates, true
	}
	return 0, false
}
