package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchShadowJSON is a typical shadow: name parts, an extra email and phone, enterprise
// attributes and an address, about 400 bytes of JSON.
const benchShadowJSON = `{"externalId":"00u1a2b3c4d5e6f7g8h9","name":{"givenName":"Barbara","familyName":"Jensen","middleName":"Jane"},"emails":[{"value":"bjensen@example.com","type":"home"}],"phoneNumbers":[{"value":"+1 555 555 5555","type":"mobile"}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US"}],"enterprise":{"employeeNumber":"E-701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations"},"active":true}`

func BenchmarkPutUserShadow(b *testing.B) {
	data := []byte(benchShadowJSON)
	s := openTemp(b)
	ctx := context.Background()
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		// Cycle over 10,000 ids so the benchmark measures a mix of inserts and updates of
		// a table of realistic size.
		if err := s.PutUserShadow(ctx, Shadow{ID: 1 + i%10000, ExternalID: "00u1a2b3c4", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutUserShadowParallel(b *testing.B) {
	data := []byte(benchShadowJSON)
	s := openTemp(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, does not exclude the setup
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := 1 + next.Add(1)%10000
			if err := s.PutUserShadow(ctx, Shadow{ID: id, ExternalID: "00u1a2b3c4", Data: data}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUserShadow(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	loadShadows(b, s, 10000)
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		if _, ok, err := s.UserShadow(ctx, 1+i%10000); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkUserShadowParallel(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	loadShadows(b, s, 10000)
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, does not exclude the setup
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := s.UserShadow(ctx, 1+next.Add(1)%10000); err != nil || !ok {
				b.Error(ok, err)
				return
			}
		}
	})
}

// BenchmarkUserShadows100k loads 100,000 shadows the way the bridge does at start-up; one
// op is the whole load.
func BenchmarkUserShadows100k(b *testing.B) {
	const n = 100000
	s := openTemp(b)
	ctx := context.Background()
	loadShadows(b, s, n)
	b.ReportAllocs()
	for b.Loop() {
		var got int
		for _, err := range s.UserShadows(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n {
			b.Fatalf("loaded %d shadows, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/shadow")
}

func BenchmarkAudit(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	b.ReportAllocs()
	var i int
	for b.Loop() {
		i++
		err := s.Audit(ctx, AuditEvent{Token: "okta", RequestID: "req", Operation: "PATCH /Users/123",
			DomoCall: "PUT /v1/users/123", Resource: "User", ResourceID: "123", Fields: []string{"name.givenName", "title"}, Outcome: "ok"})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// loadShadows fills the users table in one transaction, bypassing per-row commits so the
// setup of a 100,000-row benchmark takes a second, not minutes.
func loadShadows(b *testing.B, s *SQLite, n int) {
	data := []byte(benchShadowJSON)
	b.Helper()
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, s.users.put)
	if err != nil {
		b.Fatal(err)
	}
	updated, _ := formatTime(time.Now())
	for id := 1; id <= n; id++ {
		if _, err := stmt.ExecContext(ctx, id, fmt.Sprintf("00u%07d", id), data, updated); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
