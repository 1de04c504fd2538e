package mapping

import (
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// FieldChange is one Domo user field whose value differs from the one Domo held when the
// bridge last wrote the user: someone changed it in Domo since.
type FieldChange struct {
	Field string `json:"field"` // Domo's name for the field: email, name, role, title...
	Was   string `json:"was"`   // Domo's value at the bridge's last write
	Now   string `json:"now"`   // Domo's value now
}

// DomoChanges compares a Domo user, as a listing returned it, with the basis of its shadow
// (Domo's values at the bridge's last write) and lists the fields that differ, in Domo's field
// order. Only fields the listing carries are compared (listed): a field rows leave out says
// nothing. Emails compare case-insensitively and roles by id when both sides have one, as reads
// do; a shadow without a basis (nothing written yet) has nothing to compare.
func DomoChanges(d domo.User, sh *UserShadow, listed ListedFields) []FieldChange {
	if sh == nil || sh.Basis == (UserBasis{}) {
		return nil
	}
	b := &sh.Basis
	var out []FieldChange
	add := func(field, was, now string) { out = append(out, FieldChange{Field: field, Was: was, Now: now}) }
	if !strings.EqualFold(d.Email, b.Email) {
		add(domo.FieldEmail, b.Email, d.Email)
	}
	if d.Name != b.Name {
		add(domo.FieldName, b.Name, d.Name)
	}
	if !sameRole(d.Role, int64(d.RoleID), b.Role, b.RoleID) {
		add(domo.FieldRole, roleLabel(b.Role, b.RoleID), roleLabel(d.Role, int64(d.RoleID)))
	}
	names := []string{domo.FieldAlternateEmail, domo.FieldTitle, domo.FieldPhone, domo.FieldLocation,
		domo.FieldTimezone, domo.FieldLocale, domo.FieldEmployeeID, domo.FieldDepartment}
	now, was, flags := userFields(&d), basisFields(b), listed.flags()
	for i, name := range names {
		if !*flags[i] {
			continue
		}
		same := *now[i] == was[i]
		if name == domo.FieldAlternateEmail {
			same = strings.EqualFold(*now[i], was[i])
		}
		if !same {
			add(name, was[i], *now[i])
		}
	}
	return out
}

func roleLabel(name string, id int64) string {
	switch {
	case name != "" && id != 0:
		return name + " (" + strconv.FormatInt(id, 10) + ")"
	case name != "":
		return name
	case id != 0:
		return strconv.FormatInt(id, 10)
	}
	return ""
}

// AllListed is the ListedFields of a listing that carries every optional field, as GET by id
// does.
var AllListed = ListedFields{true, true, true, true, true, true, true, true}

// ForeignMembers lists the members a group has in Domo that the IdP did not put there through
// the bridge: ids in domoMembers that sh does not record. It returns nil when sh does not know
// the IdP's members (a group the bridge never wrote, or a shadow written before they were kept).
func ForeignMembers(sh *GroupShadow, domoMembers []int64) []int64 {
	if sh == nil || !sh.MembersKnown {
		return nil
	}
	var out []int64
	for _, id := range domoMembers {
		if _, ok := slices.BinarySearch(sh.Members, id); !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NoteAdded records as the IdP's the members it asked a write to add (added) that the group
// has after the write (after). The caller calls it after GroupShadowFor, which keeps the IdP's
// members that are still in the group. Members Domo had before that the IdP did not ask for
// stay out: an admin added them.
func (sh *GroupShadow) NoteAdded(added, after []int64) {
	if !sh.MembersKnown {
		return
	}
	in := make(map[int64]bool, len(after))
	for _, id := range after {
		in[id] = true
	}
	for _, id := range added {
		if in[id] {
			sh.Members = append(sh.Members, id)
		}
	}
	slices.Sort(sh.Members)
	sh.Members = slices.Compact(sh.Members)
}

// idpMembers is the member part of the shadow GroupShadowFor builds: the IdP's members of prev
// that are still members of g; every member of g when prev does not know them (the group's
// first write, or a shadow from before they were kept); prev's as they were when g's members
// were not read.
func idpMembers(g Group, prev *GroupShadow) ([]int64, bool) {
	if g.Members == nil {
		if prev == nil {
			return nil, false
		}
		return slices.Clone(prev.Members), prev.MembersKnown
	}
	ids := make([]int64, 0, len(g.Members))
	for _, m := range g.Members {
		if id, err := strconv.ParseInt(m.Value, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if prev == nil || !prev.MembersKnown {
		return ids, true
	}
	kept := ids[:0]
	for _, id := range ids {
		if _, ok := slices.BinarySearch(prev.Members, id); ok {
			kept = append(kept, id)
		}
	}
	return kept, true
}
