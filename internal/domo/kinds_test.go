package domo_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestKindDecidedByTheAnswer: each failure's kind comes from the operation whose answer it was.
// The token endpoint's RFC 6749 400 (invalid_grant) during a users.get is a credentials
// failure, never a missing user; users.get's own 400 is a missing user; a listing's 404 is not.
func TestKindDecidedByTheAnswer(t *testing.T) {
	t.Parallel()
	invalidGrant := `{"error":"invalid_grant","error_description":"client credentials revoked"}`
	tests := []struct {
		name   string
		opts   domosim.Options
		faults []domosim.Fault
		call   func(ctx context.Context, c *domo.Client, sim *domosim.Sim) error
		want   domo.Kind
		is     error // the sentinel the error must match, nil for none
	}{
		{"token 400 invalid_grant during users.get", domosim.Options{},
			[]domosim.Fault{{Route: domosim.TokenRoute, Status: 400, Body: invalidGrant, Times: 9}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"token 400 invalid_scope on a tenant that answers 400 for unknown users", domosim.Options{UnknownUserGetStatus: 400},
			[]domosim.Fault{{Route: domosim.TokenRoute, Status: 400, Body: `{"error":"invalid_scope"}`, Times: 9}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"token 404 (a wrong API URL)", domosim.Options{},
			[]domosim.Fault{{Route: domosim.TokenRoute, Status: 404, Times: 9}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"token 401", domosim.Options{},
			[]domosim.Fault{{Route: domosim.TokenRoute, Status: 401, Times: 9}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"token 5xx", domosim.Options{},
			[]domosim.Fault{{Route: domosim.TokenRoute, Status: 503, Times: 9}},
			getOwner, domo.KindUnavailable, domo.ErrUnavailable},
		{"users.get 403 with a fresh token", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users/{id}", Status: 403}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"users.get 401 twice", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users/{id}", Status: 401, Times: 2}},
			getOwner, domo.KindCredentials, domo.ErrUnauthorized},
		{"users.get 404", domosim.Options{}, nil,
			getUnknown, domo.KindNotFound, domo.ErrNotFound},
		{"users.get 400 for an unknown id", domosim.Options{UnknownUserGetStatus: 400}, nil,
			getUnknown, domo.KindNotFound, domo.ErrNotFound},
		{"users.get undecodable body", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users/{id}", Body: `{"id":`}},
			getOwner, domo.KindBadAnswer, domo.ErrBadAnswer},
		{"users.list 404", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users", Status: 404, Times: 9}},
			func(ctx context.Context, c *domo.Client, _ *domosim.Sim) error {
				for _, err := range c.Users(ctx) {
					return err
				}
				return nil
			}, domo.KindBadAnswer, nil},
		{"users.update 400", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users/{id}", Method: "PUT", Status: 400}},
			func(ctx context.Context, c *domo.Client, sim *domosim.Sim) error {
				_, err := c.UpdateUser(ctx, sim.OwnerID(), newUser("owner@example.com"))
				return err
			}, domo.KindRejected, nil},
		{"users.delete 400 (owns content)", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users/{id}", Method: "DELETE", Status: 400}},
			func(ctx context.Context, c *domo.Client, sim *domosim.Sim) error {
				return c.DeleteUser(ctx, sim.OwnerID())
			}, domo.KindRefused, nil},
		{"users.create 5xx, outcome unknown", domosim.Options{},
			[]domosim.Fault{{Route: "/v1/users", Method: "POST", Status: 502, Times: 99}, {Route: "/v1/users", Method: "GET", Status: 502, Times: 99}},
			func(ctx context.Context, c *domo.Client, _ *domosim.Sim) error {
				_, err := c.CreateUser(ctx, newUser("new@example.com"), false)
				return err
			}, domo.KindUnknownOutcome, domo.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.opts, func(c *domo.Config) { c.MaxAttempts = 2 })
			for _, f := range tc.faults {
				r.sim.InjectFault(f)
			}
			err := tc.call(ctxT(t, 20*time.Second), r.client, r.sim)
			if got := domo.KindOf(err); got != tc.want {
				t.Fatalf("kind %v, want %v (err %v)", got, tc.want, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err %v does not match %v", err, tc.is)
			}
			if tc.want != domo.KindNotFound && errors.Is(err, domo.ErrNotFound) {
				t.Errorf("a %v failure matches ErrNotFound: %v", tc.want, err)
			}
		})
	}
}

func getOwner(ctx context.Context, c *domo.Client, sim *domosim.Sim) error {
	_, err := c.GetUser(ctx, sim.OwnerID())
	return err
}

func getUnknown(ctx context.Context, c *domo.Client, _ *domosim.Sim) error {
	_, err := c.GetUser(ctx, 123456789)
	return err
}

// TestKindOfContextAndRateLimit: a deadline that passes before Domo answers is a timeout, and
// an exhausted budget is a rate limit, not an unknown error.
func TestKindOfContextAndRateLimit(t *testing.T) {
	t.Parallel()
	if k := domo.KindOf(context.DeadlineExceeded); k != domo.KindTimeout {
		t.Fatalf("deadline: %v", k)
	}
	if k := domo.KindOf(&domo.RateLimitError{Op: "users.get", RetryAfter: time.Second}); k != domo.KindRateLimited {
		t.Fatalf("rate limit: %v", k)
	}
	if k := domo.KindOf(errors.New("x")); k != domo.KindOther {
		t.Fatalf("plain error: %v", k)
	}
	// An APIError built outside the client is classified as a read by its status: a 404 to
	// the token endpoint still never says "not found".
	if errors.Is(&domo.APIError{Op: "token", Status: http.StatusNotFound}, domo.ErrNotFound) {
		t.Fatal("a token 404 matches ErrNotFound")
	}
	if !errors.Is(&domo.APIError{Op: "users.get", Status: http.StatusNotFound}, domo.ErrNotFound) {
		t.Fatal("a users.get 404 does not match ErrNotFound")
	}
}
