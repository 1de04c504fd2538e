package domo_test

import (
	"context"
	"math"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// Two clients on one tenant (two replicas of the bridge), each pacing at its share of the
// budget, stay under the tenant's limit together: no 429. The same two at the whole budget
// each run into it, which shows the test can tell.
func TestSharedBudget(t *testing.T) {
	// 200 a second: the simulator allows 400 in any 2 s. (The pacer's 2 % slack must cover a
	// burst of one request per client per window, so the window holds hundreds of requests,
	// as Domo's minute does.)
	const perMinute = 12000
	run := func(share float64) (sent, throttled int64) {
		sim := domosim.New(domosim.Options{Seed: 3, RateLimit: 400, RateWindow: 2 * time.Second})
		ids := sim.SeedUsers(1)
		srv := httptest.NewServer(sim)
		defer srv.Close()
		so := sim.Options()
		var clients []*domo.Client
		for range 2 {
			c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
				RatePerMinute: perMinute, MaxAttempts: 1, Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			c.SetShare(share)
			clients = append(clients, c)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, c := range clients {
			for range 4 {
				wg.Go(func() {
					for ctx.Err() == nil {
						_, _ = c.GetUser(ctx, ids[0])
					}
				})
			}
		}
		wg.Wait()
		st := sim.Stats()
		return st.Requests, st.RateLimited
	}
	sent, throttled := run(0.5)
	t.Logf("two clients at half the budget each: %d requests in 3 s (limit 200/s), %d x 429", sent, throttled)
	if throttled != 0 {
		t.Errorf("two clients at half the budget each were throttled %d times", throttled)
	}
	if _, throttled := run(1); throttled == 0 {
		t.Error("two clients at the whole budget each were never throttled: the test cannot tell")
	}
}

func TestShareBounds(t *testing.T) {
	c, err := domo.New(domo.Config{BaseURL: "http://127.0.0.1:1", ClientID: "x", ClientSecret: "y", RatePerMinute: 3000, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ set, want float64 }{{0, 0.001}, {-1, 0.001}, {2, 1}, {1.0 / 3, 1.0 / 3}, {1, 1}} {
		c.SetShare(tt.set)
		if got := c.Share(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("SetShare(%v): Share() = %v, want %v", tt.set, got, tt.want)
		}
	}
}
