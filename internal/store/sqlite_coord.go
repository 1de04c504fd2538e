package store

import (
	"context"
	"time"
)

// A SQLite state belongs to one process (two processes on one file, as in a rolling restart,
// share its data safely, but not its locks, changes or budgets): the coordination between replicas is
// trivial here. Locks live in the process; the process always leads; there are no other
// processes to tell of changes, so nothing is recorded.

// Lock takes the in-process lock named key.
func (s *SQLite) Lock(ctx context.Context, key string) (func(), error) { return s.locks.lock(ctx, key) }

// Lead is always true: no other process shares the state.
func (s *SQLite) Lead(context.Context, string) (bool, error) { return true, nil }

// Publish records nothing: no other process needs the change.
func (s *SQLite) Publish(context.Context, Change) (int64, error) { return 0, nil }

// Changes returns none.
func (s *SQLite) Changes(context.Context, int64, int) ([]Change, error) { return nil, nil }

// LastChange is always 0.
func (s *SQLite) LastChange(context.Context) (int64, error) { return 0, nil }

// PruneChanges has nothing to prune.
func (s *SQLite) PruneChanges(context.Context, time.Time) (int64, error) { return 0, nil }

// Changed never receives.
func (s *SQLite) Changed() <-chan struct{} { return nil }

// Heartbeat counts this process alone.
func (s *SQLite) Heartbeat(context.Context, string, time.Duration) (int, error) { return 1, nil }

// Leave has no one to tell.
func (s *SQLite) Leave(context.Context, string) error { return nil }

// TakeSlot hands out the budget's send times in this process.
func (s *SQLite) TakeSlot(_ context.Context, name string, every, within time.Duration) (Slot, error) {
	return s.budgets.take(name, every, within)
}

// HoldSlots holds the budget back in this process.
func (s *SQLite) HoldSlots(_ context.Context, name string, d time.Duration) error {
	return s.budgets.hold(name, d)
}

// Shared is false: SQLite state serves one process.
func (s *SQLite) Shared() bool { return false }
