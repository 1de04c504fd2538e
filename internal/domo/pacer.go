package domo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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
// On its own it keeps the budget in the process; with a SharedBudget, every request takes its
// send time from the budget several processes share.
type pacer struct {
	lim    *rate.Limiter
	every  time.Duration // the spacing of requests: the limiter's rate, for a shared budget
	shared atomic.Pointer[sharedRef]

	mu          sync.Mutex
	pausedUntil time.Time
	strikes     int // consecutive 429s, for the backoff when Domo says nothing of when to retry
}

type sharedRef struct{ b SharedBudget }

func newPacer(perMinute int) *pacer {
	perSecond := paceFactor * float64(perMinute) / 60
	return &pacer{
		lim:   rate.NewLimiter(rate.Limit(perSecond), 1),
		every: time.Duration(math.Ceil(float64(time.Second) / perSecond)),
	}
}

// SharedBudget hands out send times from a tenant's budget that several clients share: the
// bridge's replicas, each with its own Client, through their state database. Together they
// then stay under the tenant's limit however their traffic is spread, and a client that has
// nothing to send leaves the whole budget to the others. Implementations must be safe for
// concurrent use.
//
// One shared sequence of send times suits replicas better than a share of the budget each: a
// fixed share (1/N) idles whenever one replica's queue is empty while another's waits; a share
// that follows demand must be lowered on one replica before it is raised on another, a
// heartbeat apart, or the sum overshoots the limit meanwhile; and a dead replica's share is
// lost until its heartbeat expires. Send times taken one by one from one sequence are every
// apart whoever asks, whoever has left or died. That costs one statement on the state database
// per Domo request (at most the budget's rate: 50 a second at 3,000 a minute), and Domo
// requests need the database: while it cannot be reached the client sends nothing, since it
// cannot know what the others send.
type SharedBudget interface {
	// Take reserves the budget's next free send time, every after the last one handed out
	// to anyone (or now, if that has passed), provided it comes within within from now; ok
	// then says so, and wait is how long until it, counted from when the answer is given (so
	// that waiting it from the answer's arrival is never early). When the next free time is
	// further away, nothing is reserved, ok is false and wait says how far it is.
	Take(ctx context.Context, every, within time.Duration) (wait time.Duration, ok bool, err error)
	// Hold gives no one a send time before d from now: Domo said the budget is spent.
	Hold(ctx context.Context, d time.Duration) error
}

// Timeouts of the shared budget's calls: a request waits for its send time to be handed out
// no longer than a database that is merely slow takes; a hold is a courtesy to the other
// clients (this one keeps its own pause), so it gives up sooner.
const (
	sharedTakeTimeout = 5 * time.Second
	sharedHoldTimeout = time.Second
)

// ShareBudget makes every later request of this client (token requests included) take its send
// time from b, a budget of Config.RatePerMinute shared with other clients, instead of pacing in
// this process alone. Call it before the first request.
func (c *Client) ShareBudget(b SharedBudget) { c.pacer.share(b) }

// ShareBudget makes the instance APIs' requests take their send times from b, a budget of
// InstanceConfig.RatePerMinute shared with other clients, as Client.ShareBudget does for v1's.
func (in *Instance) ShareBudget(b SharedBudget) { in.c.pacer.share(b) }

func (p *pacer) share(b SharedBudget) {
	if b == nil {
		p.shared.Store(nil)
		return
	}
	p.shared.Store(&sharedRef{b})
}

func (p *pacer) sharedBudget() SharedBudget {
	if r := p.shared.Load(); r != nil {
		return r.b
	}
	return nil
}

// BudgetUnavailableError is a request not sent because its send time could not be taken from
// the shared budget: the store that keeps it (the replicas' state database) did not answer.
// Nothing reached Domo. The SCIM API answers 503 with Retry-After.
type BudgetUnavailableError struct {
	Op  string
	Err error
}

func (e *BudgetUnavailableError) Error() string {
	return fmt.Sprintf("domo %s: not sent: the shared request budget cannot be reached: %v", e.Op, e.Err)
}

func (e *BudgetUnavailableError) Unwrap() error { return e.Err }

// domoKind is KindOther: neither Domo's answer nor its budget spent.
func (e *BudgetUnavailableError) domoKind() Kind { return KindOther }

// Unavailable tells callers outside this package (the SCIM error funnel) to answer 503, and
// when to come back: about as long as a database restart takes.
func (e *BudgetUnavailableError) Unavailable() (detail string, retryAfter time.Duration) {
	return "the bridge's shared Domo budget (its state database) is unavailable; retry later", 10 * time.Second
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
	if sb := c.pacer.sharedBudget(); sb != nil {
		return c.paceShared(ctx, op, b, sb)
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

// paceShared blocks until op's send time taken from the shared budget sb, failing fast with
// *RateLimitError when the next free one lies beyond MaxWait or the context's deadline (then
// nothing is taken), and with *BudgetUnavailableError when sb cannot be reached.
//
// The wait is counted from the answer's arrival, so the request goes out at its time or later,
// never earlier: any window of Domo's holds at most the times handed out within it (every apart:
// paceFactor of the limit) plus requests sent late into it, and the 2 % slack absorbs 1.2 s of
// lateness a minute.
func (c *Client) paceShared(ctx context.Context, op string, b *budget, sb SharedBudget) error {
	within := c.waitLeft(ctx, b)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, sharedTakeTimeout)
	wait, ok, err := sb.Take(tctx, c.pacer.every, within)
	cancel()
	took := time.Since(start)
	b.waited += took
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return &BudgetUnavailableError{Op: op, Err: err}
	case !ok:
		return &RateLimitError{Op: op, RetryAfter: max(wait, time.Millisecond)}
	}
	// The time is taken. Were the take itself slow enough to push it past the deadline, it is
	// given up rather than waited for in vain.
	if err := c.allowWait(ctx, op, b, wait); err != nil {
		return err
	}
	if err := sleep(ctx, wait); err != nil {
		return err
	}
	b.waited += wait
	c.onWait(ctx, op, took+wait)
	return nil
}

// waitLeft is how much longer a request may wait for budget: what MaxWait leaves of it, and
// no later than the context's deadline.
func (c *Client) waitLeft(ctx context.Context, b *budget) time.Duration {
	limit := unboundedWaitCap
	if c.maxWait > 0 {
		limit = c.maxWait
	}
	left := limit - b.waited
	if dl, ok := ctx.Deadline(); ok {
		left = min(left, time.Until(dl))
	}
	return max(left, 0)
}

// pauseUntil holds every request back until t; with a shared budget, every client of it too.
func (p *pacer) pauseUntil(t time.Time) {
	p.mu.Lock()
	later := t.After(p.pausedUntil)
	if later {
		p.pausedUntil = t
	}
	p.mu.Unlock()
	if sb := p.sharedBudget(); later && sb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedHoldTimeout)
		// Best effort: this client keeps its own pause whatever happens, and the others,
		// should the hold not reach them, meet Domo's 429 and pause themselves.
		_ = sb.Hold(ctx, time.Until(t))
		cancel()
	}
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
