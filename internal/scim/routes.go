package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// Which routes a handler serves: all of them on one listener, or the SCIM API and the
// operator's side on two (SCIMBRIDGE_OPS_ADDR). Health is on every listener, for probes.
type routeSet int

const (
	routesAPI routeSet = 1 << iota // /scim/v2
	routesOps                      // /metrics, /admin/v1, /ui
	routesAll = routesAPI | routesOps
)

// routes lists every route the bridge serves and the order of its middleware. set picks the
// SCIM API, the operator's side or both.
//
//	all:      canonical path -> request info -> access log -> panic recovery
//	public:   GET /healthz, GET /readyz, GET /metrics
//	ui:       GET /ui (redirect), GET /ui/assets/{name}
//	          + body limit -> session cookie and CSRF check (every POST)
//	          GET /ui/ (status page or sign-in form), POST /ui/login, POST /ui/logout,
//	          GET /ui/live, POST /ui/{pause|resume|breaker-reset} (operator sessions only)
//	token:    + bearer auth -> body limit -> request timeout
//	          /admin/v1/...          + writes by operator tokens only
//	                                 -> operator switches (pause, resume, breaker reset, status),
//	                                 drift report
//	          /scim/v2/...           + writes by provisioning tokens only -> 503 until the index
//	                                 is loaded -> pause switch for writes -> SCIM endpoints
//	          /scim/v2/Bulk          each operation goes through this whole chain again, as a
//	                                 request of its own (bulk.go)
//
// Middleware that can refuse a request after authentication sits in route groups, which chi
// applies after matching, so the access log and metrics name the route of a refused request.
func routes(cfg Config, set routeSet) http.Handler {
	r := chi.NewRouter()
	bk := &bulk{maxOps: cfg.BulkMaxOps, maxBody: cfg.MaxBodyBytes}
	r.Use(withInfo(cfg.BaseURL, Prefix), accessLog(cfg.Logger, cfg.Metrics), recoverer(cfg.Logger))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, Errorf(http.StatusNotFound, "", "no such endpoint: %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, Errorf(http.StatusMethodNotAllowed, "", "method %s is not allowed on %s", r.Method, r.URL.Path))
	})

	r.Get("/healthz", cfg.healthz)
	r.Get("/readyz", cfg.readyz)
	ops, api := set&routesOps != 0, set&routesAPI != 0
	if ops && cfg.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", cfg.MetricsHandler)
	}

	if ops && cfg.UI != nil {
		r.Get("/ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) })
		r.Get("/ui/assets/{name}", cfg.UI.Asset)
		r.Group(func(r chi.Router) {
			r.Use(limitBody(64<<10), timeout(cfg.RequestTimeout), cfg.UI.Session)
			r.Get("/ui/", cfg.UI.Page)
			r.Post("/ui/login", cfg.UI.SignIn)
			r.Post("/ui/logout", cfg.UI.SignOut)
			r.Get("/ui/live", cfg.UI.Live)
			r.Post("/ui/{action:pause|resume|breaker-reset}", cfg.UI.Act)
		})
	}

	r.Group(func(r chi.Router) {
		r.Use(authenticate(cfg.Tokens), limitBody(cfg.MaxBodyBytes), timeout(cfg.RequestTimeout))
		if ops && cfg.Admin != nil {
			// Groups, not sub-routers, from here on: their middleware runs after the route is
			// matched, so even refused requests are logged and counted under their route.
			r.Group(func(r chi.Router) {
				r.Use(writesBy(RoleOperator))
				r.Get("/admin/v1/status", adminStatus(cfg.Admin))
				r.Post("/admin/v1/pause", adminPause(cfg.Admin))
				r.Post("/admin/v1/resume", adminAction(cfg.Admin, cfg.Admin.Resume))
				r.Post("/admin/v1/breaker/reset", adminAction(cfg.Admin, cfg.Admin.ResetBreaker))
				r.Get("/admin/v1/drift", adminDrift(cfg.Admin))
			})
		}
		if !api {
			return
		}
		r.Route(Prefix, func(r chi.Router) {
			r.Group(func(r chi.Router) {
				r.Use(writesBy(RoleProvision), available(cfg.Available), pauseWrites(cfg.Pauser))
				d := &discovery{types: []*ResourceType{UserType, GroupType}, maxResults: cfg.MaxResults, maxBody: cfg.MaxBodyBytes,
					bulkMaxOps: cfg.BulkMaxOps, cursorTimeout: cfg.CursorTimeout, roleNames: cfg.RoleNames}
				r.Get("/ServiceProviderConfig", noFilter(d.serviceProviderConfig))
				r.Get("/ResourceTypes", noFilter(d.resourceTypes))
				r.Get("/ResourceTypes/{name}", noFilter(d.resourceTypeByName))
				r.Get("/Schemas", noFilter(d.schemaList))
				r.Get("/Schemas/{id}", noFilter(d.schemaByID))
				users := &resources{rt: UserType, backend: cfg.Users, maxResults: cfg.MaxResults, cursorTimeout: cfg.CursorTimeout}
				groups := &resources{rt: GroupType, backend: cfg.Groups, maxResults: cfg.MaxResults, cursorTimeout: cfg.CursorTimeout}
				mountResources(r, users)
				mountResources(r, groups)
				notImplemented := func(w http.ResponseWriter, r *http.Request) {
					writeError(w, r, Errorf(http.StatusNotImplemented, "", "%s is not supported", r.URL.Path))
				}
				r.Post("/Bulk", bk.serve)
				r.HandleFunc("/Me", notImplemented)
				r.Post("/.search", (&rootSearch{types: []*resources{users, groups}, maxResults: cfg.MaxResults}).search)
			})
		})
	})
	_ = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, Prefix) {
			cfg.Metrics.zeroRoute(method, route)
		}
		return nil
	})
	h := canonicalPath(Prefix)(r)
	bk.handler = h // each bulk operation is served as a request of its own
	return h
}

// mountResources registers a resource type's endpoints flat, not as a sub-router, so the
// group's middleware sees the full route pattern.
func mountResources(r chi.Router, h *resources) {
	e := h.rt.Endpoint
	r.Get(e, h.list)
	r.Post(e, h.create)
	r.Post(e+"/.search", h.search)
	r.Get(e+"/{id}", h.get)
	r.Put(e+"/{id}", h.replace)
	r.Patch(e+"/{id}", h.patch)
	r.Delete(e+"/{id}", h.delete)
}

func adminStatus(a Admin) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := a.Status(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	}
}

func adminPause(a Admin) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
		}
		b, err := readBody(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &body); err != nil {
				writeError(w, r, BadRequest(TypeInvalidSyntax, "body must be {\"reason\": \"...\"}"))
				return
			}
		}
		if err := a.Pause(r.Context(), body.Reason); err != nil {
			writeError(w, r, err)
			return
		}
		adminStatus(a)(w, r)
	}
}

func adminAction(a Admin, fn func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(r.Context()); err != nil {
			writeError(w, r, err)
			return
		}
		adminStatus(a)(w, r)
	}
}

func adminDrift(a Admin) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep, ok := a.Drift(r.Context())
		if !ok {
			writeError(w, r, Unavailable(30*time.Second, "no drift report yet: the bridge computes it with each index load from Domo", nil))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	}
}
