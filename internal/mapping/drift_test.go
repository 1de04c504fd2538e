package mapping

import (
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
)

func TestDomoChanges(t *testing.T) {
	basis := domo.User{Email: "ada@example.com", Name: "Ada Lovelace", Role: "Participant", RoleID: 4,
		Title: "Analyst", Phone: "+1 555", Locale: "en-GB", AlternateEmail: "ada@home.example"}
	sh := &UserShadow{Basis: basisOf(basis)}
	tests := []struct {
		name   string
		edit   func(*domo.User)
		listed ListedFields
		want   []FieldChange
	}{
		{"unchanged", func(*domo.User) {}, AllListed, nil},
		{"email case is no change", func(d *domo.User) { d.Email = "ADA@example.com"; d.AlternateEmail = "Ada@Home.example" }, AllListed, nil},
		{"title and name", func(d *domo.User) { d.Title = "Chief"; d.Name = "Ada King" }, AllListed,
			[]FieldChange{{"name", "Ada Lovelace", "Ada King"}, {"title", "Analyst", "Chief"}}},
		{"role by id", func(d *domo.User) { d.Role = ""; d.RoleID = 2 }, AllListed, []FieldChange{{"role", "Participant (4)", "2"}}},
		{"role name differs, same id", func(d *domo.User) { d.Role = "participant" }, AllListed, nil},
		{"cleared phone", func(d *domo.User) { d.Phone = "" }, AllListed, []FieldChange{{"phone", "+1 555", ""}}},
		{"a field the listing does not carry says nothing", func(d *domo.User) { d.Locale = "" }, ListedFields{title: true, phone: true}, nil},
		{"email changed", func(d *domo.User) { d.Email = "ada@new.example" }, AllListed, []FieldChange{{"email", "ada@example.com", "ada@new.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := basis
			tt.edit(&d)
			if got := DomoChanges(d, sh, tt.listed); !slices.Equal(got, tt.want) {
				t.Errorf("DomoChanges = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := DomoChanges(domo.User{Title: "x"}, &UserShadow{}, AllListed); got != nil {
		t.Errorf("a shadow without a basis reports %+v", got)
	}
}

func members(ids ...string) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{Value: id}
	}
	return out
}

// TestGroupShadowIdPMembers follows the IdP's members through a group's writes: created with
// two, one removed, one added while an admin's addition in Domo stays foreign.
func TestGroupShadowIdPMembers(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	created := GroupShadowFor(Group{DisplayName: "G", Members: []Member{}}, nil, now)
	if !created.MembersKnown || len(created.Members) != 0 {
		t.Fatalf("new group: %+v", created)
	}
	// The bridge adds 10 and 20 to the empty group.
	sh := GroupShadowFor(Group{DisplayName: "G", Members: members("10", "20")}, &created, now)
	sh.NoteAdded([]int64{10, 20}, []int64{10, 20})
	if !slices.Equal(sh.Members, []int64{10, 20}) {
		t.Fatalf("after the first add: %v", sh.Members)
	}
	// An admin adds 99 in Domo; the IdP then removes 10 and adds 30.
	next := GroupShadowFor(Group{DisplayName: "G", Members: members("20", "30", "99")}, &sh, now)
	next.NoteAdded([]int64{30}, []int64{20, 30, 99})
	if !slices.Equal(next.Members, []int64{20, 30}) {
		t.Fatalf("IdP's members = %v, want [20 30]", next.Members)
	}
	if got := ForeignMembers(&next, []int64{99, 20, 30}); !slices.Equal(got, []int64{99}) {
		t.Errorf("foreign = %v, want [99]", got)
	}
	// A rename without members read keeps them.
	renamed := GroupShadowFor(Group{DisplayName: "H"}, &next, now)
	if !renamed.MembersKnown || !slices.Equal(renamed.Members, []int64{20, 30}) {
		t.Errorf("rename lost the IdP's members: %+v", renamed)
	}
	// A shadow from before members were kept knows nothing, and its next write takes every
	// member as the IdP's.
	legacy := &GroupShadow{Name: "G", MemberDigest: "x"}
	if ForeignMembers(legacy, []int64{1, 2}) != nil {
		t.Error("a legacy shadow reports foreign members")
	}
	upgraded := GroupShadowFor(Group{DisplayName: "G", Members: members("1", "2")}, legacy, now)
	upgraded.NoteAdded([]int64{2}, []int64{1, 2})
	if !upgraded.MembersKnown || !slices.Equal(upgraded.Members, []int64{1, 2}) {
		t.Errorf("upgraded shadow = %+v", upgraded)
	}
}
