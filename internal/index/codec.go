package index

import (
	"errors"
	"time"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// The encoding of a user's attributes: a sequence of fields, each a tag byte and a value.
// Absent fields (empty strings, empty lists) are left out. A string is a uvarint h and then,
// when h is even, h/2 bytes; when h is odd, a uvarint length n, and the string is the n bytes
// at offset h/2 of the encoding, an earlier occurrence (the Domo login that repeats userName,
// name.formatted that repeats displayName, a role's display that repeats its value). A list is
// a uvarint count and the elements, each a byte of flags saying which sub-attributes follow
// (and primary). A time is a zig-zag varint of Unix seconds and a uvarint of nanoseconds, read
// back in UTC, as responses show it.
//
// Snapshots store the encoding as is, so tags are append-only; a change of meaning needs a new
// snapshot version (snapshot.go).
type tag byte

const (
	tagUserName tag = 1 + iota
	tagDomoEmail
	tagDisplayName
	tagExternalID
	tagTitle
	tagGivenName
	tagFamilyName
	tagFormatted
	tagMiddleName
	tagHonorificPrefix
	tagHonorificSuffix
	tagNickName
	tagProfileURL
	tagUserType
	tagPreferredLanguage
	tagLocale
	tagTimezone
	tagEmployeeNumber
	tagCostCenter
	tagOrganization
	tagDivision
	tagDepartment
	tagManagerValue
	tagManagerDisplay
	tagEmails // the seven []Multi lists, in this order
	tagPhoneNumbers
	tagIMs
	tagPhotos
	tagEntitlements
	tagRoles
	tagX509Certificates
	tagAddresses
	tagInactive
	tagCreated
	tagLastModified
	tagHireDate         // Domo SCIM's domo extension; a string, encoded with the strings
	tagEmployeeLocation // likewise
	tagCustomAttributes // a count, then each attribute's key and its values (count<<1 | flat, then strings)
)

func (t tag) isString() bool {
	return tagUserName <= t && t <= tagManagerDisplay || t == tagHireDate || t == tagEmployeeLocation
}
func (t tag) isMultis() bool { return tagEmails <= t && t <= tagX509Certificates }
func (t tag) isTime() bool   { return t == tagCreated || t == tagLastModified }

// stringField is the field of u a string tag decodes into; nil for the Domo login, which
// mapping.User does not hold.
func stringField(u *mapping.User, t tag) *string {
	switch t {
	case tagUserName:
		return &u.UserName
	case tagDisplayName:
		return &u.DisplayName
	case tagExternalID:
		return &u.ExternalID
	case tagTitle:
		return &u.Title
	case tagGivenName:
		return &u.Name.GivenName
	case tagFamilyName:
		return &u.Name.FamilyName
	case tagFormatted:
		return &u.Name.Formatted
	case tagMiddleName:
		return &u.Name.MiddleName
	case tagHonorificPrefix:
		return &u.Name.HonorificPrefix
	case tagHonorificSuffix:
		return &u.Name.HonorificSuffix
	case tagNickName:
		return &u.NickName
	case tagProfileURL:
		return &u.ProfileURL
	case tagUserType:
		return &u.UserType
	case tagPreferredLanguage:
		return &u.PreferredLanguage
	case tagLocale:
		return &u.Locale
	case tagTimezone:
		return &u.Timezone
	case tagEmployeeNumber:
		return &u.Enterprise.EmployeeNumber
	case tagCostCenter:
		return &u.Enterprise.CostCenter
	case tagOrganization:
		return &u.Enterprise.Organization
	case tagDivision:
		return &u.Enterprise.Division
	case tagDepartment:
		return &u.Enterprise.Department
	case tagManagerValue:
		return &u.Enterprise.Manager.Value
	case tagManagerDisplay:
		return &u.Enterprise.Manager.DisplayName
	case tagHireDate:
		return &u.Domo.HireDate
	case tagEmployeeLocation:
		return &u.Domo.EmployeeLocation
	}
	return nil
}

// listsOf returns u's []Multi lists in tag order.
func listsOf(u *mapping.User) [tagX509Certificates - tagEmails + 1]*[]mapping.Multi {
	return [...]*[]mapping.Multi{&u.Emails, &u.PhoneNumbers, &u.IMs, &u.Photos, &u.Entitlements, &u.Roles, &u.X509Certificates}
}

// Flags of a list element.
const (
	multiValue = 1 << iota
	multiDisplay
	multiType
	multiPrimary
)

const (
	addrFormatted = 1 << iota
	addrStreet
	addrLocality
	addrRegion
	addrPostalCode
	addrCountry
	addrType
	addrPrimary
)

type encoder struct {
	buf  []byte
	seen []span // strings written literally, for back-references
}

type span struct{ off, n int }

func (e *encoder) tag(t tag) { e.buf = append(e.buf, byte(t)) }

func (e *encoder) uvarint(v uint64) {
	for v >= 0x80 {
		e.buf = append(e.buf, byte(v)|0x80)
		v >>= 7
	}
	e.buf = append(e.buf, byte(v))
}

// s writes a string value, as a back-reference when an equal string was written before.
func (e *encoder) s(s string) {
	for _, sp := range e.seen {
		if sp.n == len(s) && string(e.buf[sp.off:sp.off+sp.n]) == s {
			e.uvarint(uint64(sp.off)<<1 | 1)
			e.uvarint(uint64(sp.n))
			return
		}
	}
	e.uvarint(uint64(len(s)) << 1)
	if len(s) > 0 {
		e.seen = append(e.seen, span{len(e.buf), len(s)})
	}
	e.buf = append(e.buf, s...)
}

func (e *encoder) str(t tag, s string) {
	if s != "" {
		e.tag(t)
		e.s(s)
	}
}

func (e *encoder) multis(t tag, list []mapping.Multi) {
	if len(list) == 0 {
		return
	}
	e.tag(t)
	e.uvarint(uint64(len(list)))
	for i := range list {
		m := &list[i]
		var f byte
		for _, p := range [...]struct {
			bit byte
			s   string
		}{{multiValue, m.Value}, {multiDisplay, m.Display}, {multiType, m.Type}} {
			if p.s != "" {
				f |= p.bit
			}
		}
		if m.Primary {
			f |= multiPrimary
		}
		e.buf = append(e.buf, f)
		for _, s := range [...]string{m.Value, m.Display, m.Type} {
			if s != "" {
				e.s(s)
			}
		}
	}
}

func (e *encoder) addresses(list []mapping.Address) {
	if len(list) == 0 {
		return
	}
	e.tag(tagAddresses)
	e.uvarint(uint64(len(list)))
	for i := range list {
		a := &list[i]
		parts := [...]string{a.Formatted, a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country, a.Type}
		var f byte
		for j, s := range parts {
			if s != "" {
				f |= 1 << j
			}
		}
		if a.Primary {
			f |= addrPrimary
		}
		e.buf = append(e.buf, f)
		for _, s := range parts {
			if s != "" {
				e.s(s)
			}
		}
	}
}

func (e *encoder) custom(list []mapping.CustomAttribute) {
	if len(list) == 0 {
		return
	}
	e.tag(tagCustomAttributes)
	e.uvarint(uint64(len(list)))
	for _, a := range list {
		e.s(a.Key)
		flat := uint64(0)
		if a.Flat {
			flat = 1
		}
		e.uvarint(uint64(len(a.Values))<<1 | flat)
		for _, v := range a.Values {
			e.s(v)
		}
	}
}

func (e *encoder) time(t tag, v time.Time) {
	if v.IsZero() {
		return
	}
	e.tag(t)
	e.varint(v.Unix())
	e.uvarint(uint64(v.Nanosecond()))
}

var errCorrupt = errors.New("corrupt encoding")

// decoder reads an encoding. Encodings built in this process are well-formed; those read from
// a snapshot are checked, and a fault stops the decoder with err set.
type decoder struct {
	data string
	pos  int
	err  error
}

func (d *decoder) done() bool { return d.err != nil || d.pos >= len(d.data) }

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.pos = len(d.data)
}

