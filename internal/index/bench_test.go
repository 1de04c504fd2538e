package index

import (
	"testing"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

func BenchmarkNewUser(b *testing.B) {
	u := fullUser(1)
	b.ReportAllocs()
	for b.Loop() {
		_ = NewUser(u, "ada.lovelace@example.com")
	}
}

func BenchmarkExpand(b *testing.B) {
	e := NewUser(fullUser(1), "ada.lovelace@example.com")
	var m mapping.User
	b.ReportAllocs()
	for b.Loop() {
		e.Expand(&m)
	}
}

func BenchmarkUserByUserName(b *testing.B) {
	const n = 100_000
	users := make([]User, n)
	names := make([]string, n)
	for i := range users {
		names[i] = "user" + string(rune('a'+i%26)) + "." + itoa(i) + "@example.com"
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

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
