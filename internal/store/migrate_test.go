package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// writerDB opens a fresh file the way Open's writer does, without migrating it.
func writerDB(t *testing.T) *sql.DB {
	t.Helper()
	abs := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", dsn(abs, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestApplyMigrationsRunsOnlyNewSteps(t *testing.T) {
	ctx := context.Background()
	db := writerDB(t)
	first := []string{`PRAGMA application_id = ` + itoa(applicationID) + `; CREATE TABLE a (x)`}
	if err := applyMigrations(ctx, db, first); err != nil {
		t.Fatal(err)
	}
	// Were step 1 run again it would fail: table a exists.
	both := append(first, `CREATE TABLE b (y); INSERT INTO a VALUES (1)`)
	if err := applyMigrations(ctx, db, both); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := pragmaInt(t, db, "user_version"); got != 2 {
		t.Errorf("user_version = %d, want 2", got)
	}
	if !tableExists(t, db, "b") {
		t.Error("step 2 did not run")
	}
	if err := applyMigrations(ctx, db, both); err != nil {
		t.Errorf("run with nothing to do: %v", err)
	}
	var rows int
	if err := db.QueryRow(`SELECT count(*) FROM a`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("step 2 ran %d times (%v), want once", rows, err)
	}
}

func TestApplyMigrationsFailureLeavesFileUnchanged(t *testing.T) {
	ctx := context.Background()
	db := writerDB(t)
	steps := []string{
		`PRAGMA application_id = ` + itoa(applicationID) + `; CREATE TABLE a (x)`,
		`CREATE TABLE b (y); CREATE TABLE oops (`,
	}
	err := applyMigrations(ctx, db, steps)
	if err == nil || !strings.Contains(err.Error(), "migrate schema to version 2") {
		t.Fatalf("error = %v, want one naming version 2", err)
	}
	if got := pragmaInt(t, db, "user_version"); got != 0 {
		t.Errorf("user_version = %d after a failed migration, want 0", got)
	}
	if tableExists(t, db, "a") || tableExists(t, db, "b") {
		t.Error("a failed migration left tables behind")
	}
	if got := pragmaInt(t, db, "application_id"); got != 0 {
		t.Errorf("application_id = %#x after a failed migration, want 0", got)
	}
}

// The shipped steps must apply cleanly to an empty file and leave the version at their count.
func TestShippedMigrationsApply(t *testing.T) {
	db := writerDB(t)
	if err := migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if got := pragmaInt(t, db, "user_version"); got != len(migrations()) {
		t.Errorf("user_version = %d, want %d", got, len(migrations()))
	}
}
