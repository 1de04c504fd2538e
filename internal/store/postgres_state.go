package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Setting returns the value stored under key; ok is false when there is none.
func (s *Postgres) Setting(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: get setting %q: %w", key, pgFail(err))
	}
	return v, true, nil
}

// PutSetting stores value under key, replacing any previous value.
func (s *Postgres) PutSetting(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("store: put setting: empty key")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("store: put setting %q: %w", key, pgFail(err))
	}
	return nil
}

// DeleteSetting removes key; a missing key is not an error.
func (s *Postgres) DeleteSetting(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM settings WHERE key = $1`, key); err != nil {
		return fmt.Errorf("store: delete setting %q: %w", key, pgFail(err))
	}
	return nil
}

// PutSnapshot stores data under name, replacing any earlier snapshot of that name, and
// records when it was taken.
func (s *Postgres) PutSnapshot(ctx context.Context, name string, data []byte) error {
	if name == "" {
		return errors.New("store: put snapshot: empty name")
	}
	taken, err := formatTime(now())
	if err != nil {
		return fmt.Errorf("store: put snapshot %q: %w", name, pgFail(err))
	}
	if data == nil {
		data = []byte{} // nil binds as NULL; an empty snapshot is still a snapshot
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO snapshots (name, data, taken) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET data = excluded.data, taken = excluded.taken`, name, data, taken)
	if err != nil {
		return fmt.Errorf("store: put snapshot %q (%d bytes): %w", name, len(data), pgFail(err))
	}
	return nil
}

// Snapshot returns the snapshot stored under name and when it was taken; ok is false when
// there is none.
func (s *Postgres) Snapshot(ctx context.Context, name string) ([]byte, time.Time, bool, error) {
	var data []byte
	var taken string
	err := s.pool.QueryRow(ctx, `SELECT data, taken FROM snapshots WHERE name = $1`, name).Scan(&data, &taken)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	var t time.Time
	if err == nil {
		t, err = parseTime(taken)
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("store: get snapshot %q: %w", name, pgFail(err))
	}
	if data == nil {
		data = []byte{}
	}
	return data, t, true, nil
}

// Audit appends e to the audit log, kept as given (see SQLite.Audit).
func (s *Postgres) Audit(ctx context.Context, e AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = now()
	}
	t, err := formatTime(e.Time)
	if err != nil {
		return fmt.Errorf("store: audit %s %s %s: %w", e.Operation, e.Resource, e.ResourceID, pgFail(err))
	}
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO audit
(time, token, request_id, operation, domo_call, resource, resource_id, fields, outcome)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t, e.Token, e.RequestID, e.Operation, e.DomoCall, e.Resource, e.ResourceID, fields, e.Outcome)
	if err != nil {
		return fmt.Errorf("store: audit %s %s %s: %w", e.Operation, e.Resource, e.ResourceID, pgFail(err))
	}
	return nil
}

// AuditEvents returns the events matching f, newest first.
func (s *Postgres) AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: list audit events: negative limit %d", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if !f.Since.IsZero() {
		arg("time >= ?", boundTime(f.Since))
	}
	if !f.Until.IsZero() {
		arg("time < ?", boundTime(f.Until))
	}
	if f.Resource != "" {
		arg("resource = ?", f.Resource)
	}
	if f.ResourceID != "" {
		arg("resource_id = ?", f.ResourceID)
	}
	q := `SELECT id, time, token, request_id, operation, domo_call, resource, resource_id, fields, outcome FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += " ORDER BY time DESC, id DESC LIMIT $" + strconv.Itoa(len(args))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", pgFail(err))
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t string
		if err := rows.Scan(&e.ID, &t, &e.Token, &e.RequestID, &e.Operation, &e.DomoCall,
			&e.Resource, &e.ResourceID, &e.Fields, &e.Outcome); err != nil {
			return nil, fmt.Errorf("store: list audit events: %w", pgFail(err))
		}
		if e.Time, err = parseTime(t); err != nil {
			return nil, fmt.Errorf("store: list audit events: event %d: %w", e.ID, pgFail(err))
		}
		if len(e.Fields) == 0 {
			e.Fields = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit events: %w", pgFail(err))
	}
	return out, nil
}

// PruneAudit deletes the events older than before and returns how many it deleted, in
// batches so that a large prune holds no long lock.
func (s *Postgres) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, errors.New("store: prune audit: zero cutoff time")
	}
	cutoff := boundTime(before)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM audit WHERE id IN
(SELECT id FROM audit WHERE time < $1 ORDER BY time LIMIT $2)`, cutoff, s.pruneBatch)
		if err != nil {
			return total, fmt.Errorf("store: prune audit before %s after %d deleted: %w", cutoff, total, pgFail(err))
		}
		n := tag.RowsAffected()
		total += n
		if n < int64(s.pruneBatch) {
			return total, nil
		}
	}
}

