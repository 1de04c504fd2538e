package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is one signed-in browser of the status page, as the state keeps it, so that every
// replica sharing the state knows it and a restart keeps it. The session id itself, the secret
// the browser's cookie holds, is never stored: only a hash of it, so a copy of the state signs
// no one in. The store interprets only the times; the rest is opaque to it.
type Session struct {
	IDHash  string // the hash of the session id (the key; how it is hashed is the caller's)
	Name    string // the name of the token it signed in with
	Role    string // that token's role
	Binding string // ties the session to that token, so it ends when the token is replaced
	Created time.Time
	Seen    time.Time // the last activity; zero on CreateSession means Created
	// IdleUntil is when the session ends unless it is active again; Expires is when it ends
	// whatever happens. A session is live at t while t is before both.
	IdleUntil time.Time
	Expires   time.Time
}

// sessionColumns are the columns of the sessions table, in the order scanSession reads them.
const sessionColumns = `id_hash, name, role, binding, created, seen, idle_until, expires`

// sessionRow is a session's times rendered for storage, checked on the way.
type sessionRow struct {
	created, seen, idleUntil, expires string
}

func (se *Session) row() (sessionRow, error) {
	if se.IDHash == "" || se.Role == "" {
		return sessionRow{}, errors.New("empty id hash or role")
	}
	if se.Seen.IsZero() {
		se.Seen = se.Created
	}
	if !se.Expires.After(se.Created) || !se.IdleUntil.After(se.Created) {
		return sessionRow{}, errors.New("a session must end after it is created")
	}
	var r sessionRow
	var err error
	for _, f := range []struct {
		dst *string
		t   time.Time
	}{{&r.created, se.Created}, {&r.seen, se.Seen}, {&r.idleUntil, se.IdleUntil}, {&r.expires, se.Expires}} {
		if *f.dst, err = formatTime(f.t); err != nil {
			return sessionRow{}, err
		}
	}
	return r, nil
}

// scanSession reads one row of sessionColumns.
func scanSession(scan func(...any) error) (Session, error) {
	var se Session
	var created, seen, idle, expires string
	if err := scan(&se.IDHash, &se.Name, &se.Role, &se.Binding, &created, &seen, &idle, &expires); err != nil {
		return Session{}, err
	}
	var err error
	for _, f := range []struct {
		dst *time.Time
		s   string
	}{{&se.Created, created}, {&se.Seen, seen}, {&se.IdleUntil, idle}, {&se.Expires, expires}} {
		if *f.dst, err = parseTime(f.s); err != nil {
			return Session{}, err
		}
	}
	return se, nil
}

// The statements both stores share: times are the same fixed-width text in both, so "live at
// t" is a text comparison. A touch never moves Seen or IdleUntil back, so two replicas touching
// one session out of order keep the later activity.
const (
	sqlPruneSessions = `DELETE FROM sessions WHERE expires <= ? OR idle_until <= ?`
	sqlEvictSessions = `DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions ORDER BY created, id_hash LIMIT ?)`
	sqlInsertSession = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	sqlGetSession    = `SELECT ` + sessionColumns + ` FROM sessions WHERE id_hash = ? AND expires > ? AND idle_until > ?`
	sqlTouchSession  = `UPDATE sessions SET
	seen = CASE WHEN seen < ? THEN ? ELSE seen END,
	idle_until = CASE WHEN idle_until < ? THEN ? ELSE idle_until END
WHERE id_hash = ? AND expires > ? AND idle_until > ?
RETURNING ` + sessionColumns
	sqlDeleteSession = `DELETE FROM sessions WHERE id_hash = ?`
)

// CreateSession stores se, first deleting the sessions no longer live at se.Created and, when
// max live ones are left, the oldest of them. The single write connection serialises creators.
func (s *SQLite) CreateSession(ctx context.Context, se Session, max int) (evicted int, err error) {
	if max <= 0 {
		return 0, errors.New("store: create session: max must be positive")
	}
	r, err := se.row()
	if err != nil {
		return 0, fmt.Errorf("store: create session: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: create session: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	if _, err = tx.ExecContext(ctx, sqlPruneSessions, r.created, r.created); err != nil {
		return 0, fmt.Errorf("store: create session: prune: %w", err)
	}
	var n int
	if err = tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: create session: count: %w", err)
	}
	if n >= max {
		evicted = n - max + 1
		if _, err = tx.ExecContext(ctx, sqlEvictSessions, evicted); err != nil {
			return 0, fmt.Errorf("store: create session: evict: %w", err)
		}
	}
	if _, err = tx.ExecContext(ctx, sqlInsertSession, se.IDHash, se.Name, se.Role, se.Binding, r.created, r.seen, r.idleUntil, r.expires); err != nil {
		return 0, fmt.Errorf("store: create session: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: create session: commit: %w", err)
	}
	return evicted, nil
}

// Session returns the session under idHash if it is live at at.
func (s *SQLite) Session(ctx context.Context, idHash string, at time.Time) (Session, bool, error) {
	t := boundTime(at)
	se, err := scanSession(s.r.QueryRowContext(ctx, sqlGetSession, idHash, t, t).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: get session: %w", err)
	}
	return se, true, nil
}

// TouchSession returns the session under idHash if it is live at at, and records activity at
// at: it stays live until at+idle (or its Expires).
func (s *SQLite) TouchSession(ctx context.Context, idHash string, at time.Time, idle time.Duration) (Session, bool, error) {
	if idle <= 0 {
		return Session{}, false, errors.New("store: touch session: idle must be positive")
	}
	t, until := boundTime(at), boundTime(at.Add(idle))
	se, err := scanSession(s.w.QueryRowContext(ctx, sqlTouchSession, t, t, until, until, idHash, t, t).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("store: touch session: %w", err)
	}
	return se, true, nil
}

// DeleteSession removes the session under idHash; a missing one is not an error.
func (s *SQLite) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, sqlDeleteSession, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes the sessions no longer live at at.
func (s *SQLite) PruneSessions(ctx context.Context, at time.Time) (int64, error) {
	t := boundTime(at)
	res, err := s.w.ExecContext(ctx, sqlPruneSessions, t, t)
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", err)
	}
	return n, nil
}
