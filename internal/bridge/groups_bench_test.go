package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// domoCalls counts the simulator's requests since before, token requests excluded.
func domoCalls(sim *domosim.Sim, before map[string]int64) int64 {
	var n int64
	for route, c := range sim.Stats().ByRoute {
		if !strings.Contains(route, "/oauth/token") {
			n += c - before[route]
		}
	}
	return n
}

// BenchmarkGroupPatchAdd1000 is one PATCH adding 1,000 members to an empty group through the
// HTTP layer: one Domo call per member plus the group and its (empty) member list. At the
// tenant's rate the wall time is bound by the budget; bound-s/op is calls/(rate/60), the
// fastest any client could go without 429s.
func BenchmarkGroupPatchAdd1000(b *testing.B) {
	for _, rate := range []int{3000, 600000} {
		b.Run(fmt.Sprintf("rate=%d/min", rate), func(b *testing.B) {
			sim := domosim.New(domosim.Options{Seed: 5})
			users := sim.SeedUsers(1000)
			tb := buildBridge(b, sim, func(c *domo.Config) { c.RatePerMinute = rate }, nil)
			front := newSCIMFront(b, tb)
			vals := make([]string, len(users))
			for i, u := range users {
				vals[i] = `{"value":"` + strconv.FormatInt(u, 10) + `"}`
			}
			body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` + strings.Join(vals, ",") + `]}]}`)
			var calls int64
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				gid := sim.AddGroup(fmt.Sprintf("Bench %d", i))
				before := sim.Stats().ByRoute
				b.StartTimer()
				status, res := front.do(http.MethodPatch, "/Groups/"+strconv.FormatInt(gid, 10), body)
				b.StopTimer()
				if status != http.StatusOK || len(sim.Members(gid)) != len(users) {
					b.Fatalf("PATCH: %d %v; %d members in Domo", status, res, len(sim.Members(gid)))
				}
				calls += domoCalls(sim, before)
				b.StartTimer()
			}
			perOp := float64(calls) / float64(b.N)
			b.ReportMetric(perOp, "domo-calls/op")
			b.ReportMetric(perOp*60/float64(rate), "bound-s/op")
		})
	}
}

// BenchmarkGroupGet10000Members is GET /Groups/{id} of a group with 10,000 members: one call
// for the group and one per 500 member ids (or just the group when Domo's GET carries every
// userId); names come from the index, never from a call per member.
func BenchmarkGroupGet10000Members(b *testing.B) {
	for _, withIDs := range []bool{false, true} {
		b.Run(fmt.Sprintf("userIdsOnGet=%v", withIDs), func(b *testing.B) {
			sim := domosim.New(domosim.Options{Seed: 6, GroupUserIDsOnGet: withIDs})
			users := sim.SeedUsers(10000)
			gid := sim.AddGroup("Everyone Else")
			for _, u := range users {
				if err := sim.AddMemberDirect(gid, u); err != nil {
					b.Fatal(err)
				}
			}
			tb := buildBridge(b, sim, nil, nil)
			front := newSCIMFront(b, tb)
			path := "/Groups/" + strconv.FormatInt(gid, 10)
			before := sim.Stats().ByRoute
			b.ResetTimer()
			for range b.N {
				status, res := front.do(http.MethodGet, path, nil)
				if status != http.StatusOK {
					b.Fatalf("GET: %d %v", status, res)
				}
				if m, _ := res["members"].([]any); len(m) != len(users) {
					b.Fatalf("%d members answered", len(m))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(domoCalls(sim, before))/float64(b.N), "domo-calls/op")
			b.ReportMetric(float64(sim.Stats().ByRoute["GET /v1/users/{id}"]-before["GET /v1/users/{id}"])/float64(b.N), "user-gets/op")
		})
	}
}

// BenchmarkGroupPatchRenameNoop is the path-less rename Okta re-sends with every membership
// update, on a group of 10,000 members: no Domo write, but the members are read (the bridge
// cannot tell from the ApplyFunc that the PATCH leaves them alone).
func BenchmarkGroupPatchRenameNoop(b *testing.B) {
	sim := domosim.New(domosim.Options{Seed: 7})
	users := sim.SeedUsers(10000)
	gid := sim.AddGroup("Big")
	for _, u := range users {
		if err := sim.AddMemberDirect(gid, u); err != nil {
			b.Fatal(err)
		}
	}
	tb := buildBridge(b, sim, nil, nil)
	front := newSCIMFront(b, tb)
	sid := strconv.FormatInt(gid, 10)
	body, _ := json.Marshal(map[string]any{"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"id": sid, "displayName": "Big"}}}})
	before := sim.Stats().ByRoute
	b.ResetTimer()
	for range b.N {
		if status, res := front.do(http.MethodPatch, "/Groups/"+sid, body); status != http.StatusOK {
			b.Fatalf("PATCH: %d %v", status, res)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(domoCalls(sim, before))/float64(b.N), "domo-calls/op")
	after := sim.Stats().ByRoute
	if w := after["PUT /v1/groups/{id}"] + after["PUT /v1/groups/{id}/users/{userId}"] + after["DELETE /v1/groups/{id}/users/{userId}"]; w != 0 {
		b.Fatalf("%d Domo writes for a no-op rename", w)
	}
}

// BenchmarkGroupPatchOneOf10000WithDisplays is Okta's membership PATCH (one member in or out)
// on a group of 10,000 members pushed with displays: the member read (one call per 500), the
// one change, and rewriting the shadow that keeps the 10,000 displays Okta wrote.
func BenchmarkGroupPatchOneOf10000WithDisplays(b *testing.B) {
	sim := domosim.New(domosim.Options{Seed: 8})
	users := sim.SeedUsers(10001)
	tb := buildBridge(b, sim, nil, nil)
	front := newSCIMFront(b, tb)
	members := make([]map[string]any, 0, len(users)-1)
	for _, u := range users[1:] {
		su, _ := sim.User(u)
		members = append(members, map[string]any{"value": strconv.FormatInt(u, 10), "display": su.Email})
	}
	body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Okta Everyone", "members": members})
	status, res := front.do(http.MethodPost, "/Groups", body)
	if status != http.StatusCreated {
		b.Fatalf("POST: %d %v", status, res)
	}
	sid := res["id"].(string)
	one := strconv.FormatInt(users[0], 10)
	add, _ := json.Marshal(map[string]any{"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": one, "display": "first@okta"}}}}})
	remove, _ := json.Marshal(map[string]any{"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "` + one + `"]`}}})
	before := sim.Stats().ByRoute
	b.ResetTimer()
	for i := range b.N {
		body := add
		if i%2 == 1 {
			body = remove
		}
		if status, res := front.do(http.MethodPatch, "/Groups/"+sid, body); status != http.StatusOK {
			b.Fatalf("PATCH: %d %v", status, res)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(domoCalls(sim, before))/float64(b.N), "domo-calls/op")
}
