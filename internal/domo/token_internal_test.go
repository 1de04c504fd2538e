package domo

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestRefusedTokenIsAskedAgain: a token endpoint that refused the credentials once does not
// poison the client. Within a short pause a request fails at once without asking again (a
// credential outage must not spend Domo's budget on token requests); after it, the next
// request asks again and, the refusal having passed, goes through.
func TestRefusedTokenIsAskedAgain(t *testing.T) {
	t.Parallel()
	sim := domosim.New(domosim.Options{Seed: 3})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	so := sim.Options()
	c, err := New(Config{BaseURL: srv.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret, RatePerMinute: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c.tokens.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tokenRequests := func() int64 { return sim.Stats().ByRoute["POST /oauth/token"] }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for round := 1; round <= 3; round++ {
		sim.InjectFault(domosim.Fault{Route: domosim.TokenRoute, Status: 400, Body: `{"error":"invalid_grant"}`})
		before := tokenRequests()
		if _, err := c.GetUser(ctx, sim.OwnerID()); KindOf(err) != KindCredentials {
			t.Fatalf("round %d: %v, want a credentials failure", round, err)
		}
		if n := tokenRequests(); n != before+1 {
			t.Fatalf("round %d: %d token requests, want 1", round, n-before)
		}
		if _, err := c.GetUser(ctx, sim.OwnerID()); KindOf(err) != KindCredentials {
			t.Fatalf("round %d, within the pause: %v", round, err)
		}
		if n := tokenRequests(); n != before+1 {
			t.Fatalf("round %d: a request within the pause asked for a token", round)
		}
		// The pause doubles with each refusal in a row, within its bounds.
		c.tokens.mu.Lock()
		pause := c.tokens.retryAt.Sub(now)
		c.tokens.mu.Unlock()
		if hi := min(refusedPauseMin<<(round-1), refusedPauseMax); pause <= 0 || pause > hi {
			t.Fatalf("round %d: pause %s, want up to %s", round, pause, hi)
		}
		advance(pause)
	}
	// The fault is spent: the next request asks again and succeeds.
	before := tokenRequests()
	if _, err := c.GetUser(ctx, sim.OwnerID()); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
	if n := tokenRequests(); n != before+1 {
		t.Fatalf("%d token requests after the pause, want 1", n-before)
	}
	c.tokens.mu.Lock()
	refused := c.tokens.refused
	c.tokens.mu.Unlock()
	if refused != 0 {
		t.Fatalf("refusals still counted after a token was obtained: %d", refused)
	}
}
