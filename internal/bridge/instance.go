package bridge

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
)

// Domo's instance APIs (identity, attributes, roles, content groups) are used when the
// operator configured them (Config.Instance) and each capability works; v1 stays the complete
// fallback. A capability that stops working (401, 403, 404 of its endpoint) is replaced by v1
// for what v1 can do (membership, role by name or id) at once, within the request that found
// it gone; what only the identity API can do (attributes, manager, hire date) is kept as a
// pending delivery, never dropped (see instance_users.go). The instance loop probes the
// capabilities again and delivers what is pending once they are back.

const (
	settingDefaultGroup = "domo.default-group" // the Default group's id, for the group-read probe

	// instanceProbeEvery is how often capabilities are probed while all work (a cheap check
	// that the token was not revoked behind the bridge's back), instanceRetryEvery while one
	// does not or a delivery is pending.
	instanceProbeEvery = 10 * time.Minute
	instanceRetryEvery = 30 * time.Second
	instanceKickDelay  = 2 * time.Second // after a failure, before looking again
	// instanceProbeTimeout bounds one round of probes.
	instanceProbeTimeout = 20 * time.Second
)

// instanceState is the bridge's side of the instance APIs.
type instanceState struct {
	roles     atomic.Pointer[mapping.Roles] // the catalogue, with the tenant's roles once listed
	fallbacks map[domo.Capability]*atomic.Int64
	delivered atomic.Int64 // pending attribute deliveries made later
	refused   atomic.Int64 // deliveries Domo refused for good (a value it does not take)
	kick      chan struct{}

	mu      sync.Mutex
	pending map[int64]bool // users with an attribute delivery pending
}

func (s *instanceState) init(base *mapping.Roles) {
	s.roles.Store(base)
	s.fallbacks = make(map[domo.Capability]*atomic.Int64, len(domo.AllCapabilities))
	for _, cp := range domo.AllCapabilities {
		s.fallbacks[cp] = new(atomic.Int64)
	}
	s.kick = make(chan struct{}, 1)
	s.pending = map[int64]bool{}
}

// wake asks the instance loop to run a pass soon.
func (s *instanceState) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *instanceState) setPending(id int64, on bool) {
	s.mu.Lock()
	if on {
		s.pending[id] = true
	} else {
		delete(s.pending, id)
	}
	s.mu.Unlock()
}

func (s *instanceState) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// can reports whether the bridge may use an instance capability now.
func (b *Bridge) can(cp domo.Capability) bool {
	return b.cfg.Instance != nil && b.cfg.Instance.Available(cp)
}

// fellBack counts and logs a use of v1 (or of a pending delivery) where the instance API was
// meant to serve, because the capability turned out unavailable or failed.
func (b *Bridge) fellBack(cp domo.Capability, op string, err error) {
	if c, ok := b.inst.fallbacks[cp]; ok {
		c.Add(1)
	}
	b.log.Warn().Str("capability", string(cp)).Str("op", op).Err(err).Msg("Domo instance API failed; falling back to v1")
	b.inst.wake()
}

// roleCatalogue is the role catalogue in force: the configured roles plus, once the roles
// capability listed them, the tenant's own.
func (b *Bridge) roleCatalogue() *mapping.Roles { return b.inst.roles.Load() }

// probeInstance checks every capability, with the API client's owner and the Default group as
// the user and group the probes read, and takes the tenant's roles into the catalogue.
func (b *Bridge) probeInstance(ctx context.Context) {
	in := b.cfg.Instance
	if in == nil {
		return
	}
	// An instance host that does not answer must not hold the start: what the probes cannot
	// tell in time is unavailable for now, and the instance loop asks again.
	ctx, cancel := context.WithTimeout(ctx, instanceProbeTimeout)
	defer cancel()
	var hints domo.ProbeHints
	if tok, err := b.domo.Token(ctx); err == nil {
		hints.UserID = tok.UserID
	}
	if v, ok, err := b.store.Setting(ctx, settingDefaultGroup); err == nil && ok {
		hints.GroupID, _ = strconv.ParseInt(v, 10, 64)
	}
	in.Probe(ctx, hints)
	b.applyRoles()
}