func (d *decoder) byte() byte {
	if d.pos >= len(d.data) {
		d.fail()
		return 0
	}
	b := d.data[d.pos]
	d.pos++
	return b
}

func (d *decoder) tag() tag { return tag(d.byte()) }

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b := d.byte()
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	d.fail()
	return 0
}

func (d *decoder) str() string {
	h := d.uvarint()
	if h&1 == 0 {
		n := h >> 1
		if n > uint64(len(d.data)-d.pos) {
			d.fail()
			return ""
		}
		s := d.data[d.pos : d.pos+int(n)]
		d.pos += int(n)
		return s
	}
	off, n := h>>1, d.uvarint()
	if off > uint64(d.pos) || n > uint64(d.pos)-off {
		d.fail() // a back-reference points before itself
		return ""
	}
	return d.data[off : off+n]
}

// count reads a list length; each element takes at least one byte.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.data)-d.pos) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) multis(dst []mapping.Multi) []mapping.Multi {
	n := d.count()
	if cap(dst)-len(dst) < n {
		dst = append(make([]mapping.Multi, 0, len(dst)+n), dst...)
	}
	for range n {
		f := d.byte()
		var m mapping.Multi
		if f&multiValue != 0 {
			m.Value = d.str()
		}
		if f&multiDisplay != 0 {
			m.Display = d.str()
		}
		if f&multiType != 0 {
			m.Type = d.str()
		}
		m.Primary = f&multiPrimary != 0
		dst = append(dst, m)
	}
	return dst
}

