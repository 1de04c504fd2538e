package domo_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// seqBudget is a SharedBudget kept in this process, as the store keeps one for replicas: one
// sequence of send times, every apart, whoever asks. (The store's own, on a real PostgreSQL,
// is tested with real clients in cmd/scimbridge, which may import both packages; this one
// pins down what the client asks of any.)
type seqBudget struct {
	mu      sync.Mutex
	next    time.Time
	takes   int
	refused int
	held    []time.Duration
	err     error // every call fails with it, when set
	within  []time.Duration
}

func (b *seqBudget) Take(_ context.Context, every, within time.Duration) (time.Duration, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.within = append(b.within, within)
	if b.err != nil {
		return 0, false, b.err
	}
	now := time.Now()
	at := b.next
	if at.Before(now) {
		at = now
	}
	if at.Sub(now) > within {
		b.refused++
		return at.Sub(now), false, nil
	}
	b.next = at.Add(every)
	b.takes++
	return at.Sub(now), true, nil
}

func (b *seqBudget) Hold(_ context.Context, d time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = append(b.held, d)
	if until := time.Now().Add(d); until.After(b.next) {
		b.next = until
	}
	return b.err
}

func newSharingClient(t *testing.T, url string, so domosim.Options, perMinute int, maxWait time.Duration, b domo.SharedBudget) *domo.Client {
	t.Helper()
	c, err := domo.New(domo.Config{BaseURL: url, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
		RatePerMinute: perMinute, MaxWait: maxWait, MaxAttempts: 1, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if b != nil {
		c.ShareBudget(b)
	}
	return c
}

// Two clients on one tenant (two replicas of the bridge) taking their send times from one
// shared budget stay under the tenant's limit together, and use it, though one sends far more
// than the other: no 429, at least 95 % of the limit. The same two pacing each on its own at
// the whole budget run into the limit, which shows the test can tell.
func TestSharedBudget(t *testing.T) {
	// 200 a second: the simulator allows 400 in any 2 s. (The pacer's 2 % slack must cover
	// the jitter of send times against their slots, so the window holds hundreds of
	// requests, as Domo's minute does.)
	const perMinute, window, limit = 12000, 2 * time.Second, 400
	const run = 3 * time.Second
	type result struct {
		sent, throttled int64
		used            float64
	}
	measure := func(shared bool) result {
		sim := domosim.New(domosim.Options{Seed: 3, RateLimit: limit, RateWindow: window})
		ids := sim.SeedUsers(1)
		srv := httptest.NewServer(sim)
		defer srv.Close()
		var b *seqBudget
		if shared {
			b = &seqBudget{}
		}
		var clients []*domo.Client
		for range 2 {
			var sb domo.SharedBudget
			if b != nil {
				sb = b
			}
			clients = append(clients, newSharingClient(t, srv.URL, sim.Options(), perMinute, 0, sb))
		}
		// Warm both clients' tokens, so the run measures steady traffic.
		for _, c := range clients {
			if _, err := c.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		before := sim.Stats().Requests
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), run)
		defer cancel()
		var wg sync.WaitGroup
		for i, c := range clients {
			for range []int{6, 1}[i] { // uneven demand: six workers on one, one on the other
				wg.Go(func() {
					for ctx.Err() == nil {
						_, _ = c.GetUser(ctx, ids[0])
					}
				})
			}
		}
		wg.Wait()
		st := sim.Stats()
		sent := st.Requests - before
		return result{sent, st.RateLimited, float64(sent) / (time.Since(start).Seconds() * perMinute / 60)}
	}
	r := measure(true)
	t.Logf("two clients sharing one budget, demand 6:1: %d requests in %v (limit %d/s), %.1f %% of it, %d x 429", r.sent, run, perMinute/60, 100*r.used, r.throttled)
	if r.throttled != 0 {
		t.Errorf("two clients sharing one budget were throttled %d times", r.throttled)
	}
	if r.used < 0.90 {
		t.Errorf("two clients sharing one budget used %.1f %% of it, want at least 90 %%", 100*r.used)
	}
	if r := measure(false); r.throttled == 0 {
		t.Error("two clients at the whole budget each were never throttled: the test cannot tell")
	}
}

// A client asks the shared budget for a send time no further away than it may wait (MaxWait,
// the context's deadline); one further away fails fast with *RateLimitError, nothing sent
// and nothing taken from the others.
func TestSharedBudgetWithinMaxWait(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 3})
	ids := sim.SeedUsers(1)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	b := &seqBudget{}
	c := newSharingClient(t, srv.URL, sim.Options(), 3000, 300*time.Millisecond, b)
	if _, err := c.GetUser(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	for _, w := range b.within {
		if w <= 0 || w > 300*time.Millisecond {
			t.Errorf("the client asked for a send time within %v, want within MaxWait (300 ms)", w)
		}
	}
	// Another replica has taken the next second.
	b.mu.Lock()
	b.next = time.Now().Add(time.Second)
	b.mu.Unlock()
	sent := sim.Stats().Requests
	_, err := c.GetUser(context.Background(), ids[0])
	var rl *domo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter < 600*time.Millisecond || rl.RetryAfter > time.Second {
		t.Fatalf("GetUser behind a second of others' slots, MaxWait 300 ms = %v; want *RateLimitError, retry after about a second", err)
	}
	if n := sim.Stats().Requests - sent; n != 0 {
		t.Errorf("%d requests reached Domo without a send time", n)
	}
	if b.refused != 1 {
		t.Errorf("the budget refused %d takes, want 1", b.refused)
	}
	// A context deadline shorter than MaxWait bounds the wait too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	b.within = nil
	_, _ = c.GetUser(ctx, ids[0])
	if len(b.within) == 0 || b.within[0] > 100*time.Millisecond {
		t.Errorf("with a 100 ms deadline the client asked within %v", b.within)
	}
}