// applyRoles takes the tenant's roles, as the roles capability last listed them, into the
// catalogue; the configured roles keep their names and ids.
func (b *Bridge) applyRoles() {
	in := b.cfg.Instance
	if in == nil || !in.Available(domo.CapRoles) {
		return
	}
	var extra []mapping.Role
	for _, r := range in.Roles() {
		extra = append(extra, mapping.Role{ID: r.ID, Name: r.Name})
	}
	base := b.cfg.Mapping.Roles
	b.inst.roles.Store(base.With(extra))
}

// noteDefaultGroup remembers the Default group's id for the group-read probe, and runs that
// probe when it had no group to read yet.
func (b *Bridge) noteDefaultGroup(ctx context.Context, groups []domo.Group) {
	in := b.cfg.Instance
	if in == nil {
		return
	}
	for _, g := range groups {
		if !g.Default {
			continue
		}
		if in.Hints().GroupID != g.ID {
			if err := b.store.PutSetting(context.WithoutCancel(ctx), settingDefaultGroup, strconv.FormatInt(g.ID, 10)); err != nil {
				b.log.Warn().Err(err).Msg("Default group id not remembered")
			}
			in.ProbeCapability(ctx, domo.CapGroupRead, domo.ProbeHints{GroupID: g.ID})
		}
		return
	}
}

// RunInstance probes the instance capabilities again now and then, and delivers pending
// attribute changes, until ctx ends. Without Config.Instance it returns at once.
func (b *Bridge) RunInstance(ctx context.Context) {
	if b.cfg.Instance == nil {
		return
	}
	b.seedPending(ctx)
	if b.inst.pendingCount() > 0 {
		b.instancePass(ctx) // what the last process left pending
	}
	t := time.NewTimer(instanceRetryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.inst.kick:
			// A capability failed or a delivery is pending: give Domo a moment, then look.
			select {
			case <-ctx.Done():
				return
			case <-time.After(instanceKickDelay):
			}
		}
		b.instancePass(ctx)
		next := instanceProbeEvery
		if b.degraded() || b.inst.pendingCount() > 0 {
			next = instanceRetryEvery
		}
		t.Reset(next)
	}
}

// instancePass probes the capabilities and delivers what is pending.
func (b *Bridge) instancePass(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b.probeInstance(pctx)
	if b.can(domo.CapAttributes) {
		b.deliverPending(pctx)
	}
}

// degraded reports whether a configured instance capability is unavailable.
func (b *Bridge) degraded() bool {
	if b.cfg.Instance == nil {
		return false
	}
	for _, st := range b.cfg.Instance.Capabilities() {
		if !st.Available {
			return true
		}
	}
	return false
}

