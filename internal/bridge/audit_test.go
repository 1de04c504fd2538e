package bridge

import (
	"context"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// TestSearchAuditNonDomoEvents: an event without a Domo call is recorded with an empty
// DomoCall and found by user like a write.
func TestSearchAuditNonDomoEvents(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 2}), nil)
	ctx := context.Background()
	tb.b.auditEvent(ctx, store.AuditEvent{Resource: kindUser, ResourceID: "42", Fields: []string{"active"}, Outcome: "ok"})
	tb.b.auditEvent(ctx, store.AuditEvent{Resource: kindBridge, ResourceID: "pause", Fields: []string{"paused"}, Outcome: "paused: INC-1"})
	evs, err := SearchAudit(ctx, tb.store, AuditQuery{User: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].DomoCall != "" || evs[0].Resource != kindUser || evs[0].Fields[0] != "active" || evs[0].Outcome != "ok" {
		t.Fatalf("events of user 42 = %+v", evs)
	}
	all, err := SearchAudit(ctx, tb.store, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Resource != "Bridge" {
		t.Fatalf("all events = %+v, want the pause newest", all)
	}
}
