package mapping

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// UserShadow is what the bridge keeps about a user beyond what Domo holds: every attribute as
// the IdP last wrote it, plus the Basis, the Domo values at that moment. An attribute that
// Domo also holds is read from the shadow only while Domo's value still equals the basis, so
// that a GET returns what the IdP wrote (Domo may normalise or ignore a value) until someone
// changes the user in Domo, after which Domo wins. The bridge stores it as JSON, keyed by the
// Domo id.
type UserShadow struct {
	ExternalID string `json:"externalId,omitempty"`
	UserName   string `json:"userName,omitempty"`
	// DisplayName is empty when the IdP sent none or when it was Domo's name as read, so
	// that the user keeps following Domo's name in that case.
	DisplayName       string     `json:"displayName,omitempty"`
	Name              Name       `json:"name,omitzero"`
	NickName          string     `json:"nickName,omitempty"`
	ProfileURL        string     `json:"profileUrl,omitempty"`
	Title             string     `json:"title,omitempty"`
	UserType          string     `json:"userType,omitempty"`
	PreferredLanguage string     `json:"preferredLanguage,omitempty"`
	Locale            string     `json:"locale,omitempty"`
	Timezone          string     `json:"timezone,omitempty"`
	Inactive          bool       `json:"inactive,omitempty"` // SCIM active:false; the zero value is an active user
	Emails            []Multi    `json:"emails,omitempty"`
	PhoneNumbers      []Multi    `json:"phoneNumbers,omitempty"`
	IMs               []Multi    `json:"ims,omitempty"`
	Photos            []Multi    `json:"photos,omitempty"`
	Entitlements      []Multi    `json:"entitlements,omitempty"`
	Roles             []Multi    `json:"roles,omitempty"`
	X509Certificates  []Multi    `json:"x509Certificates,omitempty"`
	Addresses         []Address  `json:"addresses,omitempty"`
	Enterprise        Enterprise `json:"enterprise,omitzero"`
	// Domo and CustomAttributes are Domo's own SCIM extensions as the IdP wrote them.
	Domo             DomoExt           `json:"domo,omitzero"`
	CustomAttributes []CustomAttribute `json:"customAttributes,omitempty"`
	// Delivered holds the identity attributes (IdentityAttributes) the bridge last wrote to
	// Domo and Domo confirmed, by key: what Domo is known to hold. While the IdP's wish
	// differs from it, a delivery is pending (the bridge keeps an intent until it is made).
	// nil means nothing was ever delivered.
	Delivered map[string][]string `json:"delivered,omitempty"`
	// Modified is when the bridge last changed the shadow; meta.lastModified is the later of
	// it and Domo's updatedAt. The mapping has no clock: UserToDomo carries the previous value
	// over, and the bridge stamps it when the shadow it stores differs (ShadowEqual ignores it).
	Modified time.Time `json:"modified,omitzero"`
	Basis    UserBasis `json:"basis"`

	// create marks a shadow made for a POST, whose response omits timezone and locale.
	create bool
}

// UserBasis holds the Domo fields the shadow depends on, as Domo held them when the shadow was
// written.
type UserBasis struct {
	Email          string `json:"email,omitempty"`
	AlternateEmail string `json:"alternateEmail,omitempty"`
	Name           string `json:"name,omitempty"`
	Role           string `json:"role,omitempty"`
	RoleID         int64  `json:"roleId,omitempty"`
	Title          string `json:"title,omitempty"`
	Phone          string `json:"phone,omitempty"`
	Location       string `json:"location,omitempty"`
	Timezone       string `json:"timezone,omitempty"`
	Locale         string `json:"locale,omitempty"`
	EmployeeID     string `json:"employeeId,omitempty"`
	Department     string `json:"department,omitempty"`
}

func basisOf(d domo.User) UserBasis {
	return UserBasis{
		Email: d.Email, AlternateEmail: d.AlternateEmail, Name: d.Name,
		Role: d.Role, RoleID: int64(d.RoleID), Title: d.Title, Phone: d.Phone,
		Location: d.Location, Timezone: d.Timezone, Locale: d.Locale,
		EmployeeID: d.EmployeeID, Department: d.Department,
	}
}

// Rebase records in the basis what Domo holds after a successful write: after is the POST or
// PUT response. A create response omits timezone and locale, so for a shadow UserToDomo made
// for a create, the values sent stay the basis of those two; if Domo normalised them, reads
// show Domo's form until the next write. Rebasing once more on a GET after the create avoids
// that.
func (sh *UserShadow) Rebase(after domo.User) {
	b := basisOf(after)
	if sh.create {
		if b.Timezone == "" {
			b.Timezone = sh.Basis.Timezone
		}
		if b.Locale == "" {
			b.Locale = sh.Basis.Locale
		}
	}
	sh.Basis = b
	sh.create = false
}

// ShadowEqual reports whether storing b in place of a would change nothing a read depends on.
// It ignores Modified, so that the bridge can compare first and stamp the time after.
func ShadowEqual(a, b *UserShadow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ExternalID == b.ExternalID && a.UserName == b.UserName &&
		a.DisplayName == b.DisplayName && a.Name == b.Name && a.NickName == b.NickName &&
		a.ProfileURL == b.ProfileURL && a.Title == b.Title && a.UserType == b.UserType &&
		a.PreferredLanguage == b.PreferredLanguage && a.Locale == b.Locale &&
		a.Timezone == b.Timezone && a.Inactive == b.Inactive &&
		slices.Equal(a.Emails, b.Emails) && slices.Equal(a.PhoneNumbers, b.PhoneNumbers) &&
		slices.Equal(a.IMs, b.IMs) && slices.Equal(a.Photos, b.Photos) &&
		slices.Equal(a.Entitlements, b.Entitlements) && slices.Equal(a.Roles, b.Roles) &&
		slices.Equal(a.X509Certificates, b.X509Certificates) &&
		slices.Equal(a.Addresses, b.Addresses) && a.Enterprise == b.Enterprise &&
		a.Domo == b.Domo && customEqual(a.CustomAttributes, b.CustomAttributes) &&
		maps.EqualFunc(a.Delivered, b.Delivered, slices.Equal[[]string]) &&
		a.Basis == b.Basis
}

// validity says, per Domo-backed attribute, whether the shadow still describes what Domo
// holds, i.e. whether a read takes the attribute from the shadow.
type validity struct {
	userName, name, emails, phone, location, title, locale, timezone, role, employeeID, department bool
}

func validityOf(d domo.User, sh *UserShadow) validity {
	if sh == nil {
		return validity{}
	}
	b := &sh.Basis
	return validity{
		// Domo compares logins case-insensitively and may store them lower-cased.
		userName:   sh.UserName != "" && strings.EqualFold(d.Email, b.Email),
		name:       d.Name == b.Name,
		emails:     strings.EqualFold(d.Email, b.Email) && strings.EqualFold(d.AlternateEmail, b.AlternateEmail),
		phone:      d.Phone == b.Phone,
		location:   d.Location == b.Location,
		title:      d.Title == b.Title,
		locale:     d.Locale == b.Locale,
		timezone:   d.Timezone == b.Timezone,
		role:       sameRole(d.Role, int64(d.RoleID), b.Role, b.RoleID),
		employeeID: d.EmployeeID == b.EmployeeID,
		department: d.Department == b.Department,
	}
}

// sameRole compares by id when both sides have one (a custom role's name may be shown in any
// case, or not at all), else by name.
func sameRole(name1 string, id1 int64, name2 string, id2 int64) bool {
	if id1 != 0 && id2 != 0 {
		return id1 == id2
	}
	return strings.EqualFold(name1, name2)
}
