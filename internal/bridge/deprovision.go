package bridge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/scim"
)

const (
	settingBreaker = "breaker.open"
	settingPaused  = "paused"
	breakerRetry   = 15 * time.Minute // what a client is told while the breaker is open
	pauseRetry     = 5 * time.Minute
)

// breakerState counts recent deprovisions. When more than BreakerMax happen within
// BreakerWindow the breaker opens: further deprovisions are refused with 503 until an operator
// resets it. An IdP misconfiguration (a wrong scope, a deleted group) then costs a handful of
// accounts, not the company.
type breakerState struct {
	recent []time.Time
	open   bool
	since  time.Time
}

// allowDeprovision refuses a deprovision while the breaker is open, opens it when this one
// would exceed the budget, and otherwise counts it.
func (b *Bridge) allowDeprovision(ctx context.Context) error {
	if b.cfg.BreakerMax <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	cut := now.Add(-b.cfg.BreakerWindow)
	kept := b.breaker.recent[:0]
	for _, t := range b.breaker.recent {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	b.breaker.recent = kept
	if !b.breaker.open && len(kept) >= b.cfg.BreakerMax {
		b.breaker.open, b.breaker.since = true, now
		if err := b.store.PutSetting(context.WithoutCancel(ctx), settingBreaker, now.UTC().Format(time.RFC3339)); err != nil {
			b.log.Error().Err(err).Msg("breaker state not persisted")
		}
		b.log.Warn().Int("deprovisions", len(kept)).Dur("window", b.cfg.BreakerWindow).Msg("deprovision breaker opened; an operator must reset it")
	}
	if b.breaker.open {
		return scim.Unavailable(breakerRetry, fmt.Sprintf("deprovisioning is halted: more than %d users were deprovisioned within %s; an operator must reset the breaker", b.cfg.BreakerMax, b.cfg.BreakerWindow), nil)
	}
	// Count it now, not after Domo answers, so concurrent requests cannot slip past the limit.
	b.breaker.recent = append(b.breaker.recent, now)
	return nil
}

// demoteRole moves an update to the demote role.
func (b *Bridge) demoteRole(upd *domo.UserUpdate) error {
	if b.cfg.Mapping.Roles == nil {
		upd.User.Role, upd.User.RoleID = b.cfg.DemoteRole, 0
		return nil
	}
	r, ok := b.cfg.Mapping.Roles.Lookup(b.cfg.DemoteRole)
	if !ok {
		return &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error", Err: fmt.Errorf("demote role %q unknown", b.cfg.DemoteRole)}
	}
	upd.User.Role, upd.User.RoleID = r.Name, domo.Int(r.ID)
	return nil
}

// groupMoves are the membership changes the demote policy makes besides the PUT.
type groupMoves struct {
	leave, join []int64
	// saved is the access to remember while leave or join is not finished.
	saved savedAccess
}

func (m groupMoves) any() bool { return len(m.leave) > 0 || len(m.join) > 0 }

// planAccess applies the demote policy to an update. On deactivation it saves the role and
// the groups and demotes the user; while the user stays inactive it keeps the demoted role
// and remembers a role the IdP changes meanwhile; once the user is active again it restores
// what was saved. Saved access left behind by a deactivation or reactivation that failed
// halfway is finished the same way, so the IdP's retry completes the job and no role or
// group is forgotten. newRec.Saved becomes what the store keeps afterwards.
func (b *Bridge) planAccess(d domo.User, deactivate, active bool, saved *savedAccess, newRec *userRecord, upd *domo.UserUpdate) (groupMoves, error) {
	if b.cfg.Policy != PolicyDemote {
		return groupMoves{}, nil
	}
	// idpRole: the IdP changed the role in this request (the mapping leaves Domo's otherwise).
	idpRole := !sameRole(upd.User, d)
	switch {
	case deactivate:
		s := savedAccess{Role: upd.User.Role, RoleID: int64(upd.User.RoleID), Groups: b.nonDefaultGroups(d)}
		if saved != nil && !idpRole {
			// An earlier attempt demoted already: the role it saved is the real one.
			s.Role, s.RoleID = saved.Role, saved.RoleID
		}
		if saved != nil {
			s.Groups = unionIDs(saved.Groups, s.Groups)
		}
		if err := b.demoteRole(upd); err != nil {
			return groupMoves{}, err
		}
		newRec.Saved = &s
		return groupMoves{leave: s.Groups, saved: s}, nil
	case !active && saved != nil:
		s := *saved
		if idpRole {
			s.Role, s.RoleID = upd.User.Role, int64(upd.User.RoleID)
		}
		upd.User.Role, upd.User.RoleID = d.Role, d.RoleID
		newRec.Saved = &s
	case active && saved != nil:
		if !idpRole {
			upd.User.Role, upd.User.RoleID = saved.Role, domo.Int(saved.RoleID)
		}
		newRec.Saved = nil
		return groupMoves{join: saved.Groups, saved: savedAccess{Role: upd.User.Role, RoleID: int64(upd.User.RoleID)}}, nil
	}
	return groupMoves{}, nil
}

// sameRole compares two users' roles by id when both have one, else by name.
func sameRole(a, b domo.User) bool {
	if a.RoleID != 0 && b.RoleID != 0 {
		return a.RoleID == b.RoleID
	}
	return strings.EqualFold(a.Role, b.Role)
}

func unionIDs(a, b []int64) []int64 {
	out := slices.Clone(a)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// moveGroups makes the membership changes of the demote policy, after the role change. When
// one fails, newRec is set so that the IdP's retry finishes the job: the user reads as active
// (the deactivation or reactivation is not done) with the access still to restore saved.
func (b *Bridge) moveGroups(ctx context.Context, uid int64, m groupMoves, newRec *userRecord) error {
	if len(m.leave) > 0 {
		if err := b.leaveGroups(ctx, uid, m.leave); err != nil {
			s := m.saved
			newRec.Saved, newRec.Shadow.Inactive = &s, false
			return err
		}
	}
	if len(m.join) > 0 {
		if failed, err := b.joinGroups(ctx, uid, m.join); err != nil {
			s := m.saved
			s.Groups = failed
			newRec.Saved, newRec.Shadow.Inactive = &s, false
			return err
		}
	}
	return nil
}

// nonDefaultGroups lists the groups a user is in, except Domo's Default group, which every
// user belongs to.
func (b *Bridge) nonDefaultGroups(d domo.User) []int64 {
	var out []int64
	for _, g := range d.Groups {
		if ig, ok := b.index.Group(int64(g.ID)); ok && ig.Default {
			continue
		}
		if g.Name == "Default" {
			if _, ok := b.index.Group(int64(g.ID)); !ok {
				continue
			}
		}
		out = append(out, int64(g.ID))
	}
	return out
}

// leaveGroups removes a user from groups (demote policy). It stops at the first failure: the
// IdP's retry finishes the job, and calls already made are idempotent.
func (b *Bridge) leaveGroups(ctx context.Context, uid int64, groups []int64) error {
	for _, gid := range groups {
		// The group's lock keeps this change and a concurrent diff of the same group apart.
		// Lock order is always user, then group: group operations never take a user lock.
		unlock := b.groupLocks.lock(strconv.FormatInt(gid, 10))
		err := b.domo.RemoveGroupMember(ctx, gid, uid)
		unlock()
		b.audit(ctx, kindGroup, gid, fmt.Sprintf("DELETE /v1/groups/%d/users/%d", gid, uid), []string{"members"}, err)
		if err != nil && !isNotFound(err) {
			return upstream(err, kindGroup, fmt.Sprint(gid))
		}
		b.index.SetMembership(gid, uid, false)
	}
	return nil
}

// joinGroups puts a reactivated user back in its saved groups. Groups deleted meanwhile are
// skipped. On a failure it returns the groups not joined yet.
func (b *Bridge) joinGroups(ctx context.Context, uid int64, groups []int64) ([]int64, error) {
	for i, gid := range groups {
		unlock := b.groupLocks.lock(strconv.FormatInt(gid, 10))
		err := b.domo.AddGroupMember(ctx, gid, uid)
		unlock()
		b.audit(ctx, kindGroup, gid, fmt.Sprintf("PUT /v1/groups/%d/users/%d", gid, uid), []string{"members"}, err)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return slices.Clone(groups[i:]), upstream(err, kindGroup, fmt.Sprint(gid))
		}
		b.index.SetMembership(gid, uid, true)
	}
	return nil, nil
}

// ---- operator switches ----

type pauseState struct {
	Reason string
	Since  time.Time
}

// encode stores when and why, so that a restart reports the pause's real start.
func (p *pauseState) encode() string {
	return p.Since.UTC().Format(time.RFC3339) + "\t" + p.Reason
}

// decodePause reads a stored pause; a value without a time (older state files) is a reason
// whose start is unknown, taken as now.
func decodePause(v string, now time.Time) *pauseState {
	if ts, reason, ok := strings.Cut(v, "\t"); ok {
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			return &pauseState{Reason: reason, Since: t}
		}
	}
	return &pauseState{Reason: v, Since: now}
}

