package store

import (
	"context"
	"testing"
	"time"
)

func TestIntents(t *testing.T) { testIntents(t, openTemp(t)) }

// testIntents checks the intent table of any Store.
func testIntents(t *testing.T, s Store) {
	ctx := context.Background()
	if got, err := s.Intents(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Intents on a new store = %v, %v; want none", got, err)
	}
	if _, err := s.PutIntent(ctx, Intent{Key: "user:1", Kind: "user.demote", Data: []byte("{")}); err == nil {
		t.Error("PutIntent accepted data that is not JSON")
	}
	if _, err := s.PutIntent(ctx, Intent{Kind: "user.demote", Data: []byte("{}")}); err == nil {
		t.Error("PutIntent accepted an empty key")
	}
	first, err := s.PutIntent(ctx, Intent{Key: "user:1", Kind: "user.demote", Data: []byte(`{"role":"Admin"}`)})
	if err != nil {
		t.Fatalf("PutIntent: %v", err)
	}
	if first.Created.IsZero() || !first.Created.Equal(first.Updated) {
		t.Errorf("first write: created %v, updated %v; want equal and set", first.Created, first.Updated)
	}
	time.Sleep(2 * time.Millisecond) // the next version must carry a later time; the clock is the store's
	if _, err := s.PutIntent(ctx, Intent{Key: "group:7", Kind: "group.members", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("PutIntent: %v", err)
	}
	second, err := s.PutIntent(ctx, Intent{Key: "user:1", Kind: "user.restore", Data: []byte(`{"step":2}`)})
	if err != nil {
		t.Fatalf("PutIntent: %v", err)
	}
	if !second.Created.Equal(first.Created) || !second.Updated.After(first.Updated) {
		t.Errorf("replace: created %v (first %v), updated %v (first %v)", second.Created, first.Created, second.Updated, first.Updated)
	}
	got, ok, err := s.Intent(ctx, "user:1")
	if err != nil || !ok || got.Kind != "user.restore" || string(got.Data) != `{"step":2}` || !got.Updated.Equal(second.Updated) {
		t.Fatalf("Intent = %+v, %v, %v; want the replacement", got, ok, err)
	}
	list, err := s.Intents(ctx)
	if err != nil || len(list) != 2 || list[0].Key != "user:1" || list[1].Key != "group:7" {
		t.Fatalf("Intents = %+v, %v; want user:1 (older) then group:7", list, err)
	}

	// A finisher holding the first version must not clear the second.
	if err := s.DeleteIntent(ctx, "user:1", first.Updated); err != nil {
		t.Fatalf("DeleteIntent: %v", err)
	}
	if _, ok, _ := s.Intent(ctx, "user:1"); !ok {
		t.Fatal("DeleteIntent with a stale version removed the newer intent")
	}
	if err := s.DeleteIntent(ctx, "user:1", second.Updated); err != nil {
		t.Fatalf("DeleteIntent: %v", err)
	}
	if _, ok, _ := s.Intent(ctx, "user:1"); ok {
		t.Fatal("DeleteIntent with the current version left the intent")
	}
	if err := s.DeleteIntent(ctx, "group:7", time.Time{}); err != nil {
		t.Fatalf("DeleteIntent(any): %v", err)
	}
	if err := s.DeleteIntent(ctx, "missing", time.Time{}); err != nil {
		t.Fatalf("DeleteIntent of a missing key: %v", err)
	}
	if list, err := s.Intents(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Intents after deletes = %v, %v", list, err)
	}
}
