package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var sessionT0 = time.Date(2026, 3, 4, 9, 0, 0, 123456789, time.UTC)

// newSession is a session created at at that lives 8 hours and idles out after 30 minutes.
func newSession(hash string, at time.Time) Session {
	return Session{IDHash: hash, Name: "oncall", Role: "operator", Binding: "b-" + hash,
		Created: at, IdleUntil: at.Add(30 * time.Minute), Expires: at.Add(8 * time.Hour)}
}

func mustCreate(t *testing.T, s Store, se Session, max int) int {
	t.Helper()
	n, err := s.CreateSession(context.Background(), se, max)
	if err != nil {
		t.Fatalf("CreateSession(%s): %v", se.IDHash, err)
	}
	return n
}

func liveAt(t *testing.T, s Store, hash string, at time.Time) bool {
	t.Helper()
	_, ok, err := s.Session(context.Background(), hash, at)
	if err != nil {
		t.Fatalf("Session(%s): %v", hash, err)
	}
	return ok
}

// A session comes back as it was stored, times to the nanosecond, from this handle, from
// another handle on the same state, and after the state is closed and opened again.
func testSessionRoundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	s := b.openAt(t, loc)
	want := newSession("h1", sessionT0)
	want.Name, want.Binding = `odd ' " ; name`, "binding-1"
	if n := mustCreate(t, s, want, 10); n != 0 {
		t.Errorf("evicted %d from an empty state", n)
	}
	want.Seen = want.Created // a zero Seen is the creation
	check := func(what string, s Store) {
		t.Helper()
		got, ok, err := s.Session(ctx, "h1", sessionT0.Add(time.Minute))
		if err != nil || !ok {
			t.Fatalf("%s: Session = %v, %v", what, ok, err)
		}
		if !got.Created.Equal(want.Created) || !got.Seen.Equal(want.Seen) || !got.IdleUntil.Equal(want.IdleUntil) || !got.Expires.Equal(want.Expires) ||
			got.IDHash != want.IDHash || got.Name != want.Name || got.Role != want.Role || got.Binding != want.Binding {
			t.Errorf("%s: Session = %+v, want %+v", what, got, want)
		}
	}
	check("same handle", s)
	check("another handle", b.openAt(t, loc))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("reopened", b.openAt(t, loc))
	if ok := liveAt(t, b.openAt(t, loc), "nope", sessionT0); ok {
		t.Error("Session found a hash never stored")
	}
}

// A session ends at its idle time unless it is touched, and at its expiry whatever happens;
// reading it does not keep it alive, touching it does, and nothing revives an ended session.
func testSessionExpiry(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	idle := 30 * time.Minute
	mustCreate(t, s, newSession("idle", sessionT0), 10)
	mustCreate(t, s, newSession("active", sessionT0), 10)

	if !liveAt(t, s, "idle", sessionT0.Add(idle-time.Nanosecond)) {
		t.Fatal("ended before its idle time")
	}
	if liveAt(t, s, "idle", sessionT0.Add(idle)) {
		t.Fatal("live at its idle time")
	}
	if _, ok, err := s.TouchSession(ctx, "idle", sessionT0.Add(idle+time.Minute), idle); err != nil || ok {
		t.Fatalf("touch of an idled-out session = %v, %v; want not found", ok, err)
	}
	if !liveAt(t, s, "idle", sessionT0.Add(idle-time.Minute)) {
		t.Fatal("a refused touch changed the session")
	}

	// Active every 20 minutes: alive until the 8-hour expiry, not a moment longer.
	at := sessionT0
	for at.Add(20 * time.Minute).Before(sessionT0.Add(8 * time.Hour)) {
		at = at.Add(20 * time.Minute)
		se, ok, err := s.TouchSession(ctx, "active", at, idle)
		if err != nil || !ok {
			t.Fatalf("touch at %v = %v, %v", at.Sub(sessionT0), ok, err)
		}
		if !se.Seen.Equal(at) || !se.IdleUntil.Equal(at.Add(idle)) || !se.Expires.Equal(sessionT0.Add(8*time.Hour)) {
			t.Fatalf("after a touch at %v: %+v", at.Sub(sessionT0), se)
		}
	}
	if !liveAt(t, s, "active", sessionT0.Add(8*time.Hour-time.Nanosecond)) {
		t.Fatal("an active session ended before its expiry")
	}
	if liveAt(t, s, "active", sessionT0.Add(8*time.Hour)) {
		t.Fatal("a session outlived its expiry")
	}
	if _, ok, _ := s.TouchSession(ctx, "active", sessionT0.Add(8*time.Hour), idle); ok {
		t.Fatal("a touch revived an expired session")
	}

	// A touch that arrives late (another replica's, out of order) moves nothing back.
	mustCreate(t, s, newSession("late", sessionT0), 10)
	if _, _, err := s.TouchSession(ctx, "late", sessionT0.Add(20*time.Minute), idle); err != nil {
		t.Fatal(err)
	}
	se, ok, err := s.TouchSession(ctx, "late", sessionT0.Add(10*time.Minute), idle)
	if err != nil || !ok || !se.Seen.Equal(sessionT0.Add(20*time.Minute)) || !se.IdleUntil.Equal(sessionT0.Add(50*time.Minute)) {
		t.Fatalf("late touch = %+v, %v, %v", se, ok, err)
	}

	// Pruning deletes exactly the sessions no longer live.
	n, err := s.PruneSessions(ctx, sessionT0.Add(45*time.Minute))
	if err != nil || n != 1 { // "idle"
		t.Fatalf("PruneSessions at 0:45 = %d, %v; want 1", n, err)
	}
	for _, h := range []string{"active", "late"} {
		if !liveAt(t, s, h, sessionT0.Add(45*time.Minute)) {
			t.Errorf("pruning removed the live session %q", h)
		}
	}
	if n, err := s.PruneSessions(ctx, sessionT0.Add(45*time.Minute)); err != nil || n != 0 {
		t.Errorf("second PruneSessions = %d, %v", n, err)
	}
	if n, err := s.PruneSessions(ctx, sessionT0.Add(8*time.Hour)); err != nil || n != 2 { // "active" expired, "late" idle
		t.Errorf("PruneSessions at 8:00 = %d, %v; want 2", n, err)
	}
}