// LoadSwitches restores the pause switch and the breaker from the store after a restart.
func (b *Bridge) LoadSwitches(ctx context.Context) error {
	reason, paused, err := b.store.Setting(ctx, settingPaused)
	if err != nil {
		return err
	}
	since, open, err := b.store.Setting(ctx, settingBreaker)
	if err != nil {
		return err
	}
	_, refuses, err := b.store.Setting(ctx, settingUndocumented)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.undocumentedRefused.Store(refuses)
	if paused {
		b.paused = decodePause(reason, b.now())
	}
	if open {
		t, _ := time.Parse(time.RFC3339, since)
		b.breaker.open, b.breaker.since = true, t
	}
	return nil
}

// Paused implements scim.Pauser.
func (b *Bridge) Paused() (bool, time.Duration) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.paused != nil, pauseRetry
}

// Pause stops writes until Resume; the state survives restarts.
func (b *Bridge) Pause(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "paused by operator"
	}
	st := &pauseState{Reason: reason, Since: b.now()}
	if err := b.store.PutSetting(ctx, settingPaused, st.encode()); err != nil {
		return err
	}
	b.mu.Lock()
	b.paused = st
	b.mu.Unlock()
	b.log.Warn().Str("reason", reason).Msg("provisioning paused")
	return nil
}

