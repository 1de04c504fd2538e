package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// needShared skips a test of coordination between processes on a backend whose state serves
// one process.
func needShared(t *testing.T, s Store) {
	t.Helper()
	if !s.Shared() {
		t.Skip("this backend's state serves one process: nothing to coordinate with")
	}
}

// Holders of one lock never overlap; other keys are not held up; a waiter gives up with its
// context; unlocking twice is harmless.
func testLock(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			unlock, err := s.Lock(ctx, "user:1")
			if err != nil {
				t.Error(err)
				return
			}
			if inside.Add(1) > 1 {
				overlaps.Add(1)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if overlaps.Load() > 0 {
		t.Fatalf("%d holders of one lock overlapped", overlaps.Load())
	}

	unlock, err := s.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Lock(ctx, "b")
	if err != nil {
		t.Fatalf("a held lock blocked another key: %v", err)
	}
	other()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if u, err := s.Lock(short, "a"); err == nil {
		u()
		t.Fatal("Lock of a held key returned before its holder unlocked")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter's error = %v, want its context's", err)
	}
	unlock()
	unlock()
	again, err := s.Lock(ctx, "a")
	if err != nil {
		t.Fatalf("Lock after unlock (twice): %v", err)
	}
	again()
}

// Three handles (replicas) doing read-modify-write under one lock lose no update: the
// guarantee 50 concurrent PATCHes to one user over 3 replicas rely on.
func testLockAcrossHandles(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	handles := []Store{b.openAt(t, loc), b.openAt(t, loc), b.openAt(t, loc)}
	needShared(t, handles[0])
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		s := handles[i%len(handles)]
		wg.Go(func() {
			unlock, err := s.Lock(ctx, "user:42")
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			v, _, err := s.Setting(ctx, "counter")
			if err != nil {
				t.Error(err)
				return
			}
			c, _ := strconv.Atoi(v)
			if err := s.PutSetting(ctx, "counter", strconv.Itoa(c+1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v, _, err := handles[0].Setting(ctx, "counter"); err != nil || v != strconv.Itoa(n) {
		t.Fatalf("counter = %q (%v) after %d locked increments over 3 handles", v, err, n)
	}

	// A handle that goes away (a replica killed, or stopped) frees its locks at once.
	dying, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dying.Lock(ctx, "user:7"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := handles[1].Lock(ctx, "user:7")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock returned while another handle held the lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	dying.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lock of a closed handle was not released")
	}
}

// One handle leads a task at a time; the lead passes on when the leader goes away.
func testLead(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	first := b.openAt(t, loc)
	if ok, err := first.Lead(ctx, "refresh"); err != nil || !ok {
		t.Fatalf("first Lead = %v, %v", ok, err)
	}
	if ok, err := first.Lead(ctx, "refresh"); err != nil || !ok {
		t.Fatalf("leader's second Lead = %v, %v", ok, err)
	}
	needShared(t, first)
	second := b.openAt(t, loc)
	if ok, err := second.Lead(ctx, "refresh"); err != nil || ok {
		t.Fatalf("second handle's Lead while the first leads = %v, %v", ok, err)
	}
	if ok, err := second.Lead(ctx, "other task"); err != nil || !ok {
		t.Fatalf("Lead of another task = %v, %v", ok, err)
	}
	first.Close()
	// The server releases the lead when the closed connection's backend has ended:
	// milliseconds, not at once.
	waitFor(t, "the lead after the leader closed", func() error {
		if ok, err := second.Lead(ctx, "refresh"); err != nil || !ok {
			return errors.Join(err, errors.New("not leading"))
		}
		return nil
	})
}

// Published changes reach other handles in order, with a wake-up.
func testChanges(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	pub := b.openAt(t, loc)
	if !pub.Shared() {
		if seq, err := pub.Publish(ctx, Change{Origin: "a", Kind: "user.put", Key: "1"}); err != nil || seq != 0 {
			t.Fatalf("Publish = %d, %v", seq, err)
		}
		if cs, err := pub.Changes(ctx, 0, 10); err != nil || len(cs) != 0 {
			t.Fatalf("Changes = %v, %v", cs, err)
		}
		return
	}
	sub := b.openAt(t, loc)
	select { // the first connection of the listener wakes the receiver; drain it
	case <-sub.Changed():
	case <-time.After(5 * time.Second):
	}
	if last, err := sub.LastChange(ctx); err != nil || last != 0 {
		t.Fatalf("LastChange of a new state = %d, %v", last, err)
	}
	if _, err := pub.Publish(ctx, Change{Origin: "a"}); err == nil {
		t.Error("Publish accepted a change without a kind")
	}
	before := time.Now()
	var seqs []int64
	for i, data := range []string{`{"v":1}`, "", "\x00binary\xff"} {
		seq, err := pub.Publish(ctx, Change{Origin: "replica-a", Kind: "user.put", Key: strconv.Itoa(i), Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if seqs[0] <= 0 || seqs[1] <= seqs[0] || seqs[2] <= seqs[1] {
		t.Fatalf("sequence numbers %v, want increasing", seqs)
	}
	select {
	case <-sub.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after another handle published")
	}
	cs, err := sub.Changes(ctx, 0, 10)
	if err != nil || len(cs) != 3 {
		t.Fatalf("Changes = %+v, %v", cs, err)
	}
	for i, c := range cs {
		if c.Seq != seqs[i] || c.Origin != "replica-a" || c.Kind != "user.put" || c.Key != strconv.Itoa(i) || c.Time.Before(before.Add(-time.Minute)) {
			t.Errorf("change %d = %+v", i, c)
		}
	}
	if string(cs[2].Data) != "\x00binary\xff" || len(cs[1].Data) != 0 {
		t.Errorf("data came back as %q, %q", cs[1].Data, cs[2].Data)
	}
	if cs, err := sub.Changes(ctx, seqs[0], 1); err != nil || len(cs) != 1 || cs[0].Seq != seqs[1] {
		t.Errorf("Changes after the first, limit 1 = %+v, %v", cs, err)
	}
	if last, err := sub.LastChange(ctx); err != nil || last != seqs[2] {
		t.Errorf("LastChange = %d, %v; want %d", last, err, seqs[2])
	}
	if n, err := sub.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Errorf("PruneChanges = %d, %v", n, err)
	}
	if cs, err := sub.Changes(ctx, 0, 10); err != nil || len(cs) != 0 {
		t.Errorf("Changes after prune = %v, %v", cs, err)
	}
}

// A reader that follows the feed while several handles publish at once sees every change
// exactly once: numbers are drawn in commit order, so no change commits behind the reader.
func testChangesConcurrentFollow(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	handles := []Store{b.openAt(t, loc), b.openAt(t, loc), b.openAt(t, loc)}
	needShared(t, handles[0])
	const per = 40
	var wg sync.WaitGroup
	for h, s := range handles {
		for g := range 4 {
			wg.Go(func() {
				for i := range per / 4 {
					if _, err := s.Publish(ctx, Change{Origin: "r" + strconv.Itoa(h), Kind: "k", Key: fmt.Sprintf("%d-%d-%d", h, g, i)}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	seen := map[string]bool{}
	var last int64
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < per*len(handles) && time.Now().Before(deadline) {
		cs, err := handles[0].Changes(ctx, last, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Seq <= last || seen[c.Key] {
				t.Fatalf("change %+v seen out of order or twice (last %d)", c, last)
			}
			seen[c.Key], last = true, c.Seq
		}
	}
	wg.Wait()
	if cs, err := handles[0].Changes(ctx, last, 100); err != nil || len(cs) != 0 {
		t.Errorf("changes left behind the reader: %d (%v)", len(cs), err)
	}
	if len(seen) != per*len(handles) {
		t.Fatalf("the reader saw %d changes of %d", len(seen), per*len(handles))
	}
}

// Heartbeats count the replicas alive within the ttl; Leave removes one at once.
func testHeartbeat(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	a := b.openAt(t, loc)
	if n, err := a.Heartbeat(ctx, "a", time.Minute); err != nil || n != 1 {
		t.Fatalf("first Heartbeat = %d, %v", n, err)
	}
	needShared(t, a)
	bb := b.openAt(t, loc)
	if n, err := bb.Heartbeat(ctx, "b", time.Minute); err != nil || n != 2 {
		t.Fatalf("second replica's Heartbeat = %d, %v", n, err)
	}
	if n, err := a.Heartbeat(ctx, "a", time.Minute); err != nil || n != 2 {
		t.Fatalf("Heartbeat with two alive = %d, %v", n, err)
	}
	if err := bb.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Heartbeat(ctx, "a", time.Minute); err != nil || n != 1 {
		t.Fatalf("Heartbeat after the other left = %d, %v", n, err)
	}
	if _, err := bb.Heartbeat(ctx, "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if n, err := a.Heartbeat(ctx, "a", 50*time.Millisecond); err != nil || n != 1 {
		t.Fatalf("Heartbeat after the other's went stale = %d, %v", n, err)
	}
}
