package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A new file is marked as scimbridge's, in WAL mode; the conformance suite checks its schema.
func TestOpenMarksNewFile(t *testing.T) {
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
	if got := pragmaInt(t, db, "application_id"); got != applicationID {
		t.Errorf("application_id = %#x, want %#x", got, applicationID)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
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

func itoa(i int) string { return strconv.Itoa(i) }
