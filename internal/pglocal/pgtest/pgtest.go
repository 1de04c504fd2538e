package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/pglocal"
)

// RequireEnv names the variable that turns a missing PostgreSQL from a skip into a failure.
const RequireEnv = "SCIMBRIDGE_REQUIRE_POSTGRES"

var (
	once    sync.Once
	server  *pglocal.Server
	initErr error
	dbs     atomic.Int64
	warned  sync.Once
)

// Main runs the package's tests and then stops the server if a test started one. Use it as
// `func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }`.
func Main(m *testing.M) int {
	code := m.Run()
	if server != nil {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stopping PostgreSQL:", err)
		}
	}
	return code
}

// Server returns the test binary's PostgreSQL server, starting it on first use. It skips or
// fails t when there is none (see the package comment).
func Server(t testing.TB) *pglocal.Server {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		server, initErr = pglocal.Start(ctx, pglocal.Options{})
	})
	if initErr != nil {
		Unavailable(t, initErr)
	}
	return server
}

// Unavailable ends t because PostgreSQL cannot be had: a skip that says so loudly, or a
// failure when RequireEnv is set.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("PostgreSQL is required (%s=1) but unavailable: %v", RequireEnv, err)
	}
	msg := fmt.Sprintf("SKIPPED: test needs PostgreSQL: %v (set %s=1 to make this a failure)", err, RequireEnv)
	if errors.Is(err, pglocal.ErrNotInstalled) {
		warned.Do(func() { fmt.Fprintln(os.Stderr, "*** "+msg+" ***") })
	}
	t.Skip(msg)
}

// URL returns the postgres:// URL of a new, empty database on the test binary's server; the
// database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	s := Server(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}
