package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
)

// SCIM error types (RFC 7644 §3.12), re-exported so that callers need not import elimity.
const (
	TypeInvalidFilter = scimerrors.ScimTypeInvalidFilter
	TypeTooMany       = scimerrors.ScimTypeTooMany
	TypeUniqueness    = scimerrors.ScimTypeUniqueness
	TypeMutability    = scimerrors.ScimTypeMutability
	TypeInvalidSyntax = scimerrors.ScimTypeInvalidSyntax
	TypeInvalidPath   = scimerrors.ScimTypeInvalidPath
	TypeNoTarget      = scimerrors.ScimTypeNoTarget
	TypeInvalidValue  = scimerrors.ScimTypeInvalidValue
	TypeInvalidVers   = scimerrors.ScimTypeInvalidVersion
)

// Error is a failure with the meaning the SCIM answer needs. Detail is sent to the client and
// must hold nothing secret; Err is the cause, logged and never sent.
type Error struct {
	Status     int
	Type       scimerrors.ScimType
	Detail     string
	RetryAfter time.Duration // sent as Retry-After on 429 and 503
	Err        error
}

func (e *Error) Error() string {
	s := strconv.Itoa(e.Status)
	if e.Type != "" {
		s += " " + string(e.Type)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted detail.
func Errorf(status int, typ scimerrors.ScimType, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with the given SCIM error type.
func BadRequest(typ scimerrors.ScimType, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, typ, format, args...)
}

// NotFound is the 404 for a resource id.
func NotFound(kind, id string) *Error {
	return Errorf(http.StatusNotFound, "", "%s %q not found", kind, id)
}

// Conflict is the 409 uniqueness error.
func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, TypeUniqueness, format, args...)
}

// Throttled is a 429 asking the client to come back after d.
func Throttled(d time.Duration, cause error) *Error {
	return &Error{Status: http.StatusTooManyRequests, Detail: "Domo's request budget is exhausted; retry later", RetryAfter: d, Err: cause}
}

// Unavailable is a 503: the bridge cannot do the work now (Domo failing, paused, breaker open).
func Unavailable(d time.Duration, detail string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Detail: detail, RetryAfter: d, Err: cause}
}

// retryAfterer is how errors from packages scim does not import (the Domo client) say that the
// client should come back later.
type retryAfterer interface{ RetryAfterDuration() time.Duration }

// unavailabler is how errors from packages scim does not import (the state store) say that
// something the bridge depends on is down for now: 503 with Retry-After, never 500.
type unavailabler interface {
	Unavailable() (detail string, retryAfter time.Duration)
}

// asError turns any error into the *Error the response is built from. It is the single place
// where internal failures become SCIM answers: unknown errors become a 500 whose detail says
// nothing about the cause.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var se scimerrors.ScimError
	if errors.As(err, &se) {
		return &Error{Status: se.Status, Type: se.ScimType, Detail: se.Detail, Err: err}
	}
	var pse *scimerrors.ScimError
	if errors.As(err, &pse) && pse != nil {
		return &Error{Status: pse.Status, Type: pse.ScimType, Detail: pse.Detail, Err: err}
	}
	var ra retryAfterer
	if errors.As(err, &ra) {
		return Throttled(ra.RetryAfterDuration(), err)
	}
	var un unavailabler
	if errors.As(err, &un) {
		detail, retry := un.Unavailable()
		return Unavailable(retry, detail, err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidSyntax,
			Detail: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Status: http.StatusServiceUnavailable, Detail: "request timed out", RetryAfter: 5 * time.Second, Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Detail: "internal error", Err: err}
}
