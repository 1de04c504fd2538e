package domo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Domo's answers are decoded defensively: ids may come as numbers or strings, unknown fields
// are ignored, omitted fields stay zero, and a field of an unexpected type loses that field,
// not the record. The fast path decodes straight into wire types; only a record that fails it
// is decoded field by field.

type userWire struct {
	ID             Int        `json:"id"`
	Name           string     `json:"name"`
	Email          string     `json:"email"`
	AlternateEmail string     `json:"alternateEmail"`
	Role           string     `json:"role"`
	RoleID         Int        `json:"roleId"`
	Title          string     `json:"title"`
	Phone          string     `json:"phone"`
	Location       string     `json:"location"`
	Timezone       string     `json:"timezone"`
	Locale         string     `json:"locale"`
	EmployeeNumber Int        `json:"employeeNumber"`
	EmployeeID     string     `json:"employeeId"`
	Department     string     `json:"department"`
	CreatedAt      Time       `json:"createdAt"`
	UpdatedAt      Time       `json:"updatedAt"`
	Image          string     `json:"image"`
	Groups         []GroupRef `json:"groups"`
	Deleted        bool       `json:"deleted"`
}

func (w *userWire) user() User {
	return User{
		ID: int64(w.ID), Name: w.Name, Email: w.Email, AlternateEmail: w.AlternateEmail,
		Role: w.Role, RoleID: w.RoleID, Title: w.Title, Phone: w.Phone, Location: w.Location,
		Timezone: w.Timezone, Locale: w.Locale, EmployeeNumber: w.EmployeeNumber,
		EmployeeID: w.EmployeeID, Department: w.Department, CreatedAt: w.CreatedAt,
		UpdatedAt: w.UpdatedAt, Image: w.Image, Groups: w.Groups, Deleted: w.Deleted,
	}
}

type groupWire struct {
	ID          Int    `json:"id"`
	Name        string `json:"name"`
	Default     bool   `json:"default"`
	Active      *bool  `json:"active"`
	CreatorID   Int    `json:"creatorId"`
	MemberCount *Int   `json:"memberCount"`
	UserIDs     []Int  `json:"userIds"`
	Deleted     bool   `json:"deleted"`
}

func (w *groupWire) group() Group {
	return Group{
		ID: int64(w.ID), Name: w.Name, Default: w.Default, Active: w.Active, CreatorID: w.CreatorID,
		MemberCount: (*int64)(w.MemberCount), UserIDs: w.UserIDs, Deleted: w.Deleted,
	}
}

func decodeUser(b []byte) (User, error) {
	var w userWire
	if err := json.Unmarshal(b, &w); err != nil {
		w = userWire{} // drop what the failed pass filled in
		if err := lenient(b, &w); err != nil {
			return User{}, err
		}
	}
	return w.user(), nil
}

