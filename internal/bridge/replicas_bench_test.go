package bridge

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// BenchmarkCrossReplicaVisibility measures how long after a create through one replica
// answers the user is found by userName on another: the change feed's latency (publish,
// NOTIFY, read, apply). One op is one create; p50 and max are reported.
//
//	go test -run '^$' -bench BenchmarkCrossReplicaVisibility -benchtime 200x ./internal/bridge/
func BenchmarkCrossReplicaVisibility(b *testing.B) {
	parts := &sharedParts{state: pgtest.URL(b), sim: domosim.New(domosim.Options{Seed: 3})}
	srv := httptest.NewServer(parts.sim)
	b.Cleanup(srv.Close)
	parts.simURL = srv.URL
	var rs []*replayEnv
	for i := range 2 {
		rs = append(rs, newReplayEnv(b, envOptions{replica: parts, bridge: func(c *Config) { c.ReplicaID = fmt.Sprintf("r%d", i) }}))
	}
	var lags []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("vis%d@example.com", i)
		a := rs[0].do("POST", "/Users", []byte(`{"userName":"`+name+`","active":true}`))
		answered := time.Now()
		if a.status != http.StatusCreated {
			b.Fatalf("create: %d %s", a.status, a.raw)
		}
		for {
			if _, ok := rs[1].index.UserByUserName(name); ok {
				break
			}
			if time.Since(answered) > 5*time.Second {
				b.Fatalf("%s not visible on the other replica after 5 s", name)
			}
			time.Sleep(50 * time.Microsecond) // polling the other replica's index
		}
		lags = append(lags, time.Since(answered))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds()), "max-µs")
}
