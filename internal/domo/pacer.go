package domo

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// paceFactor keeps the pacer just under the tenant's limit. A token bucket with burst B can
// send B+N requests in a window that allows N, so the bucket is kept tiny (burst 1) and its
// rate a little under N per window: the slack absorbs arrival jitter at Domo's end.
const paceFactor = 0.98

// unboundedWaitCap bounds 429 waiting when neither the context nor MaxWait does.
const unboundedWaitCap = 10 * time.Minute

// pacer spaces every request sent to Domo evenly under the tenant's budget, and holds all of
// them back together after Domo signals the budget is spent (429, or X-RateLimit-Remaining 0).
type pacer struct {
	lim       *rate.Limiter
	perMinute int

	mu          sync.Mutex
	pausedUntil time.Time
	strikes     int // consecutive 429s, for the backoff when Domo says nothing of when to retry
}

func newPacer(perMinute int) *pacer {
	return &pacer{lim: rate.NewLimiter(rate.Limit(paceFactor*float64(perMinute)/60), 1), perMinute: perMinute}
}

// SetShare sets the share of the tenant's budget (Config.RatePerMinute) this client may use,
// between 0 and 1; 1, the whole budget, until it is called. Several processes sending to one
// tenant (replicas of the bridge) each take their share, so that together they stay under the
// tenant's limit. Requests already waiting keep their turn; later ones are paced at the new
// rate.
func (c *Client) SetShare(share float64) { c.pacer.setShare(share) }

// Share returns the share of the tenant's budget this client uses (see SetShare).
func (c *Client) Share() float64 { return c.pacer.share() }

// SetShare sets the share of the instance APIs' budget (InstanceConfig.RatePerMinute) this
// client may use, as Client.SetShare does for v1's.
func (in *Instance) SetShare(share float64) { in.c.pacer.setShare(share) }

// Share returns the share of the instance APIs' budget this client uses.
func (in *Instance) Share() float64 { return in.c.pacer.share() }

func (p *pacer) setShare(share float64) {
	share = min(max(share, 0.001), 1)
	p.lim.SetLimit(rate.Limit(paceFactor * share * float64(p.perMinute) / 60))
}

func (p *pacer) share() float64 {
	return float64(p.lim.Limit()) * 60 / (paceFactor * float64(p.perMinute))
}

// budget is the per-request account of time spent waiting, carried in the context so that the
// token request made on behalf of an API request draws on the same MaxWait.
type budget struct {
	op     string
	waited time.Duration
}

type budgetKey struct{}

func withBudget(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, budgetKey{}, &budget{op: op})
}

func budgetFrom(ctx context.Context, op string) *budget {
	if b, ok := ctx.Value(budgetKey{}).(*budget); ok {
		return b
	}
	return &budget{op: op}
}

// allowWait reports whether waiting d more is within MaxWait and the context's deadline; if not
// it returns the *RateLimitError to fail fast with.
func (c *Client) allowWait(ctx context.Context, op string, b *budget, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	limit := unboundedWaitCap
	if c.maxWait > 0 {
		limit = c.maxWait
	}
	over := b.waited+d > limit
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		over = true
	}
	if over {
		return &RateLimitError{Op: op, RetryAfter: d}
	}
	return nil
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pace blocks until op may send one request. It fails fast with *RateLimitError when the wait
// would exceed MaxWait or the context's deadline.
func (c *Client) pace(ctx context.Context, op string) error {
	b := budgetFrom(ctx, op)
	for {
		c.pacer.mu.Lock()
		pause := time.Until(c.pacer.pausedUntil)
		c.pacer.mu.Unlock()
		if pause <= 0 {
			break
		}
		if err := c.allowWait(ctx, op, b, pause); err != nil {
			return err
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		b.waited += pause
		c.onWait(ctx, op, pause)
	}
	r := c.pacer.lim.Reserve()
	d := r.Delay()
	if err := c.allowWait(ctx, op, b, d); err != nil {
		r.Cancel()
		return err
	}
	if err := sleep(ctx, d); err != nil {
		r.Cancel()
		return err
	}
	b.waited += d
	c.onWait(ctx, op, d)
	return nil
}

// pauseUntil holds every request back until t.
func (p *pacer) pauseUntil(t time.Time) {
	p.mu.Lock()
	if t.After(p.pausedUntil) {
		p.pausedUntil = t
	}
	p.mu.Unlock()
}

// observe reads Domo's rate headers on any answer: when the budget is spent, wait for the reset
// instead of collecting 429s.
func (p *pacer) observe(h http.Header, status int) {
	if status != http.StatusTooManyRequests {
		p.mu.Lock()
		p.strikes = 0
		p.mu.Unlock()
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, ok := parseReset(h.Get("X-RateLimit-Reset"), time.Now()); ok {
			p.pauseUntil(reset)
		}
	}
}

// on429 decides how long to back off after a 429 and pauses every request for that long:
// Retry-After if present, else the X-RateLimit-Reset time, else exponential backoff with
// jitter (Domo documents no header).
func (p *pacer) on429(h http.Header) time.Duration {
	now := time.Now()
	p.mu.Lock()
	p.strikes++
	strikes := p.strikes
	p.mu.Unlock()
	d := backoff(strikes, 500*time.Millisecond, 30*time.Second)
	if ra, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		d = ra
	} else if reset, ok := parseReset(h.Get("X-RateLimit-Reset"), now); ok {
		// A little past the reset, and never 0, so a clock a hair apart still finds a free slot.
		d = reset.Sub(now) + 25*time.Millisecond + time.Duration(rand.Int64N(int64(25*time.Millisecond)))
	}
	d = min(max(d, 10*time.Millisecond), 5*time.Minute)
	p.pauseUntil(now.Add(d))
	return d
}

// backoff is exponential backoff with "equal jitter": half fixed, half random, so waits grow
// but concurrent clients do not retry in lockstep.
func backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := base << min(attempt-1, 20)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// parseReset reads X-RateLimit-Reset as epoch seconds, or as seconds from now when the value
// is too small to be an epoch time (APIs differ).
func parseReset(v string, now time.Time) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return time.Time{}, false
	}
	var t time.Time
	if f > 1e9 {
		t = time.Unix(0, int64(f*1e9))
	} else {
		t = now.Add(time.Duration(f * float64(time.Second)))
	}
	// A reset far in the future is more likely a clock problem than a real instruction.
	if t.Sub(now) > 5*time.Minute {
		t = now.Add(5 * time.Minute)
	}
	return t, true
}

// pacedTransport paces the token requests that x/oauth2 makes, so they draw on the same budget
// as API requests, and reports them to the hooks.
type pacedTransport struct {
	c    *Client
	base http.RoundTripper
}

func (t *pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := t.c.pace(ctx, "token"); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		t.c.pacer.observe(resp.Header, status)
	}
	t.c.onRequest(ctx, "token", status, time.Since(start))
	return resp, err
}
