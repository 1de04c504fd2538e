package scim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"
)

// Info is what the bridge knows about the request being served: who asked and what it cost.
// Middleware creates it; handlers and backends read it through RequestInfo.
type Info struct {
	ID        string // request id, from X-Request-Id when sane, else generated
	BaseURL   string // absolute base of the SCIM API for this request, e.g. https://host/scim/v2
	Token     string // name of the bearer token used
	Operation string // "PATCH /Users/123"
	role      Role
	upstream  atomic.Int64
	err       *Error // the error answered, for the access log
	quirks    []string
}

// Upstream counts one call to Domo made on behalf of this request.
func (i *Info) Upstream() { i.upstream.Add(1) }

// UpstreamCalls reports how many Domo calls the request made so far.
func (i *Info) UpstreamCalls() int64 { return i.upstream.Load() }

type infoKey struct{}

// RequestInfo returns the request's Info. Outside a request (background work, tests) it returns
// a fresh, unattached Info, so callers never need a nil check.
func RequestInfo(ctx context.Context) *Info {
	if i, ok := ctx.Value(infoKey{}).(*Info); ok {
		return i
	}
	return &Info{}
}

func requestInfo(ctx context.Context) *Info { return RequestInfo(ctx) }

// withInfo attaches a new Info to the request, with its id and the base URL that resource
// locations are built on: the configured one, else one derived from the request (honouring
// X-Forwarded-Proto and X-Forwarded-Host from a load balancer).
func withInfo(baseURL, prefix string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if !saneRequestID(id) {
				id = newRequestID()
			}
			info := &Info{ID: id, Operation: r.Method + " " + r.URL.Path, BaseURL: baseURL}
			if info.BaseURL == "" {
				info.BaseURL = requestBase(r) + prefix
			}
			w.Header().Set("X-Request-Id", id)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		})
	}
}

func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/ \\") {
		host = h
	}
	return scheme + "://" + host
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// accessLog writes one line per request: method, route, status, duration, request id, token
// name and the number of Domo calls made. Never bodies, tokens or personal data.
func accessLog(log zerolog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			d := time.Since(start)
			info := RequestInfo(r.Context())
			route := routePattern(r)
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			m.observeRequest(r.Method, route, status, d)
			for _, q := range info.quirks {
				m.observeQuirk(q)
			}
			// 503 is always deliberate (paused, breaker open, index loading, Domo down) and
			// comes with Retry-After; errors are the 5xx nobody planned.
			lvl := zerolog.InfoLevel
			switch {
			case status >= 500 && status != http.StatusServiceUnavailable:
				lvl = zerolog.ErrorLevel
			case status >= 400:
				lvl = zerolog.WarnLevel
			}
			ev := log.WithLevel(lvl).
				Str("method", r.Method).
				Str("route", route).
				Int("status", status).
				Dur("duration", d).
				Str("request_id", info.ID).
				Int64("domo_calls", info.UpstreamCalls())
			if info.Token != "" {
				ev = ev.Str("token", info.Token)
			}
			if info.err != nil {
				if info.err.Type != "" {
					ev = ev.Str("scim_type", string(info.err.Type))
				}
				if info.err.Err != nil && status >= 500 {
					ev = ev.AnErr("cause", info.err.Err)
				}
			}
			ev.Msg("request")
		})
	}
}

// routePattern names the route without ids, so logs and metrics have bounded cardinality.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// recoverer turns a panic into a SCIM 500 and logs the cause with its stack, so one bad
// request never takes the bridge down.
func recoverer(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error().Str("request_id", RequestInfo(r.Context()).ID).
						Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic serving request")
					writeError(w, r, &Error{Status: http.StatusInternalServerError, Detail: "internal error", Err: fmt.Errorf("panic: %v", v)})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// limitBody caps request bodies; reading past the cap fails with *http.MaxBytesError, which
// the error funnel answers with 413.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				writeError(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Type: TypeInvalidSyntax,
					Detail: fmt.Sprintf("request body is larger than %d bytes", max)})
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// canonicalPath makes endpoint names case-insensitive and tolerates a trailing slash, because
// IdPs and test suites send /users, /Users/ and /serviceConfiguration-style variants.
func canonicalPath(prefix string) func(http.Handler) http.Handler {
	names := map[string]string{}
	for _, n := range []string{"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me", ".search"} {
		names[strings.ToLower(n)] = n
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			if strings.HasPrefix(p, prefix+"/") {
				rest := strings.TrimSuffix(p[len(prefix)+1:], "/")
				segs := strings.Split(rest, "/")
				for i, s := range segs {
					// Only endpoint names are rewritten: ids (segment 1 under Users/Groups) stay as sent.
					if i == 1 && (segs[0] == "Users" || segs[0] == "Groups") && s != ".search" {
						continue
					}
					if i == 1 && segs[0] == "Schemas" || i == 1 && segs[0] == "ResourceTypes" {
						continue
					}
					if c, ok := names[strings.ToLower(s)]; ok {
						segs[i] = c
					}
				}
				np := prefix + "/" + strings.Join(segs, "/")
				if np != p {
					r.URL.Path = np
					r.URL.RawPath = ""
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Pauser is the operator's switch that stops writes during an incident.
type Pauser interface {
	// Paused reports whether writes are paused, and for how long the client should wait.
	Paused() (bool, time.Duration)
}

// pauseWrites answers writes with 503 and Retry-After while the operator has paused the
// bridge; reads keep working, and the IdP retries the writes later, so nothing is lost.
func pauseWrites(p Pauser) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p != nil && !isRead(r) {
				if paused, retry := p.Paused(); paused {
					writeError(w, r, Unavailable(retry, "provisioning is paused by the operator; retry later", nil))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WithInfo returns ctx carrying info, for work the bridge does on its own behalf (finishing an
// interrupted change after a restart): its Domo calls are then audited under info's token and
// operation like a request's.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}
