package domosim

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SimUser is a Domo user record as the simulator holds it (facts file §11.1). Empty strings and
// a zero EmployeeNumber mean "not set": Domo omits such fields from its answers.
type SimUser struct {
	ID             int64
	Name           string
	Email          string
	AlternateEmail string
	Role           string
	RoleID         int64
	Title          string
	Phone          string
	Location       string
	Timezone       string
	Locale         string
	EmployeeNumber int64
	EmployeeID     string
	Department     string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Deleted        bool
	OwnsContent    bool
	// Identity API attributes that v1 does not show.
	HireDate  string // hireDate
	ReportsTo int64  // reportsTo: the manager's user id
	// (Customer-defined attributes are kept beside the record, so that SimUser stays
	// comparable: see Sim.Attributes.)
}

// SimGroup is a Domo group as the simulator holds it. Members are in insertion order.
type SimGroup struct {
	ID        int64
	Name      string
	Active    bool
	Default   bool
	CreatorID int64
	Members   []int64
	Deleted   bool
	Type      string
}

// Invite is one entry of the invite outbox: a user created with sendInvite=true.
type Invite struct {
	UserID int64
	Email  string
	At     time.Time
}

type user struct {
	SimUser
	visibleAt time.Time // ReadAfterWriteDelay: hidden from reads before this
	// attrs are the customer-defined identity attributes, by key. Replaced, never written
	// into, so a copy handed out stays as it was.
	attrs map[string][]string
}

type group struct {
	SimGroup
	set map[int64]struct{}
}

type tokenRec struct {
	exp    time.Time
	scopes []string
	userID int64
}

// Sim is a simulated Domo tenant. It implements http.Handler: mount it on an httptest.Server
// (or any listener) and point a client's base URL at it. It is safe for concurrent use.
type Sim struct {
	mu         sync.RWMutex
	opts       Options
	users      map[int64]*user
	live       []*user // non-deleted users in insertion order
	emails     map[string]int64
	groups     map[int64]*group
	liveGroups []*group
	groupOrder []*group // every group ever created, in creation order
	tokens     map[string]tokenRec
	invites    []Invite
	ownerID    int64
	defaultGID int64

	rngMu sync.Mutex
	rng   *rand.Rand

	limiter     slidingWindow
	instLimiter slidingWindow // the instance APIs' own budget
	faults      faultQueue
	stats       statsRec
}

// New returns a simulator with the seeded state of a fresh tenant: the API client's owner (an
// Admin) and the Default group holding it.
func New(opts Options) *Sim {
	opts = opts.withDefaults()
	seed := opts.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &Sim{
		opts:   opts,
		users:  map[int64]*user{},
		emails: map[string]int64{},
		groups: map[int64]*group{},
		tokens: map[string]tokenRec{},
		rng:    rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
	}
	s.stats.init()
	now := opts.Now().UTC()
	s.mu.Lock()
	s.defaultGID = s.insertGroupLocked("Default", true, 0, now)
	owner := SimUser{Name: "Sim Admin", Email: opts.OwnerEmail, Role: "Admin", RoleID: 1, Title: "Domo Administrator"}
	s.ownerID = s.insertUserLocked(owner, now)
	s.users[s.ownerID].visibleAt = time.Time{} // seeded state is old: visible at once
	s.groups[s.defaultGID].CreatorID = s.ownerID
	s.mu.Unlock()
	return s
}

// Options returns the current knobs.
func (s *Sim) Options() Options {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.opts
}

// SetOptions changes knobs at runtime: fn edits a copy of the current options, which then
// replaces them atomically.
func (s *Sim) SetOptions(fn func(*Options)) {
	s.mu.Lock()
	o := s.opts
	fn(&o)
	s.opts = o.withDefaults()
	s.mu.Unlock()
}

func (s *Sim) randInt64(lo, hi int64) int64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return lo + s.rng.Int64N(hi-lo)
}

func (s *Sim) randFloat() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// newIDLocked picks a random unused id in [10^8, 2^31-1], as Domo's ids look.
func (s *Sim) newIDLocked() int64 {
	for {
		id := s.randInt64(100_000_000, 2_147_483_647)
		_, u := s.users[id]
		_, g := s.groups[id]
		if !u && !g {
			return id
		}
	}
}

