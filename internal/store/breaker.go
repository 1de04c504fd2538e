package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BreakerEvent is one change that takes access away (a deactivation, a deletion, a demotion,
// a removal from a group, a group deletion), counted by the deprovision breaker.
type BreakerEvent struct {
	Kind       string // e.g. "deactivate", "delete", "demote", "leave-group", "delete-group"
	Resource   string // "User" or "Group"
	ResourceID string
}

// BreakerTake asks to count Events at At against at most Max within Window.
type BreakerTake struct {
	At     time.Time
	Window time.Duration
	Max    int
	Events []BreakerEvent
}

// TakeBreaker counts t.Events if they fit in the window's budget, in one write transaction so
// that concurrent requests (and, on a shared state, other replicas) cannot all slip in under
// the limit. Events older than the window are pruned on the way.
func (s *SQLite) TakeBreaker(ctx context.Context, t BreakerTake) (count int, allowed bool, err error) {
	if t.Max <= 0 || t.Window <= 0 {
		return 0, false, errors.New("store: take breaker: max and window must be positive")
	}
	at, err := formatTime(t.At)
	if err != nil {
		return 0, false, fmt.Errorf("store: take breaker: %w", err)
	}
	cut := boundTime(t.At.Add(-t.Window))
	tx, err := s.w.BeginTx(ctx, nil) // IMMEDIATE: the write lock is taken at once
	if err != nil {
		return 0, false, fmt.Errorf("store: take breaker: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if _, err = tx.ExecContext(ctx, `DELETE FROM breaker_events WHERE time < ?`, cut); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: prune: %w", err)
	}
	if err = tx.QueryRowContext(ctx, `SELECT count(*) FROM breaker_events WHERE time >= ?`, cut).Scan(&count); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: count: %w", err)
	}
	if count+len(t.Events) > t.Max {
		return count, false, tx.Commit()
	}
	for _, e := range t.Events {
		if _, err = tx.ExecContext(ctx, `INSERT INTO breaker_events (time, kind, resource, resource_id) VALUES (?, ?, ?, ?)`,
			at, e.Kind, e.Resource, e.ResourceID); err != nil {
			return 0, false, fmt.Errorf("store: take breaker: record: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("store: take breaker: commit: %w", err)
	}
	return count + len(t.Events), true, nil
}

// BreakerCount returns how many counted events lie at or after since.
func (s *SQLite) BreakerCount(ctx context.Context, since time.Time) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM breaker_events WHERE time >= ?`, boundTime(since)).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: breaker count: %w", err)
	}
	return n, nil
}

// ClearBreaker forgets every counted event.
func (s *SQLite) ClearBreaker(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM breaker_events`); err != nil {
		return fmt.Errorf("store: clear breaker: %w", err)
	}
	return nil
}
