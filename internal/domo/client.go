package domo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config configures a Client. Only ClientID and ClientSecret are required.
type Config struct {
	BaseURL      string   // default "https://api.domo.com"; the token endpoint is BaseURL+"/oauth/token"
	ClientID     string   // OAuth client id
	ClientSecret string   // OAuth client secret; never logged nor put in an error
	Scopes       []string // default []string{"user"}
	// RatePerMinute is the tenant's budget. It counts every request sent to Domo, token
	// requests included. Default 3000.
	RatePerMinute int
	// MaxWait is the longest one request may wait for budget (pacer or 429 backoff) before it
	// fails fast with *RateLimitError. 0 means only the caller's context deadline bounds it.
	MaxWait time.Duration
	// MaxAttempts bounds the attempts per request for 5xx, timeouts and connection errors.
	// Default 6.
	MaxAttempts int
	// PageConcurrency is how many pages of a user listing may be in flight at once, so that a
	// full listing is bounded by the budget rather than by Domo's latency. Default 4.
	PageConcurrency int
	HTTPClient      *http.Client // default: sane timeouts (dial, TLS, response header; 30s overall)
	Logger          zerolog.Logger
	Hooks           Hooks
}

// Hooks let the caller count what the client does (for metrics). All are optional and must be
// safe for concurrent use.
type Hooks struct {
	// Request is called once per HTTP attempt, token requests included (op "token"); status is
	// 0 on a transport error. op is one of users.get, users.list, users.create, users.update,
	// users.delete, groups.list, groups.get, groups.create, groups.update, groups.delete,
	// groups.members, groups.members.add, groups.members.remove, token.
	Request func(ctx context.Context, op string, status int, d time.Duration)
	// Retry is called before a request is sent again; reason is 5xx, timeout, conn, 429 or 401.
	Retry func(ctx context.Context, op string, reason string)
	// Wait reports time spent waiting for budget (the pacer, or a pause after a 429).
	Wait func(ctx context.Context, op string, d time.Duration)
}

// TokenInfo describes the client's current token and the API client's owner.
type TokenInfo struct {
	UserID   int64  // the Domo user who owns the API client
	Role     string // that user's role
	Customer string // the tenant
	Scope    string // granted scopes, space-separated
	Expiry   time.Time
}

// Client is a Domo v1 API client. It is safe for concurrent use; all requests share one token
// and one rate budget.
type Client struct {
	base        string
	hc          *http.Client
	tokenHC     *http.Client
	cc          clientcredentials.Config
	pacer       *pacer
	tokens      tokenCache
	static      *staticAuth // instance APIs: an access token instead of OAuth
	log         zerolog.Logger
	hooks       Hooks
	maxAttempts int
	maxWait     time.Duration
	concurrency int
	// userCount is the size of the last full user listing; FindUserByEmail starts from the
	// tail it implies, because Domo appends new users at the end.
	userCount atomic.Int64
}

// New checks cfg and returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	var problems []string
	if strings.TrimSpace(cfg.ClientID) == "" {
		problems = append(problems, "client id is required")
	}
	if cfg.ClientSecret == "" {
		problems = append(problems, "client secret is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.domo.com"
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "base URL must be an absolute http(s) URL")
	}
	if cfg.RatePerMinute < 0 || cfg.MaxAttempts < 0 || cfg.MaxWait < 0 || cfg.PageConcurrency < 0 {
		problems = append(problems, "rate, attempts, wait and page concurrency must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("domo: config: %s", strings.Join(problems, "; "))
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = 3000
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.PageConcurrency == 0 {
		cfg.PageConcurrency = 4
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"user"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	c := &Client{
		base:        strings.TrimRight(cfg.BaseURL, "/"),
		hc:          cfg.HTTPClient,
		log:         cfg.Logger.With().Str("component", "domo").Logger(),
		hooks:       cfg.Hooks,
		maxAttempts: cfg.MaxAttempts,
		maxWait:     cfg.MaxWait,
		concurrency: cfg.PageConcurrency,
		pacer:       newPacer(cfg.RatePerMinute),
	}
	base := cfg.HTTPClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.tokenHC = &http.Client{Transport: &pacedTransport{c: c, base: base}, Timeout: cfg.HTTPClient.Timeout}
	c.cc = clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     c.base + "/oauth/token",
		Scopes:       cfg.Scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 25 * time.Second
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// Token obtains a token, or reuses the current one, and describes it. The bridge uses UserID
// to protect the API client's own Domo user.
func (c *Client) Token(ctx context.Context) (TokenInfo, error) {
	ctx = withBudget(ctx, "token")
	_, info, err := c.tokens.get(ctx, c)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("domo token: %w", err)
	}
	return info, nil
}

func (c *Client) onRequest(ctx context.Context, op string, status int, d time.Duration) {
	if c.hooks.Request != nil {
		c.hooks.Request(ctx, op, status, d)
	}
}

func (c *Client) onRetry(ctx context.Context, op, reason string) {
	if c.hooks.Retry != nil {
		c.hooks.Retry(ctx, op, reason)
	}
	c.log.Debug().Str("op", op).Str("reason", reason).Msg("domo retry")
}

func (c *Client) onWait(ctx context.Context, op string, d time.Duration) {
	if d > 0 && c.hooks.Wait != nil {
		c.hooks.Wait(ctx, op, d)
	}
}

// transientReason classifies a transport error: "timeout" or "conn".
func transientReason(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "conn"
}
