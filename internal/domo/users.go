package domo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Users lists every non-deleted user: pages of 500 until a short page, de-duplicated by id
// (offsets shift when users are added or deleted during the listing). A listing that runs to
// the end records the user count, which later listings and FindUserByEmail use to plan.
func (c *Client) Users(ctx context.Context) iter.Seq2[User, error] {
	return func(yield func(User, error) bool) {
		seen := make(map[int64]struct{}, max(c.userCount.Load(), 0))
		lastPage := -1
		if est := c.userCount.Load(); est > 0 {
			lastPage = int(est / pageSize)
		}
		stopped := false
		err := c.scanPages(ctx, pageScan{op: "users.list", path: "/v1/users", ahead: c.concurrency, lastPage: lastPage},
			func(body []byte, _ int) (int, bool, error) {
				users, err := decodeUsers(body)
				if err != nil {
					return 0, false, fmt.Errorf("domo users.list: %w: %w", ErrBadAnswer, err)
				}
				added := 0
				for _, u := range users {
					if _, dup := seen[u.ID]; dup || u.ID == 0 || u.Deleted {
						continue
					}
					seen[u.ID] = struct{}{}
					added++
					if !yield(u, nil) {
						stopped = true
						return len(users), false, nil
					}
				}
				// A full page of users already seen means Domo ignores the offset: stop
				// rather than page until the deadline.
				return len(users), added > 0 || len(users) < pageSize, nil
			})
		if err != nil {
			yield(User{}, fmt.Errorf("list users: %w", err))
			return
		}
		if !stopped {
			c.userCount.Store(int64(len(seen)))
		}
	}
}

// GetUser reads one user. A user that reads back deleted:true is reported as ErrNotFound, and
// so is Domo's 400 for an id it does not know (observed on some tenants instead of 404; see
// answerRules): only users.get's own answers, never the token endpoint's.
func (c *Client) GetUser(ctx context.Context, id int64) (User, error) {
	if id <= 0 {
		return User{}, fmt.Errorf("get user %d: %w", id, ErrNotFound)
	}
	res, err := c.do(ctx, call{op: "users.get", method: "GET", path: "/v1/users/" + strconv.FormatInt(id, 10), idempotent: true})
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	u, err := decodeUser(res.body)
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w: %w", id, ErrBadAnswer, err)
	}
	if u.Deleted {
		return User{}, fmt.Errorf("get user %d: deleted: %w", id, ErrNotFound)
	}
	if u.ID == 0 {
		u.ID = id
	}
	return u, nil
}

// validateUser catches what Domo would answer 400 for, without spending a request on it (and
// without the email lookup a 400 on create costs).
func validateUser(op string, u User) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{FieldName, u.Name}, {FieldEmail, u.Email}, {FieldRole, u.Role}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return &APIError{Op: op, Status: http.StatusBadRequest, Reason: "Bad Request", Message: strings.Join(missing, ", ") + " required (not sent)", Kind: KindRejected}
	}
	return nil
}

// recentCreateSlack is how much older than the first attempt a user found after an unknown
// create may be and still count as that create's result (clock differences).
const recentCreateSlack = 10 * time.Minute

// CreateUser creates a user, always sending sendInvite explicitly. A create is never blindly
// retried: after an unknown outcome (5xx, timeout, broken connection) the email is looked up
// first, and an existing user is returned instead of creating a second one. A 409, or a 400
// after which the email turns out to be taken, is ErrConflict.
func (c *Client) CreateUser(ctx context.Context, u UserUpdate, sendInvite bool) (User, error) {
	const op = "users.create"
	if err := validateUser(op, u.User); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	email := u.User.Email
	q := url.Values{"sendInvite": {strconv.FormatBool(sendInvite)}}
	began := time.Now()
	uncertain := false
	attempts := 0
	for {
		res, err := c.do(ctx, call{op: op, method: "POST", path: "/v1/users", query: q, body: u})
		if err == nil {
			created, derr := decodeUser(res.body)
			if derr != nil || created.ID == 0 {
				// Created, but the answer is unreadable: find what was created.
				if found, ok, ferr := c.FindUserByEmail(ctx, email); ferr == nil && ok {
					return found, nil
				}
				return User{}, fmt.Errorf("create user: created, but the answer could not be read: %w", ErrUnavailable)
			}
			c.userCount.Add(1)
			return created, nil
		}
		var unknown *unknownOutcome
		var apiErr *APIError
		switch {
		case errors.As(err, &unknown):
			uncertain = true
			attempts++
			if unknown.reason == "canceled" || attempts >= c.maxAttempts {
				return User{}, fmt.Errorf("create user: %w", err)
			}
			c.log.Warn().Str("op", op).Str("reason", unknown.reason).Msg("domo create outcome unknown; looking the email up before retrying")
			if err := c.retryPause(ctx, op, unknown.reason, attempts); err != nil {
				return User{}, fmt.Errorf("create user: %w", unknown)
			}
			found, ok, ferr := c.FindUserByEmail(ctx, email)
			if ferr != nil {
				return User{}, fmt.Errorf("create user: %w, and the lookup failed: %w", unknown, ferr)
			}
			if ok {
				return c.reconcileCreate(found, began, apiErr)
			}
			continue
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusConflict || apiErr.Status == http.StatusBadRequest):
			if apiErr.Status == http.StatusConflict && !uncertain {
				return User{}, fmt.Errorf("create user: %w", apiErr)
			}
			found, ok, ferr := c.findAfterWrite(ctx, email, uncertain)
			if ferr != nil {
				// Whether Domo meant "taken" is unknown: the lookup's failure decides the kind.
				return User{}, fmt.Errorf("create user: the email lookup failed (%w) after %w", ferr, apiErr)
			}
			if !ok {
				return User{}, fmt.Errorf("create user: %w", apiErr)
			}
			if uncertain {
				return c.reconcileCreate(found, began, apiErr)
			}
			return User{}, fmt.Errorf("create user: %w", &ConflictError{Existing: found, Err: apiErr})
		default:
			return User{}, fmt.Errorf("create user: %w", err)
		}
	}
}

