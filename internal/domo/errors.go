package domo

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors, checked with errors.Is. An *APIError with the matching status reports true
// for them too.
var (
	// ErrNotFound: the user, group or membership does not exist (404), or the user reads back
	// deleted.
	ErrNotFound = errors.New("domo: not found")
	// ErrConflict: Domo answered 409, or the client established that the email or name is
	// already taken.
	ErrConflict = errors.New("domo: conflict")
	// ErrUnavailable: Domo kept failing (5xx, timeouts, connection errors) until the retries or
	// the caller's deadline ran out. The outcome of a write that ends so is unknown.
	ErrUnavailable = errors.New("domo: unavailable")
	// ErrUnauthorized: Domo refused the client's credentials (token endpoint 401/400), or a
	// fresh token was still refused. This is a configuration problem, not the IdP's.
	ErrUnauthorized = errors.New("domo: unauthorized")
)

// APIError is an error answer from Domo, decoded from its envelope
// {"status":400,"statusReason":"Bad Request","message":"…","toe":"…"}.
type APIError struct {
	Op      string // the client operation, e.g. "users.create"
	Status  int
	Reason  string
	Message string
	TOE     string // Domo's trace id
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.TOE != "" {
		return fmt.Sprintf("domo %s: %d %s (toe %s)", e.Op, e.Status, msg, e.TOE)
	}
	return fmt.Sprintf("domo %s: %d %s", e.Op, e.Status, msg)
}

// Is reports whether the API error matches a sentinel by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrUnavailable:
		return e.Status >= 500
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// RateLimitError means Domo's budget is exhausted: Domo answered 429 until the caller's
// deadline, or the client's own pacer would have to wait longer than its configured bound.
type RateLimitError struct {
	Op         string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("domo %s: rate limited, retry after %s", e.Op, e.RetryAfter.Round(time.Second))
}

// RetryAfterDuration tells callers outside this package how long to wait; the scim package
// recognises errors by this method without importing domo.
func (e *RateLimitError) RetryAfterDuration() time.Duration { return e.RetryAfter }

// ConflictError is a create refused because the email already belongs to a Domo user, which
// the client found while checking: callers can index that user without looking it up again.
// It matches ErrConflict.
type ConflictError struct {
	Existing User
	Err      error // Domo's own answer, when it gave one
}

func (e *ConflictError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("email taken by user %d: %v", e.Existing.ID, e.Err)
	}
	return fmt.Sprintf("email taken by user %d", e.Existing.ID)
}

// Is makes a ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap exposes Domo's answer.
func (e *ConflictError) Unwrap() error { return e.Err }
