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
