package domo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// maxResponse bounds how much of one answer is read: a 500-user page is ~250 KiB.
const maxResponse = 10 << 20

// call describes one logical request; do turns it into as many HTTP attempts as it takes.
type call struct {
	op     string
	method string
	path   string
	query  url.Values
	body   any
	// idempotent requests are retried after 5xx, timeouts and connection errors; the others
	// come back with an *unknownOutcome for the caller to reconcile.
	idempotent bool
}

// result is a successful answer.
type result struct {
	status int
	body   []byte
	// uncertain is set when an earlier attempt of this call may have taken effect (it ended
	// with a 5xx, a timeout or a broken connection), so a 404 on a DELETE means success.
	uncertain bool
}

// unknownOutcome is a non-idempotent request that ended without telling whether it took effect.
type unknownOutcome struct {
	op     string
	reason string // 5xx, timeout, conn
	err    error
}

func (e *unknownOutcome) Error() string {
	return fmt.Sprintf("domo %s: outcome unknown (%s): %v", e.op, e.reason, e.err)
}
func (e *unknownOutcome) Unwrap() []error { return []error{ErrUnavailable, e.err} }
func (e *unknownOutcome) domoKind() Kind  { return KindUnknownOutcome }

// do sends the call: paced, authenticated, retried per the rules below. Errors are
// *APIError (Domo answered), *RateLimitError (budget exhausted within the allowed wait),
// *unknownOutcome (non-idempotent call, outcome unknown), or wrap ErrUnavailable.
//
//   - 401: the token is renewed once (single-flight) and the request repeated; with an access
//     token, only when its source now yields another one.
//   - 429: everyone pauses (Retry-After, X-RateLimit-Reset or exponential backoff); repeated
//     for as long as MaxWait and the context allow.
//   - 5xx, timeouts, connection errors: idempotent calls are repeated, up to MaxAttempts,
//     with exponential backoff within the context's deadline.
func (c *Client) do(ctx context.Context, cl call) (result, error) {
	ctx = withBudget(ctx, cl.op)
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return result{}, fmt.Errorf("domo %s: encode body: %w", cl.op, err)
		}
	}
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var (
		attempts  int
		renewed   bool
		uncertain bool
		lastErr   error
	)
	for {
		if err := c.pace(ctx, cl.op); err != nil {
			return result{}, c.stopErr(cl.op, err, lastErr)
		}
		hdr, cred, err := c.credential(ctx)
		if err != nil {
			return result{}, c.stopErr(cl.op, err, lastErr)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, target, bytes.NewReader(payload))
		if err != nil {
			return result{}, fmt.Errorf("domo %s: %w", cl.op, err)
		}
		if payload == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		if payload != nil || c.static != nil {
			// Domo's instance API examples send Content-Type: application/json with every
			// request, reads and deletes included.
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		// As Domo spells it (X-DOMO-Developer-Token); header names are case-insensitive, but a
		// strict reader need not be.
		req.Header[hdr] = []string{cred}
		req.Header.Set("User-Agent", "scimbridge")

		start := time.Now()
		resp, err := c.hc.Do(req)
		var body []byte
		if err == nil {
			body, err = readBody(resp)
			_ = resp.Body.Close()
			if err == nil && len(body) > maxResponse {
				err = fmt.Errorf("answer larger than %d bytes", maxResponse)
			}
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
			c.pacer.observe(resp.Header, status)
		}
		c.onRequest(ctx, cl.op, status, time.Since(start))

		var reason string
		switch {
		case err != nil && ctx.Err() != nil:
			if !cl.idempotent {
				return result{}, &unknownOutcome{op: cl.op, reason: "canceled", err: ctx.Err()}
			}
			return result{}, c.stopErr(cl.op, ctx.Err(), lastErr)
		case err != nil:
			reason = transientReason(err)
			// Transport errors name the URL (path and query: ids, sendInvite) and the cause;
			// the token travels in a header and never appears.
			lastErr = fmt.Errorf("domo %s: %s: %w", cl.op, reason, err)
		case status >= 200 && status < 300:
			return result{status: status, body: body, uncertain: uncertain}, nil
		case status == http.StatusUnauthorized && !renewed && c.refused(ctx, cred):
			renewed = true
			c.onRetry(ctx, cl.op, "401")
			continue
		case status == http.StatusTooManyRequests:
			d := c.pacer.on429(resp.Header)
			c.log.Warn().Str("op", cl.op).Dur("backoff", d).Msg("domo rate limited")
			if werr := c.allowWait(ctx, cl.op, budgetFrom(ctx, cl.op), d); werr != nil {
				return result{}, werr
			}
			c.onRetry(ctx, cl.op, "429")
			continue // pace() waits out the pause before the next attempt
		case status >= 500:
			reason = "5xx"
			lastErr = classified(cl.op, cl.method, status, body)
		default:
			apiErr := classified(cl.op, cl.method, status, body)
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				c.log.Error().Str("op", cl.op).Int("status", status).Str("toe", apiErr.TOE).Msg("domo refused the token")
			}
			return result{uncertain: uncertain}, apiErr
		}

		// A 5xx, timeout or connection error: the request may or may not have taken effect.
		if !cl.idempotent {
			return result{}, &unknownOutcome{op: cl.op, reason: reason, err: lastErr}
		}
		uncertain = true
		attempts++
		if attempts >= c.maxAttempts {
			return result{}, fmt.Errorf("%w: %w (after %d attempts)", ErrUnavailable, lastErr, attempts)
		}
		if err := c.retryPause(ctx, cl.op, reason, attempts); err != nil {
			return result{}, c.stopErr(cl.op, err, lastErr)
		}
	}
}