// PutIntent records or replaces the intent under in.Key.
func (s *Postgres) PutIntent(ctx context.Context, in Intent) (Intent, error) {
	if in.Key == "" || in.Kind == "" {
		return Intent{}, errors.New("store: put intent: empty key or kind")
	}
	if !json.Valid(in.Data) {
		return Intent{}, fmt.Errorf("store: put intent %q: data is not valid JSON", in.Key)
	}
	ts, err := formatTime(now())
	if err != nil {
		return Intent{}, fmt.Errorf("store: put intent %q: %w", in.Key, pgFail(err))
	}
	var created string
	err = s.pool.QueryRow(ctx, `INSERT INTO intents (key, kind, data, created, updated) VALUES ($1, $2, $3, $4, $4)
ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, data = excluded.data, updated = excluded.updated
RETURNING created`, in.Key, in.Kind, in.Data, ts).Scan(&created)
	if err == nil {
		err = in.setTimes(created, ts)
	}
	if err != nil {
		return Intent{}, fmt.Errorf("store: put intent %q: %w", in.Key, pgFail(err))
	}
	return in, nil
}

// Intent returns the intent under key.
func (s *Postgres) Intent(ctx context.Context, key string) (Intent, bool, error) {
	in := Intent{Key: key}
	var created, updated string
	err := s.pool.QueryRow(ctx, `SELECT kind, data, created, updated FROM intents WHERE key = $1`, key).
		Scan(&in.Kind, &in.Data, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return Intent{}, false, nil
	}
	if err == nil {
		err = in.setTimes(created, updated)
	}
	if err != nil {
		return Intent{}, false, fmt.Errorf("store: get intent %q: %w", key, pgFail(err))
	}
	return in, true, nil
}

// DeleteIntent removes the intent under key written at updated (any, when updated is zero).
func (s *Postgres) DeleteIntent(ctx context.Context, key string, updated time.Time) error {
	var err error
	if updated.IsZero() {
		_, err = s.pool.Exec(ctx, `DELETE FROM intents WHERE key = $1`, key)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM intents WHERE key = $1 AND updated = $2`, key, boundTime(updated))
	}
	if err != nil {
		return fmt.Errorf("store: delete intent %q: %w", key, pgFail(err))
	}
	return nil
}

// Intents lists every intent, oldest first.
func (s *Postgres) Intents(ctx context.Context) ([]Intent, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, kind, data, created, updated FROM intents ORDER BY created, key`)
	if err != nil {
		return nil, fmt.Errorf("store: list intents: %w", pgFail(err))
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var created, updated string
		if err := rows.Scan(&in.Key, &in.Kind, &in.Data, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: list intents: %w", pgFail(err))
		}
		if err := in.setTimes(created, updated); err != nil {
			return nil, fmt.Errorf("store: list intents: %q: %w", in.Key, pgFail(err))
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list intents: %w", pgFail(err))
	}
	return out, nil
}

// TakeBreaker counts t.Events if they fit in the window's budget. One transaction under an
// advisory lock serialises the takers of every replica, so they cannot all slip in under the
// limit; events older than the window are pruned on the way.
func (s *Postgres) TakeBreaker(ctx context.Context, t BreakerTake) (count int, allowed bool, err error) {
	if t.Max <= 0 || t.Window <= 0 {
		return 0, false, errors.New("store: take breaker: max and window must be positive")
	}
	at, err := formatTime(t.At)
	if err != nil {
		return 0, false, fmt.Errorf("store: take breaker: %w", pgFail(err))
	}
	cut := boundTime(t.At.Add(-t.Window))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("store: take breaker: %w", pgFail(err))
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignorePGDone(tx.Rollback(context.WithoutCancel(ctx))))
		}
	}()
	if _, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgLockBreaker); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: lock: %w", pgFail(err))
	}
	if _, err = tx.Exec(ctx, `DELETE FROM breaker_events WHERE time < $1`, cut); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: prune: %w", pgFail(err))
	}
	if err = tx.QueryRow(ctx, `SELECT count(*) FROM breaker_events WHERE time >= $1`, cut).Scan(&count); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: count: %w", pgFail(err))
	}
	if count+len(t.Events) > t.Max {
		if err = tx.Commit(ctx); err != nil {
			return 0, false, fmt.Errorf("store: take breaker: commit: %w", pgFail(err))
		}
		return count, false, nil
	}
	for _, e := range t.Events {
		if _, err = tx.Exec(ctx, `INSERT INTO breaker_events (time, kind, resource, resource_id) VALUES ($1, $2, $3, $4)`,
			at, e.Kind, e.Resource, e.ResourceID); err != nil {
			return 0, false, fmt.Errorf("store: take breaker: record: %w", pgFail(err))
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: commit: %w", pgFail(err))
	}
	return count + len(t.Events), true, nil
}

// BreakerCount returns how many counted events lie at or after since.
func (s *Postgres) BreakerCount(ctx context.Context, since time.Time) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM breaker_events WHERE time >= $1`, boundTime(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: breaker count: %w", pgFail(err))
	}
	return n, nil
}

// ClearBreaker forgets every counted event.
func (s *Postgres) ClearBreaker(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM breaker_events`); err != nil {
		return fmt.Errorf("store: clear breaker: %w", pgFail(err))
	}
	return nil
}
