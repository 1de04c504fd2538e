package mapping

import "testing"

func TestRolesCatalogue(t *testing.T) {
	r := NewRoles([]Role{
		{ID: 2097317660, Name: "Report Viewer"},
		{ID: 3, Name: "Impostor"},           // id of a system role: ignored
		{ID: 104295428, Name: "ADMIN"},      // name of a system role: ignored
		{ID: 810756122, Name: "  "},         // no name: ignored
		{ID: 0, Name: "No id"},              // no id: ignored
		{ID: 1563101750, Name: "Data Crew"}, // kept
	})
	tests := []struct {
		in   string
		want Role
		ok   bool
	}{
		{"Admin", Role{1, "Admin"}, true},
		{"admin", Role{1, "Admin"}, true},
		{" PRIVILEGED ", Role{2, "Privileged"}, true},
		{"editor", Role{3, "Editor"}, true},
		{"Participant", Role{4, "Participant"}, true},
		{"social", Role{5, "Social"}, true},
		{"4", Role{4, "Participant"}, true},
		{"report viewer", Role{2097317660, "Report Viewer"}, true},
		{"2097317660", Role{2097317660, "Report Viewer"}, true},
		{"data crew", Role{1563101750, "Data Crew"}, true},
		{"Impostor", Role{}, false},
		{"104295428", Role{}, false},
		{"No id", Role{}, false},
		{"", Role{}, false},
		{"0", Role{}, false},
		{"-1", Role{}, false},
		{"Wizard", Role{}, false},
	}
	for _, tt := range tests {
		got, ok := r.Lookup(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := r.ByID(3); !ok || got.Name != "Editor" {
		t.Errorf("ByID(3) = %v %v", got, ok)
	}
	if _, ok := r.ByID(99); ok {
		t.Error("ByID(99) found")
	}
	var none *Roles
	if got, ok := none.Lookup("social"); !ok || got.ID != 5 {
		t.Errorf("nil catalogue Lookup = %v %v, want the system roles", got, ok)
	}
	if got, ok := none.ByID(1); !ok || got.Name != "Admin" {
		t.Errorf("nil catalogue ByID = %v %v", got, ok)
	}
}

func TestRolesWith(t *testing.T) {
	base := NewRoles([]Role{{ID: 100, Name: "Analyst"}})
	r := base.With([]Role{{ID: 1, Name: "Administrator"}, {ID: 200, Name: "analyst"}, {ID: 300, Name: "Auditor"}, {ID: 0, Name: "x"}})
	if got, ok := r.Lookup("auditor"); !ok || got.ID != 300 {
		t.Fatalf("extra role: %+v %v", got, ok)
	}
	if got, _ := r.ByID(1); got.Name != "Admin" {
		t.Fatalf("a system role renamed: %+v", got)
	}
	if _, ok := r.ByID(200); ok {
		t.Fatal("an extra role with a taken name was added")
	}
	if _, ok := base.Lookup("Auditor"); ok {
		t.Fatal("With changed its receiver")
	}
	if l := r.List(); len(l) != 7 || l[0].ID != 1 || l[6].ID != 300 {
		t.Fatalf("list %+v", l)
	}
}
