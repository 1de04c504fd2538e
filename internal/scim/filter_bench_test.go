package scim

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// fltBenchUser is a realistic Entra-provisioned user.
var fltBenchUser = fltNew("bench", map[string]any{
	"id":          "1789012345",
	"externalId":  "0a21f0f2-8d2a-4f8e-9f1b-1c2d3e4f5a6b",
	"userName":    "Alexandra.Papadopoulou@contoso.com",
	"displayName": "Alexandra Papadopoulou",
	"title":       "Principal Software Engineer",
	"active":      true,
	"name":        map[string]any{"givenName": "Alexandra", "familyName": "Papadopoulou", "formatted": "Alexandra Papadopoulou"},
	"emails": []map[string]any{
		{"value": "Alexandra.Papadopoulou@contoso.com", "type": "work", "primary": true},
		{"value": "alex.p@example.org", "type": "home"},
	},
	"phoneNumbers": []map[string]any{{"value": "+30 21 0123 4567", "type": "work"}},
	fltEnt: map[string]any{
		"department": "Research & Development", "employeeNumber": "E-104233",
		"manager": map[string]any{"value": "1789000001"},
	},
	"meta": map[string]any{"created": fltTime("2021-02-03T04:05:06Z"), "lastModified": fltTime("2025-06-07T08:09:10.123Z")},
})

func BenchmarkParseFilter(b *testing.B) {
	for _, bc := range []struct{ name, filter string }{
		{"entra-externalId", `externalId eq "0a21f0f2-8d2a-4f8e-9f1b-1c2d3e4f5a6b"`},
		{"entra-userName", `userName eq "alice@contoso.com"`},
		{"entra-emails-valuepath", `emails[type eq "work"].value eq "alice@contoso.com"`},
		{"ms-compound", `name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`},
		{"max-length-or", `userName eq "x"` + strings.Repeat(` or userName eq "abcdefghijklmnopqrstuvwxyz"`, 90)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseFilter(bc.filter, UserType); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFilterMatch(b *testing.B) {
	for _, bc := range []struct {
		name, filter string
		want         bool
	}{
		{"title-co", `title co "eng"`, true},
		{"userName-eq", `userName eq "alexandra.papadopoulou@CONTOSO.com"`, true},
		{"externalId-eq-miss", `externalId eq "ffffffff-8d2a-4f8e-9f1b-1c2d3e4f5a6b"`, false},
		{"emails-valuepath", `emails[type eq "work" and value ew "@contoso.com"]`, true},
		{"enterprise-department", fltEnt + `:department sw "research"`, true},
		{"lastModified-gt", `meta.lastModified gt "2025-01-01T00:00:00Z"`, true},
		{"compound", `active eq true and (title co "manager" or name.familyName sw "papa") and not (emails.type eq "other")`, true},
	} {
		f, err := ParseFilter(bc.filter, UserType)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if f.Match(fltBenchUser) != bc.want {
					b.Fatal("unexpected result")
				}
			}
		})
	}
}

// fltScanUser is a struct-backed Resource like the index's users, with each attribute's
// values held ready, so that the scan benchmark measures the filter and not map lookups of a
// test double.
type fltScanUser struct {
	id, userName, title, emails []any
}

func (u *fltScanUser) Values(key, sub string) []any {
	switch key {
	case "id":
		return u.id
	case "username":
		return u.userName
	case "title":
		return u.title
	case "emails":
		if sub == "" {
			return u.emails
		}
	}
	return nil
}

// BenchmarkFilterScan is the budget case: a scan of 100,000 users must stay under 20 ms.
func BenchmarkFilterScan(b *testing.B) {
	titles := []string{"Principal Software Engineer", "Account Executive", "Head of Finance", "Data Engineer", ""}
	users := make([]fltScanUser, 100_000)
	want := 0
	for i := range users {
		title := titles[i%len(titles)]
		if strings.Contains(strings.ToLower(title), "eng") {
			want++
		}
		email := fmt.Sprintf("user%06d@contoso.com", i)
		users[i] = fltScanUser{
			id:       []any{strconv.Itoa(i)},
			userName: []any{email},
			title:    []any{title},
			emails:   []any{map[string]any{"value": email, "type": "work", "primary": true}},
		}
	}
	for _, bc := range []struct{ name, filter string }{
		{"title-co", `title co "eng"`},
		{"emails-valuepath", `emails[type eq "work" and value ew "@contoso.com"] and title co "eng"`},
	} {
		f, err := ParseFilter(bc.filter, UserType)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				for i := range users {
					if f.Match(&users[i]) {
						n++
					}
				}
				if n != want {
					b.Fatalf("%d users match; want %d", n, want)
				}
			}
		})
	}
}

func BenchmarkComparator(b *testing.B) {
	p, _ := UserType.Resolve("emails", "")
	cmp := Comparator(p)
	other := fltNew("other", map[string]any{"emails": []map[string]any{{"value": "zed@contoso.com", "primary": true}}})
	b.ReportAllocs()
	for b.Loop() {
		if cmp(fltBenchUser, other) >= 0 {
			b.Fatal("order")
		}
	}
}
