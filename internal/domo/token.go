package domo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokenCache holds the one token all requests share. Renewal is single-flight: when the token
// is stale or was refused, one caller fetches and the others wait for its result, so twenty
// concurrent 401s cause one token request, not twenty.
//
// A refusal of the credentials is not cached for good: the next request after a short pause
// asks again (the operator may have fixed them, or the token endpoint's 400 was passing), and
// meanwhile requests fail at once with the refusal instead of each costing a token request.
type tokenCache struct {
	mu       sync.Mutex
	tok      *oauth2.Token
	info     TokenInfo
	renewAt  time.Time
	fetching chan struct{}
	lastErr  error
	// refused counts the credential refusals in a row; until retryAt, callers get lastErr.
	refused int
	retryAt time.Time
	now     func() time.Time // the clock; nil is time.Now
}

// Pauses between token requests while Domo refuses the credentials.
const (
	refusedPauseMin = time.Second
	refusedPauseMax = time.Minute
)

func (tc *tokenCache) clock() time.Time {
	if tc.now != nil {
		return tc.now()
	}
	return time.Now()
}

// get returns a usable token, fetching one when there is none or it is about to expire.
func (tc *tokenCache) get(ctx context.Context, c *Client) (*oauth2.Token, TokenInfo, error) {
	for {
		tc.mu.Lock()
		if tc.tok != nil && (tc.renewAt.IsZero() || tc.clock().Before(tc.renewAt)) {
			tok, info := tc.tok, tc.info
			tc.mu.Unlock()
			return tok, info, nil
		}
		if tc.fetching == nil && tc.refused > 0 && tc.clock().Before(tc.retryAt) {
			err := tc.lastErr
			tc.mu.Unlock()
			return nil, TokenInfo{}, err
		}
		if ch := tc.fetching; ch != nil {
			tc.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, TokenInfo{}, ctx.Err()
			}
			tc.mu.Lock()
			tok, info, err := tc.tok, tc.info, tc.lastErr
			tc.mu.Unlock()
			if tok != nil {
				return tok, info, nil
			}
			// The fetcher's own context may have ended; that is no reason for this caller to
			// give up, so it tries itself. Any other failure is shared.
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return nil, TokenInfo{}, err
			}
			continue
		}
		ch := make(chan struct{})
		tc.fetching = ch
		tc.mu.Unlock()

		tok, info, err := c.fetchToken(ctx)

		tc.mu.Lock()
		tc.fetching = nil
		tc.lastErr = err
		switch {
		case err == nil:
			tc.tok, tc.info = tok, info
			tc.renewAt = renewTime(tok.Expiry, tc.clock())
			tc.refused, tc.retryAt = 0, time.Time{}
		case KindOf(err) == KindCredentials:
			tc.refused++
			tc.retryAt = tc.clock().Add(backoff(tc.refused, refusedPauseMin, refusedPauseMax))
		}
		tc.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, TokenInfo{}, err
		}
		return tok, info, nil
	}
}

// invalidate drops the cached token if it is still the one Domo refused; a caller holding an
// older token must not throw away a fresh one another caller already fetched.
func (tc *tokenCache) invalidate(access string) {
	tc.mu.Lock()
	if tc.tok != nil && tc.tok.AccessToken == access {
		tc.tok = nil
	}
	tc.mu.Unlock()
}

// renewTime renews a tenth of the lifetime early (at most a minute, Domo's tokens live an hour),
// so a request never leaves with a token that expires on the way.
func renewTime(expiry, now time.Time) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	early := min(expiry.Sub(now)/10, time.Minute)
	return expiry.Add(-max(early, 0))
}

// fetchToken asks Domo for a token, retrying what can be retried. The request goes through
// pacedTransport, so it is paced and counted like any other.
func (c *Client) fetchToken(ctx context.Context) (*oauth2.Token, TokenInfo, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.tokenHC)
	attempts := 0
	for {
		tok, err := c.cc.Token(ctx)
		if err == nil {
			return tok, tokenInfo(tok), nil
		}
		var rl *RateLimitError
		if errors.As(err, &rl) {
			return nil, TokenInfo{}, rl
		}
		var bu *BudgetUnavailableError
		if errors.As(err, &bu) {
			return nil, TokenInfo{}, bu // nothing was sent; Domo is not at fault
		}
		if ctx.Err() != nil {
			return nil, TokenInfo{}, ctx.Err()
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			apiErr := classified("token", http.MethodPost, re.Response.StatusCode, re.Body)
			switch status := re.Response.StatusCode; {
			case status == http.StatusTooManyRequests:
				d := c.pacer.on429(re.Response.Header)
				if werr := c.allowWait(ctx, "token", budgetFrom(ctx, "token"), d); werr != nil {
					return nil, TokenInfo{}, werr
				}
				c.onRetry(ctx, "token", "429")
				continue // pace() waits out the pause
			case status >= 500:
				attempts++
				if attempts >= c.maxAttempts {
					return nil, TokenInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, apiErr)
				}
				c.onRetry(ctx, "token", "5xx")
			default:
				// 400/401/403: bad credentials or scope; retrying cannot help.
				c.log.Error().Int("status", status).Str("toe", apiErr.TOE).Msg("domo refused the client credentials")
				return nil, TokenInfo{}, fmt.Errorf("%w: %w", ErrUnauthorized, apiErr)
			}
		} else {
			// Transport errors, or an answer x/oauth2 could not parse.
			attempts++
			if attempts >= c.maxAttempts {
				return nil, TokenInfo{}, fmt.Errorf("%w: token request: %s: %w", ErrUnavailable, transientReason(err), err)
			}
			c.onRetry(ctx, "token", transientReason(err))
		}
		d := backoff(attempts, 200*time.Millisecond, 5*time.Second)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return nil, TokenInfo{}, fmt.Errorf("%w: token request failed and the deadline leaves no time to retry", ErrUnavailable)
		}
		if err := sleep(ctx, d); err != nil {
			return nil, TokenInfo{}, err
		}
	}
}

// tokenInfo reads Domo's extra token fields. The token is otherwise opaque, but when Domo
// sends no expires_in the JWT's exp claim still tells when it ends.
func tokenInfo(tok *oauth2.Token) TokenInfo {
	info := TokenInfo{
		UserID:   extraInt(tok.Extra("userId")),
		Role:     extraString(tok.Extra("role")),
		Customer: extraString(tok.Extra("customer")),
		Scope:    extraString(tok.Extra("scope")),
		Expiry:   tok.Expiry,
	}
	if info.Expiry.IsZero() {
		if exp := jwtExpiry(tok.AccessToken); !exp.IsZero() {
			tok.Expiry, info.Expiry = exp, exp
		}
	}
	return info
}

func extraString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func extraInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case json.Number:
		n, _ := x.Int64()
		return n
	case string:
		n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n
	}
	return 0
}

func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp Int `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(claims.Exp), 0)
}
