package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicas coordinate through PostgreSQL in four ways:
//   - locks and leads are session-level advisory locks, all taken on one connection of the
//     handle's own (the session): the server releases them the moment that connection ends,
//     so a replica killed with -9 holds nothing a second later;
//   - changes are rows of the changes table, numbered in commit order, announced with NOTIFY
//     on a second connection of the handle's own (the listener), which also brings the
//     unlock announcements that wake lock waiters;
//   - heartbeats are rows of the replicas table, timed by the server's clock;
//   - the Domo budgets they share are rows of the budgets table, each the next free send time
//     by the server's clock, taken one slot per request (TakeSlot).
const (
	pgChangeChannel = "scimbridge_change"
	pgUnlockChannel = "scimbridge_unlock"

	// pgSessionTimeout bounds one statement on the session. The session is shared by every
	// lock of the handle, so a request's context must never cut a statement short there:
	// pgx closes a connection whose statement is cancelled, and with it every lock it holds.
	pgSessionTimeout = 5 * time.Second

	// Lock polls at most this rarely while waiting, in case an unlock announcement is lost.
	pgLockPollMax = 250 * time.Millisecond
)

// lockKey maps a lock name to an advisory lock key. Two names that collide only serialise
// more than they need to.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("scimbridge:" + name))
	return int64(h.Sum64())
}

// pgSession is the connection that holds the handle's advisory locks.
type pgSession struct {
	cfg *pgx.ConnConfig

	mu     sync.Mutex
	conn   *pgx.Conn
	gen    uint64            // counts connections: a lock taken on an earlier one is gone
	leads  map[string]uint64 // lead name -> gen of the connection that holds it
	closed bool
}

// use runs fn on the session, connecting first when needed. A connection found broken is
// replaced and fn run once more, so a server restart costs the caller nothing once the server
// is back. It returns the gen of the connection fn ran on.
func (p *pgSession) use(fn func(ctx context.Context, c *pgx.Conn) error) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 0; ; attempt++ {
		stale := p.conn != nil
		if err := p.connect(); err != nil {
			return 0, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), pgSessionTimeout)
		err := fn(ctx, p.conn)
		cancel()
		if err != nil && p.conn.IsClosed() {
			p.conn = nil
			if stale && attempt == 0 {
				continue
			}
		}
		return p.gen, err
	}
}

func (p *pgSession) connect() error {
	if p.closed {
		return errors.New("store is closed")
	}
	if p.conn != nil && !p.conn.IsClosed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgSessionTimeout)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, p.cfg.Copy())
	if err != nil {
		return err
	}
	p.conn = c
	p.gen++
	return nil
}

func (p *pgSession) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p.conn.Close(ctx)
		cancel()
		p.conn = nil
	}
}

// wakers are the lock waiters of a handle, by lock key, and the Changed channel.
type wakers struct {
	mu      sync.Mutex
	waiting map[int64][]chan struct{}
	changed chan struct{}
}

func (w *wakers) watch(key int64) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[int64][]chan struct{}{}
	}
	w.waiting[key] = append(w.waiting[key], ch)
	w.mu.Unlock()
	return ch
}

func (w *wakers) unwatch(key int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.waiting[key]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.waiting, key)
	} else {
		w.waiting[key] = list
	}
}

// wake wakes the waiters of key; all of them when all is set (announcements may have been
// missed).
func (w *wakers) wake(key int64, all bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, list := range w.waiting {
		if all || k == key {
			for _, c := range list {
				close(c)
			}
			delete(w.waiting, k)
		}
	}
}

func (w *wakers) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// listen keeps the listener connection until ctx ends, reconnecting after a failure; every
// (re)connection wakes everyone, since announcements made meanwhile were missed.
func (s *Postgres) listen(ctx context.Context) {
	defer close(s.listenDone)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.connCfg.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+pgChangeChannel+"; LISTEN "+pgUnlockChannel); err != nil {
				conn.Close(context.Background())
			}
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		s.wake.signal()
		s.wake.wake(0, true)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			switch n.Channel {
			case pgChangeChannel:
				if _, own := s.origins.Load(n.Payload); !own {
					s.wake.signal()
				}
			case pgUnlockChannel:
				if k, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
					s.wake.wake(k, false)
				}
			}
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
		if ctx.Err() == nil {
			// The server went away (a restart, a failover): every pooled connection is dead
			// too. Dropping them now saves the requests after its return from meeting them.
			s.pool.Reset()
		}
		s.wake.signal()
		s.wake.wake(0, true)
	}
}

