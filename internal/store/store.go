package store

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Store is the bridge's durable state. Every implementation passes the same conformance suite
// (conformance_test.go); the bridge sees only this interface.
//
// Shadows and audit events are opaque to the store: it neither reads their JSON nor checks
// their fields beyond what keeps the tables sound.
type Store interface {
	// UserShadow returns the shadow of Domo user id; ok is false when there is none.
	UserShadow(ctx context.Context, id int64) (sh Shadow, ok bool, err error)
	// PutUserShadow creates or replaces the shadow of user sh.ID. A zero Updated is set to now.
	PutUserShadow(ctx context.Context, sh Shadow) error
	// DeleteUserShadow removes the shadow of user id; a missing shadow is not an error.
	DeleteUserShadow(ctx context.Context, id int64) error
	// UserShadows yields every user shadow in id order, as of one consistent view taken when
	// the loop starts; a failure is yielded once as the error and ends the sequence.
	UserShadows(ctx context.Context) iter.Seq2[Shadow, error]

	GroupShadow(ctx context.Context, id int64) (sh Shadow, ok bool, err error)
	PutGroupShadow(ctx context.Context, sh Shadow) error
	DeleteGroupShadow(ctx context.Context, id int64) error
	GroupShadows(ctx context.Context) iter.Seq2[Shadow, error]

	// Setting returns the value stored under key; ok is false when there is none.
	Setting(ctx context.Context, key string) (value string, ok bool, err error)
	// PutSetting stores value under key, replacing any previous value.
	PutSetting(ctx context.Context, key, value string) error
	// DeleteSetting removes key; a missing key is not an error.
	DeleteSetting(ctx context.Context, key string) error

	// PutSnapshot stores data under name, replacing any earlier snapshot of that name.
	PutSnapshot(ctx context.Context, name string, data []byte) error
	// Snapshot returns the snapshot stored under name and when it was taken.
	Snapshot(ctx context.Context, name string) (data []byte, taken time.Time, ok bool, err error)

	// Audit appends e to the audit log.
	Audit(ctx context.Context, e AuditEvent) error
	// AuditEvents returns the events matching f, newest first.
	AuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// PruneAudit deletes the events older than before and returns how many it deleted.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)

	// PutIntent records, or replaces, the intent stored under in.Key, and returns it as stored
	// (with its times). It is written before the first Domo write of a multi-step change, so
	// that a retry or a restart can finish it.
	PutIntent(ctx context.Context, in Intent) (Intent, error)
	// Intent returns the intent stored under key; ok is false when there is none.
	Intent(ctx context.Context, key string) (in Intent, ok bool, err error)
	// DeleteIntent removes the intent under key if it is still the one written at updated
	// (so a finisher never clears a newer intent); a zero updated removes whatever is there.
	DeleteIntent(ctx context.Context, key string, updated time.Time) error
	// Intents lists every unfinished intent, oldest first.
	Intents(ctx context.Context) ([]Intent, error)

	// TakeBreaker counts changes that take access away, for the deprovision breaker, in one
	// atomic step: when the events already counted since t.At-t.Window plus len(t.Events)
	// stay within t.Max, the events are recorded and allowed is true; otherwise nothing is
	// recorded. count is the number within the window afterwards (or before, when refused).
	TakeBreaker(ctx context.Context, t BreakerTake) (count int, allowed bool, err error)
	// BreakerCount returns how many counted events lie at or after since.
	BreakerCount(ctx context.Context, since time.Time) (int, error)
	// ClearBreaker forgets every counted event (an operator reset the breaker).
	ClearBreaker(ctx context.Context) error

	// Ping reports whether the state can still be read.
	Ping(ctx context.Context) error
	// Describe names the state for logs and status pages, never with a password.
	Describe() string
	Close() error
}

var _ Store = (*SQLite)(nil)

// Open opens the state that state names: a SQLite file path (the embedded default), or a
// postgres:// URL for several replicas sharing one state.
func Open(ctx context.Context, state string) (Store, error) {
	if IsPostgres(state) {
		return nil, fmt.Errorf("store: PostgreSQL state is not supported by this build")
	}
	return OpenSQLite(ctx, state)
}

// IsPostgres reports whether state names a PostgreSQL database rather than a file.
func IsPostgres(state string) bool {
	s := strings.ToLower(strings.TrimSpace(state))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}
