package mapping

import "time"

// Version is a weak ETag over u's SCIM content. It leaves out meta and the read-only groups,
// because list rows from Domo carry no groups and a version must not depend on how the user
// was read.
func (u *User) Version() string {
	h := fnv(fnvOffset)
	h.int(u.ID)
	h.strs(u.ExternalID, u.UserName, u.DisplayName, u.NickName, u.ProfileURL, u.Title, u.UserType,
		u.PreferredLanguage, u.Locale, u.Timezone)
	h.strs(u.Name.Formatted, u.Name.FamilyName, u.Name.GivenName, u.Name.MiddleName,
		u.Name.HonorificPrefix, u.Name.HonorificSuffix)
	h.bool(u.Active)
	for _, list := range [...][]Multi{u.Emails, u.PhoneNumbers, u.IMs, u.Photos, u.Entitlements, u.Roles, u.X509Certificates} {
		h.int(int64(len(list)))
		for i := range list {
			m := &list[i]
			h.strs(m.Value, m.Display, m.Type)
			h.bool(m.Primary)
		}
	}
	h.int(int64(len(u.Addresses)))
	for i := range u.Addresses {
		a := &u.Addresses[i]
		h.strs(a.Formatted, a.StreetAddress, a.Locality, a.Region, a.PostalCode, a.Country, a.Type)
		h.bool(a.Primary)
	}
	e := &u.Enterprise
	h.strs(e.EmployeeNumber, e.CostCenter, e.Organization, e.Division, e.Department,
		e.Manager.Value, e.Manager.DisplayName)
	// Domo's extensions count only when present, so that versions of users without them stay
	// what they were.
	if u.Domo != (DomoExt{}) || len(u.CustomAttributes) > 0 {
		h.strs(u.Domo.HireDate, u.Domo.EmployeeLocation)
		h.int(int64(len(u.CustomAttributes)))
		for _, a := range u.CustomAttributes {
			h.strs(a.Key)
			h.int(int64(len(a.Values)))
			h.strs(a.Values...)
		}
	}
	return h.etag()
}

// fnv is FNV-1a, 64 bits: stable across processes (unlike hash/maphash), so ETags survive a
// restart, and free of allocations. Every string is length-prefixed so that field boundaries
// count.
type fnv uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (h *fnv) byte(b byte) {
	*h ^= fnv(b)
	*h *= fnvPrime
}

func (h *fnv) int(n int64) {
	for i := 0; i < 8; i++ {
		h.byte(byte(n >> (8 * i)))
	}
}

func (h *fnv) bool(b bool) {
	if b {
		h.byte(1)
	} else {
		h.byte(0)
	}
}

func (h *fnv) strs(ss ...string) {
	for _, s := range ss {
		h.int(int64(len(s)))
		for i := 0; i < len(s); i++ {
			h.byte(s[i])
		}
	}
}

func (h *fnv) time(t time.Time) {
	if t.IsZero() {
		h.int(0)
		return
	}
	h.int(t.UnixNano())
}

func (h *fnv) etag() string {
	const digits = "0123456789abcdef"
	var b [20]byte
	copy(b[:], `W/"`)
	v := uint64(*h)
	for i := 18; i >= 3; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	b[19] = '"'
	return string(b[:])
}
