package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Intent is a multi-step Domo change the bridge has begun: written before its first Domo write
// and removed after its last, so that whoever finds it (the IdP's retry, a restart, a
// background pass, another replica) can finish it. Data is JSON the store does not interpret.
type Intent struct {
	Key     string // the resource it is about, e.g. "user:123"; at most one intent per key
	Kind    string // the operation, e.g. "user.demote"
	Data    []byte
	Created time.Time // set by the store on first write; kept when the intent is replaced
	Updated time.Time // set by the store on every write; it tells one version from the next
}

// PutIntent records or replaces the intent under in.Key.
func (s *SQLite) PutIntent(ctx context.Context, in Intent) (Intent, error) {
	if in.Key == "" || in.Kind == "" {
		return Intent{}, errors.New("store: put intent: empty key or kind")
	}
	if !json.Valid(in.Data) {
		return Intent{}, fmt.Errorf("store: put intent %q: data is not valid JSON", in.Key)
	}
	ts, err := formatTime(now())
	if err != nil {
		return Intent{}, fmt.Errorf("store: put intent %q: %w", in.Key, err)
	}
	var created string
	err = s.w.QueryRowContext(ctx, `INSERT INTO intents (key, kind, data, created, updated) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, data = excluded.data, updated = excluded.updated
RETURNING created`, in.Key, in.Kind, in.Data, ts, ts).Scan(&created)
	if err == nil {
		err = in.setTimes(created, ts)
	}
	if err != nil {
		return Intent{}, fmt.Errorf("store: put intent %q: %w", in.Key, err)
	}
	return in, nil
}

// Intent returns the intent under key.
func (s *SQLite) Intent(ctx context.Context, key string) (Intent, bool, error) {
	in := Intent{Key: key}
	var created, updated string
	err := s.r.QueryRowContext(ctx, `SELECT kind, data, created, updated FROM intents WHERE key = ?`, key).
		Scan(&in.Kind, &in.Data, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Intent{}, false, nil
	}
	if err == nil {
		err = in.setTimes(created, updated)
	}
	if err != nil {
		return Intent{}, false, fmt.Errorf("store: get intent %q: %w", key, err)
	}
	return in, true, nil
}

// DeleteIntent removes the intent under key written at updated (any, when updated is zero).
func (s *SQLite) DeleteIntent(ctx context.Context, key string, updated time.Time) error {
	var err error
	if updated.IsZero() {
		_, err = s.w.ExecContext(ctx, `DELETE FROM intents WHERE key = ?`, key)
	} else {
		_, err = s.w.ExecContext(ctx, `DELETE FROM intents WHERE key = ? AND updated = ?`, key, boundTime(updated))
	}
	if err != nil {
		return fmt.Errorf("store: delete intent %q: %w", key, err)
	}
	return nil
}

// Intents lists every intent, oldest first.
func (s *SQLite) Intents(ctx context.Context) ([]Intent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, kind, data, created, updated FROM intents ORDER BY created, key`)
	if err != nil {
		return nil, fmt.Errorf("store: list intents: %w", err)
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var created, updated string
		if err := rows.Scan(&in.Key, &in.Kind, &in.Data, &created, &updated); err != nil {
			return nil, fmt.Errorf("store: list intents: %w", err)
		}
		if err := in.setTimes(created, updated); err != nil {
			return nil, fmt.Errorf("store: list intents: %q: %w", in.Key, err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list intents: %w", err)
	}
	return out, nil
}

func (in *Intent) setTimes(created, updated string) error {
	var err error
	if in.Created, err = parseTime(created); err != nil {
		return err
	}
	in.Updated, err = parseTime(updated)
	return err
}
