package domo_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// BenchmarkListUsers100k lists 100,000 users: Domo calls, time and allocations per listing.
// "unpaced" measures the client and simulator themselves; "paced-3000" is a real tenant's
// budget, where the listing is bounded by 201 calls at 49 a second.
func BenchmarkListUsers100k(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
	}{{"unpaced", 100_000_000}, {"paced-3000", 3000}} {
		b.Run(tc.name, func(b *testing.B) {
			r := newRig(b, domosim.Options{}, func(c *domo.Config) { c.RatePerMinute = tc.rate })
			r.sim.SeedUsers(99_999)
			ctx := context.Background()
			if _, err := r.client.Token(ctx); err != nil {
				b.Fatal(err)
			}
			// One listing first, so every measured one knows the size (as the index refresh
			// does after its first load).
			for _, err := range r.client.Users(ctx) {
				if err != nil {
					b.Fatal(err)
				}
			}
			before := r.sim.Stats().ByRoute["GET /v1/users"]
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n := 0
				for _, err := range r.client.Users(ctx) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 100_000 {
					b.Fatalf("%d users", n)
				}
			}
			b.StopTimer()
			calls := r.sim.Stats().ByRoute["GET /v1/users"] - before
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
			r.calls.mu.Lock()
			retries := 0
			for _, n := range r.calls.retries {
				retries += n
			}
			r.calls.mu.Unlock()
			b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
		})
	}
}

// BenchmarkFindUserByEmailTail finds a user appended after the last listing among 100,000.
func BenchmarkFindUserByEmailTail(b *testing.B) {
	r := newRig(b, domosim.Options{}, nil)
	r.sim.SeedUsers(99_999)
	ctx := context.Background()
	for _, err := range r.client.Users(ctx) {
		if err != nil {
			b.Fatal(err)
		}
	}
	r.sim.AddUser(domosim.SimUser{Name: "Late Comer", Email: "late@x.example"})
	before := r.sim.Stats().ByRoute["GET /v1/users"]
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := r.client.FindUserByEmail(ctx, "LATE@x.example"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(r.sim.Stats().ByRoute["GET /v1/users"]-before)/float64(b.N), "calls/op")
}

// TestSustainedLoad is the budget benchmark: 20 goroutines run user lifecycles for a fixed time
// against a simulator whose limit equals the client's configured rate. It reports the achieved
// rate as a share of the limit, 429s received, operations lost and users duplicated. It takes
// minutes, so it runs only with SCIMBRIDGE_BENCH=1 (SCIMBRIDGE_BENCH_DURATION overrides 30s):
//
//	SCIMBRIDGE_BENCH=1 go test -run TestSustainedLoad -v ./internal/domo/
func TestSustainedLoad(t *testing.T) {
	if os.Getenv("SCIMBRIDGE_BENCH") != "1" {
		t.Skip("set SCIMBRIDGE_BENCH=1 to run the sustained-load benchmark")
	}
	dur := 30 * time.Second
	if v := os.Getenv("SCIMBRIDGE_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	const perMinute = 3000
	tests := []struct {
		name   string
		window time.Duration
		fail   float64
	}{
		{"3000/min, 1 min sliding window", time.Minute, 0},
		{"3000/min as 500 per 10 s sliding window", 10 * time.Second, 0},
		{"3000/min as 500 per 10 s, 20% 5xx (half after commit)", 10 * time.Second, 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := int(float64(perMinute) * tc.window.Seconds() / 60)
			res := sustain(t, domosim.Options{
				Seed: 11, RateLimit: limit, RateWindow: tc.window, Fail5xx: tc.fail, Fail5xxAfter: 0.5,
			}, perMinute, 20, dur)
			t.Logf("%s for %s: %s", tc.name, dur, res)
			if res.tooMany > 0 || res.lost > 0 || res.duplicated > 0 {
				t.Errorf("goals missed: %s", res)
			}
			if res.share < 0.95 {
				t.Errorf("achieved %.1f%% of the limit, goal 95%%", 100*res.share)
			}
		})
	}
}

type loadResult struct {
	requests, tooMany, injected int64
	ops, lost, duplicated       int64
	share                       float64
	retries                     map[string]int
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d requests in the period = %.1f%% of the limit; %d 429s; %d 5xx injected; %d operations, %d lost, %d users duplicated; retries %v",
		r.requests, 100*r.share, r.tooMany, r.injected, r.ops, r.lost, r.duplicated, r.retries)
}