// Lock takes the lock named key for every replica: first in this process, so that one
// connection waits per key, then as an advisory lock on the handle's session.
func (s *Postgres) Lock(ctx context.Context, key string) (func(), error) {
	unlockLocal, err := s.locks.lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("store: lock %q: %w", key, err)
	}
	k := lockKey(key)
	poll := 5 * time.Millisecond
	for {
		woken := s.wake.watch(k) // before trying, so an unlock in between is not missed
		var got bool
		gen, err := s.session.use(func(ctx context.Context, c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&got)
		})
		if err != nil || got {
			s.wake.unwatch(k, woken)
		}
		if err != nil {
			unlockLocal()
			return nil, fmt.Errorf("store: lock %q: %w", key, pgFail(err))
		}
		if got {
			var once sync.Once
			return func() {
				once.Do(func() {
					s.unlock(k, gen)
					unlockLocal()
				})
			}, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-woken:
		case <-t.C:
			s.wake.unwatch(k, woken)
			poll = min(2*poll, pgLockPollMax)
		case <-ctx.Done():
			t.Stop()
			s.wake.unwatch(k, woken)
			unlockLocal()
			return nil, fmt.Errorf("store: lock %q: %w", key, ctx.Err())
		}
		t.Stop()
	}
}

// unlock releases advisory lock k taken on the session's connection gen, and announces it.
// A lock of a connection that has ended was released by the server with it.
func (s *Postgres) unlock(k int64, gen uint64) {
	p := &s.session
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.conn.IsClosed() || p.gen != gen {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgSessionTimeout)
	defer cancel()
	if _, err := p.conn.Exec(ctx, `SELECT pg_advisory_unlock($1), pg_notify($2, $3)`, k, pgUnlockChannel, strconv.FormatInt(k, 10)); err != nil && p.conn.IsClosed() {
		p.conn = nil
	}
}

// Lead takes or confirms the lead called name on the handle's session.
func (s *Postgres) Lead(_ context.Context, name string) (bool, error) {
	k := lockKey("lead:" + name)
	var held bool
	_, err := s.session.use(func(ctx context.Context, c *pgx.Conn) error {
		p := &s.session
		if p.leads == nil {
			p.leads = map[string]uint64{}
		}
		if p.leads[name] == p.gen {
			// Held on this connection: confirm the connection is still there.
			_, err := c.Exec(ctx, `SELECT 1`)
			held = err == nil
			return err
		}
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&held); err != nil {
			return err
		}
		if held {
			p.leads[name] = p.gen
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: lead %q: %w", name, pgFail(err))
	}
	return held, nil
}

// Publish records c in the changes table. One statement takes a transaction-level advisory
// lock before the row draws its number, so numbers are drawn in commit order and a reader
// that has seen number n has seen every change before it. NOTIFY is sent at commit.
func (s *Postgres) Publish(ctx context.Context, c Change) (int64, error) {
	if c.Kind == "" {
		return 0, fmt.Errorf("store: publish: empty kind")
	}
	if c.Data == nil {
		c.Data = []byte{}
	}
	// The announcement names the origin, so that this handle's listener does not wake its
	// own reader for a change it made.
	s.origins.Store(c.Origin, true)
	var seq int64
	err := s.pool.QueryRow(ctx, `WITH l AS (SELECT pg_advisory_xact_lock($1)),
ins AS (INSERT INTO changes (origin, kind, key, data) SELECT $2, $3, $4, $5 FROM l RETURNING seq)
SELECT seq, pg_notify($6, $2)::text FROM ins`, pgLockChanges, c.Origin, c.Kind, c.Key, c.Data, pgChangeChannel).Scan(&seq, nil)
	if err != nil {
		return 0, fmt.Errorf("store: publish %s %s: %w", c.Kind, c.Key, pgFail(err))
	}
	return seq, nil
}

// Changes returns at most limit changes after seq after, oldest first.
func (s *Postgres) Changes(ctx context.Context, after int64, limit int) ([]Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, time, origin, kind, key, data FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read changes after %d: %w", after, pgFail(err))
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.Seq, &c.Time, &c.Origin, &c.Kind, &c.Key, &c.Data); err != nil {
			return nil, fmt.Errorf("store: read changes after %d: %w", after, pgFail(err))
		}
		c.Time = c.Time.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read changes after %d: %w", after, pgFail(err))
	}
	return out, nil
}

