package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// applicationID marks a SQLite file as scimbridge state ("SCIM" in ASCII), so Open can tell
// its own database from some other SQLite file handed to it by mistake.
const applicationID = 0x5343494D

// migrations returns the schema steps in order; step i brings the schema from version i to
// i+1, recorded in PRAGMA user_version. Steps are append-only: never edit a released step,
// add a new one. It is a function rather than a variable so the package holds no mutable
// globals.
func migrations() []string {
	return []string{
		// 1: shadows, settings, snapshots, audit.
		`PRAGMA application_id = ` + fmt.Sprint(applicationID) + `;

CREATE TABLE users (
	id          INTEGER PRIMARY KEY,
	external_id TEXT,
	data        BLOB NOT NULL,
	updated     TEXT NOT NULL
) STRICT;
CREATE INDEX users_external_id ON users(external_id);

CREATE TABLE "groups" (
	id          INTEGER PRIMARY KEY,
	external_id TEXT,
	data        BLOB NOT NULL,
	updated     TEXT NOT NULL
) STRICT;
CREATE INDEX groups_external_id ON "groups"(external_id);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE snapshots (
	name  TEXT PRIMARY KEY,
	data  BLOB NOT NULL,
	taken TEXT NOT NULL
) STRICT;

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	time        TEXT NOT NULL,
	token       TEXT NOT NULL,
	request_id  TEXT NOT NULL,
	operation   TEXT NOT NULL,
	domo_call   TEXT NOT NULL,
	resource    TEXT NOT NULL,
	resource_id TEXT NOT NULL,
	fields      TEXT NOT NULL,
	outcome     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_resource_id ON audit(resource_id, time);`,

		// 2: intents of multi-step writes, and the breaker's window.
		`CREATE TABLE intents (
	key     TEXT PRIMARY KEY,
	kind    TEXT NOT NULL,
	data    BLOB NOT NULL,
	created TEXT NOT NULL,
	updated TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE breaker_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	time        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	resource    TEXT NOT NULL,
	resource_id TEXT NOT NULL
) STRICT;
CREATE INDEX breaker_events_time ON breaker_events(time);`,

		// 3: the status page's sign-in sessions, by the hash of their id.
		`CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	binding    TEXT NOT NULL,
	created    TEXT NOT NULL,
	seen       TEXT NOT NULL,
	idle_until TEXT NOT NULL,
	expires    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_created ON sessions(created);`,
	}
}

// migrate brings the schema to the newest version.
func migrate(ctx context.Context, db *sql.DB) error { return applyMigrations(ctx, db, migrations()) }

// applyMigrations runs the steps the file has not had yet in one transaction, so a failed
// step leaves the file as it was.
func applyMigrations(ctx context.Context, db *sql.DB, steps []string) (err error) {
	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE, per the writer's DSN
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()

	var version, appID, objects int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return fmt.Errorf("read application id: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&objects); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	switch {
	case version == 0 && objects > 0, version > 0 && appID != applicationID:
		return errors.New("not a scimbridge state database (it holds other tables)")
	case version > len(steps):
		return fmt.Errorf("database schema version %d is newer than this build of scimbridge knows (%d); run a newer scimbridge or restore an older copy of the file", version, len(steps))
	}

	for v := version; v < len(steps); v++ {
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
		}
		// PRAGMA takes no bound parameters; v is an int we control.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			return fmt.Errorf("record schema version %d: %w", v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// ignoreDone drops the error Rollback returns after a successful Commit or a context
// cancellation already ended the transaction.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
