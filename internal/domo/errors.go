package domo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind is what a failed Domo call means. It is decided where Domo's answer arises, by the
// operation that got it (kinds.go), and travels with the error: a status found somewhere in
// an error chain never decides it, so a token endpoint's 400 cannot pass for a user's 404.
type Kind uint8

// The kinds of failure. kinds.go says which Domo answers have which kind; the bridge's error
// table says what each means for the IdP.
const (
	// KindOther is an error the client did not classify: not a Domo answer (a cancelled
	// context, a bug).
	KindOther Kind = iota
	// KindNotFound: Domo said the resource the call names does not exist.
	KindNotFound
	// KindConflict: Domo said the email or name is taken.
	KindConflict
	// KindRejected: Domo refused the content of a write.
	KindRejected
	// KindRefused: Domo refused to delete a resource in its present state (a user who owns
	// content, a group Domo will not delete).
	KindRefused
	// KindCredentials: Domo refused the bridge's credentials or token: an operator must act.
	KindCredentials
	// KindRateLimited: Domo's budget is exhausted for longer than the caller may wait.
	KindRateLimited
	// KindUnavailable: Domo kept failing (5xx, timeouts, connection errors) until the retries
	// ran out.
	KindUnavailable
	// KindTimeout: the caller's deadline passed before Domo gave a final answer.
	KindTimeout
	// KindUnknownOutcome: a write that cannot be repeated blindly ended without telling
	// whether it took effect.
	KindUnknownOutcome
	// KindBadAnswer: Domo answered something the client cannot use: a body it cannot decode,
	// or a status no rule expects.
	KindBadAnswer
)

var kindNames = [...]string{"other", "not found", "conflict", "rejected", "refused", "credentials",
	"rate limited", "unavailable", "timeout", "unknown outcome", "bad answer"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Kinds lists every kind, for tables that must cover them all.
func Kinds() []Kind {
	out := make([]Kind, len(kindNames))
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// kinded is implemented by every error that carries its kind.
type kinded interface{ domoKind() Kind }

// KindOf tells what a failure from this package means: the kind of the first classified error
// in err's tree (each layer that wraps an error with a sentinel of its own puts it first). A
// caller's deadline is KindTimeout; anything else unclassified is KindOther.
func KindOf(err error) Kind {
	if err == nil {
		return KindOther
	}
	var k kinded
	if errors.As(err, &k) {
		return k.domoKind()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	return KindOther
}

// sentinel is a classified sentinel error.
type sentinel struct {
	kind Kind
	msg  string
}

func (s *sentinel) Error() string  { return s.msg }
func (s *sentinel) domoKind() Kind { return s.kind }

// Sentinel errors, checked with errors.Is. An error of the matching kind reports true for
// them too.
var (
	// ErrNotFound: the user, group or membership does not exist (404 on its own path), or the
	// user reads back deleted.
	ErrNotFound error = &sentinel{KindNotFound, "domo: not found"}
	// ErrConflict: Domo answered 409, or the client established that the email or name is
	// already taken.
	ErrConflict error = &sentinel{KindConflict, "domo: conflict"}
	// ErrUnavailable: Domo kept failing (5xx, timeouts, connection errors) until the retries or
	// the caller's deadline ran out. The outcome of a write that ends so is unknown.
	ErrUnavailable error = &sentinel{KindUnavailable, "domo: unavailable"}
	// ErrUnauthorized: Domo refused the client's credentials (the token endpoint's 400, 401,
	// 403 or 404), or refused a fresh token (401, 403). This is a configuration problem, not
	// the IdP's.
	ErrUnauthorized error = &sentinel{KindCredentials, "domo: unauthorized"}
	// ErrBadAnswer: Domo answered, but with something the client cannot use.
	ErrBadAnswer error = &sentinel{KindBadAnswer, "domo: unusable answer"}
)

// APIError is an error answer from Domo, decoded from its envelope
// {"status":400,"statusReason":"Bad Request","message":"…","toe":"…"}.
type APIError struct {
	Op      string // the client operation, e.g. "users.create"
	Status  int
	Reason  string
	Message string
	TOE     string // Domo's trace id
	// Kind is what the answer means for Op, decided when it arrived (kinds.go). Zero on an
	// APIError built elsewhere: its kind then follows from Op and Status as for a read.
	Kind Kind
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

func (e *APIError) domoKind() Kind {
	if e.Kind != KindOther {
		return e.Kind
	}
	return classify(e.Op, false, e.Status)
}

// Is reports whether the API error matches a sentinel by its kind.
func (e *APIError) Is(target error) bool {
	s, ok := target.(*sentinel)
	return ok && s.kind == e.domoKind()
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

func (e *RateLimitError) domoKind() Kind { return KindRateLimited }

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

func (e *ConflictError) domoKind() Kind { return KindConflict }

// Is makes a ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap exposes Domo's answer.
func (e *ConflictError) Unwrap() error { return e.Err }
