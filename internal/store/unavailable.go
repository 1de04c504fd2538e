package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnavailable marks a failure to reach the state database (PostgreSQL restarting, the
// network down, too many connections): nothing is wrong with the request, and it may succeed
// later. Test with errors.Is.
var ErrUnavailable = errors.New("state database unavailable")

// unavailableRetry is what a client is told to wait when the state database is unreachable:
// about as long as a PostgreSQL restart or a managed failover's first seconds.
const unavailableRetry = 10 * time.Second

// unavailableError wraps a failure to reach the state database. Besides errors.Is
// ErrUnavailable, it tells packages that do not import store (SCIM's error funnel) to answer
// 503 with Retry-After rather than 500.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.err, ErrUnavailable} }

// Unavailable says what to tell a client, and when to come back.
func (e *unavailableError) Unavailable() (detail string, retryAfter time.Duration) {
	return "the bridge's state database is unavailable; retry later", unavailableRetry
}

// pgFail marks err, returned by a PostgreSQL call, as ErrUnavailable when it means the server
// could not be reached or is shutting down, rather than that the statement failed.
func pgFail(err error) error {
	if err == nil || !pgUnreachable(err) {
		return err
	}
	return &unavailableError{err: err}
}

func pgUnreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up; its own error says so
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources: too many connections, disk full
			strings.HasPrefix(pe.Code, "57"),                           // operator intervention: shutdown, cannot connect now
			strings.HasPrefix(pe.Code, "58"),                           // system error
			pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03": // serialization, deadlock, lock timeout
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "closed pool")
}
