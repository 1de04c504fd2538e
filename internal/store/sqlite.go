package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

const (
	// busyTimeoutMS bounds how long a connection waits for a lock held by another connection
	// (a WAL checkpoint, or a second process on the same file) before SQLITE_BUSY.
	busyTimeoutMS = 10000

	// walSizeLimit is the size SQLite truncates the WAL file back to after a checkpoint, so
	// one burst of writes (a large audit prune) does not leave a large file behind for good.
	walSizeLimit = 64 << 20

	// minReaders is the smallest read pool; reads run concurrently under WAL, so the pool
	// grows with the CPUs available.
	minReaders = 4
)

// SQLite is the Store in one SQLite file, the embedded default. It is safe for concurrent use:
// writes go through a single connection, so writers queue in Go rather than fail with
// SQLITE_BUSY, and reads use a separate pool that runs concurrently with the writer (WAL).
type SQLite struct {
	path   string
	w      *sql.DB // exactly one connection; every write goes here
	r      *sql.DB // read-only pool
	users  shadowTable
	groups shadowTable
	locks  keyedMutex
	// budgets are TakeSlot's, in the process: like its locks, a SQLite state's budgets serve
	// one process.
	budgets memBudgets

	pruneBatch int // audit rows per prune statement; a field so tests can cross batches cheaply
}

// OpenSQLite opens the state database at path, creating the file if it is missing (its
// directory must exist), and brings its schema up to date. It refuses a file that is not a
// scimbridge database or whose schema is newer than this build knows.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	abs, err := checkPath(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	s := &SQLite{
		path:   path,
		users:  newShadowTable("user", "users"),
		groups: newShadowTable("group", "groups"),

		pruneBatch: defaultPruneBatch,
	}

	// _txlock=immediate makes BEGIN take the write lock at once, so two processes migrating
	// the same file serialise instead of one failing halfway with SQLITE_BUSY.
	s.w, err = sql.Open("sqlite", dsn(abs,
		"_busy_timeout="+fmt.Sprint(busyTimeoutMS),
		"_journal_mode=WAL",
		"_synchronous=NORMAL",
		"_foreign_keys=1",
		"_txlock=immediate",
		"_pragma=journal_size_limit("+fmt.Sprint(walSizeLimit)+")",
	))
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	if err := migrateWhenFree(ctx, s.w); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}

	// The read pool is opened only after the writer has switched the file to WAL, and is
	// query_only so a slip in this package cannot write outside the single write connection.
	s.r, err = sql.Open("sqlite", dsn(abs,
		"_busy_timeout="+fmt.Sprint(busyTimeoutMS),
		"_foreign_keys=1",
		"_query_only=1",
	))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	readers := max(minReaders, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)

	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	return s, nil
}

// migrateWhenFree migrates, waiting out SQLITE_BUSY. The busy timeout covers most contention,
// but SQLite answers BUSY at once, without its busy handler, while another connection is
// switching a new file to WAL or recovering its WAL; two processes starting on one file can
// meet that. Such a BEGIN changed nothing, so it is tried again, for up to the busy timeout.
func migrateWhenFree(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := migrate(ctx, db)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY, in any of its extended forms.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5 // SQLITE_BUSY
}

// checkPath turns path into an absolute file path and explains the usual mistakes before
// SQLite reports them as a bare "unable to open database file".
func checkPath(path string) (string, error) {
	if strings.TrimSpace(path) == "" {
		return "", errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(abs)
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("directory %q does not exist", dir)
		}
		return "", err
	} else if !fi.IsDir() {
		return "", fmt.Errorf("%q is not a directory", dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", errors.New("is a directory, not a database file")
	}
	return abs, nil
}

// dsn builds a SQLite URI for an absolute path. The URI form, with the path escaped, keeps
// names such as ":memory:" or ones holding '?' or '#' meaning the literal file.
func dsn(abs string, params ...string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letters: file:///C:/...
	}
	return "file://" + (&url.URL{Path: p}).EscapedPath() + "?" + strings.Join(params, "&")
}

// Close closes the database. The read pool closes first so the write connection is the last
// one open, and it checkpoints the WAL into the main file.
func (s *SQLite) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %q: %w", s.path, err)
	}
	return nil
}

// Path returns the database file path as given to Open.
func (s *SQLite) Path() string { return s.path }

// Describe names the state for logs and status pages: the file path.
func (s *SQLite) Describe() string { return s.path }

// Ping reports whether the database file can still be read.
func (s *SQLite) Ping(ctx context.Context) error {
	var n int
	// Reading the schema touches the file, unlike a bare connection check.
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		return fmt.Errorf("store: ping %q: %w", s.path, err)
	}
	return nil
}
