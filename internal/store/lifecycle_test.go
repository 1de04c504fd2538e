package store

import (
	"context"
	"strings"
	"testing"
)

// Opening a new state migrates it to this build's schema, and the tables are there.
func testOpenMigratesEmptyState(t *testing.T, b backend) {
	loc := b.fresh(t)
	s, err := Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := b.version(t, loc); got != b.steps {
		t.Errorf("schema version = %d, want %d", got, b.steps)
	}
	for _, name := range []string{"users", "groups", "settings", "snapshots", "audit", "intents", "breaker_events", "sessions"} {
		if !b.hasTable(t, loc, name) {
			t.Errorf("table %q missing", name)
		}
	}
}

func testReopenKeepsDataAndVersion(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	s, err := Open(ctx, loc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.PutUserShadow(ctx, Shadow{ID: 7, ExternalID: "ext-7", Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "paused", "true"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutIntent(ctx, Intent{Key: "user:7", Kind: "user.demote", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = b.openAt(t, loc)
	sh, ok, err := s.UserShadow(ctx, 7)
	if err != nil || !ok || sh.ExternalID != "ext-7" || string(sh.Data) != `{"a":1}` {
		t.Errorf("after reopen UserShadow(7) = %+v, %v, %v", sh, ok, err)
	}
	if v, ok, err := s.Setting(ctx, "paused"); err != nil || !ok || v != "true" {
		t.Errorf("after reopen Setting(paused) = %q, %v, %v", v, ok, err)
	}
	if in, ok, err := s.Intent(ctx, "user:7"); err != nil || !ok || in.Kind != "user.demote" {
		t.Errorf("after reopen Intent(user:7) = %+v, %v, %v", in, ok, err)
	}
	if got := b.version(t, loc); got != b.steps {
		t.Errorf("schema version after reopen = %d, want %d", got, b.steps)
	}
}

// A state written by a newer scimbridge is refused, and left as it was.
func testOpenRefusesNewerSchema(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	s, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := b.steps + 1
	b.setVersion(t, loc, newer)

	s, err = Open(ctx, loc)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a state with a newer schema")
	}
	for _, want := range []string{"store: open", "newer", itoa(newer)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := b.version(t, loc); got != newer {
		t.Errorf("refused open changed the schema version to %d", got)
	}
}

// A state that holds another application's tables is refused, not written into.
func testOpenRefusesOtherApplications(t *testing.T, b backend) {
	loc := b.fresh(t)
	b.exec(t, loc, `CREATE TABLE users (name text)`)
	s, err := Open(context.Background(), loc)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted another application's database")
	}
	if !strings.Contains(err.Error(), "not a scimbridge state database") || !strings.HasPrefix(err.Error(), "store: open ") {
		t.Errorf("error %q, want \"store: open ...: not a scimbridge state database\"", err)
	}
	if b.hasTable(t, loc, "settings") {
		t.Error("the refused database got scimbridge's tables")
	}
}

func testOpenCancelledContext(t *testing.T, b backend) {
	loc := b.fresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := Open(ctx, loc)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a cancelled context")
	}
}

func testPingAndClose(t *testing.T, b backend) {
	s, err := Open(context.Background(), b.fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := s.PutSetting(context.Background(), "k", "v"); err == nil {
		t.Error("write after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testMigrationsRunOnlyNewSteps(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	// Were a step run again it would fail: its table exists.
	first := []string{`CREATE TABLE a (x integer)`}
	if err := b.migrate(ctx, loc, first); err != nil {
		t.Fatal(err)
	}
	both := append(first, `CREATE TABLE b (y integer); INSERT INTO a VALUES (1)`)
	if err := b.migrate(ctx, loc, both); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := b.version(t, loc); got != 2 {
		t.Errorf("schema version = %d, want 2", got)
	}
	if !b.hasTable(t, loc, "b") {
		t.Error("step 2 did not run")
	}
	if err := b.migrate(ctx, loc, both); err != nil {
		t.Errorf("run with nothing to do: %v", err)
	}
}

func testMigrationFailureLeavesStateUnchanged(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	steps := []string{
		`CREATE TABLE a (x integer)`,
		`CREATE TABLE b (y integer); CREATE TABLE oops (`,
	}
	err := b.migrate(ctx, loc, steps)
	if err == nil || !strings.Contains(err.Error(), "migrate schema to version 2") {
		t.Fatalf("error = %v, want one naming version 2", err)
	}
	if got := b.version(t, loc); got != 0 {
		t.Errorf("schema version = %d after a failed migration, want 0", got)
	}
	if b.hasTable(t, loc, "a") || b.hasTable(t, loc, "b") {
		t.Error("a failed migration left tables behind")
	}
	// The state is still new: the shipped schema applies to it.
	b.openAt(t, loc)
	if got := b.version(t, loc); got != b.steps {
		t.Errorf("schema version after Open = %d, want %d", got, b.steps)
	}
}