// Deleting a session (a sign-out) ends it for every handle sharing the state at once.
func testSessionDelete(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	a, other := b.openAt(t, loc), b.openAt(t, loc)
	mustCreate(t, a, newSession("gone", sessionT0), 10)
	mustCreate(t, a, newSession("kept", sessionT0), 10)
	if !liveAt(t, other, "gone", sessionT0) {
		t.Fatal("the other handle does not see the session")
	}
	if err := other.DeleteSession(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Store{a, other} {
		if liveAt(t, s, "gone", sessionT0) {
			t.Error("a deleted session is still live")
		}
		if _, ok, _ := s.TouchSession(ctx, "gone", sessionT0, time.Minute); ok {
			t.Error("a deleted session can be touched")
		}
		if !liveAt(t, s, "kept", sessionT0) {
			t.Error("deleting one session ended another")
		}
	}
	if err := a.DeleteSession(ctx, "gone"); err != nil {
		t.Errorf("deleting a missing session: %v", err)
	}
}

// At most max sessions are kept: ended ones go first, then the oldest live ones.
func testSessionCap(t *testing.T, b backend) {
	s := b.open(t)
	for i := range 3 {
		if n := mustCreate(t, s, newSession(fmt.Sprint("s", i), sessionT0.Add(time.Duration(i)*time.Minute)), 3); n != 0 {
			t.Fatalf("session %d evicted %d", i, n)
		}
	}
	if n := mustCreate(t, s, newSession("s3", sessionT0.Add(3*time.Minute)), 3); n != 1 {
		t.Fatalf("the fourth of three evicted %d, want 1", n)
	}
	at := sessionT0.Add(4 * time.Minute)
	for i, want := range []bool{false, true, true, true} {
		if got := liveAt(t, s, fmt.Sprint("s", i), at); got != want {
			t.Errorf("s%d live = %v, want %v (the oldest gives way)", i, got, want)
		}
	}
	// 40 minutes on, s1..s3 have idled out: a new one evicts no live session.
	if n := mustCreate(t, s, newSession("s4", sessionT0.Add(40*time.Minute)), 3); n != 0 {
		t.Errorf("a session created among ended ones evicted %d", n)
	}
	// A lower cap evicts as many as needed.
	late := sessionT0.Add(41 * time.Minute)
	mustCreate(t, s, newSession("s5", late), 3)
	mustCreate(t, s, newSession("s6", late.Add(time.Second)), 3)
	if n := mustCreate(t, s, newSession("s7", late.Add(2*time.Second)), 1); n != 3 {
		t.Errorf("cap 1 over 3 live sessions evicted %d, want 3", n)
	}
	if !liveAt(t, s, "s7", late.Add(3*time.Second)) || liveAt(t, s, "s6", late.Add(3*time.Second)) {
		t.Error("cap 1 did not keep exactly the newest")
	}
}

// Sign-ins spread over two handles at once never keep more than max sessions between them,
// and each eviction is counted once; touches racing each other keep the latest activity.
func testSessionsConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	handles := []Store{b.openAt(t, loc), b.openAt(t, loc)}
	const n, max = 40, 10
	var evicted atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e, err := handles[i%2].CreateSession(ctx, newSession(fmt.Sprint("c", i), sessionT0.Add(time.Duration(i)*time.Millisecond)), max)
			if err != nil {
				t.Errorf("CreateSession %d: %v", i, err)
			}
			evicted.Add(int64(e))
		})
	}
	wg.Wait()
	live := 0
	for i := range n {
		if liveAt(t, handles[0], fmt.Sprint("c", i), sessionT0.Add(time.Second)) {
			live++
		}
	}
	if live != max || evicted.Load() != n-max {
		t.Fatalf("%d concurrent sign-ins with a cap of %d: %d live, %d evicted; want %d and %d", n, max, live, evicted.Load(), max, n-max)
	}

	mustCreate(t, handles[0], newSession("busy", sessionT0), max)
	for i := range 50 {
		wg.Go(func() {
			if _, ok, err := handles[i%2].TouchSession(ctx, "busy", sessionT0.Add(time.Duration(i+1)*time.Second), 30*time.Minute); err != nil || !ok {
				t.Errorf("TouchSession %d = %v, %v", i, ok, err)
			}
		})
	}
	wg.Wait()
	se, ok, err := handles[1].Session(ctx, "busy", sessionT0)
	if err != nil || !ok || !se.Seen.Equal(sessionT0.Add(50*time.Second)) || !se.IdleUntil.Equal(sessionT0.Add(50*time.Second+30*time.Minute)) {
		t.Fatalf("after 50 racing touches: %+v, %v, %v; want the last activity at 50 s", se, ok, err)
	}
}

