package domosim_test

import (
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// BenchmarkSeedUsers100k measures seeding a 100,000-user tenant.
func BenchmarkSeedUsers100k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sim := domosim.New(domosim.Options{Seed: 1})
		if ids := sim.SeedUsers(100_000); len(ids) != 100_000 {
			b.Fatal(len(ids))
		}
	}
}

// BenchmarkListPage measures one limit=500 page of a 100,000-user tenant, deep in the list.
func BenchmarkListPage(b *testing.B) {
	e := newEnv(b, domosim.Options{Seed: 1})
	e.sim.SeedUsers(100_000)
	b.ReportAllocs()
	for b.Loop() {
		if a := e.do("GET", "/v1/users?limit=500&offset=90000", ""); a.status != 200 {
			b.Fatal(a.status)
		}
	}
}
