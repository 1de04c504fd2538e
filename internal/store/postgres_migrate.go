package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgApplication is what scimbridge_schema names as the schema's owner.
const pgApplication = "scimbridge"

// Advisory lock keys of this package. Advisory locks are per database; the high half spells
// "SCIM" so that they stay clear of keys other software might use in a shared server.
const (
	pgLockMigrate int64 = 0x5343494D_00000001
	pgLockBreaker int64 = 0x5343494D_00000002
	pgLockChanges int64 = 0x5343494D_00000003
)

// pgMigrations returns the PostgreSQL schema steps in order; step i brings the schema from
// version i to i+1, recorded in scimbridge_schema. Append-only, like migrations(). Times are
// stored as fixed-width UTC text in the "C" collation (see timeLayout), exactly as in
// SQLite: they keep nanoseconds, compare correctly as text, and move between the two stores
// unchanged.
func pgMigrations() []string {
	return []string{
		// 1: shadows, settings, snapshots, audit, intents, the breaker's window.
		`CREATE TABLE users (
	id          bigint PRIMARY KEY,
	external_id text,
	data        bytea NOT NULL,
	updated     text COLLATE "C" NOT NULL
);
CREATE INDEX users_external_id ON users (external_id);

CREATE TABLE "groups" (
	id          bigint PRIMARY KEY,
	external_id text,
	data        bytea NOT NULL,
	updated     text COLLATE "C" NOT NULL
);
CREATE INDEX groups_external_id ON "groups" (external_id);

CREATE TABLE settings (
	key   text PRIMARY KEY,
	value text NOT NULL
);

CREATE TABLE snapshots (
	name  text PRIMARY KEY,
	data  bytea NOT NULL,
	taken text COLLATE "C" NOT NULL
);

CREATE TABLE audit (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time        text COLLATE "C" NOT NULL,
	token       text NOT NULL,
	request_id  text NOT NULL,
	operation   text NOT NULL,
	domo_call   text NOT NULL,
	resource    text NOT NULL,
	resource_id text NOT NULL,
	fields      text[] NOT NULL,
	outcome     text NOT NULL
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_resource_id ON audit (resource_id, time);

CREATE TABLE intents (
	key     text PRIMARY KEY,
	kind    text NOT NULL,
	data    bytea NOT NULL,
	created text COLLATE "C" NOT NULL,
	updated text COLLATE "C" NOT NULL
);

CREATE TABLE breaker_events (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time        text COLLATE "C" NOT NULL,
	kind        text NOT NULL,
	resource    text NOT NULL,
	resource_id text NOT NULL
);
CREATE INDEX breaker_events_time ON breaker_events (time);`,

		// 2: what replicas coordinate through: the change feed, and their heartbeats. Times
		// here are the server's (timestamptz), so that replicas' clocks need not agree.
		`CREATE TABLE changes (
	seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time   timestamptz NOT NULL DEFAULT now(),
	origin text NOT NULL,
	kind   text NOT NULL,
	key    text NOT NULL,
	data   bytea NOT NULL
);
CREATE INDEX changes_time ON changes (time);

CREATE TABLE replicas (
	id   text PRIMARY KEY,
	seen timestamptz NOT NULL
);`,

		// 3: the status page's sign-in sessions, by the hash of their id. Their times are the
		// replicas' own (the status page's clock), in the text of step 1.
		`CREATE TABLE sessions (
	id_hash    text PRIMARY KEY,
	name       text NOT NULL,
	role       text NOT NULL,
	binding    text NOT NULL,
	created    text COLLATE "C" NOT NULL,
	seen       text COLLATE "C" NOT NULL,
	idle_until text COLLATE "C" NOT NULL,
	expires    text COLLATE "C" NOT NULL
);
CREATE INDEX sessions_created ON sessions (created);`,

		// 4: the request budgets the replicas' Domo clients share (TakeSlot): the next free
		// send time of each, by the server's clock.
		`CREATE TABLE budgets (
	name text PRIMARY KEY,
	next timestamptz NOT NULL
);`,
	}
}

// migratePostgres runs the steps the database has not had yet, in one transaction under an
// advisory lock: replicas starting together wait for the first to finish, then find nothing
// left to do; a failed step leaves the database as it was (PostgreSQL's DDL is
// transactional).
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, steps []string) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignorePGDone(tx.Rollback(context.WithoutCancel(ctx))))
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgLockMigrate); err != nil {
		return fmt.Errorf("lock migration: %w", err)
	}

	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	if schema == nil {
		return errors.New("no schema to use: the connection's search_path names no existing schema")
	}
	var marked bool
	var others int
	if err := tx.QueryRow(ctx, `SELECT
	EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'scimbridge_schema'),
	(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))`).Scan(&marked, &others); err != nil {
		return fmt.Errorf("read schema %q: %w", *schema, err)
	}

	version := 0
	switch {
	case !marked && others > 0:
		return fmt.Errorf("not a scimbridge state database (schema %q holds other tables); give scimbridge a database or schema of its own", *schema)
	case !marked:
		if _, err := tx.Exec(ctx, `CREATE TABLE scimbridge_schema (
	application text NOT NULL,
	version     integer NOT NULL
);
INSERT INTO scimbridge_schema (application, version) VALUES ('`+pgApplication+`', 0)`); err != nil {
			return explainPG(fmt.Errorf("create schema table in %q: %w", *schema, err), *schema)
		}
	default:
		var app string
		if err := tx.QueryRow(ctx, `SELECT application, version FROM scimbridge_schema`).Scan(&app, &version); err != nil {
			return fmt.Errorf("not a scimbridge state database (schema %q: read scimbridge_schema: %w)", *schema, err)
		}
		if app != pgApplication {
			return fmt.Errorf("not a scimbridge state database (schema %q belongs to %q)", *schema, app)
		}
	}
	if version > len(steps) {
		return fmt.Errorf("database schema version %d is newer than this build of scimbridge knows (%d); run a newer scimbridge or restore an older copy of the database", version, len(steps))
	}
	for v := version; v < len(steps); v++ {
		if _, err := tx.Exec(ctx, steps[v]); err != nil {
			return explainPG(fmt.Errorf("migrate schema to version %d: %w", v+1, err), *schema)
		}
		if _, err := tx.Exec(ctx, `UPDATE scimbridge_schema SET version = $1`, v+1); err != nil {
			return fmt.Errorf("record schema version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// explainPG adds what an operator must do to a migration refused for lack of rights: since
// PostgreSQL 15 only a database's owner may create tables in its public schema.
func explainPG(err error, schema string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("%w; scimbridge's role needs CREATE on schema %q (make it the database's owner, or give it a schema of its own in search_path)", err, schema)
	}
	return err
}

// ignorePGDone drops the error Rollback returns after Commit already ended the transaction.
func ignorePGDone(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
