package domo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Capability is one feature of Domo's instance APIs ({instance}.domo.com/api/...) that the
// bridge uses when it works and replaces with v1 (or its own store) when it does not.
type Capability string

const (
	// CapAttributes: the identity API reads and PATCHes a user's attributes (custom ones,
	// reportsTo, hireDate...) and roleId. The attribute catalogue is not part of it (see
	// CatalogueState): it only lets unknown keys be refused before any write.
	CapAttributes Capability = "attributes"
	// CapRoles: the authorization API lists the tenant's roles, custom ones included.
	CapRoles Capability = "roles"
	// CapBulkMembership: the content API adds and removes many group members in one call.
	CapBulkMembership Capability = "bulk-membership"
	// CapGroupRead: the content API reads a group with all its member ids in one call.
	CapGroupRead Capability = "group-read"
)

// AllCapabilities lists the capabilities in the order reports show them.
var AllCapabilities = []Capability{CapAttributes, CapRoles, CapBulkMembership, CapGroupRead}

// CapabilityState is what the client knows of one capability.
type CapabilityState struct {
	Capability Capability
	Available  bool
	// Status is the HTTP status of the answer that decided (0: not probed yet, or no answer).
	Status int
	// Reason says why the capability is unavailable; empty when it is available.
	Reason string
	// Transient is set when the last probe failed for a reason that may pass by itself (Domo
	// unavailable, throttled), as opposed to a refusal (401, 403) or a missing endpoint (404).
	Transient bool
	Checked   time.Time // last probe or call that decided
	Since     time.Time // when Available last changed
}

// ErrCapability: an instance API answered 401, 403 or 404 for an endpoint (not for one user or
// group): the capability is unavailable and the caller should use v1 instead.
var ErrCapability = errors.New("domo: instance API capability unavailable")

// CapabilityError reports a call that found its capability unavailable. It matches
// ErrCapability only: a refused access token is not the v1 credentials' problem, so it does not
// match ErrUnauthorized.
type CapabilityError struct {
	Capability Capability
	Op         string
	Status     int
	Message    string
}

func (e *CapabilityError) Error() string {
	return fmt.Sprintf("domo %s: instance capability %s unavailable (status %d: %s)", e.Op, e.Capability, e.Status, e.Message)
}

// Is makes a CapabilityError match ErrCapability.
func (e *CapabilityError) Is(target error) bool { return target == ErrCapability }

// DefaultBatchSize is how many members one bulk membership call carries unless configured.
// Domo documents no limit. 100 turns a 10,000-member push into 100 calls (2 s of a
// 3,000/minute budget instead of 3 min 20 s), keeps each body near 3 KB, and bounds what one
// refused or lost call leaves in doubt; larger batches save little more budget.
const DefaultBatchSize = 100

// MaxBatchSize bounds the configurable batch.
const MaxBatchSize = 1000

// InstanceConfig configures an Instance. URL and an access token are required.
type InstanceConfig struct {
	URL         string // e.g. "https://acme.domo.com"
	AccessToken string // sent as X-DOMO-Developer-Token; never logged nor put in an error
	// TokenSource, when set, supplies the access token instead of AccessToken, and is asked
	// again after a 401, so that a token rotated in its file takes effect without a restart.
	TokenSource func(context.Context) (string, error)
	// RatePerMinute is the budget of the instance APIs, paced apart from v1's. Default 3000.
	RatePerMinute int
	MaxWait       time.Duration // as Config.MaxWait
	MaxAttempts   int           // as Config.MaxAttempts; default 6
	// BatchSize is the most members one bulk membership call carries. Default DefaultBatchSize.
	BatchSize  int
	HTTPClient *http.Client
	Logger     zerolog.Logger
	// Hooks count requests as for v1; ops are named identity.*, attributes.*, roles.*,
	// content.* and instance.probe.
	Hooks Hooks
	// OnChange is called when a capability becomes available or unavailable.
	OnChange func(CapabilityState)
}

// ProbeHints name a user and a group that exist, for the probes that must read one: the v1
// API client's owner and Domo's Default group are never deleted while the bridge runs.
type ProbeHints struct {
	UserID  int64
	GroupID int64
}

