package bridge

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// callsOf runs fn and returns the Domo calls it made, by route (token requests left out).
func callsOf(e *replayEnv, fn func()) map[string]int64 {
	e.settle()
	before := e.sim.Stats().ByRoute
	fn()
	e.settle()
	out := map[string]int64{}
	for r, n := range e.sim.Stats().ByRoute {
		if d := n - before[r]; d > 0 && !strings.Contains(r, "/oauth/token") {
			out[r] = d
		}
	}
	return out
}

func formatCalls(c map[string]int64) string {
	if len(c) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d× %s", c[r], r))
	}
	return strings.Join(parts, ", ")
}

// TestDomoCallsPerOperation is the Domo budget of each user operation, checked exactly and
// printed as a table: go test -run TestDomoCallsPerOperation -v ./internal/bridge/
func TestDomoCallsPerOperation(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	custom := mapping.Role{ID: 2097317660, Name: "Analyst Plus"}
	newEnv := func(policy string) *replayEnv {
		return newReplayEnv(t, envOptions{
			sim: domosim.Options{Seed: 51, CustomRoles: []domosim.Role{{ID: custom.ID, Name: custom.Name}}},
			bridge: func(c *Config) {
				c.Policy = policy
				c.Mapping.Roles = mapping.NewRoles([]mapping.Role{custom})
			},
		})
	}
	mark, demote, del := newEnv(PolicyMark), newEnv(PolicyDemote), newEnv(PolicyDelete)
	user := func(e *replayEnv, name string) string {
		a := e.do("POST", "/Users", []byte(`{"userName":"`+name+`@example.com","name":{"givenName":"A","familyName":"B"}}`))
		if a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.raw)
		}
		return a.body["id"].(string)
	}
	id := user(mark, "calls")
	demoted := user(demote, "demoted")
	for _, g := range []string{"G1", "G2"} {
		gid := demote.sim.AddGroup(g)
		if err := demote.sim.AddMemberDirect(gid, mustID(t, demoted)); err != nil {
			t.Fatal(err)
		}
	}
	if err := demote.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	deleted := user(del, "deleted")
	toDelete := user(mark, "todelete")

	put := func(title string) string {
		return `{"userName":"calls@example.com","name":{"givenName":"A","familyName":"B"},"title":"` + title + `"}`
	}
	rows := []struct {
		op     string
		e      *replayEnv
		method string
		path   string
		body   string
		status int
		want   map[string]int64
	}{
		{"create", mark, "POST", "/Users", `{"userName":"new@example.com"}`, 201, map[string]int64{"POST /v1/users": 1}},
		{"create with a custom role (Domo ignores roleId on POST)", mark, "POST", "/Users", `{"userName":"custom@example.com","roles":[{"value":"Analyst Plus"}]}`, 201,
			map[string]int64{"POST /v1/users": 1, "PUT /v1/users/{id}": 1}},
		{"create of a taken userName", mark, "POST", "/Users", `{"userName":"CALLS@example.com"}`, 409, nil},
		{"get", mark, "GET", "/Users/" + id, "", 200, map[string]int64{"GET /v1/users/{id}": 1}},
		{"filter / list", mark, "GET", "/Users?filter=" + queryEscape(`userName eq "calls@example.com"`), "", 200, nil},
		{"PUT that changes a Domo field", mark, "PUT", "/Users/" + id, put("Lead"), 200, map[string]int64{"GET /v1/users/{id}": 1, "PUT /v1/users/{id}": 1}},
		{"PUT that changes nothing", mark, "PUT", "/Users/" + id, put("Lead"), 200, map[string]int64{"GET /v1/users/{id}": 1}},
		{"PATCH of a Domo field", mark, "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"Chief"}]}`, 200,
			map[string]int64{"GET /v1/users/{id}": 1, "PUT /v1/users/{id}": 1}},
		{"PATCH of a bridge-only field (externalId, manager)", mark, "PATCH", "/Users/" + id,
			`{"Operations":[{"op":"add","path":"` + ent + `:manager","value":"7"}]}`, 200, map[string]int64{"GET /v1/users/{id}": 1}},
		{"no-op PATCH", mark, "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"Chief"}]}`, 200,
			map[string]int64{"GET /v1/users/{id}": 1}},
		{"deactivate, mark", mark, "PATCH", "/Users/" + id, deactivateOp, 200, map[string]int64{"GET /v1/users/{id}": 1}},
		{"reactivate, mark", mark, "PATCH", "/Users/" + id, reactivateOp, 200, map[string]int64{"GET /v1/users/{id}": 1}},
		{"deactivate, demote (2 groups)", demote, "PATCH", "/Users/" + demoted, deactivateOp, 200,
			map[string]int64{"GET /v1/users/{id}": 1, "PUT /v1/users/{id}": 1, "DELETE /v1/groups/{id}/users/{userId}": 2}},
		{"reactivate, demote (2 groups)", demote, "PATCH", "/Users/" + demoted, reactivateOp, 200,
			map[string]int64{"GET /v1/users/{id}": 1, "PUT /v1/users/{id}": 1, "PUT /v1/groups/{id}/users/{userId}": 2}},
		{"deactivate, delete", del, "PATCH", "/Users/" + deleted, deactivateOp, 200,
			map[string]int64{"GET /v1/users/{id}": 1, "DELETE /v1/users/{id}": 1}},
		{"DELETE", mark, "DELETE", "/Users/" + toDelete, "", 204, map[string]int64{"DELETE /v1/users/{id}": 1}},
	}
	t.Logf("%-55s %s", "operation", "Domo calls")
	for _, r := range rows {
		var body []byte
		if r.body != "" {
			body = []byte(r.body)
		}
		var a answer
		got := callsOf(r.e, func() { a = r.e.do(r.method, r.path, body) })
		if a.status != r.status {
			t.Fatalf("%s: %d %s", r.op, a.status, a.raw)
		}
		if r.want == nil {
			r.want = map[string]int64{}
		}
		if !maps.Equal(got, r.want) {
			t.Errorf("%s: %s, want %s", r.op, formatCalls(got), formatCalls(r.want))
		}
		t.Logf("%-55s %s", r.op, formatCalls(got))
	}
}