// A budget that cannot be reached sends nothing to Domo and says why: an error that is not
// Domo's, telling the SCIM API to answer 503 with Retry-After.
func TestSharedBudgetUnreachable(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 3})
	ids := sim.SeedUsers(1)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	down := errors.New("state database unreachable")
	b := &seqBudget{err: down}
	c := newSharingClient(t, srv.URL, sim.Options(), 3000, 0, b)
	// The token request, paced like any other, is not retried as if Domo had failed.
	_, err := c.Token(context.Background())
	var bu *domo.BudgetUnavailableError
	if !errors.As(err, &bu) || len(b.within) != 1 {
		t.Fatalf("Token with the budget unreachable = %v after %d takes; want *BudgetUnavailableError after one", err, len(b.within))
	}
	_, err = c.GetUser(context.Background(), ids[0])
	if !errors.As(err, &bu) || !errors.Is(err, down) {
		t.Fatalf("GetUser with the budget unreachable = %v; want *BudgetUnavailableError wrapping the cause", err)
	}
	var un interface {
		Unavailable() (string, time.Duration)
	}
	if !errors.As(err, &un) {
		t.Fatal("the error does not tell the SCIM API to answer 503")
	}
	if _, retry := un.Unavailable(); retry <= 0 {
		t.Errorf("Retry-After %v", retry)
	}
	if k := domo.KindOf(err); k != domo.KindOther {
		t.Errorf("KindOf = %v; it is not Domo's answer", k)
	}
	if n := sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests reached Domo without a send time", n)
	}
}

// A 429 from Domo holds every client of the shared budget back, not only the one that got it:
// the budget gives no one a send time before Domo's Retry-After.
func TestSharedBudgetHoldsOn429(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 3, RateLimit: 2, RateWindow: time.Second, RateLimitHeaders: "retry-after"})
	ids := sim.SeedUsers(1)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	b := &seqBudget{}
	var retries atomic.Int32
	so := sim.Options()
	c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
		MaxAttempts: 1, Logger: zerolog.Nop(),
		Hooks: domo.Hooks{Retry: func(_ context.Context, _, reason string) {
			if reason == "429" {
				retries.Add(1)
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	c.ShareBudget(b)
	// The token and the first read use the simulator's two requests a second; the second
	// read meets a 429 with Retry-After and waits it out.
	for range 2 {
		if _, err := c.GetUser(context.Background(), ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	if retries.Load() == 0 {
		t.Fatal("no 429 met: the test cannot tell")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.held) == 0 || b.held[0] < 500*time.Millisecond || b.held[0] > time.Second+100*time.Millisecond {
		t.Errorf("holds of the shared budget: %v; want one of about Retry-After (1 s)", b.held)
	}
}
