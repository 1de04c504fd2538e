package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) { testBreaker(t, openTemp(t)) }

// testBreaker checks the breaker's window of any Store.
func testBreaker(t *testing.T, s Store) {
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