// BenchmarkUserPatch measures a PATCH through the HTTP layer, the bridge and the Domo client
// against the simulator on loopback, and reports Domo calls per PATCH; on each state: a SQLite
// file, and PostgreSQL, where the lock is an advisory lock and the index write is published
// on the change feed as well.
//
//	go test -run '^$' -bench BenchmarkUserPatch -benchmem ./internal/bridge/
func BenchmarkUserPatch(b *testing.B) {
	for _, state := range []string{"sqlite", "postgres"} {
		b.Run(state, func(b *testing.B) { benchmarkUserPatch(b, state) })
	}
}

func benchmarkUserPatch(b *testing.B, state string) {
	for _, c := range []struct {
		name string
		op   func(i int) string
	}{
		{"change", func(i int) string {
			return fmt.Sprintf(`{"Operations":[{"op":"replace","path":"title","value":"T%d"}]}`, i)
		}},
		{"no-op", func(int) string { return `{"Operations":[{"op":"replace","path":"title","value":"Same"}]}` }},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := envOptions{sim: domosim.Options{Seed: 61}}
			if state == "postgres" {
				o.replica = &sharedParts{state: pgtest.URL(b), sim: domosim.New(o.sim)}
				srv := httptest.NewServer(o.replica.sim)
				b.Cleanup(srv.Close)
				o.replica.simURL = srv.URL
			}
			e := newReplayEnv(b, o)
			a := e.do("POST", "/Users", []byte(`{"userName":"bench@example.com","title":"Same"}`))
			id := a.body["id"].(string)
			e.settle()
			before := e.sent.Load()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if r := e.do("PATCH", "/Users/"+id, []byte(c.op(i))); r.status != http.StatusOK {
					b.Fatalf("%d %s", r.status, r.raw)
				}
			}
			b.ReportMetric(float64(e.sent.Load()-before)/float64(b.N), "domo-calls/op")
		})
	}
}