// Resume lets writes through again.
func (b *Bridge) Resume(ctx context.Context) error {
	if err := b.store.DeleteSetting(ctx, settingPaused); err != nil {
		return err
	}
	b.mu.Lock()
	b.paused = nil
	b.mu.Unlock()
	b.log.Info().Msg("provisioning resumed")
	return nil
}

// ResetBreaker closes the deprovision breaker and forgets the recent count.
func (b *Bridge) ResetBreaker(ctx context.Context) error {
	if err := b.store.DeleteSetting(ctx, settingBreaker); err != nil {
		return err
	}
	b.mu.Lock()
	b.breaker = breakerState{}
	b.mu.Unlock()
	b.log.Info().Msg("deprovision breaker reset")
	return nil
}

// Status reports the switches and the index, for operators.
func (b *Bridge) Status(ctx context.Context) (map[string]any, error) {
	_, details := b.Ready(ctx)
	b.mu.RLock()
	defer b.mu.RUnlock()
	st := map[string]any{
		"paused":  b.paused != nil,
		"policy":  b.cfg.Policy,
		"breaker": map[string]any{"open": b.breaker.open, "max": b.cfg.BreakerMax, "window": b.cfg.BreakerWindow.String(), "recent": len(b.breaker.recent)},
		"index":   details["index"],
	}
	if b.paused != nil {
		st["pauseReason"] = b.paused.Reason
		st["pausedSince"] = b.paused.Since.UTC().Format(time.RFC3339)
	}
	if b.breaker.open {
		st["breaker"].(map[string]any)["openSince"] = b.breaker.since.UTC().Format(time.RFC3339)
	}
	return st, nil
}

// BreakerOpen reports whether the deprovision breaker is halting deprovisions.
func (b *Bridge) BreakerOpen() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.breaker.open
}
