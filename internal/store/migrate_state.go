package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Copied counts the rows MoveToPostgres copied, by table.
type Copied struct {
	Users, Groups, Settings, Snapshots, Audit, Intents, BreakerEvents int64
}

func (c Copied) String() string {
	return fmt.Sprintf("%d user records, %d group records, %d settings, %d snapshots, %d audit events, %d unfinished changes, %d breaker events",
		c.Users, c.Groups, c.Settings, c.Snapshots, c.Audit, c.Intents, c.BreakerEvents)
}

// migrateTables are the tables a state moves with, in the order they are copied. Each
// names its columns in both stores' order; times are the same fixed-width text in both, so
// they move unchanged (an intent's version, compared for equality, included).
var migrateTables = []struct {
	name, cols string
	count      func(*Copied) *int64
	identity   bool // an identity column "id" whose sequence must continue after the copy
}{
	{"users", "id, external_id, data, updated", func(c *Copied) *int64 { return &c.Users }, false},
	{"groups", "id, external_id, data, updated", func(c *Copied) *int64 { return &c.Groups }, false},
	{"settings", "key, value", func(c *Copied) *int64 { return &c.Settings }, false},
	{"snapshots", "name, data, taken", func(c *Copied) *int64 { return &c.Snapshots }, false},
	{"audit", "id, time, token, request_id, operation, domo_call, resource, resource_id, fields, outcome", func(c *Copied) *int64 { return &c.Audit }, true},
	{"intents", "key, kind, data, created, updated", func(c *Copied) *int64 { return &c.Intents }, false},
	{"breaker_events", "id, time, kind, resource, resource_id", func(c *Copied) *int64 { return &c.BreakerEvents }, true},
}

// MoveToPostgres copies everything a SQLite state holds (shadows, settings, snapshots, the
// audit log with its ids, unfinished intents, the breaker's window) into an empty PostgreSQL
// state, in one transaction: the target ends with all of it or, on any failure, none. The
// source is read in one read transaction, a consistent view even if a bridge still writes
// it; stop the bridge first all the same, or its later writes stay behind. A target that
// already holds state is refused.
func MoveToPostgres(ctx context.Context, src *SQLite, dst *Postgres) (Copied, error) {
	var c Copied
	rtx, err := src.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return c, fmt.Errorf("store: move state: read %s: %w", src.Describe(), err)
	}
	defer rtx.Rollback()

	wtx, err := dst.pool.Begin(ctx)
	if err != nil {
		return c, fmt.Errorf("store: move state: %s: %w", dst.Describe(), pgFail(err))
	}
	defer wtx.Rollback(context.WithoutCancel(ctx))
	// No bridge may write the target meanwhile: an exclusive lock on every table, taken at once.
	for _, t := range migrateTables {
		if _, err := wtx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{t.name}.Sanitize()+` IN EXCLUSIVE MODE NOWAIT`); err != nil {
			return c, fmt.Errorf("store: move state: %s is in use (stop the bridges on it first): %w", dst.Describe(), pgFail(err))
		}
		var rows bool
		if err := wtx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{t.name}.Sanitize()+`)`).Scan(&rows); err != nil {
			return c, fmt.Errorf("store: move state: %s: %w", dst.Describe(), pgFail(err))
		}
		if rows {
			return c, fmt.Errorf("store: move state: %s already holds state (table %s is not empty); move into a new, empty database", dst.Describe(), t.name)
		}
	}

	for _, t := range migrateTables {
		n, err := copyTable(ctx, rtx, wtx, t.name, t.cols)
		if err != nil {
			return c, fmt.Errorf("store: move state: table %s: %w", t.name, pgFail(err))
		}
		*t.count(&c) = n
		if t.identity && n > 0 {
			// The copied ids keep their values; new rows must number after them.
			if _, err := wtx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM `+pgx.Identifier{t.name}.Sanitize()+`))`, t.name); err != nil {
				return c, fmt.Errorf("store: move state: table %s: continue its ids: %w", t.name, pgFail(err))
			}
		}
	}
	if err := wtx.Commit(ctx); err != nil {
		return c, fmt.Errorf("store: move state: commit: %w", pgFail(err))
	}
	return c, nil
}

// copyTable streams one table from SQLite into PostgreSQL with COPY.
func copyTable(ctx context.Context, from *sql.Tx, to pgx.Tx, table, cols string) (int64, error) {
	rows, err := from.QueryContext(ctx, `SELECT `+cols+` FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	src := &sqliteRows{rows: rows, n: len(names), fieldsAt: -1}
	for i, n := range names {
		if n == "fields" {
			src.fieldsAt = i // JSON text in SQLite, text[] in PostgreSQL
		}
	}
	return to.CopyFrom(ctx, pgx.Identifier{table}, names, src)
}

// sqliteRows adapts database/sql rows to pgx.CopyFromSource.
type sqliteRows struct {
	rows     *sql.Rows
	n        int
	fieldsAt int
	vals     []any
	err      error
}

func (r *sqliteRows) Next() bool {
	if !r.rows.Next() {
		r.err = r.rows.Err()
		return false
	}
	dst := make([]any, r.n)
	ptrs := make([]any, r.n)
	for i := range dst {
		ptrs[i] = &dst[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.err = err
		return false
	}
	if r.fieldsAt >= 0 {
		var fields []string
		raw, _ := dst[r.fieldsAt].(string)
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			r.err = fmt.Errorf("audit fields %q: %w", raw, err)
			return false
		}
		if fields == nil {
			fields = []string{}
		}
		dst[r.fieldsAt] = fields
	}
	r.vals = dst
	return true
}

func (r *sqliteRows) Values() ([]any, error) { return r.vals, nil }

func (r *sqliteRows) Err() error { return r.err }
