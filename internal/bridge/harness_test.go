package bridge

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// testBridge is a bridge wired to real parts: the Domo client against the simulator over
// HTTP, a SQLite state file in a temporary directory, and a fresh index.
type testBridge struct {
	t      *testing.T
	sim    *domosim.Sim
	b      *Bridge
	users  *Users
	groups *Groups
	store  store.Store
	index  *index.Index
	client *domo.Client
	state  string
}

// newTestBridge starts a bridge on a simulator with the given options. mutate adjusts the
// bridge configuration before it is built.
func newTestBridge(t *testing.T, sim *domosim.Sim, mutate func(*Config)) *testBridge {
	t.Helper()
	tb := buildBridge(t, sim, nil, mutate)
	tb.t = t
	return tb
}

// buildBridge wires a bridge to the simulator as newTestBridge does, for tests and benchmarks
// alike; client adjusts the Domo client's configuration (rate, attempts).
func buildBridge(t testing.TB, sim *domosim.Sim, client func(*domo.Config), mutate func(*Config)) *testBridge {
	t.Helper()
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	opts := sim.Options()
	dc := domo.Config{
		BaseURL: ts.URL, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret,
		RatePerMinute: 600000, Logger: zerolog.Nop(),
		// One page at a time: tests count Domo calls exactly, and a speculative page the client
		// cancels may still reach the simulator after the listing returned.
		PageConcurrency: 1,
	}
	if client != nil {
		client(&dc)
	}
	c, err := domo.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	idx := index.New()
	cfg := Config{
		Domo: c, Store: st, Index: idx,
		Mapping: mapping.Options{
			BaseURL: "https://bridge.test/scim/v2", Roles: mapping.NewRoles(nil),
			DefaultRole: "Participant", HideDefaultGroup: true,
		},
		Logger: zerolog.Nop(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &testBridge{sim: sim, b: b, users: b.Users(), groups: b.Groups(), store: st, index: idx, client: c}
}

// ctx is a request context carrying a request Info, as the HTTP layer provides.
func (tb *testBridge) ctx() context.Context { return context.Background() }

// createUser creates a user through the backend and returns its SCIM id.
func (tb *testBridge) createUser(attrs scim.Attributes) string {
	tb.t.Helper()
	out, err := tb.users.Create(tb.ctx(), attrs)
	if err != nil {
		tb.t.Fatalf("create %v: %v", attrs["userName"], err)
	}
	return out["id"].(string)
}

// patch applies PATCH operations given as JSON through the real scim parser and applier.
func (tb *testBridge) patch(res scim.Resources, rt *scim.ResourceType, id, body string) (scim.Attributes, error) {
	tb.t.Helper()
	ops, _, err := scim.ParsePatch(rt, []byte(body))
	if err != nil {
		tb.t.Fatalf("parse patch %s: %v", body, err)
	}
	return res.Update(tb.ctx(), id, func(cur scim.Attributes) (scim.Attributes, error) {
		next, _, err := scim.ApplyPatch(rt, cur, ops)
		return next, err
	}, scim.ReadOptions{})
}

// routeCount reports how many requests the simulator saw for a route, e.g. "PUT /v1/users/{id}".
func (tb *testBridge) routeCount(route string) int64 {
	return tb.sim.Stats().ByRoute[route]
}

func adaAttrs() scim.Attributes {
	return scim.Attributes{
		"schemas":    []any{scim.URNUser},
		"userName":   "ada@example.com",
		"externalId": "ext-ada",
		"name":       map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":     []any{map[string]any{"value": "ada@example.com", "type": "work", "primary": true}},
		"title":      "Analyst",
		"active":     true,
	}
}