// Instance is a client of Domo's instance APIs (identity, user attributes, authorization,
// content groups) with an access token. It keeps what it learnt of each capability: callers
// check Available before choosing the instance API over v1, and every call that finds its
// capability gone (401, 403, 404 of the endpoint) marks it unavailable and fails with a
// *CapabilityError. It is safe for concurrent use.
type Instance struct {
	c        *Client
	log      zerolog.Logger
	onChange func(CapabilityState)
	maxBatch int
	batch    atomic.Int64 // effective batch: lowered when Domo refuses the configured size

	mu        sync.Mutex
	caps      map[Capability]CapabilityState
	hints     ProbeHints
	keys      map[string]AttributeKey // the attribute catalogue, by exact key, while available
	catalogue CatalogueState
	known     map[string]bool // keys Domo showed or took (true), or refused on their own (false)
	roles     []Role
}

// NewInstance checks cfg and returns a client. It makes no request; Probe does.
func NewInstance(cfg InstanceConfig) (*Instance, error) {
	var problems []string
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "instance URL must be an absolute http(s) URL such as https://acme.domo.com")
	} else if u.Path != "" && u.Path != "/" {
		problems = append(problems, "instance URL must not have a path (the bridge adds /api/...)")
	}
	if cfg.TokenSource == nil && strings.TrimSpace(cfg.AccessToken) == "" {
		problems = append(problems, "access token is required")
	}
	if cfg.RatePerMinute < 0 || cfg.MaxAttempts < 0 || cfg.MaxWait < 0 {
		problems = append(problems, "rate, attempts and wait must not be negative")
	}
	if cfg.BatchSize < 0 || cfg.BatchSize > MaxBatchSize {
		problems = append(problems, fmt.Sprintf("batch size must be between 1 and %d", MaxBatchSize))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("domo: instance config: %s", strings.Join(problems, "; "))
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = 3000
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	source := cfg.TokenSource
	if source == nil {
		tok := cfg.AccessToken
		source = func(context.Context) (string, error) { return tok, nil }
	}
	log := cfg.Logger.With().Str("component", "domo-instance").Logger()
	c := &Client{
		base:        strings.TrimRight(cfg.URL, "/"),
		hc:          cfg.HTTPClient,
		log:         log,
		hooks:       cfg.Hooks,
		maxAttempts: cfg.MaxAttempts,
		maxWait:     cfg.MaxWait,
		concurrency: 1,
		pacer:       newPacer(cfg.RatePerMinute),
		static:      &staticAuth{source: source},
	}
	in := &Instance{c: c, log: log, onChange: cfg.OnChange, maxBatch: cfg.BatchSize, caps: map[Capability]CapabilityState{}}
	in.batch.Store(int64(cfg.BatchSize))
	for _, cp := range AllCapabilities {
		in.caps[cp] = CapabilityState{Capability: cp, Reason: "not probed yet"}
	}
	in.catalogue.Reason = "not read yet"
	return in, nil
}

// BatchSize is the most members a bulk membership call should carry now: the configured size,
// or less once Domo refused that many at once.
func (in *Instance) BatchSize() int { return int(in.batch.Load()) }

// Available reports whether a capability worked the last time it was probed or used.
func (in *Instance) Available(cp Capability) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.caps[cp].Available
}

// Capabilities returns the state of every capability, in AllCapabilities order.
func (in *Instance) Capabilities() []CapabilityState {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]CapabilityState, 0, len(AllCapabilities))
	for _, cp := range AllCapabilities {
		out = append(out, in.caps[cp])
	}
	return out
}

// set records a capability's state and reports a change of availability.
func (in *Instance) set(st CapabilityState) {
	in.mu.Lock()
	prev := in.caps[st.Capability]
	st.Since = prev.Since
	if prev.Available != st.Available || prev.Since.IsZero() {
		st.Since = st.Checked
	}
	in.caps[st.Capability] = st
	in.mu.Unlock()
	if prev.Available == st.Available {
		return
	}
	if st.Available {
		in.log.Info().Str("capability", string(st.Capability)).Msg("Domo instance capability available")
	} else {
		in.log.Warn().Str("capability", string(st.Capability)).Int("status", st.Status).Str("reason", st.Reason).Msg("Domo instance capability unavailable; falling back")
	}
	if in.onChange != nil {
		in.onChange(st)
	}
}