func decodeUsers(b []byte) ([]User, error) {
	// Fast path: a well-formed page decodes straight into User (numeric ids fit its int64).
	var direct []User
	if err := json.Unmarshal(b, &direct); err == nil {
		return direct, nil
	}
	var ws []userWire
	if err := json.Unmarshal(b, &ws); err != nil {
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("users page is not a JSON array: %w", err)
		}
		ws = make([]userWire, len(raws))
		for i, raw := range raws {
			if err := json.Unmarshal(raw, &ws[i]); err != nil {
				ws[i] = userWire{}
				if err := lenient(raw, &ws[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	out := make([]User, len(ws))
	for i := range ws {
		out[i] = ws[i].user()
	}
	return out, nil
}

func decodeGroup(b []byte) (Group, error) {
	var w groupWire
	if err := json.Unmarshal(b, &w); err != nil {
		w = groupWire{} // drop what the failed pass filled in
		if err := lenient(b, &w); err != nil {
			return Group{}, err
		}
	}
	return w.group(), nil
}

func decodeGroups(b []byte) ([]Group, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, fmt.Errorf("groups page is not a JSON array: %w", err)
	}
	out := make([]Group, 0, len(raws))
	for _, raw := range raws {
		g, err := decodeGroup(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// decodeIDs reads a page of member ids: numbers, numeric strings, or (defensively) objects
// carrying an id. Entries that are not a positive id are dropped.
func decodeIDs(b []byte) ([]int64, error) {
	ids, _, err := decodeIDPage(b)
	return ids, err
}

// decodeIDPage is decodeIDs that also reports how many entries the page held, usable or not:
// paging must judge a short page by Domo's count, not by what survived decoding.
func decodeIDPage(b []byte) ([]int64, int, error) {
	var ids []Int
	if err := json.Unmarshal(b, &ids); err == nil {
		out := make([]int64, 0, len(ids))
		for _, id := range ids {
			if id > 0 {
				out = append(out, int64(id))
			}
		}
		return out, len(ids), nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, 0, fmt.Errorf("member page is not a JSON array: %w", err)
	}
	out := make([]int64, 0, len(raws))
	for _, raw := range raws {
		var id Int
		if json.Unmarshal(raw, &id) != nil {
			var obj struct {
				ID Int `json:"id"`
			}
			if json.Unmarshal(raw, &obj) != nil {
				continue
			}
			id = obj.ID
		}
		if id > 0 {
			out = append(out, int64(id))
		}
	}
	return out, len(raws), nil
}

// lenient decodes a JSON object field by field into the struct pointed to by dst, skipping
// fields whose values do not fit. The object must at least carry a usable id.
func lenient(b []byte, dst any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("record is not a JSON object: %w", err)
	}
	switch d := dst.(type) {
	case *userWire:
		setField(m, "id", &d.ID)
		setStr(m, "name", &d.Name)
		setStr(m, "email", &d.Email)
		setStr(m, "alternateEmail", &d.AlternateEmail)
		setStr(m, "role", &d.Role)
		setField(m, "roleId", &d.RoleID)
		setStr(m, "title", &d.Title)
		setStr(m, "phone", &d.Phone)
		setStr(m, "location", &d.Location)
		setStr(m, "timezone", &d.Timezone)
		setStr(m, "locale", &d.Locale)
		setField(m, "employeeNumber", &d.EmployeeNumber)
		setStr(m, "employeeId", &d.EmployeeID)
		setStr(m, "department", &d.Department)
		setField(m, "createdAt", &d.CreatedAt)
		setField(m, "updatedAt", &d.UpdatedAt)
		setStr(m, "image", &d.Image)
		setBool(m, "deleted", &d.Deleted)
		if raw, ok := m["groups"]; ok {
			var refs []json.RawMessage
			if json.Unmarshal(raw, &refs) == nil {
				for _, r := range refs {
					var g GroupRef
					if json.Unmarshal(r, &g) == nil && g.ID != 0 {
						d.Groups = append(d.Groups, g)
					}
				}
			}
		}
		if d.ID <= 0 {
			return fmt.Errorf("user record without a usable id")
		}
	case *groupWire:
		setField(m, "id", &d.ID)
		setStr(m, "name", &d.Name)
		setBool(m, "default", &d.Default)
		var active bool
		if setBool(m, "active", &active) {
			d.Active = &active
		}
		setField(m, "creatorId", &d.CreatorID)
		if raw, ok := m["memberCount"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			var n Int
			if n.UnmarshalJSON(raw) == nil {
				d.MemberCount = &n
			}
		}
		if raw, ok := m["userIds"]; ok {
			if ids, err := decodeIDs(raw); err == nil {
				d.UserIDs = make([]Int, 0, len(ids)) // present, even when empty
				for _, id := range ids {
					d.UserIDs = append(d.UserIDs, Int(id))
				}
			}
		}
		setBool(m, "deleted", &d.Deleted)
		if d.ID <= 0 {
			return fmt.Errorf("group record without a usable id")
		}
	}
	return nil
}

func setField(m map[string]json.RawMessage, k string, dst json.Unmarshaler) {
	if raw, ok := m[k]; ok {
		_ = dst.UnmarshalJSON(raw)
	}
}

func setStr(m map[string]json.RawMessage, k string, dst *string) {
	raw, ok := m[k]
	if !ok {
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		*dst = s
		return
	}
	// A number or bool where a string was expected: keep its text.
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] != '{' && raw[0] != '[' && string(raw) != "null" {
		*dst = string(raw)
	}
}

func setBool(m map[string]json.RawMessage, k string, dst *bool) bool {
	raw, ok := m[k]
	if !ok {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		*dst = b
		return true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if v, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			*dst = v
			return true
		}
	}
	return false
}
