package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// takeSlots takes n slots of budget name through s from n goroutines at once, and returns
// their times; every take must be granted.
func takeSlots(t *testing.T, s Store, name string, n int, every time.Duration) []time.Time {
	t.Helper()
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			sl, err := s.TakeSlot(context.Background(), name, every, time.Minute)
			if err != nil || !sl.Taken {
				t.Errorf("TakeSlot = %+v, %v; want a slot", sl, err)
				return
			}
			mu.Lock()
			at = append(at, sl.At)
			mu.Unlock()
		})
	}
	wg.Wait()
	return at
}

// checkSpacing fails unless no two of the times lie closer than every: then no window of
// length w holds more than w/every+1 of them, whoever took them.
func checkSpacing(t *testing.T, at []time.Time, every time.Duration) {
	t.Helper()
	slices.SortFunc(at, time.Time.Compare)
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < every {
			t.Fatalf("slots %d and %d are %v apart, less than %v", i-1, i, d, every)
		}
	}
}

// A budget hands out send times every apart, in the order asked, the first at once; a slot
// beyond within is refused and changes nothing; HoldSlots pushes the next one out and never
// back; budgets are independent.
func testBudget(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	const every = 50 * time.Millisecond
	first, err := s.TakeSlot(ctx, "v1", every, time.Minute)
	if err != nil || !first.Taken || first.Wait != 0 {
		t.Fatalf("first TakeSlot of an idle budget = %+v, %v; want one at once", first, err)
	}
	// 20 at once: a second of backlog, every apart, none closer.
	at := append(takeSlots(t, s, "v1", 20, every), first.At)
	checkSpacing(t, at, every)
	last := at[len(at)-1]
	if want := first.At.Add(20 * every); !last.Equal(want) {
		t.Errorf("21 slots asked together end at %v after the first, want %v: the budget leaves gaps", last.Sub(first.At), want.Sub(first.At))
	}

	// The next free time is a second away: a caller who may wait only 100 ms is refused, told
	// when it is, and takes nothing from those who may wait.
	refused, err := s.TakeSlot(ctx, "v1", every, 100*time.Millisecond)
	if err != nil || refused.Taken || !refused.At.Equal(last.Add(every)) || refused.Wait <= 100*time.Millisecond {
		t.Fatalf("TakeSlot within 100 ms behind a second of backlog = %+v, %v; want refused, next at %v", refused, err, last.Add(every))
	}
	next, err := s.TakeSlot(ctx, "v1", every, time.Minute)
	if err != nil || !next.Taken || !next.At.Equal(refused.At) || next.Wait > time.Second+every {
		t.Fatalf("TakeSlot after a refusal = %+v, %v; want the refused slot %v", next, err, refused.At)
	}

	// Another budget is not held up by this one's backlog.
	if other, err := s.TakeSlot(ctx, "instance", every, 0); err != nil || !other.Taken || other.Wait != 0 {
		t.Errorf("TakeSlot of another budget = %+v, %v; want one at once", other, err)
	}

	// A hold keeps everyone back for its length; a shorter one later does not shorten it.
	if err := s.HoldSlots(ctx, "held", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldSlots(ctx, "held", 0); err != nil {
		t.Fatal(err)
	}
	held, err := s.TakeSlot(ctx, "held", every, time.Minute)
	if err != nil || !held.Taken || held.Wait < 200*time.Millisecond || held.Wait > 300*time.Millisecond {
		t.Errorf("TakeSlot after a 300 ms hold = %+v, %v; want a slot 200 to 300 ms away", held, err)
	}

	// every is rounded up to a whole microsecond, never down.
	odd := 1500 * time.Nanosecond
	at = takeSlots(t, s, "odd", 10, odd)
	checkSpacing(t, at, odd)

	for _, bad := range []struct {
		name  string
		every time.Duration
	}{{"", every}, {"v1", 0}, {"v1", -time.Second}} {
		if _, err := s.TakeSlot(ctx, bad.name, bad.every, time.Minute); err == nil {
			t.Errorf("TakeSlot(%q, %v) succeeded", bad.name, bad.every)
		}
	}
	if err := s.HoldSlots(ctx, "", time.Second); err == nil {
		t.Error("HoldSlots of an unnamed budget succeeded")
	}
}

// Replicas sharing a state share its budgets exactly: whoever asks gets the next free time,
// so the budget follows demand with no share set aside for a replica that is idle, has left
// or died; replicas joining, leaving, dying or shifting their demand never bring two slots
// closer than every.
func testBudgetAcrossHandles(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	a := b.openAt(t, loc)
	needShared(t, a)
	bb := b.openAt(t, loc)

	// Demand on one replica only: it gets consecutive slots, a second of them; the other,
	// idle, has none set aside. When demand shifts to it, its first slot is the next one.
	const slow = 100 * time.Millisecond
	var last time.Time
	for i := range 10 {
		sl, err := a.TakeSlot(ctx, "shift", slow, time.Minute)
		if err != nil || !sl.Taken {
			t.Fatalf("TakeSlot = %+v, %v", sl, err)
		}
		if i > 0 && !sl.At.Equal(last.Add(slow)) {
			t.Fatalf("slot %d of a lone busy replica is %v after the one before, want %v", i, sl.At.Sub(last), slow)
		}
		last = sl.At
	}
	sl, err := bb.TakeSlot(ctx, "shift", slow, time.Minute)
	if err != nil || !sl.Taken || !sl.At.Equal(last.Add(slow)) {
		t.Fatalf("the idle replica's first slot = %+v, %v; want the next one, %v", sl, err, last.Add(slow))
	}

	// Uneven demand from three replicas at once; one dies midway (its connections dropped),
	// one joins after that.
	const every = 2 * time.Millisecond
	c, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var at []time.Time
	var dyingTook atomic.Int32
	dyingBusy := make(chan struct{})
	var wg sync.WaitGroup
	take := func(s Store, n int, who string) {
		for range n {
			sl, err := s.TakeSlot(ctx, "v1", every, time.Minute)
			if err != nil {
				if who != "dying" {
					t.Errorf("%s: %v", who, err)
				}
				return
			}
			if !sl.Taken {
				t.Errorf("%s: slot refused within a minute: %+v", who, sl)
				return
			}
			mu.Lock()
			at = append(at, sl.At)
			mu.Unlock()
			if who == "dying" && dyingTook.Add(1) == 10 {
				close(dyingBusy)
			}
		}
	}
	for range 6 {
		wg.Go(func() { take(a, 30, "a") })
	}
	wg.Go(func() { take(bb, 30, "b") })
	for range 3 {
		wg.Go(func() { take(c, 1000, "dying") })
	}
	<-dyingBusy
	c.Close()
	joined := b.openAt(t, loc)
	for range 3 {
		wg.Go(func() { take(joined, 20, "joined") })
	}
	wg.Wait()
	if want := 6*30 + 30 + 10 + 3*20; len(at) < want {
		t.Fatalf("%d slots taken, want at least %d", len(at), want)
	}
	checkSpacing(t, at, every)
}
