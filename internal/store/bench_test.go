package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchShadowJSON is a typical shadow: name parts, an extra email and phone, enterprise
// attributes and an address, about 400 bytes of JSON.
const benchShadowJSON = `{"externalId":"00u1a2b3c4d5e6f7g8h9","name":{"givenName":"Barbara","familyName":"Jensen","middleName":"Jane"},"emails":[{"value":"bjensen@example.com","type":"home"}],"phoneNumbers":[{"value":"+1 555 555 5555","type":"mobile"}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US"}],"enterprise":{"employeeNumber":"E-701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations"},"active":true}`

func BenchmarkPutUserShadow(b *testing.B) { forBackends(b, benchPutUserShadow) }

func benchPutUserShadow(b *testing.B, s Store) {
	data := []byte(benchShadowJSON)
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

func BenchmarkPutUserShadowParallel(b *testing.B) { forBackends(b, benchPutUserShadowParallel) }

func benchPutUserShadowParallel(b *testing.B, s Store) {
	data := []byte(benchShadowJSON)
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

func BenchmarkUserShadow(b *testing.B) { forBackends(b, benchUserShadow) }

func benchUserShadow(b *testing.B, s Store) {
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

func BenchmarkUserShadowParallel(b *testing.B) { forBackends(b, benchUserShadowParallel) }

func benchUserShadowParallel(b *testing.B, s Store) {
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
func BenchmarkUserShadows100k(b *testing.B) { forBackends(b, benchUserShadows100k) }

func benchUserShadows100k(b *testing.B, s Store) {
	const n = 100000
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

func BenchmarkAudit(b *testing.B) { forBackends(b, benchAudit) }

func benchAudit(b *testing.B, s Store) {
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

// BenchmarkLock takes and releases one resource's lock, as every write of the bridge does:
// in-process for SQLite; for PostgreSQL an advisory lock on the handle's session (two round
// trips: the lock, and the unlock with its announcement).
func BenchmarkLock(b *testing.B) { forBackends(b, benchLock) }

func benchLock(b *testing.B, s Store) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.Lock(ctx, "user:123")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkPublish puts one index change on the feed (PostgreSQL; SQLite records nothing).
func BenchmarkPublish(b *testing.B) { forBackends(b, benchPublish) }

func benchPublish(b *testing.B, s Store) {
	ctx := context.Background()
	data := []byte(benchShadowJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Publish(ctx, Change{Origin: "bench", Kind: "user.put", Key: "123", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTakeSlot takes one send time of a shared Domo budget, as every Domo request of a
// replica does (one statement in PostgreSQL); the interval is tiny so that the times taken
// never lie in the future. Parallel: three replicas' requests at once, on one row.
func BenchmarkTakeSlot(b *testing.B) { forBackends(b, benchTakeSlot) }

func benchTakeSlot(b *testing.B, s Store) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if sl, err := s.TakeSlot(ctx, "domo", time.Microsecond, time.Minute); err != nil || !sl.Taken {
			b.Fatal(sl, err)
		}
	}
}

func BenchmarkTakeSlotParallel(b *testing.B) { forBackends(b, benchTakeSlotParallel) }

func benchTakeSlotParallel(b *testing.B, s Store) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(3) // GOMAXPROCS x 3 takers
	b.ResetTimer()      // RunParallel, unlike b.Loop, does not exclude the setup
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if sl, err := s.TakeSlot(ctx, "domo", time.Microsecond, time.Minute); err != nil || !sl.Taken {
				b.Error(sl, err)
				return
			}
		}
	})
}

// forBackends runs a benchmark against a fresh store of every backend, so each figure comes
// in a pair: SQLite and PostgreSQL.
func forBackends(b *testing.B, fn func(b *testing.B, s Store)) {
	for _, bk := range backends() {
		b.Run(bk.name, func(b *testing.B) { fn(b, bk.open(b)) })
	}
}

// loadShadows fills the users table in one transaction (a COPY in PostgreSQL), bypassing
// per-row commits so the setup of a 100,000-row benchmark takes a second, not minutes.
func loadShadows(b *testing.B, s Store, n int) {
	b.Helper()
	ctx := context.Background()
	data := []byte(benchShadowJSON)
	updated, _ := formatTime(time.Now())
	if pg, ok := s.(*Postgres); ok {
		rows := make([][]any, 0, n)
		for id := 1; id <= n; id++ {
			rows = append(rows, []any{int64(id), fmt.Sprintf("00u%07d", id), data, updated})
		}
		if _, err := pg.pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "external_id", "data", "updated"}, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		return
	}
	sq := s.(*SQLite)
	tx, err := sq.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, sq.users.put)
	if err != nil {
		b.Fatal(err)
	}
	for id := 1; id <= n; id++ {
		if _, err := stmt.ExecContext(ctx, id, fmt.Sprintf("00u%07d", id), data, updated); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTouchSession is what every status-page request costs the state: the session looked
// up by its id's hash and marked active, among a full table of 256 sessions.
func BenchmarkTouchSession(b *testing.B) { forBackends(b, benchTouchSession) }

func benchTouchSession(b *testing.B, s Store) {
	ctx := context.Background()
	t0 := time.Now().UTC()
	for i := range 256 {
		se := Session{IDHash: fmt.Sprintf("%064x", i), Name: "oncall", Role: "operator", Binding: "b",
			Created: t0, IdleUntil: t0.Add(30 * time.Minute), Expires: t0.Add(8 * time.Hour)}
		if _, err := s.CreateSession(ctx, se, 256); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		i++
		if _, ok, err := s.TouchSession(ctx, fmt.Sprintf("%064x", i%256), t0.Add(time.Duration(i)*time.Microsecond), 30*time.Minute); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
