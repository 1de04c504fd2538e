package mapping

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Role is a Domo role: a system role (ids 1 to 5) or a custom one.
type Role struct {
	ID   int64
	Name string
}

// systemRoles are the roles every Domo instance has, with the ids Domo gives them.
var systemRoles = []Role{
	{1, "Admin"}, {2, "Privileged"}, {3, "Editor"}, {4, "Participant"}, {5, "Social"},
}

// Roles is the catalogue of Domo roles the bridge may assign. It is read-only once built, so
// one value serves concurrent requests.
type Roles struct {
	byID   map[int64]Role
	byName map[string]Role // lower-case name
}

// defaultRoles serves a nil *Roles and Options without a catalogue.
var defaultRoles = NewRoles(nil)

// NewRoles returns the system roles plus custom. A custom role whose id or name (compared
// case-insensitively) is already taken is ignored, so the system roles always mean what Domo
// means by them.
func NewRoles(custom []Role) *Roles {
	r := &Roles{byID: map[int64]Role{}, byName: map[string]Role{}}
	for _, list := range [][]Role{systemRoles, custom} {
		for _, role := range list {
			key := strings.ToLower(strings.TrimSpace(role.Name))
			if role.ID <= 0 || key == "" {
				continue
			}
			if _, dup := r.byID[role.ID]; dup {
				continue
			}
			if _, dup := r.byName[key]; dup {
				continue
			}
			r.byID[role.ID] = role
			r.byName[key] = role
		}
	}
	return r
}

// Lookup finds a role by name, case-insensitively, or by its decimal id, because Domo's own
// SCIM puts the id in roles[].value while IdPs usually send the name.
func (r *Roles) Lookup(s string) (Role, bool) {
	if r == nil {
		r = defaultRoles
	}
	s = strings.TrimSpace(s)
	if role, ok := r.byName[strings.ToLower(s)]; ok {
		return role, true
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		return r.ByID(id)
	}
	return Role{}, false
}

// ByID finds a role by its Domo id.
func (r *Roles) ByID(id int64) (Role, bool) {
	if r == nil {
		r = defaultRoles
	}
	role, ok := r.byID[id]
	return role, ok
}

// With returns a catalogue of r's roles plus extra (Domo's own list, say): a role of r keeps its
// name and id, an extra one whose id or name r already has is ignored.
func (r *Roles) With(extra []Role) *Roles {
	if r == nil {
		r = defaultRoles
	}
	out := &Roles{byID: make(map[int64]Role, len(r.byID)+len(extra)), byName: make(map[string]Role, len(r.byName)+len(extra))}
	for id, role := range r.byID {
		out.byID[id] = role
	}
	for name, role := range r.byName {
		out.byName[name] = role
	}
	for _, role := range extra {
		key := strings.ToLower(strings.TrimSpace(role.Name))
		if role.ID <= 0 || key == "" {
			continue
		}
		if _, dup := out.byID[role.ID]; dup {
			continue
		}
		if _, dup := out.byName[key]; dup {
			continue
		}
		out.byID[role.ID], out.byName[key] = role, role
	}
	return out
}

// List returns the catalogue's roles by id.
func (r *Roles) List() []Role {
	if r == nil {
		r = defaultRoles
	}
	out := make([]Role, 0, len(r.byID))
	for _, role := range r.byID {
		out = append(out, role)
	}
	slices.SortFunc(out, func(a, b Role) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