// Bad sessions are refused, nothing is stored, and a failed call names what it did.
func testSessionErrors(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	good := newSession("dup", sessionT0)
	mustCreate(t, s, good, 10)
	bad := []struct {
		name string
		se   Session
		max  int
	}{
		{"empty hash", newSession("", sessionT0), 10},
		{"no role", func() Session { se := newSession("r", sessionT0); se.Role = ""; return se }(), 10},
		{"expires at creation", func() Session { se := newSession("e", sessionT0); se.Expires = sessionT0; return se }(), 10},
		{"idle before creation", func() Session { se := newSession("i", sessionT0); se.IdleUntil = sessionT0.Add(-1); return se }(), 10},
		{"year 10000", func() Session {
			se := newSession("y", sessionT0)
			se.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return se
		}(), 10},
		{"zero cap", newSession("z", sessionT0), 0},
		{"id hash taken", good, 10},
	}
	for _, tt := range bad {
		if _, err := s.CreateSession(ctx, tt.se, tt.max); err == nil || !strings.HasPrefix(err.Error(), "store: create session") {
			t.Errorf("%s: CreateSession = %v, want an error", tt.name, err)
		}
	}
	for _, h := range []string{"r", "e", "i", "y", "z"} {
		if liveAt(t, s, h, sessionT0) {
			t.Errorf("refused session %q was stored", h)
		}
	}
	if got, ok, _ := s.Session(ctx, "dup", sessionT0); !ok || got.Binding != good.Binding {
		t.Error("a refused duplicate changed the stored session")
	}
	if _, _, err := s.TouchSession(ctx, "dup", sessionT0, 0); err == nil {
		t.Error("TouchSession accepted a zero idle time")
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		want string
		call func() error
	}{
		{"store: create session", func() error { _, err := s.CreateSession(cctx, newSession("x", sessionT0), 10); return err }},
		{"store: get session", func() error { _, _, err := s.Session(cctx, "dup", sessionT0); return err }},
		{"store: touch session", func() error { _, _, err := s.TouchSession(cctx, "dup", sessionT0, time.Minute); return err }},
		{"store: delete session", func() error { return s.DeleteSession(cctx, "dup") }},
		{"store: prune sessions", func() error { _, err := s.PruneSessions(cctx, sessionT0); return err }},
	} {
		if err := c.call(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("with a cancelled context: %v, want %q...", err, c.want)
		}
	}
	if !liveAt(t, s, "dup", sessionT0) {
		t.Error("a cancelled delete removed the session")
	}
}