// InstanceCapability is one capability as check, /readyz and metrics report it.
type InstanceCapability struct {
	Name      string    `json:"name"`
	Available bool      `json:"available"`
	Status    int       `json:"status,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Fallbacks int64     `json:"fallbacks"` // uses of v1 (or a pending delivery) instead
}

// InstanceStatus describes the bridge's use of Domo's instance APIs.
type InstanceStatus struct {
	Configured   bool                 `json:"configured"`
	Degraded     bool                 `json:"degraded"`
	Capabilities []InstanceCapability `json:"capabilities,omitempty"`
	// PendingDeliveries counts users whose attribute changes wait for the identity API.
	PendingDeliveries int   `json:"pendingAttributeDeliveries"`
	LateDeliveries    int64 `json:"lateDeliveries"`    // pending deliveries made since start
	RefusedDeliveries int64 `json:"refusedDeliveries"` // deliveries Domo refused for good
	BatchSize         int   `json:"batchSize,omitempty"`
	Roles             int   `json:"roles,omitempty"` // roles in the catalogue
	// Catalogue is the attribute catalogue: optional, so reported apart from the
	// capabilities, and never a reason for "degraded".
	Catalogue InstanceCatalogue `json:"attributeCatalogue"`
	Notes     []string          `json:"notes,omitempty"`
}

// InstanceCatalogue is the state of Domo's attribute catalogue. Available: a custom attribute
// key it lacks is refused before anything is written. Not available: Domo's answer to each
// attribute write judges the keys.
type InstanceCatalogue struct {
	Available bool   `json:"available"`
	Keys      int    `json:"keys,omitempty"`
	Status    int    `json:"status,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// InstanceStatus reports the state of every capability and of pending deliveries.
func (b *Bridge) InstanceStatus() InstanceStatus {
	in := b.cfg.Instance
	if in == nil {
		return InstanceStatus{}
	}
	st := InstanceStatus{Configured: true, BatchSize: in.BatchSize(), PendingDeliveries: b.inst.pendingCount(),
		LateDeliveries: b.inst.delivered.Load(), RefusedDeliveries: b.inst.refused.Load(), Roles: len(b.roleCatalogue().List())}
	cat := in.Catalogue()
	st.Catalogue = InstanceCatalogue{Available: cat.Available, Keys: cat.Keys, Status: cat.Status, Reason: cat.Reason}
	for _, c := range in.Capabilities() {
		ic := InstanceCapability{Name: string(c.Capability), Available: c.Available, Status: c.Status, Reason: c.Reason, Since: c.Since,
			Fallbacks: b.inst.fallbacks[c.Capability].Load()}
		st.Capabilities = append(st.Capabilities, ic)
		if !c.Available {
			st.Degraded = true
			st.Notes = append(st.Notes, "degraded: "+string(c.Capability)+" unavailable ("+c.Reason+"); "+fallbackOf(c.Capability))
		}
	}
	if st.PendingDeliveries > 0 {
		st.Notes = append(st.Notes, strconv.Itoa(st.PendingDeliveries)+" user(s) with attribute changes waiting for the identity API")
	}
	return st
}

// fallbackOf says what replaces a capability while it is unavailable.
func fallbackOf(cp domo.Capability) string {
	switch cp {
	case domo.CapAttributes:
		return "attributes, manager and hire date are kept and delivered once it is back; roles go through v1"
	case domo.CapRoles:
		return "only the configured roles (SCIMBRIDGE_ROLES) are known"
	case domo.CapBulkMembership:
		return "membership changes go through v1, one call per member"
	case domo.CapGroupRead:
		return "group members are read through v1, one call per 500"
	}
	return "v1 serves"
}

// instanceReady is the /readyz part about the instance APIs.
func (b *Bridge) instanceReady() map[string]any {
	st := b.InstanceStatus()
	caps := make(map[string]any, len(st.Capabilities))
	for _, c := range st.Capabilities {
		if c.Available {
			caps[c.Name] = "available"
		} else {
			caps[c.Name] = "unavailable: " + c.Reason
		}
	}
	out := map[string]any{"capabilities": caps, "degraded": st.Degraded, "pendingAttributeDeliveries": st.PendingDeliveries,
		"attributeCatalogue": catalogueNote(st.Catalogue)}
	if len(st.Notes) > 0 {
		out["notes"] = st.Notes
	}
	return out
}

// catalogueNote says what the attribute catalogue's state means.
func catalogueNote(c InstanceCatalogue) string {
	if c.Available {
		return "available (" + strconv.Itoa(c.Keys) + " keys): an unknown customAttributes key is refused before anything is written"
	}
	reason := c.Reason
	if c.Status != 0 {
		reason += " (status " + strconv.Itoa(c.Status) + ")"
	}
	return "not available: " + reason + "; Domo's answer to each attribute write judges the keys"
}

// isCapability reports whether err says an instance capability is unavailable.
func isCapability(err error) bool { return errors.Is(err, domo.ErrCapability) }

// RoleNames lists the roles a user may be given, by id: the configured catalogue plus, once
// the roles capability listed them, the tenant's own. SCIM discovery declares them as the
// canonical values of roles[].value (a role's id is accepted too).
func (b *Bridge) RoleNames() []string { return b.roleCatalogue().Names() }
