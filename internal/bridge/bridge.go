package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Deprovisioning policies: what active:false does to the Domo user.
const (
	PolicyMark   = "mark"   // remember active:false; Domo unchanged (SSO blocks the login)
	PolicyDemote = "demote" // also move to a low role and out of all groups; reactivation restores both
	PolicyDelete = "delete" // delete the Domo user (irreversible)
)

// What DELETE /Users/{id} does.
const (
	DeleteRemoves     = "delete"      // delete the Domo user (the default)
	DeleteDeprovision = "deprovision" // deprovision by Policy, then hide the user from SCIM
)

// Config wires the bridge.
type Config struct {
	Domo    *domo.Client
	Store   store.Store
	Index   *index.Index
	Mapping mapping.Options // BaseURL is taken from each request

	SendInvite       bool          // sendInvite on Domo user creation
	Policy           string        // PolicyMark (default), PolicyDemote or PolicyDelete
	OnDelete         string        // DeleteRemoves (default) or DeleteDeprovision
	DemoteRole       string        // role for PolicyDemote, default "Social"
	BreakerMax       int           // deprovisions allowed per BreakerWindow before the breaker opens; 0 disables
	BreakerWindow    time.Duration // default 10 minutes
	ProtectedUsers   []string      // Domo ids or emails the bridge never shows, changes or deletes
	ShowDefaultGroup bool          // list Domo's Default group as a SCIM group
	RefreshInterval  time.Duration // background index refresh; 0 disables
	// SnapshotMaxAge is how old (since its data was read from Domo) a stored snapshot may be
	// and still answer lists and filters after a restart, until the first load from Domo
	// succeeds; past it they get 503 with Retry-After. 0 never serves a snapshot.
	SnapshotMaxAge time.Duration
	MemberWorkers  int    // concurrent membership calls in one group change, default 8
	ReplicaID      string // names this replica among those sharing a state; default host name + random
	// Instance is the client of Domo's instance APIs (attributes, roles, bulk membership,
	// one-call group reads); nil uses v1 only, with the attributes v1 cannot hold kept by the
	// bridge.
	Instance *domo.Instance

	Logger zerolog.Logger
	Now    func() time.Time
}

// Bridge implements scim.Users and scim.Groups over Domo.
type Bridge struct {
	cfg   Config
	domo  *domo.Client
	store store.Store
	index sharedIndex // the index, written through to the other replicas (replicas.go)
	log   zerolog.Logger
	now   func() time.Time

	bg sync.WaitGroup // background work begun by Start

	followed atomic.Int64 // the newest change of the feed this replica has read
	feed     sync.Mutex   // one reader of the feed at a time (replicas.go)
	leading  atomic.Bool  // this replica led at its last turn (replicas.go)

	userLocks keyedLocks
	pending   pendingSet // resources that may have an unfinished intent (intents.go)
	// undocumentedRefused: the tenant answers 400 to user writes carrying employeeId or
	// department (see writeUser).
	undocumentedRefused atomic.Bool
	groupLocks          keyedLocks
	inst                instanceState // the instance APIs: roles, fallbacks, pending deliveries

	mu        sync.RWMutex
	protected map[int64]bool  // hidden user ids
	protEmail map[string]bool // hidden user emails, lower-cased
	// hiddenEmail finds, by lower-cased Domo email, the users a DELETE hid (OnDelete
	// DeleteDeprovision), so that the IdP creating one again revives it without first being
	// refused by Domo. A hint: the stored record decides.
	hiddenEmail map[string]int64
	paused      *pauseState // nil when not paused
	breaker     breakerState

	drift         atomic.Pointer[DriftReport] // of the last index load (drift.go)
	progressEvery time.Duration               // between a load's progress lines (load.go)
}

