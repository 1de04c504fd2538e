package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testBreaker checks the breaker's window.
func testBreaker(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(n int) []BreakerEvent {
		out := make([]BreakerEvent, n)
		for i := range out {
			out[i] = BreakerEvent{Kind: "deactivate", Resource: "User", ResourceID: "1"}
		}
		return out
	}
	take := func(at time.Time, n int) (int, bool) {
		t.Helper()
		c, ok, err := s.TakeBreaker(ctx, BreakerTake{At: at, Window: 10 * time.Minute, Max: 5, Events: ev(n)})
		if err != nil {
			t.Fatalf("TakeBreaker: %v", err)
		}
		return c, ok
	}
	if c, ok := take(t0, 3); !ok || c != 3 {
		t.Fatalf("take 3 of 5 = %d, %v", c, ok)
	}
	if c, ok := take(t0.Add(time.Minute), 3); ok || c != 3 {
		t.Fatalf("take 3 more (6 > 5) = %d, %v; want refused with 3 counted", c, ok)
	}
	if c, ok := take(t0.Add(time.Minute), 2); !ok || c != 5 {
		t.Fatalf("take 2 more (5) = %d, %v", c, ok)
	}
	if c, ok := take(t0.Add(2*time.Minute), 1); ok || c != 5 {
		t.Fatalf("take 1 past the limit = %d, %v", c, ok)
	}
	// The first three leave the window 10 minutes after t0.
	if c, ok := take(t0.Add(10*time.Minute+time.Second), 3); !ok || c != 5 {
		t.Fatalf("take 3 after the first left the window = %d, %v", c, ok)
	}
	if n, err := s.BreakerCount(ctx, t0.Add(time.Second)); err != nil || n != 5 {
		t.Fatalf("BreakerCount = %d, %v; want 5", n, err)
	}
	if _, _, err := s.TakeBreaker(ctx, BreakerTake{At: t0, Window: 0, Max: 5, Events: ev(1)}); err == nil {
		t.Error("TakeBreaker accepted a zero window")
	}
	if err := s.ClearBreaker(ctx); err != nil {
		t.Fatalf("ClearBreaker: %v", err)
	}
	if n, err := s.BreakerCount(ctx, time.Time{}); err != nil || n != 0 {
		t.Fatalf("BreakerCount after clear = %d, %v", n, err)
	}

	// Concurrent takers never count more than the limit between them.
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	at := t0.Add(time.Hour)
	for range 20 {
		wg.Go(func() {
			_, ok, err := s.TakeBreaker(ctx, BreakerTake{At: at, Window: time.Minute, Max: 5, Events: ev(1)})
			if err != nil {
				t.Errorf("TakeBreaker: %v", err)
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("20 concurrent takers of a budget of 5: %d allowed", allowed)
	}
}

// testBreakerAcrossHandles: takers on several handles of one state (replicas, or processes
// sharing a file) share one budget: 50 deprovisions over 3 handles with a budget of 20 let
// exactly 20 through, as one handle would.
func testBreakerAcrossHandles(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	handles := []Store{b.openAt(t, loc), b.openAt(t, loc), b.openAt(t, loc)}
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for i := range 50 {
		s := handles[i%len(handles)]
		wg.Go(func() {
			_, ok, err := s.TakeBreaker(ctx, BreakerTake{At: at.Add(time.Duration(i) * time.Millisecond), Window: time.Hour, Max: 20,
				Events: []BreakerEvent{{Kind: "deactivate", Resource: "User", ResourceID: itoa(i)}}})
			if err != nil {
				t.Errorf("TakeBreaker: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 20 {
		t.Errorf("50 takers over 3 handles, budget 20: %d allowed", allowed.Load())
	}
	for i, s := range handles {
		if n, err := s.BreakerCount(ctx, at); err != nil || n != 20 {
			t.Errorf("handle %d counts %d (%v), want 20", i, n, err)
		}
	}
}
