package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is one Store implementation under the conformance suite (in the manner of dex's
// storage/conformance): every behaviour the bridge relies on is one function run against
// each backend, so the implementations cannot drift apart.
type backend struct {
	name string
	// fresh returns where a new, empty state lives (a file path, a database URL). It skips
	// the test, loudly, when the backend cannot run here.
	fresh func(t testing.TB) string
	// version reads the schema version recorded in the state, with the backend's own tools.
	version func(t testing.TB, loc string) int
	// setVersion overwrites the recorded schema version.
	setVersion func(t testing.TB, loc string, v int)
	// steps is how many schema steps this build has.
	steps int
	// exec runs SQL on the state outside the store, as another program would.
	exec func(t testing.TB, loc, sql string)
	// hasTable reports whether the state holds a table of that name.
	hasTable func(t testing.TB, loc, name string) bool
	// migrate runs the given schema steps on the state, as Open runs the shipped ones.
	migrate func(ctx context.Context, loc string, steps []string) error
}

func backends() []backend {
	return []backend{
		{
			name:  "sqlite",
			fresh: func(t testing.TB) string { return filepath.Join(t.TempDir(), "state.db") },
			version: func(t testing.TB, loc string) int {
				return pragmaInt(t, rawDB(t, loc), "user_version")
			},
			setVersion: func(t testing.TB, loc string, v int) {
				if _, err := rawDB(t, loc).Exec("PRAGMA user_version = " + itoa(v)); err != nil {
					t.Fatal(err)
				}
			},
			steps: len(migrations()),
			exec: func(t testing.TB, loc, q string) {
				if _, err := rawDB(t, loc).Exec(q); err != nil {
					t.Fatal(err)
				}
			},
			hasTable: func(t testing.TB, loc, name string) bool { return tableExists(t, rawDB(t, loc), name) },
			migrate: func(ctx context.Context, loc string, steps []string) error {
				db, err := sql.Open("sqlite", dsn(loc, "_txlock=immediate"))
				if err != nil {
					return err
				}
				defer db.Close()
				db.SetMaxOpenConns(1)
				// The first step of every SQLite schema marks the file as scimbridge's.
				steps = append([]string{`PRAGMA application_id = ` + itoa(applicationID) + `; ` + steps[0]}, steps[1:]...)
				return applyMigrations(ctx, db, steps)
			},
		},
		{
			name:  "postgres",
			fresh: func(t testing.TB) string { return pgtest.URL(t) },
			version: func(t testing.TB, loc string) int {
				var marked bool
				pgQueryRow(t, loc, `SELECT to_regclass('scimbridge_schema') IS NOT NULL`, &marked)
				if !marked {
					return 0
				}
				var v int
				pgQueryRow(t, loc, `SELECT version FROM scimbridge_schema`, &v)
				return v
			},
			setVersion: func(t testing.TB, loc string, v int) {
				pgExec(t, loc, `UPDATE scimbridge_schema SET version = `+itoa(v))
			},
			steps: len(pgMigrations()),
			exec:  pgExec,
			hasTable: func(t testing.TB, loc, name string) bool {
				var ok bool
				pgQueryRow(t, loc, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = '`+name+`')`, &ok)
				return ok
			},
			migrate: func(ctx context.Context, loc string, steps []string) error {
				pool, err := pgxpool.New(ctx, loc)
				if err != nil {
					return err
				}
				defer pool.Close()
				return migratePostgres(ctx, pool, steps)
			},
		},
	}
}

// open opens a new, empty state of the backend and closes it when the test ends.
func (b backend) open(t testing.TB) Store {
	t.Helper()
	return b.openAt(t, b.fresh(t))
}

// openAt opens the state at loc and closes it when the test ends.
func (b backend) openAt(t testing.TB, loc string) Store {
	t.Helper()
	s, err := Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// conformance lists every behaviour each Store must have.
func conformance() []struct {
	name string
	test func(t *testing.T, b backend)
} {
	return []struct {
		name string
		test func(t *testing.T, b backend)
	}{
		{"ShadowRoundTrip", testShadowRoundTrip},
		{"ShadowZeroUpdatedIsNow", testShadowZeroUpdatedIsNow},
		{"ShadowsIterateInIDOrder", testShadowsIterateInIDOrder},
		{"ShadowsEarlyBreakReleasesConnection", testShadowsEarlyBreakReleasesConnection},
		{"ShadowsYieldErrorOnCancelledContext", testShadowsYieldErrorOnCancelledContext},
		{"UsersAndGroupsAreSeparate", testUsersAndGroupsAreSeparate},
		{"PutShadowRejectsBadInput", testPutShadowRejectsBadInput},
		{"ShadowErrorsNameOperationAndID", testShadowErrorsNameOperationAndID},
		{"Settings", testSettings},
		{"SettingErrors", testSettingErrors},
		{"Snapshots", testSnapshots},
		{"SnapshotErrors", testSnapshotErrors},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditDefaults", testAuditDefaults},
		{"AuditEventsFilter", testAuditEventsFilter},
		{"AuditEventsDefaultLimit", testAuditEventsDefaultLimit},
		{"AuditEventsTiesByID", testAuditEventsTiesByID},
		{"AuditErrors", testAuditErrors},
		{"PruneAudit", testPruneAudit},
		{"PruneAuditAcrossBatches", testPruneAuditAcrossBatches},
		{"Intents", testIntents},
		{"Breaker", testBreaker},
		{"BreakerAcrossHandles", testBreakerAcrossHandles},
		{"OpenMigratesEmptyState", testOpenMigratesEmptyState},
		{"ReopenKeepsDataAndVersion", testReopenKeepsDataAndVersion},
		{"OpenRefusesNewerSchema", testOpenRefusesNewerSchema},
		{"OpenRefusesOtherApplications", testOpenRefusesOtherApplications},
		{"OpenCancelledContext", testOpenCancelledContext},
		{"PingAndClose", testPingAndClose},
		{"MigrationsRunOnlyNewSteps", testMigrationsRunOnlyNewSteps},
		{"MigrationFailureLeavesStateUnchanged", testMigrationFailureLeavesStateUnchanged},
		{"ConcurrentOpenMigratesOnce", testConcurrentOpenMigratesOnce},
		{"ConcurrentWritersAndReaders", testConcurrentWritersAndReaders},
		{"TwoHandlesShareOneState", testTwoHandlesShareOneState},
		{"Lock", testLock},
		{"LockAcrossHandles", testLockAcrossHandles},
		{"Lead", testLead},
		{"Changes", testChanges},
		{"ChangesConcurrentFollow", testChangesConcurrentFollow},
		{"Heartbeat", testHeartbeat},
		{"Budget", testBudget},
		{"BudgetAcrossHandles", testBudgetAcrossHandles},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionExpiry", testSessionExpiry},
		{"SessionDelete", testSessionDelete},
		{"SessionCap", testSessionCap},
		{"SessionsConcurrent", testSessionsConcurrent},
		{"SessionErrors", testSessionErrors},
	}
}

// TestConformance runs the conformance suite against every Store implementation.
func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range conformance() {
				t.Run(c.name, func(t *testing.T) { c.test(t, b) })
			}
		})
	}
}

// pgExec runs q on the database at url outside the store.
func pgExec(t testing.TB, url, q string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pgQueryRow(t testing.TB, url, q string, dst ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// pruneBatcher lets a test shrink the audit prune batch of either implementation.
type pruneBatcher interface{ setPruneBatch(n int) }

func (s *SQLite) setPruneBatch(n int)   { s.pruneBatch = n }
func (s *Postgres) setPruneBatch(n int) { s.pruneBatch = n }
