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
	"github.com/scimbridge/scimbridge/internal/store"
)

// newGroupBridge is newTestBridge with a Domo client that gives up on a failing call after
// two attempts, so that tests of partial failures do not wait out the default six.
func newGroupBridge(t *testing.T, sim *domosim.Sim, mutate func(*Config)) *testBridge {
	t.Helper()
	tb := buildBridge(t, sim, func(c *domo.Config) { c.MaxAttempts = 2 }, mutate)
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
