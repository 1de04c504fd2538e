package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgLockSessions serialises the replicas' CreateSession, so that between them they never keep
// more than max sessions.
const pgLockSessions int64 = 0x5343494D_00000004

// dollar numbers the ? placeholders of a statement shared with SQLite as $1, $2... in order.
func dollar(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CreateSession stores se, first deleting the sessions no longer live at se.Created and, when
// max live ones are left, the oldest of them. One transaction under an advisory lock
// serialises the creators of every replica.
func (s *Postgres) CreateSession(ctx context.Context, se Session, max int) (evicted int, err error) {
	if max <= 0 {
		return 0, errors.New("store: create session: max must be positive")
	}
	r, err := se.row()
	if err != nil {
		return 0, fmt.Errorf("store: create session: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: create session: %w", pgFail(err))
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignorePGDone(tx.Rollback(context.WithoutCancel(ctx))))
		}
	}()
	if _, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgLockSessions); err != nil {
		return 0, fmt.Errorf("store: create session: lock: %w", pgFail(err))
	}
	if _, err = tx.Exec(ctx, dollar(sqlPruneSessions), r.created, r.created); err != nil {
		return 0, fmt.Errorf("store: create session: prune: %w", pgFail(err))
	}
	var n int
	if err = tx.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: create session: count: %w", pgFail(err))
	}
	if n >= max {
		evicted = n - max + 1
		if _, err = tx.Exec(ctx, dollar(sqlEvictSessions), evicted); err != nil {
			return 0, fmt.Errorf("store: create session: evict: %w", pgFail(err))
		}
	}
	if _, err = tx.Exec(ctx, dollar(sqlInsertSession), se.IDHash, se.Name, se.Role, se.Binding, r.created, r.seen, r.idleUntil, r.expires); err != nil {
		return 0, fmt.Errorf("store: create session: %w", pgFail(err))
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("store: create session: commit: %w", pgFail(err))
	}
	return evicted, nil
}

// Session returns the session under idHash if it is live at at.
func (s *Postgres) Session(ctx context.Context, idHash string, at time.Time) (Session, bool, error) {
	t := boundTime(at)
	se, err := scanSession(s.pool.QueryRow(ctx, dollar(sqlGetSession), idHash, t, t).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: get session: %w", pgFail(err))
	}
	return se, true, nil
}

// TouchSession returns the session under idHash if it is live at at, and records activity at
// at: it stays live until at+idle (or its Expires).
func (s *Postgres) TouchSession(ctx context.Context, idHash string, at time.Time, idle time.Duration) (Session, bool, error) {
	if idle <= 0 {
		return Session{}, false, errors.New("store: touch session: idle must be positive")
	}
	t, until := boundTime(at), boundTime(at.Add(idle))
	se, err := scanSession(s.pool.QueryRow(ctx, dollar(sqlTouchSession), t, t, until, until, idHash, t, t).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: touch session: %w", pgFail(err))
	}
	return se, true, nil
}

// DeleteSession removes the session under idHash; a missing one is not an error.
func (s *Postgres) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.pool.Exec(ctx, dollar(sqlDeleteSession), idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", pgFail(err))
	}
	return nil
}

// PruneSessions deletes the sessions no longer live at at.
func (s *Postgres) PruneSessions(ctx context.Context, at time.Time) (int64, error) {
	t := boundTime(at)
	tag, err := s.pool.Exec(ctx, dollar(sqlPruneSessions), t, t)
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", pgFail(err))
	}
	return tag.RowsAffected(), nil
}
