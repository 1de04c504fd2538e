package main

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Replicas sharing a PostgreSQL state split the tenant's Domo budgets: each sends a heartbeat
// every heartbeatEvery, counts the replicas heard from within heartbeatTTL, and paces its Domo
// clients at 1/N of SCIMBRIDGE_DOMO_RATE_LIMIT (and of the instance APIs' limit). A replica that stops cleanly leaves at once; one
// that dies is dropped after the TTL, and the others then take its share: the budget
// rebalances within seconds either way.
const (
	heartbeatEvery = time.Second
	heartbeatTTL   = 3 * time.Second
)

// budgetShare is what the replicas' loop needs of the Domo client.
type budgetShare interface {
	SetShare(float64)
	Share() float64
}

var (
	_ budgetShare = (*domo.Client)(nil)
	_ budgetShare = (*domo.Instance)(nil)
)

// replicaCount is the number of live replicas the last heartbeat counted, for /readyz.
type replicaCount struct {
	mu sync.Mutex
	n  int
}

func (r *replicaCount) set(n int) { r.mu.Lock(); r.n = n; r.mu.Unlock() }
func (r *replicaCount) get() int  { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

// shareBudget keeps this replica's heartbeat and its share of the Domo budget until ctx ends,
// and then leaves. While the state cannot be reached the share stays as it was: the other
// replicas cannot count this one either, but they keep theirs too.
func shareBudget(ctx context.Context, st store.Store, id string, clients []budgetShare, count *replicaCount, log zerolog.Logger) {
	if !st.Shared() {
		count.set(1)
		return
	}
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		heartbeat(ctx, st, id, clients, count, log)
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := st.Leave(lctx, id); err != nil {
				log.Warn().Err(err).Msg("replica not removed from the state; the others wait out its heartbeat")
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// heartbeat records this replica as alive and sets its clients' share of the budget to 1/N.
func heartbeat(ctx context.Context, st store.Store, id string, clients []budgetShare, count *replicaCount, log zerolog.Logger) {
	if !st.Shared() {
		count.set(1)
		return
	}
	hctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	n, err := st.Heartbeat(hctx, id, heartbeatTTL)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn().Err(err).Msg("heartbeat not recorded; keeping the current share of the Domo budget")
	case err == nil:
		share := 1 / float64(n)
		if math.Abs(share-clients[0].Share()) > 1e-6 {
			log.Info().Int("replicas", n).Float64("share", share).Msg("share of the Domo budget changed")
		}
		for _, c := range clients {
			c.SetShare(share)
		}
		count.set(n) // after the share: whoever sees n sees the share that goes with it
	}
}

// State probe timing: /readyz follows a lost state database within seconds.
const (
	stateProbeEvery   = 2 * time.Second
	stateProbeTimeout = 2 * time.Second
)

// stateProbe answers "can the bridge read its state?" for /readyz without /readyz waiting on
// the database: a background loop pings, /readyz reads the last answer.
type stateProbe struct {
	st  store.Store
	log zerolog.Logger

	mu      sync.Mutex
	checked time.Time
	failing time.Time
}

func (p *stateProbe) run(ctx context.Context) {
	t := time.NewTicker(stateProbeEvery)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, stateProbeTimeout)
		err := p.st.Ping(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		now := time.Now()
		p.checked = now
		switch {
		case err != nil && p.failing.IsZero():
			p.failing = now
			p.log.Error().Err(err).Msg("state database unreachable; /readyz reports not ready, writes answer 503")
		case err == nil && !p.failing.IsZero():
			p.failing = time.Time{}
			p.log.Info().Msg("state database reachable again")
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// status says whether the state could be read at the last check: a word and times only.
func (p *stateProbe) status() (bool, map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.checked.IsZero():
		return false, map[string]any{"state": "unchecked"}
	case !p.failing.IsZero():
		return false, map[string]any{"state": "unreachable", "failingSince": p.failing.UTC().Format(time.RFC3339), "checkedAt": p.checked.UTC().Format(time.RFC3339)}
	}
	return true, map[string]any{"state": "ok", "checkedAt": p.checked.UTC().Format(time.RFC3339)}
}

// withState adds the state database, and for a shared state the replicas counted, to
// readiness: a replica that cannot read its state is not ready, and says so.
func withState(ready scim.Readiness, p *stateProbe, shared bool, replicas *replicaCount) scim.Readiness {
	return func(ctx context.Context) (bool, map[string]any) {
		ok, details := ready(ctx)
		if details == nil {
			details = map[string]any{}
		}
		stOK, st := p.status()
		if shared {
			st["shared"] = true
			st["replicas"] = replicas.get()
		}
		details["state"] = st
		return ok && stOK, details
	}
}

// registerReplicaMetrics exposes how many replicas share the state, this one's share of the
// Domo budget and whether it leads the refresh.
func registerReplicaMetrics(reg prometheus.Registerer, count *replicaCount, client budgetShare, leading func() bool) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimbridge_replicas", Help: "Replicas sharing the state, as the last heartbeat counted them (1 on SQLite)."},
			func() float64 { return float64(count.get()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimbridge_domo_budget_share", Help: "Share of SCIMBRIDGE_DOMO_RATE_LIMIT this replica paces at (1/replicas)."},
			client.Share),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimbridge_refresh_leader", Help: "1 while this replica leads the index refresh and the pass that finishes interrupted changes."},
			func() float64 {
				if leading() {
					return 1
				}
				return 0
			}),
	)
}
