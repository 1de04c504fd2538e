package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Replicas sharing a PostgreSQL state share the tenant's Domo budgets exactly: every Domo
// request of every replica takes its send time from one sequence kept in the database
// (store.TakeSlot), a fixed interval apart whoever asks (domo.SharedBudget says why this
// rather than a share of the budget each). The budget thus follows demand at once, and a
// replica that stops or dies takes with it only the send times it had taken for requests it
// was about to send. The heartbeats only count the replicas, for /readyz and the metrics: each
// replica sends one every heartbeatEvery, and counts those heard from within heartbeatTTL; one
// that stops cleanly leaves at once.
const (
	heartbeatEvery = time.Second
	heartbeatTTL   = 3 * time.Second
)

// The shared budgets' names in the state.
const (
	budgetDomo     = "domo"
	budgetInstance = "domo-instance"
)

// stateBudget is a Domo budget kept in the shared state, for a Domo client.
type stateBudget struct {
	st   store.Store
	name string
}

var _ domo.SharedBudget = stateBudget{}

func (b stateBudget) Take(ctx context.Context, every, within time.Duration) (time.Duration, bool, error) {
	sl, err := b.st.TakeSlot(ctx, b.name, every, within)
	return sl.Wait, sl.Taken, err
}

func (b stateBudget) Hold(ctx context.Context, d time.Duration) error {
	return b.st.HoldSlots(ctx, b.name, d)
}

// shareDomoBudgets makes the Domo clients of a replica on a shared state take their send
// times from the budgets kept there: SCIMBRIDGE_DOMO_RATE_LIMIT's and the instance APIs'.
// On a state of one process (SQLite) each client paces itself at its whole budget.
func shareDomoBudgets(st store.Store, client *domo.Client, inst *domo.Instance) {
	if !st.Shared() {
		return
	}
	client.ShareBudget(stateBudget{st, budgetDomo})
	if inst != nil {
		inst.ShareBudget(stateBudget{st, budgetInstance})
	}
}

// replicaCount is the number of live replicas the last heartbeat counted, for /readyz.
type replicaCount struct {
	mu sync.Mutex
	n  int
}

func (r *replicaCount) set(n int) { r.mu.Lock(); r.n = n; r.mu.Unlock() }
func (r *replicaCount) get() int  { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

// countReplicas keeps this replica's heartbeat until ctx ends, and then leaves.
func countReplicas(ctx context.Context, st store.Store, id string, count *replicaCount, log zerolog.Logger) {
	if !st.Shared() {
		count.set(1)
		return
	}
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		heartbeat(ctx, st, id, count, log)
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := st.Leave(lctx, id); err != nil {
				log.Warn().Err(err).Msg("replica not removed from the state; the others count it until its heartbeat expires")
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// heartbeat records this replica as alive and counts the live ones.
func heartbeat(ctx context.Context, st store.Store, id string, count *replicaCount, log zerolog.Logger) {
	if !st.Shared() {
		count.set(1)
		return
	}
	hctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
	n, err := st.Heartbeat(hctx, id, heartbeatTTL)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn().Err(err).Msg("heartbeat not recorded")
	case err == nil:
		if old := count.get(); old != n {
			log.Info().Int("replicas", n).Int("before", old).Msg("replicas sharing the state changed")
		}
		count.set(n)
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

// registerReplicaMetrics exposes how many replicas share the state and whether this one leads
// the refresh.
func registerReplicaMetrics(reg prometheus.Registerer, count *replicaCount, leading func() bool) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimbridge_replicas", Help: "Replicas sharing the state, as the last heartbeat counted them (1 on SQLite)."},
			func() float64 { return float64(count.get()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimbridge_refresh_leader", Help: "1 while this replica leads the index refresh and the pass that finishes interrupted changes."},
			func() float64 {
				if leading() {
					return 1
				}
				return 0
			}),
	)
}
