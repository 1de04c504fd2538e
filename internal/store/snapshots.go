package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PutSnapshot stores data under name, replacing any earlier snapshot of that name, and
// records when it was taken.
func (s *SQLite) PutSnapshot(ctx context.Context, name string, data []byte) error {
	if name == "" {
		return errors.New("store: put snapshot: empty name")
	}
	taken, err := formatTime(now())
	if err != nil {
		return fmt.Errorf("store: put snapshot %q: %w", name, err)
	}
	if data == nil {
		data = []byte{} // the driver binds nil as NULL; an empty snapshot is still a snapshot
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO snapshots (name, data, taken) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET data = excluded.data, taken = excluded.taken`, name, data, taken)
	if err != nil {
		return fmt.Errorf("store: put snapshot %q (%d bytes): %w", name, len(data), err)
	}
	return nil
}

// Snapshot returns the snapshot stored under name and when it was taken; ok is false when
// there is none.
func (s *SQLite) Snapshot(ctx context.Context, name string) ([]byte, time.Time, bool, error) {
	var data []byte
	var taken string
	err := s.r.QueryRowContext(ctx, `SELECT data, taken FROM snapshots WHERE name = ?`, name).Scan(&data, &taken)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	var t time.Time
	if err == nil {
		t, err = parseTime(taken)
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("store: get snapshot %q: %w", name, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, t, true, nil
}