func sustain(t *testing.T, opts domosim.Options, perMinute, workers int, dur time.Duration) loadResult {
	sim := domosim.New(opts)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.SeedUsers(1999)
	groupID := sim.AddGroup("Load")
	cnt := &counter{requests: map[string]int{}, retries: map[string]int{}}
	c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: "sim-client", ClientSecret: "sim-secret", RatePerMinute: perMinute, Hooks: cnt.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	// Warm up as the bridge does (token, index load). The warm-up is paced like the rest, so it
	// shares the window with the measured run without bursting it.
	for _, err := range c.Users(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
	}
	sim.ResetStats()

	var ops, lost atomic.Int64
	var mu sync.Mutex
	created := map[string]int64{} // email -> id the client returned
	deadline := time.Now().Add(dur)
	// The share of the budget is measured over the fixed duration; operations still in
	// flight at the end finish afterwards and are checked, but not counted in the rate.
	atDeadline := make(chan domosim.Stats, 1)
	time.AfterFunc(dur, func() { atDeadline <- sim.Stats() })
	// Requests per 10 s, to show the rate is steady rather than an average of bursts.
	var perTen []int64
	tick := time.NewTicker(10 * time.Second)
	stopTick := make(chan struct{})
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		last := int64(0)
		for {
			select {
			case <-tick.C:
				n := sim.Stats().Requests
				perTen = append(perTen, n-last)
				last = n
			case <-stopTick:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				email := fmt.Sprintf("load.w%d.i%d@x.example", w, i)
				err := lifecycle(ctx, c, groupID, email, func(id int64) {
					mu.Lock()
					created[email] = id
					mu.Unlock()
				}, &ops)
				cancel()
				if err != nil {
					lost.Add(1)
					t.Logf("lost: %v", err)
				}
			}
		})
	}
	wg.Wait()
	inTime := <-atDeadline
	tick.Stop()
	close(stopTick)
	<-tickDone
	t.Logf("requests per 10 s: %v", perTen)
	st := sim.Stats()

	// Every email the client created is held by at most one user, the one it returned.
	var dup int64
	byEmail := map[string]int{}
	for _, u := range sim.Users() {
		byEmail[strings.ToLower(u.Email)]++
	}
	for email, id := range created {
		if n := byEmail[email]; n > 1 {
			dup++
		} else if u, ok := sim.User(id); !ok || !strings.EqualFold(u.Email, email) {
			dup++ // the client returned a user that is not the one holding the email
		}
	}
	accepted := inTime.Requests - inTime.RateLimited
	budget := float64(perMinute) * dur.Minutes()
	cnt.mu.Lock()
	retries := cnt.retries
	cnt.mu.Unlock()
	return loadResult{
		requests: accepted, tooMany: st.RateLimited, injected: st.Injected5xx,
		ops: ops.Load(), lost: lost.Load(), duplicated: dup, share: float64(accepted) / budget, retries: retries,
	}
}

// lifecycle is one user's life as the bridge drives it: create, read, GET-merge-PUT, join a
// group, leave it, delete. Seven requests when nothing fails.
func lifecycle(ctx context.Context, c *domo.Client, groupID int64, email string, onCreate func(int64), ops *atomic.Int64) error {
	u, err := c.CreateUser(ctx, domo.UserUpdate{User: domo.User{Name: "Load User", Email: email, Role: "Participant", Title: "Tester"}}, false)
	ops.Add(1)
	if err != nil {
		return err
	}
	onCreate(u.ID)
	steps := []func() error{
		func() error { _, err := c.GetUser(ctx, u.ID); return err },
		func() error {
			cur, err := c.GetUser(ctx, u.ID)
			if err != nil {
				return err
			}
			cur.Title = "Senior Tester"
			_, err = c.UpdateUser(ctx, u.ID, domo.UserUpdate{User: cur})
			return err
		},
		func() error { return c.AddGroupMember(ctx, groupID, u.ID) },
		func() error { return c.RemoveGroupMember(ctx, groupID, u.ID) },
		func() error { return c.DeleteUser(ctx, u.ID) },
	}
	for _, step := range steps {
		ops.Add(1)
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
