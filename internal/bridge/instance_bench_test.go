package bridge

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
)

// Benchmarks of issue 13, Domo's instance APIs:
//
//	go test ./internal/bridge -run '^$' -bench 'Instance' -benchtime 3x
//
// BenchmarkGroupPushInstance is an Okta push of N new members into one group (one PATCH through
// the HTTP layer) with bulk membership: the group's one-call read, ceil(N/100) bulk writes and
// the read that settles them. At 3,000 requests a minute (v1 and the instance APIs each) the
// wall time is bound by the budget; bound-s/op is calls/(rate/60). v1 alone needs N+2 calls
// (BenchmarkGroupPatchAdd1000).
func BenchmarkGroupPushInstance(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, rate := range []int{3000, 600000} {
			b.Run(fmt.Sprintf("members=%d/rate=%d/min", n, rate), func(b *testing.B) {
				sim := domosim.New(domosim.Options{Seed: 21})
				users := sim.SeedUsers(n)
				tb := buildBridge(b, sim, func(c *domo.Config) { c.RatePerMinute = rate },
					withInstance(b, sim, func(c *domo.InstanceConfig) { c.RatePerMinute = rate; c.MaxWait = 0 }))
				front := newSCIMFront(b, tb)
				body := membersBody("add", users)
				var calls int64
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					gid := sim.AddGroup("Bench " + strconv.Itoa(i))
					before := sim.Stats().ByRoute
					b.StartTimer()
					status, res := front.do(http.MethodPatch, "/Groups/"+strconv.FormatInt(gid, 10), body)
					b.StopTimer()
					if status != http.StatusOK || len(sim.Members(gid)) != n {
						b.Fatalf("PATCH: %d %v; %d members in Domo", status, res, len(sim.Members(gid)))
					}
					c := callsSince(sim, before)
					if c["PUT /v1/groups/{id}/users/{userId}"] != 0 {
						b.Fatalf("v1 membership calls: %v", c)
					}
					calls += total(c)
					b.StartTimer()
				}
				perOp := float64(calls) / float64(b.N)
				b.ReportMetric(perOp, "domo-calls/op")
				b.ReportMetric(perOp*60/float64(rate), "bound-s/op")
			})
		}
	}
}

// BenchmarkIndexLoadInstance is BenchmarkIndexLoad with the content API: each of the 101
// groups' members in one call, instead of one call per 500 members. The capabilities are
// probed first, as Start does, outside the measured load. "first" is the very first start on
// a state that does not know Domo's Default group yet: its load also probes the one-call group
// read on that group. "start" is a new bridge on a state that knows it, "refresh" each later
// load.
func BenchmarkIndexLoadInstance(b *testing.B) {
	tn := sharedTenant(b)
	ctx := context.Background()
	newBridge := func(b *testing.B) *Bridge {
		br, err := New(Config{Domo: tn.client(b), Store: tn.store, Index: index.New(), Mapping: benchMappingOptions(),
			Instance: newTestInstance(b, tn.sim, func(c *domo.InstanceConfig) { c.RatePerMinute = 10_000_000 }),
			Logger:   zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		br.probeInstance(ctx)
		return br
	}
	for _, mode := range []string{"first", "start", "refresh"} {
		b.Run(mode, func(b *testing.B) {
			if mode != "first" {
				// A load that makes the state know the Default group.
				if err := newBridge(b).load(ctx, true); err != nil {
					b.Fatal(err)
				}
			}
			br := newBridge(b)
			if mode == "refresh" {
				if err := br.load(ctx, true); err != nil {
					b.Fatal(err)
				}
			}
			var calls, groupReads, memberPages int64
			for b.Loop() {
				b.StopTimer()
				if mode == "first" {
					if err := tn.store.DeleteSetting(ctx, settingDefaultGroup); err != nil {
						b.Fatal(err)
					}
				}
				if mode != "refresh" {
					br = newBridge(b)
				}
				if mode != "first" && !br.can(domo.CapGroupRead) {
					b.Fatalf("group read unavailable: %+v", br.InstanceStatus())
				}
				tn.sim.ResetStats()
				b.StartTimer()
				if err := br.load(ctx, mode != "refresh"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st := tn.sim.Stats()
				calls += st.Requests
				groupReads += st.ByRoute["GET /api/content/v2/groups/{id}"]
				memberPages += st.ByRoute["GET /v1/groups/{id}/users"]
				b.StartTimer()
			}
			if n := br.index.UserCount(); n != benchUsers {
				b.Fatalf("%d users indexed", n)
			}
			b.ReportMetric(float64(calls)/float64(b.N), "domo-calls/op")
			b.ReportMetric(float64(groupReads)/float64(b.N), "group-reads/op")
			b.ReportMetric(float64(memberPages)/float64(b.N), "member-pages/op")
		})
	}
}
