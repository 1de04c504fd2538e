package domosim

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats counts what the simulator saw since it started.
type Stats struct {
	Requests    int64            // every request, token requests included
	ByRoute     map[string]int64 // by "METHOD route-template", e.g. "GET /v1/users/{id}"
	ByStatus    map[int]int64    // by answered status; 0 for dropped connections
	Accepted    map[string]int64 // ByRoute, counting 2xx answers only
	RateLimited int64            // 429s sent
	Injected5xx int64            // 5xx answers injected by Fail5xx or InjectFault
	Dropped     int64            // connections dropped after commit
	Tokens      int64            // tokens issued
}

type statsRec struct {
	mu          sync.Mutex
	total       atomic.Int64
	byRoute     map[string]int64
	byStatus    map[int]int64
	accepted    map[string]int64
	rateLimited atomic.Int64
	injected    atomic.Int64
	dropped     atomic.Int64
	tokens      atomic.Int64
}

func (s *statsRec) init() {
	s.byRoute = map[string]int64{}
	s.byStatus = map[int]int64{}
	s.accepted = map[string]int64{}
}

func (s *statsRec) record(method, route string, status int) {
	s.total.Add(1)
	s.mu.Lock()
	s.byRoute[route]++
	s.byStatus[status]++
	if status >= 200 && status < 300 {
		s.accepted[route]++
	}
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (s *Sim) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return Stats{
		Requests:    s.stats.total.Load(),
		ByRoute:     maps.Clone(s.stats.byRoute),
		ByStatus:    maps.Clone(s.stats.byStatus),
		Accepted:    maps.Clone(s.stats.accepted),
		RateLimited: s.stats.rateLimited.Load(),
		Injected5xx: s.stats.injected.Load(),
		Dropped:     s.stats.dropped.Load(),
		Tokens:      s.stats.tokens.Load(),
	}
}

// ResetStats zeroes the counters, e.g. between the set-up and the measured part of a test.
func (s *Sim) ResetStats() {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.total.Store(0)
	s.stats.rateLimited.Store(0)
	s.stats.injected.Store(0)
	s.stats.dropped.Store(0)
	s.stats.tokens.Store(0)
	s.stats.init()
}
