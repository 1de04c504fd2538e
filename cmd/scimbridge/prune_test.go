package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/store"
)

func TestPruneAuditKeepsRecentEntries(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := store.AuditEvent{Time: time.Now().Add(-100 * 24 * time.Hour), Operation: "PATCH /Users/1", ResourceID: "1"}
	recent := store.AuditEvent{Time: time.Now().Add(-time.Hour), Operation: "PATCH /Users/2", ResourceID: "2"}
	for _, e := range []store.AuditEvent{old, recent} {
		if err := st.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { pruneAudit(pctx, st, 90*24*time.Hour, time.Hour, zerolog.Nop()); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := st.AuditEvents(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 1 {
			if evs[0].ResourceID != "2" {
				t.Fatalf("kept %+v, want the recent entry", evs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old entry never pruned: %d entries", len(evs))
		}
		time.Sleep(10 * time.Millisecond) // polling a background effect
	}
	cancel()
	<-done
}
