package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// writerDB opens a fresh file the way Open's writer does, without migrating it.
func writerDB(t testing.TB) *sql.DB {
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

func tableExists(t testing.TB, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// A failed migration of a new file leaves it unmarked as well (the conformance suite checks
// the version and tables): the next Open must still take it for a new file.
func TestApplyMigrationsFailureLeavesFileUnmarked(t *testing.T) {
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
