package main

import (
	"context"
	"encoding/json"

	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

func TestTokenProbe(t *testing.T) {
	var mu sync.Mutex
	var next error
	p := newTokenProbe(func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return next
	}, zerolog.Nop())
	set := func(err error) { mu.Lock(); next = err; mu.Unlock() }
	indexReady := func(context.Context) (bool, map[string]any) { return true, map[string]any{"index": "x"} }
	var available atomic.Bool
	available.Store(true)
	ready := readiness(indexReady, available.Load, p)

	steps := []struct {
		name      string
		err       error
		want      bool
		wantToken string
	}{
		{"before the first check", nil, false, "unchecked"},
		{"token obtained", nil, true, "ok"},
		{"credentials refused", domo.ErrUnauthorized, false, "failing"},
		{"throttled: no news about the credentials", &domo.RateLimitError{Op: "token", RetryAfter: time.Second}, false, "failing"},
		{"obtainable again", nil, true, "ok"},
		{"throttled while healthy stays ready", &domo.RateLimitError{Op: "token", RetryAfter: time.Second}, true, "ok"},
	}
	for i, s := range steps {
		if i > 0 {
			set(s.err)
			p.check(context.Background())
		}
		ok, d := ready(context.Background())
		tok := d["domo"].(map[string]any)
		if ok != s.want || tok["token"] != s.wantToken || d["index"] != "x" {
			t.Fatalf("%s: ready %v %v, want %v %q", s.name, ok, d, s.want, s.wantToken)
		}
	}

	// The index not loaded is not ready whatever the token says.
	notLoaded := readiness(func(context.Context) (bool, map[string]any) { return false, nil }, available.Load, p)
	if ok, _ := notLoaded(context.Background()); ok {
		t.Fatal("ready without an index")
	}
	// Nor is a bridge whose SCIM API does not serve yet (the start-up load still finishing).
	available.Store(false)
	if ok, _ := ready(context.Background()); ok {
		t.Fatal("ready while the SCIM API answers 503")
	}
}

func TestTokenProbeNeverHoldsReadyz(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	p := newTokenProbe(func(ctx context.Context) error {
		<-block // Domo hangs
		return nil
	}, zerolog.Nop())
	go p.check(context.Background())
	done := make(chan struct{})
	go func() { p.status(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("status waited on a hanging token request")
	}
}

// TestReadyzThroughRun: /readyz needs no token, reports the index and the Domo token, and
// says nothing about the tenant or the credentials.
func TestReadyzThroughRun(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 6, Customer: "secretcustomer"})
	sim.SeedUsers(3)
	b := startBridge(t, sim, nil)
	resp, err := http.Get(b.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("readyz: %q", raw)
	}
	idx, _ := body["index"].(map[string]any)
	dm, _ := body["domo"].(map[string]any)
	if resp.StatusCode != 200 || body["ready"] != true || idx["loaded"] != true || idx["users"] != float64(3) || dm["token"] != "ok" {
		t.Fatalf("readyz: %d %s", resp.StatusCode, raw)
	}
	opts := sim.Options()
	for _, secret := range []string{"secretcustomer", opts.ClientID, opts.ClientSecret, testToken, b.simURL} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("readyz reveals %q: %s", secret, raw)
		}
	}
	resp, err = http.Get(b.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(raw)) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, raw)
	}
}