// reconcileCreate decides whether a user found after an uncertain create is that create's
// result (recent) or someone else's (older: a conflict).
func (c *Client) reconcileCreate(found User, began time.Time, apiErr *APIError) (User, error) {
	if !found.CreatedAt.IsZero() && found.CreatedAt.Before(began.Add(-recentCreateSlack)) {
		ce := &ConflictError{Existing: found}
		if apiErr != nil {
			ce.Err = apiErr
		}
		return User{}, fmt.Errorf("create user: %w", ce)
	}
	c.userCount.Add(1)
	return found, nil
}

// findAfterWrite looks an email up; after an uncertain write it tries a few times, because Domo
// may answer "taken" before the new user shows in its lists.
func (c *Client) findAfterWrite(ctx context.Context, email string, uncertain bool) (User, bool, error) {
	tries := 1
	if uncertain {
		tries = 3
	}
	for i := 0; ; i++ {
		u, ok, err := c.FindUserByEmail(ctx, email)
		if err != nil || ok || i+1 >= tries {
			return u, ok, err
		}
		if err := sleep(ctx, time.Duration(i+1)*time.Second); err != nil {
			return User{}, false, err
		}
	}
}

// UpdateUser sends PUT /v1/users/{id} with the fields of u (and Clear). Because a tenant may
// clear what the body omits, callers send the whole record: GET, change, UpdateUser. A 409, or
// a 400 after which the new email turns out to belong to another user, is ErrConflict.
func (c *Client) UpdateUser(ctx context.Context, id int64, u UserUpdate) (User, error) {
	const op = "users.update"
	if id <= 0 {
		return User{}, fmt.Errorf("update user %d: %w", id, ErrNotFound)
	}
	if err := validateUser(op, u.User); err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	res, err := c.do(ctx, call{op: op, method: "PUT", path: "/v1/users/" + strconv.FormatInt(id, 10), body: u, idempotent: true})
	if err != nil {
		var apiErr *APIError
		// Domo may say "email taken" with a plain 400. Only a write that changes the email can
		// collide, so the user's own email (one GET) is checked before the email is looked up
		// among all users (a listing: 200 calls at 100,000 users).
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && u.User.Email != "" && c.emailChanges(ctx, id, u.User.Email) {
			if found, ok, ferr := c.FindUserByEmail(ctx, u.User.Email); ferr == nil && ok && found.ID != id {
				return User{}, fmt.Errorf("update user %d: email taken by user %d: %w: %w", id, found.ID, ErrConflict, apiErr)
			}
		}
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	updated, derr := decodeUser(res.body)
	if derr != nil || updated.ID == 0 {
		// Domo documents no body for this answer; read the user back.
		return c.GetUser(ctx, id)
	}
	return updated, nil
}

// emailChanges reports whether a write of email to user id changes its email; when that
// cannot be read, it assumes so.
func (c *Client) emailChanges(ctx context.Context, id int64, email string) bool {
	cur, err := c.GetUser(ctx, id)
	return err != nil || !strings.EqualFold(strings.TrimSpace(cur.Email), strings.TrimSpace(email))
}

// DeleteUser deletes a user (204). A 404 on a retry after an unknown outcome is success: the
// earlier attempt did it.
func (c *Client) DeleteUser(ctx context.Context, id int64) error {
	if id <= 0 {
		return fmt.Errorf("delete user %d: %w", id, ErrNotFound)
	}
	res, err := c.do(ctx, call{op: "users.delete", method: "DELETE", path: "/v1/users/" + strconv.FormatInt(id, 10), idempotent: true})
	if err != nil {
		if res.uncertain && errors.Is(err, ErrNotFound) {
			c.userCount.Add(-1)
			return nil
		}
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	c.userCount.Add(-1)
	return nil
}

// FindUserByEmail finds a non-deleted user by email, case-insensitively. Domo has no filter, so
// it scans pages: first from the tail the last full listing implies (new users are appended
// there), then the rest from the start.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (User, bool, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return User{}, false, nil
	}
	var found User
	ok := false
	match := func(body []byte, _ int) (int, bool, error) {
		users, err := decodeUsers(body)
		if err != nil {
			return 0, false, fmt.Errorf("domo users.list: %w: %w", ErrBadAnswer, err)
		}
		for _, u := range users {
			if !u.Deleted && strings.EqualFold(strings.TrimSpace(u.Email), email) {
				found, ok = u, true
				return len(users), false, nil
			}
		}
		return len(users), true, nil
	}
	tail := 0
	if est := int(c.userCount.Load()); est > pageSize {
		tail = (est/pageSize - 1) * pageSize
	}
	if tail > 0 {
		rows := 0
		err := c.scanPages(ctx, pageScan{op: "users.list", path: "/v1/users", from: tail, ahead: 1, lastPage: -1},
			func(body []byte, off int) (int, bool, error) {
				n, more, err := match(body, off)
				rows = off + n
				return n, more, err
			})
		if err != nil {
			return User{}, false, fmt.Errorf("find user by email: %w", err)
		}
		if ok {
			return found, true, nil
		}
		if rows > tail {
			c.userCount.Store(int64(rows))
		}
	}
	err := c.scanPages(ctx, pageScan{op: "users.list", path: "/v1/users", to: tail, ahead: c.concurrency, lastPage: -1}, match)
	if err != nil {
		return User{}, false, fmt.Errorf("find user by email: %w", err)
	}
	return found, ok, nil
}