func (d *decoder) skipMultis() {
	for range d.count() {
		f := d.byte()
		for _, bit := range [...]byte{multiValue, multiDisplay, multiType} {
			if f&bit != 0 {
				d.str()
			}
		}
	}
}

func (d *decoder) addresses(dst []mapping.Address) []mapping.Address {
	n := d.count()
	if cap(dst)-len(dst) < n {
		dst = append(make([]mapping.Address, 0, len(dst)+n), dst...)
	}
	for range n {
		f := d.byte()
		var a mapping.Address
		for j, p := range [...]*string{&a.Formatted, &a.StreetAddress, &a.Locality, &a.Region, &a.PostalCode, &a.Country, &a.Type} {
			if f&(1<<j) != 0 {
				*p = d.str()
			}
		}
		a.Primary = f&addrPrimary != 0
		dst = append(dst, a)
	}
	return dst
}

func (d *decoder) skipAddresses() {
	for range d.count() {
		f := d.byte()
		for j := range 7 {
			if f&(1<<j) != 0 {
				d.str()
			}
		}
	}
}

// custom reads customAttributes; with keep false it only reads past them.
func (d *decoder) custom(keep bool) []mapping.CustomAttribute {
	n := d.count()
	var out []mapping.CustomAttribute
	if keep {
		out = make([]mapping.CustomAttribute, 0, n)
	}
	for range n {
		a := mapping.CustomAttribute{Key: d.str()}
		h := d.uvarint()
		a.Flat = h&1 == 1
		m := h >> 1
		if m > uint64(len(d.data)-d.pos) {
			d.fail()
			return nil
		}
		for range m {
			if v := d.str(); keep {
				a.Values = append(a.Values, v)
			}
		}
		if keep && d.err == nil {
			out = append(out, a)
		}
	}
	return out
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// skip reads past the value of a field with tag t.
func (d *decoder) skip(t tag) {
	switch {
	case t.isString():
		d.str()
	case t.isMultis():
		d.skipMultis()
	case t == tagAddresses:
		d.skipAddresses()
	case t == tagCustomAttributes:
		d.custom(false)
	case t.isTime():
		d.time()
	case t == tagInactive:
	default:
		d.fail()
	}
}
