package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenMigratesEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}

	db := rawDB(t, path)
	if got, want := pragmaInt(t, db, "user_version"), len(migrations()); got != want {
		t.Errorf("user_version = %d, want %d", got, want)
	}
	if got := pragmaInt(t, db, "application_id"); got != applicationID {
		t.Errorf("application_id = %#x, want %#x", got, applicationID)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	for _, name := range []string{"users", "groups", "settings", "snapshots", "audit",
		"users_external_id", "groups_external_id", "audit_time", "audit_resource_id"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = ?`, name).Scan(&n); err != nil || n != 1 {
			t.Errorf("schema object %q: count %d, err %v", name, n, err)
		}
	}
}

func TestOpenSetsConnectionPragmas(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name   string
		pragma string
		want   int
	}{
		{"writer synchronous NORMAL", "synchronous", 1},
		{"writer foreign keys", "foreign_keys", 1},
		{"writer busy timeout", "busy_timeout", busyTimeoutMS},
		{"writer WAL size limit", "journal_size_limit", walSizeLimit},
		{"reader busy timeout", "busy_timeout", busyTimeoutMS},
		{"reader query only", "query_only", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := s.w
			if strings.HasPrefix(tt.name, "reader") {
				db = s.r
			}
			if got := pragmaInt(t, db, tt.pragma); got != tt.want {
				t.Errorf("PRAGMA %s = %d, want %d", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestReopenKeepsDataAndVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.PutUserShadow(ctx, Shadow{ID: 7, ExternalID: "ext-7", Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "paused", "true"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	sh, ok, err := s.UserShadow(ctx, 7)
	if err != nil || !ok || sh.ExternalID != "ext-7" || string(sh.Data) != `{"a":1}` {
		t.Errorf("after reopen UserShadow(7) = %+v, %v, %v", sh, ok, err)
	}
	if v, ok, err := s.Setting(ctx, "paused"); err != nil || !ok || v != "true" {
		t.Errorf("after reopen Setting(paused) = %q, %v, %v", v, ok, err)
	}
	if got := pragmaInt(t, s.w, "user_version"); got != len(migrations()) {
		t.Errorf("user_version after reopen = %d, want %d", got, len(migrations()))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := len(migrations()) + 1
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = " + itoa(newer)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = OpenSQLite(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a database with a newer schema")
	}
	for _, want := range []string{"store: open", path, "newer", itoa(newer)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := pragmaInt(t, rawDB(t, path), "user_version"); got != newer {
		t.Errorf("refused open changed user_version to %d", got)
	}
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{
			name: "another program's SQLite database",
			setup: func(t *testing.T, path string) {
				if _, err := rawDB(t, path).Exec(`CREATE TABLE users (name TEXT)`); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a scimbridge state database",
		},
		{
			name: "versioned database of another application",
			setup: func(t *testing.T, path string) {
				if _, err := rawDB(t, path).Exec(`CREATE TABLE x (y); PRAGMA user_version = 1`); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a scimbridge state database",
		},
		{
			name: "not a database at all",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 1000)), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a database",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, itoa(i)+".db")
			tt.setup(t, path)
			s, err := OpenSQLite(context.Background(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted the file")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to name the file and say %q", err, tt.want)
			}
		})
	}
}

func TestOpenBadPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"empty", "", "empty path"},
		{"blank", "  ", "empty path"},
		{"missing directory", filepath.Join(dir, "nope", "state.db"), "does not exist"},
		{"parent is a file", filepath.Join(file, "state.db"), "not a directory"},
		{"path is a directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenSQLite(context.Background(), tt.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "store: open") {
				t.Errorf("error %q, want \"store: open ...%s...\"", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Errorf("Open created the missing directory (stat: %v)", err)
	}
}

// Names SQLite would otherwise read as special (":memory:") or as URI syntax must mean the
// literal file, or state would silently live in memory or in a different file.
func TestOpenOddFileNames(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{":memory:", "a?b=c&d#e.db", "with space.db", "100%.db", "file:x.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := OpenSQLite(ctx, path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.PutSetting(ctx, "k", "v"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("file %q not created: %v", path, err)
			}
			s, err = OpenSQLite(ctx, path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if v, ok, err := s.Setting(ctx, "k"); err != nil || !ok || v != "v" {
				t.Errorf("Setting after reopen = %q, %v, %v", v, ok, err)
			}
		})
	}
}

func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := OpenSQLite(context.Background(), "state.db")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Path() != "state.db" {
		t.Errorf("Path() = %q", s.Path())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("state.db"); err != nil {
		t.Errorf("relative file not created: %v", err)
	}
}

func TestOpenCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a cancelled context")
	}
}

func TestPingAndClose(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
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

func itoa(i int) string { return strconv.Itoa(i) }
