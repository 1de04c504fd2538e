package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
	"github.com/scimbridge/scimbridge/internal/store"
)

// budgetReplica is one replica's part in the budget tests: its own handle on the shared state
// and its own Domo client, wired as serve wires them (shareDomoBudgets), and workers sending
// Domo requests as fast as the budget lets them.
type budgetReplica struct {
	name   string
	st     store.Store
	client *domo.Client
	sent   atomic.Int64 // requests this replica sent to Domo

	ctx    context.Context // cancelled when the replica dies
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   []*atomic.Bool // one per running worker
	dead   sync.Once
}

func newBudgetReplica(t *testing.T, name, state, domoURL string, so domosim.Options, perMinute int) *budgetReplica {
	t.Helper()
	st, err := store.Open(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	r := &budgetReplica{name: name, st: st}
	r.client, err = domo.New(domo.Config{BaseURL: domoURL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
		RatePerMinute: perMinute, MaxAttempts: 1, Logger: zerolog.Nop(),
		Hooks: domo.Hooks{Request: func(context.Context, string, int, time.Duration) { r.sent.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	shareDomoBudgets(st, r.client, nil)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() { r.die() })
	if _, err := r.client.Token(r.ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// work starts n workers reading one user again and again.
func (r *budgetReplica) work(t *testing.T, n int, id int64) {
	for range n {
		stop := &atomic.Bool{}
		r.stop = append(r.stop, stop)
		r.wg.Go(func() {
			for !stop.Load() && r.ctx.Err() == nil {
				_, err := r.client.GetUser(r.ctx, id)
				var bu *domo.BudgetUnavailableError
				if err != nil && r.ctx.Err() == nil && !errors.As(err, &bu) {
					t.Errorf("%s: %v", r.name, err)
					return
				}
			}
		})
	}
}

// idle lets the replica's workers finish the request each has in hand, and stops them.
func (r *budgetReplica) idle() {
	for _, s := range r.stop {
		s.Store(true)
	}
	r.stop = nil
	r.wg.Wait()
}

// die ends the replica as a kill -9 would: the requests waiting for their send time are cut
// off (the times they took are lost), and its connections to the state dropped.
func (r *budgetReplica) die() {
	r.dead.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.st.Close()
	})
}

// Replicas over one real PostgreSQL share one Domo budget exactly, whatever their demand:
// all of it on one replica, then shifting to two others (6:1), then one of them dying and a
// new replica joining. In every phase they use at least 90 % of the limit between them (the
// issue's bar; 97-98 % is usual, a loaded machine sends some requests late), the
// replicas with work get it all, and the simulator, which enforces the limit over a sliding
// window, never answers 429.
func TestReplicasShareTheDomoBudget(t *testing.T) {
	state := pgtest.URL(t)
	// 200 a second: the simulator allows 800 in any 4 s. (The pacer's 2 % slack must cover
	// requests sent late into a window, 80 ms of them here, so the window holds hundreds of
	// requests, as Domo's minute does; the run is more than two windows long.)
	const perMinute, window, limit = 12000, 4 * time.Second, 800
	const phase = 3 * time.Second
	sim := domosim.New(domosim.Options{Seed: 5, RateLimit: limit, RateWindow: window})
	ids := sim.SeedUsers(1)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	so := sim.Options()
	a := newBudgetReplica(t, "a", state, srv.URL, so, perMinute)
	b := newBudgetReplica(t, "b", state, srv.URL, so, perMinute)
	c := newBudgetReplica(t, "c", state, srv.URL, so, perMinute)

	type snap struct {
		at   time.Time
		sim  int64
		sent map[string]int64
	}
	replicas := []*budgetReplica{a, b, c}
	take := func() snap {
		s := snap{at: time.Now(), sim: sim.Stats().Requests, sent: map[string]int64{}}
		for _, r := range replicas {
			s.sent[r.name] = r.sent.Load()
		}
		return s
	}
	var total, used float64
	measure := func(name string, from snap, busy ...string) {
		t.Helper()
		to := take()
		secs := to.at.Sub(from.at).Seconds()
		n := to.sim - from.sim
		share := float64(n) / (secs * perMinute / 60)
		var parts []string
		for _, r := range replicas {
			d := to.sent[r.name] - from.sent[r.name]
			parts = append(parts, fmt.Sprintf("%s %d", r.name, d))
			if !slices.Contains(busy, r.name) && d != 0 {
				t.Errorf("%s: %s, idle, sent %d requests", name, r.name, d)
			}
		}
		t.Logf("%s: %d requests in %.2f s, %.1f %% of the limit (%s)", name, n, secs, 100*share, strings.Join(parts, ", "))
		if share < 0.90 {
			t.Errorf("%s: the replicas used %.1f %% of the budget, want at least 90 %% (the issue's bar; a loaded machine sends some late)", name, 100*share)
		}
		total += secs * perMinute / 60
		used += float64(n)
	}

	// 1: all the demand on one replica; the two others idle.
	a.work(t, 6, ids[0])
	s := take()
	time.Sleep(phase) // the phase's length: traffic runs meanwhile
	measure("all demand on a", s, "a")

	// 2: demand shifts to the two others, unevenly.
	a.idle()
	b.work(t, 6, ids[0])
	c.work(t, 1, ids[0])
	s = take()
	time.Sleep(phase) // the phase's length
	measure("demand on b and c, 6:1", s, "b", "c")

	// 3: b dies with requests waiting for their send times; a new replica joins and a takes
	// work again.
	b.die()
	d := newBudgetReplica(t, "d", state, srv.URL, so, perMinute)
	replicas = append(replicas, d)
	d.work(t, 3, ids[0])
	a.work(t, 2, ids[0])
	s = take()
	time.Sleep(phase) // the phase's length
	measure("b dead, d joined, demand on a, c, d 2:1:3", s, "a", "c", "d")
	for _, r := range []*budgetReplica{a, c, d} {
		r.idle()
	}

	st := sim.Stats()
	t.Logf("whole run: %.1f %% of the budget; simulator: %d requests, %d x 429", 100*used/total, st.Requests, st.RateLimited)
	if st.RateLimited != 0 {
		t.Errorf("the simulator answered 429 %d times: the replicas together overdrew the budget", st.RateLimited)
	}
}
