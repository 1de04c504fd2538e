package domo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// User is a Domo v1 user as GET /v1/users/{id} returns it. List rows carry the same fields
// without Groups. Zero values mean "absent": Domo omits null fields.
type User struct {
	ID             int64      `json:"id,omitempty"`
	Name           string     `json:"name,omitempty"`
	Email          string     `json:"email,omitempty"`
	AlternateEmail string     `json:"alternateEmail,omitempty"`
	Role           string     `json:"role,omitempty"`
	RoleID         Int        `json:"roleId,omitempty"`
	Title          string     `json:"title,omitempty"`
	Phone          string     `json:"phone,omitempty"`
	Location       string     `json:"location,omitempty"`
	Timezone       string     `json:"timezone,omitempty"`
	Locale         string     `json:"locale,omitempty"`
	EmployeeNumber Int        `json:"employeeNumber,omitempty"`
	EmployeeID     string     `json:"employeeId,omitempty"`
	Department     string     `json:"department,omitempty"`
	CreatedAt      Time       `json:"createdAt,omitzero"`
	UpdatedAt      Time       `json:"updatedAt,omitzero"`
	Image          string     `json:"image,omitempty"`
	Groups         []GroupRef `json:"groups,omitempty"`
	Deleted        bool       `json:"deleted,omitempty"`
}

// GroupRef is an entry of a user's groups list.
type GroupRef struct {
	ID   Int    `json:"id"`
	Name string `json:"name,omitempty"`
}

// Writable user fields, by their JSON names, in the order they are sent.
const (
	FieldName           = "name"
	FieldEmail          = "email"
	FieldAlternateEmail = "alternateEmail"
	FieldRole           = "role"
	FieldRoleID         = "roleId"
	FieldTitle          = "title"
	FieldPhone          = "phone"
	FieldLocation       = "location"
	FieldTimezone       = "timezone"
	FieldLocale         = "locale"
	FieldEmployeeNumber = "employeeNumber"
	FieldEmployeeID     = "employeeId"
	FieldDepartment     = "department"
)

// UserUpdate is the body of POST or PUT /v1/users. Every non-zero writable field of User is
// sent; the read-only ones (id, createdAt, updatedAt, image, groups, deleted) never are. Clear
// names fields, by JSON name, to send as "" so that Domo clears them: a PUT to a tenant in merge
// mode leaves omitted fields unchanged, so omission alone cannot clear anything.
type UserUpdate struct {
	User  User
	Clear []string
}

// MarshalJSON encodes the update body.
func (u UserUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put(FieldName, u.User.Name)
	put(FieldEmail, u.User.Email)
	put(FieldAlternateEmail, u.User.AlternateEmail)
	put(FieldRole, u.User.Role)
	if u.User.RoleID != 0 {
		m[FieldRoleID] = int64(u.User.RoleID)
	}
	put(FieldTitle, u.User.Title)
	put(FieldPhone, u.User.Phone)
	put(FieldLocation, u.User.Location)
	put(FieldTimezone, u.User.Timezone)
	put(FieldLocale, u.User.Locale)
	if u.User.EmployeeNumber != 0 {
		m[FieldEmployeeNumber] = int64(u.User.EmployeeNumber)
	}
	put(FieldEmployeeID, u.User.EmployeeID)
	put(FieldDepartment, u.User.Department)
	for _, k := range u.Clear {
		if _, set := m[k]; !set {
			m[k] = ""
		}
	}
	return json.Marshal(m)
}

// Group is a Domo v1 group.
type Group struct {
	ID        int64  `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Default   bool   `json:"default,omitempty"`
	Active    *bool  `json:"active,omitempty"`
	CreatorID Int    `json:"creatorId,omitempty"`
	// MemberCount is nil when Domo's record did not carry it.
	MemberCount *int64 `json:"memberCount,omitempty"`
	UserIDs     []Int  `json:"userIds,omitempty"`
	Deleted     bool   `json:"deleted,omitempty"`
}

// Int is an int64 that decodes from a JSON number or a numeric string, because Domo types some
// ids (creatorId, roleId) as strings in one place and numbers in another.
type Int int64

// UnmarshalJSON accepts 42, "42", null and "".
func (i *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*i = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*i = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("domo: %q is not an integer", s)
		}
		n = int64(f)
	}
	*i = Int(n)
	return nil
}

// Time is a Domo timestamp: ISO-8601 UTC, with or without fractional seconds.
type Time struct{ time.Time }

// UnmarshalJSON accepts RFC 3339 with optional fraction, a zone-less form, null and "".
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("domo: timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("domo: bad timestamp %q", s)
}

// MarshalJSON writes RFC 3339 in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}
