package store

import (
	"context"
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

	// CreateSession stores a new status-page session. On the way it deletes the sessions no
	// longer live at s.Created and, when max live sessions are left, the oldest of them, so
	// that at most max are ever kept, even with several replicas signing people in at once;
	// evicted counts the live sessions that gave way.
	CreateSession(ctx context.Context, s Session, max int) (evicted int, err error)
	// Session returns the session stored under idHash if it is live at at (before its
	// IdleUntil and its Expires); ok is false otherwise.
	Session(ctx context.Context, idHash string, at time.Time) (s Session, ok bool, err error)
	// TouchSession is Session, and records activity at at: the session stays live until
	// at+idle, or its Expires if sooner. Seen and IdleUntil never move back.
	TouchSession(ctx context.Context, idHash string, at time.Time, idle time.Duration) (s Session, ok bool, err error)
	// DeleteSession ends the session stored under idHash (a sign-out) for every process
	// sharing the state; a missing session is not an error.
	DeleteSession(ctx context.Context, idHash string) error
	// PruneSessions deletes the sessions no longer live at at and returns how many.
	PruneSessions(ctx context.Context, at time.Time) (int64, error)

	// Lock takes the lock named key, waiting until it is free or ctx ends, and returns the
	// function that releases it. It serialises work on one resource across every process
	// sharing the state: the bridge's replicas on PostgreSQL. A SQLite state serves one
	// process, so its locks live in that process.
	Lock(ctx context.Context, key string) (unlock func(), err error)
	// Lead reports whether this handle leads the task called name, taking the lead when no
	// other handle sharing the state has it. The lead is kept until Close or until the
	// handle's connection is lost (a killed replica's lead passes on at once); leaders call
	// Lead before each turn of the task, and stop when it says false.
	Lead(ctx context.Context, name string) (bool, error)

	// Publish records a change the other processes sharing the state must apply to what they
	// hold in memory (an index write, a switch), and wakes them through Changed. It returns
	// the change's sequence number: changes are numbered in the order they were published.
	Publish(ctx context.Context, c Change) (seq int64, err error)
	// Changes returns at most limit changes published after seq after, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// LastChange returns the sequence number of the newest change, 0 when there is none.
	LastChange(ctx context.Context) (int64, error)
	// PruneChanges deletes the changes published before before and returns how many.
	PruneChanges(ctx context.Context, before time.Time) (int64, error)
	// Changed returns a channel that receives when changes may have been published by another
	// process, or may have been missed (after a lost connection): the receiver then reads
	// Changes. Wake-ups are coalesced; there is one receiver per handle. A SQLite state has no
	// other process, and its channel never receives.
	Changed() <-chan struct{}

	// Heartbeat records that the replica called id is alive, and returns how many replicas
	// (this one included) sent a heartbeat within ttl.
	Heartbeat(ctx context.Context, id string, ttl time.Duration) (live int, err error)
	// Leave forgets replica id at once, on a clean stop, so the others need not wait out its
	// heartbeat.
	Leave(ctx context.Context, id string) error

	// TakeSlot reserves, in the request budget called name, the next free send time: the
	// later of now and every (rounded up to a whole microsecond) after the last time handed
	// out, so that no two times anyone sharing the state is given lie closer than every, in
	// the order callers ask. The slot is reserved only when it comes within within from now;
	// otherwise Taken is false, nothing changes, and At and Wait say when the next free one
	// is. The replicas' Domo clients take a slot before every request, so that together they
	// stay under the tenant's limit however their traffic is spread.
	TakeSlot(ctx context.Context, name string, every, within time.Duration) (Slot, error)
	// HoldSlots moves the next send time of budget name to at least d from now (Domo said
	// the budget is spent): no one sharing the state is given a slot before then.
	HoldSlots(ctx context.Context, name string, d time.Duration) error

	// Shared reports whether other processes may share this state (PostgreSQL), so that the
	// bridge coordinates with them.
	Shared() bool

	// Ping reports whether the state can still be read.
	Ping(ctx context.Context) error
	// Describe names the state for logs and status pages, never with a password.
	Describe() string
	Close() error
}

// Change is one published change (see Store.Publish). Data is opaque to the store.
type Change struct {
	Seq    int64     // assigned by Publish
	Time   time.Time // assigned by Publish
	Origin string    // who published it, so that it can skip its own changes
	Kind   string    // what changed, e.g. "user.put"
	Key    string    // which resource, e.g. a Domo id
	Data   []byte
}

// Slot is a send time TakeSlot handed out, or the next free one when Taken is false.
type Slot struct {
	Taken bool
	At    time.Time     // by the state's clock (PostgreSQL's: the server's)
	Wait  time.Duration // from now until At, by that clock; 0 when At has come
}

var _ Store = (*SQLite)(nil)

// Open opens the state that state names: a SQLite file path (the embedded default), or a
// postgres:// (postgresql://) URL for several replicas sharing one state.
func Open(ctx context.Context, state string) (Store, error) {
	if IsPostgres(state) {
		return OpenPostgres(ctx, state)
	}
	return OpenSQLite(ctx, state)
}

// Describe names a state for logs and messages, without the password a PostgreSQL URL may
// hold.
func Describe(state string) string {
	if IsPostgres(state) {
		return redactURL(normaliseScheme(strings.TrimSpace(state)))
	}
	return state
}

// IsPostgres reports whether state names a PostgreSQL database rather than a file.
func IsPostgres(state string) bool {
	s := strings.ToLower(strings.TrimSpace(state))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}
