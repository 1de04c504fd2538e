package index

import (
	"strconv"
	"testing"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// BenchmarkNewUser encodes a user with every attribute set.
func BenchmarkNewUser(b *testing.B) {
	u := fullUser(1)
	b.ReportAllocs()
	for b.Loop() {
		_ = NewUser(u, "ada.lovelace@example.com")
	}
}

// BenchmarkExpand decodes that user into a scratch value, as a scan does for attributes it
// cannot read in place.
func BenchmarkExpand(b *testing.B) {
	e := NewUser(fullUser(1), "ada.lovelace@example.com")
	var m mapping.User
	b.ReportAllocs()
	for b.Loop() {
		e.Expand(&m)
	}
}

// BenchmarkUserByUserName is the O(1) lookup at 100,000 users.
func BenchmarkUserByUserName(b *testing.B) {
	const n = 100_000
	users := make([]User, n)
	names := make([]string, n)
	for i := range users {
		names[i] = "user." + strconv.Itoa(i) + "@example.com"
		users[i] = NewUser(mapping.User{ID: int64(i + 1), UserName: names[i], Active: true}, names[i])
	}
	ix := New()
	l, _ := ix.BeginLoad()
	l.Replace(&Snapshot{Users: users})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := ix.UserByUserName(names[(i*7919)%n]); !ok {
			b.Fatal("not found")
		}
		i++
	}
}
