package pglocal_test

import (
	"context"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/scimbridge/scimbridge/internal/pglocal"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func query(t *testing.T, url, q string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// The server runs as a non-root user on loopback, asks for the password, and keeps its data
// across a clean restart and across a crash.
func TestServerLifecycle(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Server(t)
	url := pgtest.URL(t)
	if !strings.HasPrefix(url, "postgres://"+pglocal.Superuser+":") || !strings.Contains(url, "@127.0.0.1:") {
		t.Errorf("URL %q: want a loopback URL with the superuser's password", url)
	}
	if got := query(t, url, `SELECT current_setting('server_version_num')`); !strings.HasPrefix(got, srv.Version()) {
		t.Errorf("server_version_num %s, want major %s", got, srv.Version())
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root; the data folder must belong to another user.
		if got := query(t, url, `SELECT pg_read_file('PG_VERSION')`); strings.TrimSpace(got) != srv.Version() {
			t.Errorf("PG_VERSION = %q", got)
		}
	}
	for _, wrong := range []string{"", "wrong"} {
		u, _ := neturl.Parse(url)
		u.User = neturl.UserPassword(pglocal.Superuser, wrong)
		if conn, err := pgx.Connect(ctx, u.String()); err == nil {
			conn.Close(ctx)
			t.Errorf("connected with password %q", wrong)
		}
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	port := srv.Port()
	for _, stop := range []struct {
		name string
		fn   func() error
	}{{"stop", srv.Stop}, {"kill", srv.Kill}} {
		if err := stop.fn(); err != nil {
			t.Fatalf("%s: %v", stop.name, err)
		}
		if conn, err := pgx.Connect(ctx, url); err == nil {
			conn.Close(ctx)
			t.Fatalf("connected after %s", stop.name)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatalf("start after %s: %v", stop.name, err)
		}
		if srv.Port() != port {
			t.Errorf("port changed across a restart: %d -> %d", port, srv.Port())
		}
		if got := query(t, url, `SELECT v FROM t`); got != "kept" {
			t.Errorf("after %s: %q", stop.name, got)
		}
	}
}

func TestFind(t *testing.T) {
	dir, err := pglocal.Find()
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Find() = %q without %s: %v", dir, name, err)
		}
	}
}