// New validates the configuration and builds a bridge. It does not call Domo; Start does.
func New(cfg Config) (*Bridge, error) {
	if cfg.Domo == nil || cfg.Store == nil || cfg.Index == nil {
		return nil, fmt.Errorf("bridge: Domo client, store and index are required")
	}
	switch cfg.Policy {
	case "":
		cfg.Policy = PolicyMark
	case PolicyMark, PolicyDemote, PolicyDelete:
	default:
		return nil, fmt.Errorf("bridge: unknown deprovisioning policy %q (want mark, demote or delete)", cfg.Policy)
	}
	switch cfg.OnDelete {
	case "":
		cfg.OnDelete = DeleteRemoves
	case DeleteRemoves, DeleteDeprovision:
	default:
		return nil, fmt.Errorf("bridge: unknown DELETE mode %q (want delete or deprovision)", cfg.OnDelete)
	}
	if cfg.DemoteRole == "" {
		cfg.DemoteRole = "Social"
	}
	if cfg.Policy == PolicyDemote && cfg.Mapping.Roles != nil {
		if _, ok := cfg.Mapping.Roles.Lookup(cfg.DemoteRole); !ok {
			return nil, fmt.Errorf("bridge: demote role %q is not a known Domo role", cfg.DemoteRole)
		}
	}
	if cfg.BreakerWindow <= 0 {
		cfg.BreakerWindow = 10 * time.Minute
	}
	if cfg.MemberWorkers <= 0 {
		cfg.MemberWorkers = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = newReplicaID()
	}
	b := &Bridge{
		cfg: cfg, domo: cfg.Domo, store: cfg.Store,
		log: cfg.Logger.With().Str("component", "bridge").Logger(), now: cfg.Now,
		protected: map[int64]bool{}, protEmail: map[string]bool{}, hiddenEmail: map[string]int64{},
		userLocks: keyedLocks{kind: "user", store: cfg.Store}, groupLocks: keyedLocks{kind: "group", store: cfg.Store},
		progressEvery: defaultProgressEvery,
	}
	b.index = sharedIndex{Index: cfg.Index, b: b}
	b.inst.init(cfg.Mapping.Roles)
	for _, p := range cfg.ProtectedUsers {
		b.protect(p)
	}
	return b, nil
}

// protect hides a user, given as a Domo id or an email, from SCIM.
func (b *Bridge) protect(p string) {
	p = strings.TrimSpace(p)
	if p == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, err := parseID("User", p); err == nil {
		b.protected[id] = true
		return
	}
	b.protEmail[strings.ToLower(p)] = true
}

func (b *Bridge) isProtected(id int64, email string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.protected[id] || (email != "" && b.protEmail[strings.ToLower(email)])
}

// Users returns the scim.Users backend.
func (b *Bridge) Users() *Users { return &Users{b: b} }

// Groups returns the scim.Groups backend.
func (b *Bridge) Groups() *Groups { return &Groups{b: b} }

// options returns the mapping options for a request: locations use the request's base URL.
func (b *Bridge) options(ctx context.Context) mapping.Options {
	opt := b.cfg.Mapping
	if r := b.roleCatalogue(); r != nil {
		opt.Roles = r
	}
	if base := scim.RequestInfo(ctx).BaseURL; base != "" {
		opt.BaseURL = base
	}
	return opt
}

// audit records one Domo write in the audit log. A failure to record is logged, never
// returned: the write already happened and the IdP must hear its true outcome.
func (b *Bridge) audit(ctx context.Context, resource string, id int64, call string, fields []string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error: " + err.Error()
	}
	b.auditEvent(ctx, store.AuditEvent{DomoCall: call, Resource: resource, ResourceID: fmt.Sprint(id), Fields: fields, Outcome: outcome})
}

// auditEvent records e with the request's token name, id and operation. Events the bridge
// records without a Domo call (a deactivation under the mark policy, the operator's switches,
// what the breaker refused) leave DomoCall empty.
func (b *Bridge) auditEvent(ctx context.Context, e store.AuditEvent) {
	info := scim.RequestInfo(ctx)
	e.Token, e.RequestID, e.Operation = info.Token, info.ID, info.Operation
	if aerr := b.store.Audit(context.WithoutCancel(ctx), e); aerr != nil {
		b.log.Error().Err(aerr).Str("request_id", info.ID).Msg("audit log write failed")
	}
}