func (s *Sim) insertUserLocked(u SimUser, now time.Time) int64 {
	if u.ID == 0 {
		u.ID = s.newIDLocked()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	if u.RoleID == 0 {
		if r, ok := s.opts.roleByName(u.Role); ok {
			u.RoleID = r.ID
		}
	}
	rec := &user{SimUser: u}
	if s.opts.ReadAfterWriteDelay > 0 {
		rec.visibleAt = now.Add(s.opts.ReadAfterWriteDelay)
	}
	s.users[u.ID] = rec
	if !u.Deleted {
		s.live = append(s.live, rec)
		s.emails[strings.ToLower(u.Email)] = u.ID
		for _, g := range s.liveGroups {
			if g.Default {
				g.add(u.ID)
			}
		}
	}
	return u.ID
}

func (s *Sim) insertGroupLocked(name string, def bool, creator int64, _ time.Time) int64 {
	g := &group{SimGroup: SimGroup{ID: s.newIDLocked(), Name: name, Active: true, Default: def, CreatorID: creator, Type: "adHoc"}, set: map[int64]struct{}{}}
	s.groups[g.ID] = g
	s.liveGroups = append(s.liveGroups, g)
	s.groupOrder = append(s.groupOrder, g)
	return g.ID
}

func (s *Sim) deleteUserLocked(u *user, now time.Time) {
	u.Deleted = true
	u.UpdatedAt = now
	delete(s.emails, strings.ToLower(u.Email))
	for i, l := range s.live {
		if l == u {
			s.live = append(s.live[:i], s.live[i+1:]...)
			break
		}
	}
	for _, g := range s.liveGroups {
		g.remove(u.ID)
	}
}

func (g *group) add(uid int64) bool {
	if _, ok := g.set[uid]; ok {
		return false
	}
	g.set[uid] = struct{}{}
	g.Members = append(g.Members, uid)
	return true
}

func (g *group) remove(uid int64) bool {
	if _, ok := g.set[uid]; !ok {
		return false
	}
	delete(g.set, uid)
	for i, m := range g.Members {
		if m == uid {
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
			break
		}
	}
	return true
}

func (u *user) visible(now time.Time) bool {
	return !u.Deleted && (u.visibleAt.IsZero() || !now.Before(u.visibleAt))
}

// ServeHTTP answers one request the way api.domo.com would, faults included.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	opts := s.Options()
	route, h := s.route(r)
	sw := &statusWriter{ResponseWriter: w, onStatus: func(status int) { s.stats.record(r.Method, route, status) }}
	defer func() {
		if sw.status == 0 { // no answer: a dropped connection or a cancelled request
			s.stats.record(r.Method, route, 0)
		}
	}()

	api := isInstancePath(r.URL.Path)
	delay := opts.Latency
	if api {
		delay += opts.InstanceLatency
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			sw.status = 0
			return
		}
	}
	limit, limiter := opts.RateLimit, &s.limiter
	if api {
		limit, limiter = opts.InstanceRateLimit, &s.instLimiter
	}
	if limit > 0 {
		ok, remaining, reset := limiter.allow(opts.Now(), limit, opts.RateWindow)
		if opts.RateLimitHeaders == "all" || (!ok && opts.RateLimitHeaders == "429") {
			setRateHeaders(sw.Header(), limit, remaining, reset)
		}
		if !ok && opts.RateLimitHeaders == "retry-after" {
			// Whole seconds, rounded up: a client waiting that long finds the slot free.
			wait := reset.Sub(opts.Now())
			sec := int64(wait / time.Second)
			if wait%time.Second > 0 || sec == 0 {
				sec++
			}
			sw.Header().Set("Retry-After", strconv.FormatInt(sec, 10))
		}
		if !ok {
			s.stats.rateLimited.Add(1)
			writeError(sw, r, opts, http.StatusTooManyRequests, "Rate limit exceeded. Try again later.")
			return
		}
	}
	if api || strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1" || strings.HasSuffix(route, " "+TokenRoute) {
		if s.serveFault(sw, r, opts, route, h, api) {
			return
		}
	}
	h(sw, r, opts)
}