// lose marks cp unavailable after a call found it gone; a refused token (401) takes every
// capability with it, since they all share the token.
func (in *Instance) lose(cp Capability, op string, ae *APIError) *CapabilityError {
	now := time.Now()
	reason := capabilityReason(ae.Status)
	targets := []Capability{cp}
	if ae.Status == http.StatusUnauthorized {
		targets = AllCapabilities
	}
	for _, t := range targets {
		in.set(CapabilityState{Capability: t, Status: ae.Status, Reason: reason, Checked: now})
	}
	return &CapabilityError{Capability: cp, Op: op, Status: ae.Status, Message: ae.Message}
}

func capabilityReason(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the access token is refused (revoked, expired or wrong)"
	case http.StatusForbidden:
		return "the access token lacks the grants for this API"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return "the instance does not have this API"
	}
	return fmt.Sprintf("unexpected answer (status %d)", status)
}

// endpointRefusal reports whether err is Domo refusing the endpoint itself: 401 or 403.
func endpointRefusal(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
		return ae, true
	}
	return nil, false
}

// missing reports whether err is a 404 or 405 answer, which for a path naming one user or
// group may mean either that the resource is gone or that the endpoint is.
func missing(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed) {
		return ae, true
	}
	return nil, false
}

// classify turns a failed call of capability cp into what the caller acts on: 401 and 403
// (and 404 when resourceGone cannot be confirmed) become a *CapabilityError and mark cp
// unavailable; a 404 that the capability's probe shows to be about the resource becomes
// ErrNotFound; anything else passes through.
func (in *Instance) classify(ctx context.Context, cp Capability, op string, err error, resource bool) error {
	if ae, ok := endpointRefusal(err); ok {
		return in.lose(cp, op, ae)
	}
	ae, ok := missing(err)
	if !ok {
		return err
	}
	if !resource {
		return in.lose(cp, op, ae)
	}
	// A path naming a user or group: probe the capability on a resource known to exist.
	st := in.probe(ctx, cp)
	in.set(st)
	if st.Available {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if st.Transient {
		return fmt.Errorf("%w: %s answered %d and the check of its endpoint failed: %s", ErrUnavailable, op, ae.Status, st.Reason)
	}
	return &CapabilityError{Capability: cp, Op: op, Status: st.Status, Message: st.Reason}
}

// Probe checks every capability with the cheapest call that shows it works, and records the
// result. hints name a user and a group known to exist (zero values are kept from an earlier
// probe). A capability whose probe fails for a transient reason is reported unavailable and
// Transient, so the caller probes again sooner.
func (in *Instance) Probe(ctx context.Context, hints ProbeHints) []CapabilityState {
	in.mu.Lock()
	if hints.UserID > 0 {
		in.hints.UserID = hints.UserID
	}
	if hints.GroupID > 0 {
		in.hints.GroupID = hints.GroupID
	}
	in.mu.Unlock()
	for _, cp := range AllCapabilities {
		in.set(in.probe(ctx, cp))
	}
	return in.Capabilities()
}

// ProbeCapability checks one capability, as Probe does, and records the result.
func (in *Instance) ProbeCapability(ctx context.Context, cp Capability, hints ProbeHints) CapabilityState {
	in.mu.Lock()
	if hints.UserID > 0 {
		in.hints.UserID = hints.UserID
	}
	if hints.GroupID > 0 {
		in.hints.GroupID = hints.GroupID
	}
	in.mu.Unlock()
	st := in.probe(ctx, cp)
	in.set(st)
	return st
}

// Hints returns the user and group the probes read.
func (in *Instance) Hints() ProbeHints {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hints
}

// probe checks one capability without recording the result. A probe concludes
// "unavailable" only from answers a real use would get too, never from a tenant being strict
// about the probe's own (empty) request:
//
//   - attributes: GET /api/identity/v1/users/{a user known to exist}?parts=DETAILED answers
//     that user. The attribute catalogue is read along, and its state kept apart (Catalogue):
//     it failing never makes the capability unavailable.
//   - roles: GET /api/authorization/v1/roles answers a list, bare or wrapped.
//   - bulk-membership: PUT /api/content/v2/groups/access with an empty list, which changes
//     nothing. 2xx: available. 401, 403: unavailable (the token may not call it). 404, 405:
//     unavailable (no such endpoint, or not for PUT: a real call would get the same). Any other
//     4xx (400, 409, 415, 422...): available, since the endpoint exists and took the token and
//     only refused an empty change; should real use then find it unusable, that very call
//     falls back to v1 (see bulk).
//   - group-read: GET /api/content/v2/groups/{Domo's Default group}: available when it answers
//     that group with a userIds list, even one cut short (the Default group is the largest;
//     a cut list is read again through v1, group by group); unavailable when it carries no
//     userIds at all.
//
// 429, 5xx, timeouts and answers that cannot be read leave a capability unavailable for now,
// Transient, so that it is probed again soon.
func (in *Instance) probe(ctx context.Context, cp Capability) CapabilityState {
	in.mu.Lock()
	hints := in.hints
	in.mu.Unlock()
	st := CapabilityState{Capability: cp, Checked: time.Now()}
	var err error
	switch cp {
	case CapAttributes:
		if hints.UserID <= 0 {
			st.Reason = "no user known to read (the probe needs one)"
			st.Transient = true
			return st
		}
		if _, err = in.fetchUser(ctx, "instance.probe", hints.UserID); err == nil {
			in.forgetMissing()
			_, _ = in.RefreshAttributeKeys(ctx) // recorded in Catalogue; never decides the capability
		}
	case CapRoles:
		var roles []Role
		if roles, err = in.fetchRoles(ctx); err == nil {
			in.mu.Lock()
			in.roles = roles
			in.mu.Unlock()
		}
	case CapBulkMembership:
		_, err = in.c.do(ctx, call{op: "instance.probe", method: http.MethodPut, path: contentAccessPath, body: []any{}, idempotent: true})
		if ae := (*APIError)(nil); errors.As(err, &ae) && strictAboutProbe(ae.Status) {
			st.Available, st.Status = true, ae.Status
			return st
		}
	case CapGroupRead:
		if hints.GroupID <= 0 {
			st.Reason = "no group known to read (the probe needs one)"
			st.Transient = true
			return st
		}
		var g Group
		g, err = in.fetchGroup(ctx, "instance.probe", hints.GroupID)
		switch {
		case errors.Is(err, errNoUserIDs):
			st.Reason = "the group read carries no userIds (members are read through v1)"
			return st
		case errors.Is(err, ErrIncomplete):
			err = nil // the endpoint works; a list cut short is read again through v1
		case err == nil && g.ID != hints.GroupID:
			st.Reason = "the answer did not describe the group asked for"
			return st
		}
	}
	if err == nil {
		st.Available = true
		return st
	}
	var ae *APIError
	var rl *RateLimitError
	switch {
	case errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests:
		st.Status = ae.Status
		st.Reason = capabilityReason(ae.Status)
	case errors.As(err, &rl):
		st.Status, st.Transient = http.StatusTooManyRequests, true
		st.Reason = "throttled while probing"
	default:
		if errors.As(err, &ae) {
			st.Status = ae.Status
		}
		st.Transient = true
		st.Reason = "probe failed: " + err.Error()
	}
	return st
}

// strictAboutProbe reports whether a 4xx answer to the empty bulk change shows only that the
// endpoint refuses an empty change: it exists, and took the token.
func strictAboutProbe(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// domoKind: a capability the bridge may not use is, should it ever reach an IdP, Domo being
// unavailable for that part, not the bridge's credentials.
func (e *CapabilityError) domoKind() Kind { return KindUnavailable }
