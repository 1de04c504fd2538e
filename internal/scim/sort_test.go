package scim

import (
	"slices"
	"strings"
	"testing"
)

func fltSortUsers() []*fltResource {
	return []*fltResource{
		fltNew("dora", map[string]any{
			"userName": "dora@x.com", "externalId": "b", "title": "Zookeeper", "active": true,
			"name":   map[string]any{"familyName": "de Vries"},
			"emails": []map[string]any{{"value": "z@home.org"}, {"value": "b@work.com", "primary": true}},
			"meta":   map[string]any{"lastModified": fltTime("2024-03-01T10:00:00+02:00")},
			fltEnt:   map[string]any{"manager": map[string]any{"value": "9"}},
		}),
		fltNew("ed", map[string]any{
			"userName": "Ed@x.com", "externalId": "B", "active": false,
			"name":   map[string]any{"familyName": "Dekker"},
			"emails": []map[string]any{{"value": "c@home.org"}, {"value": "a@home.org"}},
			"meta":   map[string]any{"lastModified": fltTime("2024-03-01T09:00:00Z")},
		}),
		fltNew("cy", map[string]any{
			"userName": "cy@x.com", "externalId": "a", "title": "accountant",
			"emails": []map[string]any{{"value": "", "primary": true}, {"value": "m@x.com"}},
			"meta":   map[string]any{"lastModified": fltTime("2024-03-01T07:59:59.5Z")},
			fltEnt:   map[string]any{"manager": map[string]any{"value": "10"}},
		}),
		fltNew("bo", map[string]any{"userName": "BO@x.com", "title": ""}),
	}
}

func TestComparator(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"userName", "bo cy dora ed"},                // case-insensitive
		{"externalId", "ed cy dora bo"},              // case-exact: "B" < "a" < "b"; missing last
		{"title", "cy dora ed bo"},                   // empty counts as missing; missing last, stable
		{"name.familyName", "dora ed cy bo"},         // folded, "de vries" < "dekker" as ' ' < 'k'
		{"meta.lastModified", "cy dora ed bo"},       // instants, not strings: 08:00Z < 09:00Z
		{"active", "ed dora cy bo"},                  // false before true
		{"emails", "dora ed cy bo"},                  // primary value, else the first present
		{"emails.value", "dora ed cy bo"},            // same with the sub-attribute named
		{fltEnt + ":manager.value", "cy dora ed bo"}, // strings: "10" < "9"
		{"name", "dora ed cy bo"},                    // complex without value: no order, stable
		{"USERNAME", "bo cy dora ed"},                // resolved case-insensitively
	} {
		p, err := UserType.Resolve(tc.path, "")
		if err != nil {
			t.Fatalf("Resolve(%q): %v", tc.path, err)
		}
		users := fltSortUsers()
		cmp := Comparator(p)
		slices.SortStableFunc(users, func(a, b *fltResource) int { return cmp(a, b) })
		var got []string
		for _, u := range users {
			got = append(got, u.name)
		}
		if want := strings.Fields(tc.want); !slices.Equal(got, want) {
			t.Errorf("sorted by %s: %v; want %v", tc.path, got, want)
		}
	}
}

func TestComparatorMissingBothAndEqual(t *testing.T) {
	p, _ := UserType.Resolve("title", "")
	cmp := Comparator(p)
	none, also := fltNew("a", nil), fltNew("b", nil)
	eng, ENG := fltNew("c", map[string]any{"title": "eng"}), fltNew("d", map[string]any{"title": "ENG"})
	for _, tc := range []struct {
		a, b *fltResource
		want int
	}{
		{none, also, 0},
		{eng, none, -1},
		{none, eng, 1},
		{eng, ENG, 0},
	} {
		if got := cmp(tc.a, tc.b); got != tc.want {
			t.Errorf("Comparator(title)(%s, %s) = %d; want %d", tc.a.name, tc.b.name, got, tc.want)
		}
	}
}

func TestComparatorIntegerIDs(t *testing.T) {
	p, _ := UserType.Resolve("id", "")
	cmp := Comparator(p)
	// id is a string attribute: integer ids order as strings, as the schema says.
	if got := cmp(fltNew("a", map[string]any{"id": int64(10)}), fltNew("b", map[string]any{"id": "9"})); got != -1 {
		t.Errorf("Comparator(id)(10, \"9\") = %d; want -1", got)
	}
}

func TestComparatorNumbers(t *testing.T) {
	p, err := fltNumberType.Resolve("ratio", "")
	if err != nil {
		t.Fatal(err)
	}
	rs := []*fltResource{
		fltNew("half", map[string]any{"ratio": 0.5}),
		fltNew("none", nil),
		fltNew("ten", map[string]any{"ratio": int64(10)}),
		fltNew("two", map[string]any{"ratio": 2.0}),
	}
	cmp := Comparator(p)
	slices.SortStableFunc(rs, func(a, b *fltResource) int { return cmp(a, b) })
	var got []string
	for _, r := range rs {
		got = append(got, r.name)
	}
	if want := []string{"half", "two", "ten", "none"}; !slices.Equal(got, want) {
		t.Errorf("sorted by ratio: %v; want %v", got, want)
	}
}