type handler func(w http.ResponseWriter, r *http.Request, opts Options)

// authed wraps a /v1 handler with bearer-token and scope checks.
func (s *Sim) authed(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, opts Options) {
		tok, ok := bearer(r)
		if !ok {
			writeError(w, r, opts, http.StatusUnauthorized, "Full authentication is required to access this resource")
			return
		}
		s.mu.RLock()
		rec, found := s.tokens[tok]
		s.mu.RUnlock()
		if !found || !opts.Now().Before(rec.exp) {
			writeError(w, r, opts, http.StatusUnauthorized, "Access token expired or invalid")
			return
		}
		has := false
		for _, sc := range rec.scopes {
			if sc == "user" {
				has = true
			}
		}
		if !has {
			writeError(w, r, opts, http.StatusForbidden, "Not allowed: the token lacks the user scope")
			return
		}
		h(w, r, opts)
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// route maps a request to its route template (for Stats) and handler. Unknown paths get a 404
// handler, known paths with a wrong method a 405 one.
func (s *Sim) route(r *http.Request) (string, handler) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	pick := func(tmpl string, alts ...alt) (string, handler) { return pickRoute(r, tmpl, alts...) }
	if len(seg) > 0 && seg[0] == "api" {
		if tmpl, h, ok := s.instanceRoute(r, seg); ok {
			return tmpl, h
		}
	}
	switch {
	case len(seg) == 2 && seg[0] == "oauth" && seg[1] == "token":
		return pick("/oauth/token", alt{"GET", s.token}, alt{"POST", s.token})
	case len(seg) == 2 && seg[0] == "v1" && seg[1] == "users":
		return pick("/v1/users", alt{"GET", s.authed(s.listUsers)}, alt{"POST", s.authed(s.createUser)})
	case len(seg) == 3 && seg[0] == "v1" && seg[1] == "users":
		return pick("/v1/users/{id}", alt{"GET", s.authed(s.getUser)}, alt{"PUT", s.authed(s.putUser)}, alt{"DELETE", s.authed(s.deleteUser)})
	case len(seg) == 2 && seg[0] == "v1" && seg[1] == "groups":
		return pick("/v1/groups", alt{"GET", s.authed(s.listGroups)}, alt{"POST", s.authed(s.createGroup)})
	case len(seg) == 3 && seg[0] == "v1" && seg[1] == "groups":
		return pick("/v1/groups/{id}", alt{"GET", s.authed(s.getGroup)}, alt{"PUT", s.authed(s.putGroup)}, alt{"DELETE", s.authed(s.deleteGroup)})
	case len(seg) == 4 && seg[0] == "v1" && seg[1] == "groups" && seg[3] == "users":
		return pick("/v1/groups/{id}/users", alt{"GET", s.authed(s.listMembers)})
	case len(seg) == 5 && seg[0] == "v1" && seg[1] == "groups" && seg[3] == "users":
		return pick("/v1/groups/{id}/users/{userId}", alt{"PUT", s.authed(s.addMember)}, alt{"DELETE", s.authed(s.removeMember)})
	}
	return r.Method + " (unknown)", func(w http.ResponseWriter, r *http.Request, opts Options) {
		writeError(w, r, opts, http.StatusNotFound, "No handler found for "+r.Method+" "+r.URL.Path)
	}
}

// alt is one method a route answers.
type alt struct {
	method string
	h      handler
}

// pickRoute chooses the handler for the request's method among alts, or a 405 handler.
func pickRoute(r *http.Request, tmpl string, alts ...alt) (string, handler) {
	var allow []string
	for _, a := range alts {
		if r.Method == a.method {
			return r.Method + " " + tmpl, a.h
		}
		allow = append(allow, a.method)
	}
	return r.Method + " " + tmpl, func(w http.ResponseWriter, r *http.Request, opts Options) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, opts, http.StatusMethodNotAllowed, "Request method '"+r.Method+"' not supported")
	}
}

// pathID parses the path segment at index i as a positive id.
func pathID(r *http.Request, i int) (int64, bool) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if i >= len(seg) {
		return 0, false
	}
	return parseID(seg[i])
}