// LastChange returns the number of the newest change, 0 when there is none.
func (s *Postgres) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: last change: %w", pgFail(err))
	}
	return seq, nil
}

// PruneChanges deletes the changes published before before.
func (s *Postgres) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM changes WHERE time < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: prune changes: %w", pgFail(err))
	}
	return tag.RowsAffected(), nil
}

// Changed receives when another process may have published changes.
func (s *Postgres) Changed() <-chan struct{} { return s.wake.changed }

// Heartbeat records replica id as alive now, by the server's clock, and counts the replicas
// seen within ttl. Replicas gone for long are forgotten on the way.
func (s *Postgres) Heartbeat(ctx context.Context, id string, ttl time.Duration) (int, error) {
	if id == "" || ttl <= 0 {
		return 0, fmt.Errorf("store: heartbeat: empty id or ttl")
	}
	var others int
	err := s.pool.QueryRow(ctx, `WITH up AS (
	INSERT INTO replicas (id, seen) VALUES ($1, now()) ON CONFLICT (id) DO UPDATE SET seen = now()
), gone AS (
	DELETE FROM replicas WHERE seen < now() - interval '1 hour' AND id <> $1
)
SELECT count(*) FROM replicas WHERE seen >= now() - $2::interval AND id <> $1`, id, ttl).Scan(&others)
	if err != nil {
		return 0, fmt.Errorf("store: heartbeat %q: %w", id, pgFail(err))
	}
	return others + 1, nil // the statement does not see its own insert
}

// Leave forgets replica id.
func (s *Postgres) Leave(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM replicas WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: leave %q: %w", id, pgFail(err))
	}
	return nil
}

// TakeSlot reserves the next free send time of budget name in one statement: the row's lock
// orders the replicas that ask at once, and each moves the time on by every. Times are the
// server's, and so is the wait, so that replicas' clocks need not agree. A refused slot
// changes nothing (the INSERT's DO UPDATE is skipped) and reads the row as it stands.
func (s *Postgres) TakeSlot(ctx context.Context, name string, every, within time.Duration) (Slot, error) {
	if err := checkSlotArgs(name, every); err != nil {
		return Slot{}, err
	}
	for attempt := 0; ; attempt++ {
		sl, err := s.takeSlot(ctx, name, every, within)
		// A refused slot reads the row in the statement's snapshot, which misses a row
		// another replica inserted meanwhile (the budget's first use): ask again.
		if errors.Is(err, pgx.ErrNoRows) && attempt == 0 {
			continue
		}
		if err != nil {
			return Slot{}, fmt.Errorf("store: take a slot of budget %q: %w", name, pgFail(err))
		}
		return sl, nil
	}
}

func (s *Postgres) takeSlot(ctx context.Context, name string, every, within time.Duration) (Slot, error) {
	var sl Slot
	var now time.Time
	err := s.pool.QueryRow(ctx, `WITH took AS (
	INSERT INTO budgets AS b (name, next) VALUES ($1, clock_timestamp() + $2::interval)
	ON CONFLICT (name) DO UPDATE SET next = greatest(b.next, clock_timestamp()) + $2::interval
		WHERE b.next <= clock_timestamp() + $3::interval
	RETURNING b.next - $2::interval AS at
)
SELECT true, at, clock_timestamp() FROM took
UNION ALL
SELECT false, greatest(next, clock_timestamp()), clock_timestamp() FROM budgets
	WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM took)`, name, slotEvery(every), max(within, 0)).Scan(&sl.Taken, &sl.At, &now)
	if err != nil {
		return Slot{}, err
	}
	sl.Wait = max(sl.At.Sub(now), 0)
	return sl, nil
}

// HoldSlots moves budget name's next free send time to at least d from now, by the server's
// clock.
func (s *Postgres) HoldSlots(ctx context.Context, name string, d time.Duration) error {
	if err := checkSlotArgs(name, time.Microsecond); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO budgets AS b (name, next) VALUES ($1, clock_timestamp() + $2::interval)
ON CONFLICT (name) DO UPDATE SET next = greatest(b.next, excluded.next)`, name, max(d, 0)); err != nil {
		return fmt.Errorf("store: hold budget %q: %w", name, pgFail(err))
	}
	return nil
}

// Shared is true: replicas share a PostgreSQL state.
func (s *Postgres) Shared() bool { return true }
