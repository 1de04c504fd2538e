package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 50 * time.Second // Okta gives up after 60 s; answer before it does
	DefaultBulkMaxOps     = 100              // operations in one POST /Bulk
	DefaultCursorTimeout  = time.Hour        // how long a nextCursor stays valid
	Prefix                = "/scim/v2"
)

// Admin is the operator's control surface, served under /admin/v1: the status to every token,
// the switches to operator tokens only.
type Admin interface {
	Status(ctx context.Context) (map[string]any, error)
	Pause(ctx context.Context, reason string) error
	Resume(ctx context.Context) error
	ResetBreaker(ctx context.Context) error
	// Drift is the drift report of the last index load (JSON-encodable), ok false before one.
	Drift(ctx context.Context) (report any, ok bool)
}

// UI is the operator's status page, served under /ui/ (internal/ui). Browsers sign in with a
// form and carry a session cookie instead of a bearer token, so its routes sit outside the
// bearer-token group; Session attaches the session (if any) and refuses a state-changing
// request without the session's CSRF token, and each handler checks what the session may do.
type UI interface {
	Session(next http.Handler) http.Handler
	Page(w http.ResponseWriter, r *http.Request)    // the status page, or the sign-in form
	SignIn(w http.ResponseWriter, r *http.Request)  // form POST: token -> session cookie
	SignOut(w http.ResponseWriter, r *http.Request) // ends the session
	Live(w http.ResponseWriter, r *http.Request)    // JSON the page polls for its live figures
	Act(w http.ResponseWriter, r *http.Request)     // pause, resume, breaker reset (operators)
	Asset(w http.ResponseWriter, r *http.Request)   // embedded CSS and script
}

// Readiness reports whether the bridge can serve (index loaded, Domo reachable) and details
// that are safe to show anyone: sizes, ages, intervals. Never secrets.
type Readiness func(ctx context.Context) (ready bool, details map[string]any)

// Config is everything NewHandler needs. Users, Groups and Tokens are required.
type Config struct {
	Users          Users
	Groups         Groups
	Tokens         *Tokens
	Logger         zerolog.Logger
	Metrics        *Metrics     // nil: no SCIM metrics
	MetricsHandler http.Handler // served at /metrics when set
	Ready          Readiness
	Available      func() bool // false while the index loads: SCIM requests get 503, not wrong answers
	Pauser         Pauser      // nil: never paused
	Admin          Admin       // nil: no /admin routes
	UI             UI          // nil: no status page
	BaseURL        string      // public base of the SCIM API, e.g. https://scim.example.com/scim/v2; "" derives it per request
	MaxBodyBytes   int64
	MaxResults     int
	RequestTimeout time.Duration
	BulkMaxOps     int           // operations one POST /Bulk may carry; 0 means DefaultBulkMaxOps
	CursorTimeout  time.Duration // lifetime of a pagination cursor; 0 means DefaultCursorTimeout
	// RoleNames lists the Domo roles a user may be given, declared in /Schemas as the
	// canonical values of roles[].value; nil declares none.
	RoleNames func() []string
}

// NewHandler builds the bridge's HTTP handler: health, metrics, admin, the status page and
// the SCIM API, on one listener.
func NewHandler(cfg Config) http.Handler {
	return routes(cfg.withDefaults(), routesAll)
}

// NewHandlers builds the same routes for two listeners: api serves the SCIM API (and health,
// for probes), ops the operator's side (metrics, admin, the status page, and health), so that
// only the first need be reachable from the IdP.
func NewHandlers(cfg Config) (api, ops http.Handler) {
	cfg = cfg.withDefaults()
	return routes(cfg, routesAPI), routes(cfg, routesOps)
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = DefaultMaxResults
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.BulkMaxOps <= 0 {
		cfg.BulkMaxOps = DefaultBulkMaxOps
	}
	if cfg.CursorTimeout <= 0 {
		cfg.CursorTimeout = DefaultCursorTimeout
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return cfg
}

func (cfg Config) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

func (cfg Config) readyz(w http.ResponseWriter, r *http.Request) {
	ready, details := true, map[string]any{}
	if cfg.Ready != nil {
		ready, details = cfg.Ready(r.Context())
	}
	if details == nil {
		details = map[string]any{}
	}
	status := http.StatusOK
	details["ready"] = ready
	if !ready {
		status = http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(details)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// available answers 503 until the backends can answer truthfully: an empty index would tell an
// IdP that users do not exist, and it would create them again.
func available(fn func() bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fn != nil && !fn() {
				writeError(w, r, Unavailable(5*time.Second, "the bridge is loading its index of Domo users; retry shortly", nil))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// timeout bounds each request so that the bridge answers (429/503) before the IdP gives up.
func timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
