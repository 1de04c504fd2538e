package domo

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// developerTokenHeader carries an instance access token (Domo's "developer token").
const developerTokenHeader = "X-DOMO-Developer-Token"

// staticAuth authenticates with an access token made by an admin in Domo: it cannot be renewed
// by the client, only replaced by the operator. source is asked again after a 401, so that a
// token rotated in its file takes effect without a restart.
type staticAuth struct {
	source func(context.Context) (string, error)

	mu  sync.Mutex
	tok string
}

func (a *staticAuth) get(ctx context.Context) (string, error) {
	a.mu.Lock()
	tok := a.tok
	a.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	return a.reload(ctx)
}

func (a *staticAuth) reload(ctx context.Context) (string, error) {
	tok, err := a.source(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: access token: %w", ErrUnauthorized, err)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%w: no access token", ErrUnauthorized)
	}
	a.mu.Lock()
	a.tok = tok
	a.mu.Unlock()
	return tok, nil
}

// credential returns the header and value that authenticate a request.
func (c *Client) credential(ctx context.Context) (header, value string, err error) {
	if c.static != nil {
		tok, err := c.static.get(ctx)
		return developerTokenHeader, tok, err
	}
	tok, _, err := c.tokens.get(ctx, c)
	if err != nil {
		return "", "", err
	}
	return "Authorization", "Bearer " + tok.AccessToken, nil
}

// refused is told that Domo answered 401 to value. It reports whether another attempt with a
// fresh credential may succeed: always for OAuth (the token is renewed), and for an access
// token only when its source now yields a different one.
func (c *Client) refused(ctx context.Context, value string) bool {
	if c.static == nil {
		c.tokens.invalidate(strings.TrimPrefix(value, "Bearer "))
		return true
	}
	fresh, err := c.static.reload(ctx)
	return err == nil && fresh != value
}