// readBody reads a whole answer into one buffer sized from Content-Length when Domo sends it,
// instead of growing one by doubling: a 100,000-user listing reads 50 MB.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxResponse {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
}

// retryPause waits before attempt n+1, unless the context's deadline would pass first.
func (c *Client) retryPause(ctx context.Context, op, reason string, n int) error {
	d := backoff(n, 200*time.Millisecond, 5*time.Second)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return errNoTimeToRetry
	}
	c.log.Debug().Str("op", op).Str("reason", reason).Int("attempt", n).Dur("backoff", d).Msg("domo transient failure")
	c.onRetry(ctx, op, reason)
	return sleep(ctx, d)
}

var errNoTimeToRetry = errors.New("the deadline leaves no time to retry")

// stopErr shapes the error of a call that ends before Domo gave a final answer. A rate limit
// stays a *RateLimitError; after a failed attempt the result is ErrUnavailable.
func (c *Client) stopErr(op string, err, last error) error {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl
	}
	if last != nil {
		return fmt.Errorf("%w: %w (%w)", ErrUnavailable, last, err)
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("domo %s: %w", op, err)
}

// decodeAPIError reads Domo's error envelope, tolerating any other body (a proxy's HTML page,
// nothing at all). The body itself is never kept: it could echo what was sent.
func decodeAPIError(op string, status int, body []byte) *APIError {
	e := &APIError{Op: op, Status: status, Reason: http.StatusText(status)}
	var env struct {
		StatusReason string          `json:"statusReason"`
		Message      json.RawMessage `json:"message"`
		TOE          string          `json:"toe"`
		Error        string          `json:"error"`
		Description  string          `json:"error_description"`
	}
	if json.Unmarshal(body, &env) == nil {
		if env.StatusReason != "" {
			e.Reason = env.StatusReason
		}
		var msg string
		if json.Unmarshal(env.Message, &msg) == nil {
			e.Message = msg
		}
		if e.Message == "" {
			e.Message = env.Description
		}
		if e.Message == "" {
			e.Message = env.Error
		}
		e.TOE = env.TOE
	}
	if len(e.Message) > 300 {
		// Cut on a character boundary: a message is logged and may reach a SCIM detail.
		cut := 300
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut]
	}
	return e
}
