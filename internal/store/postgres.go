package store

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// pgDefaultMaxConns is the pool size when the URL sets no pool_max_conns: enough for the
	// bridge's concurrent requests, each of which holds a connection only per statement.
	pgDefaultMaxConns = 16

	// pgConnectTimeout bounds a connection attempt when the URL sets no connect_timeout, so
	// an unreachable server fails a request in seconds rather than at its deadline.
	pgConnectTimeout = 5 * time.Second
)

// Postgres is the Store in a PostgreSQL database, shared by several replicas of the bridge.
// It is safe for concurrent use. The database (more exactly: the first schema of the
// connection's search_path) belongs to scimbridge: it holds only scimbridge's tables.
type Postgres struct {
	pool *pgxpool.Pool
	desc string // the URL without its password
	// users and groups are the statements of the two shadow tables.
	users, groups shadowTable

	connCfg    *pgx.ConnConfig // for the session and the listener, which live outside the pool
	locks      keyedMutex      // the in-process half of Lock
	session    pgSession       // holds the advisory locks
	wake       wakers
	origins    sync.Map // the origins this handle published changes as
	stopListen context.CancelFunc
	listenDone chan struct{}
	closeOnce  sync.Once

	pruneBatch int // audit rows per prune statement; a field so tests can cross batches cheaply
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database that rawURL (postgres:// or postgresql://) names and
// brings its schema up to date; replicas starting together migrate it once. It refuses a
// database holding other tables than scimbridge's, or whose schema is newer than this build.
//
// Besides libpq's parameters (sslmode, connect_timeout, search_path...) the URL accepts
// pgxpool's, such as pool_max_conns.
func OpenPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	rawURL = normaliseScheme(strings.TrimSpace(rawURL))
	s := &Postgres{
		desc:   redactURL(rawURL),
		users:  newPGShadowTable("user", "users"),
		groups: newPGShadowTable("group", "groups"),

		pruneBatch: defaultPruneBatch,
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's message quotes the URL; its redaction is best effort, so it is not repeated.
		return nil, fmt.Errorf("store: open %s: not a valid PostgreSQL URL (postgres://user:password@host:port/database?sslmode=...)", s.desc)
	}
	q := queryOf(rawURL)
	if !q.Has("pool_max_conns") {
		cfg.MaxConns = pgDefaultMaxConns
	}
	if !q.Has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "scimbridge"
	}
	// A connection that was open across a server restart is dead; check an idle one before
	// handing it out rather than fail the request that draws it.
	cfg.HealthCheckPeriod = 5 * time.Second
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", s.desc, pgFail(err))
	}
	if err := migratePostgres(ctx, s.pool, pgMigrations()); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store: open %s: %w", s.desc, pgFail(err))
	}
	s.connCfg = cfg.ConnConfig
	s.session.cfg = cfg.ConnConfig
	s.wake.changed = make(chan struct{}, 1)
	lctx, stop := context.WithCancel(context.Background())
	s.stopListen, s.listenDone = stop, make(chan struct{})
	go s.listen(lctx)
	return s, nil
}

// normaliseScheme lower-cases the URL's scheme, which pgx recognises only in lower case.
func normaliseScheme(u string) string {
	for _, p := range []string{"postgresql://", "postgres://"} {
		if len(u) >= len(p) && strings.EqualFold(u[:len(p)], p) {
			return p + u[len(p):]
		}
	}
	return u
}

func queryOf(rawURL string) url.Values {
	u, err := url.Parse(rawURL)
	if err != nil {
		return url.Values{}
	}
	return u.Query()
}

// redactURL renders a PostgreSQL URL for logs and status pages: without the password, in the
// user part or as a parameter. A URL that does not parse is not shown at all, since where
// its password is cannot be told.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "postgres://(unparsable URL)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.Contains(strings.ToLower(k), "sslpassword") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Describe names the state for logs and status pages: the URL without its password.
func (s *Postgres) Describe() string { return s.desc }

// Ping reports whether scimbridge's tables can still be read.
func (s *Postgres) Ping(ctx context.Context) error {
	var v int
	// A query on a table of ours, not just a connection check: a restored or replaced
	// database without the schema is not a working state.
	if err := s.pool.QueryRow(ctx, `SELECT version FROM scimbridge_schema`).Scan(&v); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.desc, pgFail(err))
	}
	return nil
}

// Close closes every connection, which releases the handle's locks and leads. Calls after
// Close fail; a second Close does nothing.
func (s *Postgres) Close() error {
	s.closeOnce.Do(func() {
		s.stopListen()
		<-s.listenDone
		s.session.close()
		s.pool.Close()
	})
	return nil
}
