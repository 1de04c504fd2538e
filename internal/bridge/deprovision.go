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
	"github.com/scimbridge/scimbridge/internal/store"
)

const (
	settingBreaker = "breaker.open"
	settingPaused  = "paused"
	breakerRetry   = 15 * time.Minute // what a client is told while the breaker is open
	pauseRetry     = 5 * time.Minute
)

// The changes the deprovision breaker counts: every change that takes access away.
const (
	breakerDeactivate  = "deactivate"   // active:false, whatever the policy
	breakerDelete      = "delete"       // DELETE /Users
	breakerDemote      = "demote"       // a role change to a lower role, or to the demote role
	breakerLeaveGroup  = "leave-group"  // a user removed from a group, one per user and group
	breakerDeleteGroup = "delete-group" // DELETE /Groups, one per member (at least one)
)

// breakerState is the breaker's open flag as this process last saw it. The flag and the
// window's count live in the store, so a restart (or another replica) sees the same breaker.
type breakerState struct {
	open  bool
	since time.Time
}

// allowDeprovision counts changes that take access away. Past BreakerMax of them within
// BreakerWindow the breaker opens: they, and every later one, are refused with 503 until an
// operator resets it. An IdP misconfiguration (a wrong scope, a deleted group) then costs a
// handful of accounts, not the company. A request is counted as a whole before its first
// write, so concurrent requests (and replicas) cannot slip past the limit, and one that would
// cross it changes nothing.
func (b *Bridge) allowDeprovision(ctx context.Context, events []store.BreakerEvent) error {
	if b.cfg.BreakerMax <= 0 || len(events) == 0 {
		return nil
	}
	open, err := b.breakerOpen(ctx)
	if err != nil {
		return scim.Unavailable(intentRetry, "the bridge's state database is unavailable; nothing was changed; retry later", err)
	}
	if !open {
		now := b.now()
		count, ok, err := b.store.TakeBreaker(context.WithoutCancel(ctx), store.BreakerTake{At: now, Window: b.cfg.BreakerWindow, Max: b.cfg.BreakerMax, Events: events})
		if err != nil {
			return scim.Unavailable(intentRetry, "the bridge's state database is unavailable; nothing was changed; retry later", err)
		}
		if ok {
			return nil
		}
		b.openBreaker(ctx, now, count, len(events))
	}
	for _, e := range events {
		b.auditEvent(ctx, store.AuditEvent{Resource: e.Resource, ResourceID: e.ResourceID, Fields: []string{e.Kind}, Outcome: "refused: the deprovision breaker is open"})
	}
	return scim.Unavailable(breakerRetry, fmt.Sprintf("deprovisioning is halted: more than %d changes that take access away were made within %s; an operator must reset the breaker", b.cfg.BreakerMax, b.cfg.BreakerWindow), nil)
}

// breakerOpen reads the breaker's flag from the store (another replica may have opened it)
// and keeps this process's view of it up to date.
func (b *Bridge) breakerOpen(ctx context.Context) (bool, error) {
	v, open, err := b.store.Setting(ctx, settingBreaker)
	if err != nil {
		return false, err
	}
	since, _ := time.Parse(time.RFC3339, v)
	b.mu.Lock()
	b.breaker = breakerState{open: open, since: since}
	b.mu.Unlock()
	return open, nil
}

// openBreaker opens the breaker, for this process and in the store.
func (b *Bridge) openBreaker(ctx context.Context, now time.Time, count, asked int) {
	b.mu.Lock()
	b.breaker = breakerState{open: true, since: now}
	b.mu.Unlock()
	if err := b.store.PutSetting(context.WithoutCancel(ctx), settingBreaker, now.UTC().Format(time.RFC3339)); err != nil {
		b.log.Error().Err(err).Msg("breaker state not persisted")
	}
	b.switched()
	b.auditEvent(ctx, store.AuditEvent{Resource: kindBridge, ResourceID: "breaker", Fields: []string{"open"},
		Outcome: fmt.Sprintf("opened: %d counted within %s, %d more asked, limit %d", count, b.cfg.BreakerWindow, asked, b.cfg.BreakerMax)})
	b.log.Warn().Int("counted", count).Int("asked", asked).Dur("window", b.cfg.BreakerWindow).Msg("deprovision breaker opened; an operator must reset it")
}

// kindBridge names the bridge itself in audit events about its switches.
const kindBridge = "Bridge"

// demotes reports whether a role change takes access away: to the demote role, or down the
// ranks of Domo's system roles (Admin, Privileged, Editor, Participant, Social: ids 1 to 5).
// A change that involves a custom role counts unless it goes to Admin: the bridge cannot rank
// a custom role's grants, so it errs on the side of the breaker.
func (b *Bridge) demotes(from, to domo.User) bool {
	if sameRole(from, to) {
		return false
	}
	if strings.EqualFold(to.Role, b.cfg.DemoteRole) {
		return true
	}
	rank := func(u domo.User) int64 {
		if id := int64(u.RoleID); id >= 1 && id <= 5 {
			return id
		}
		if b.cfg.Mapping.Roles != nil {
			if r, ok := b.cfg.Mapping.Roles.Lookup(u.Role); ok && r.ID >= 1 && r.ID <= 5 {
				return r.ID
			}
		}
		return 0 // custom or unknown
	}
	f, t := rank(from), rank(to)
	switch {
	case t == 1:
		return false
	case f == 0 || t == 0:
		return true
	}
	return t > f
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
		unlock, err := b.groupLocks.lock(ctx, strconv.FormatInt(gid, 10))
		if err != nil {
			return err
		}
		err = b.domo.RemoveGroupMember(ctx, gid, uid)
		unlock()
		b.audit(ctx, kindGroup, gid, fmt.Sprintf("DELETE /v1/groups/%d/users/%d", gid, uid), []string{"members"}, err)
		if refusedOutright(err) {
			b.log.Warn().Err(err).Int64("user", uid).Int64("group", gid).Msg("Domo refused to take a deprovisioned user out of a group; it stays a member")
			continue
		}
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
		unlock, err := b.groupLocks.lock(ctx, strconv.FormatInt(gid, 10))
		if err != nil {
			return slices.Clone(groups[i:]), err
		}
		err = b.domo.AddGroupMember(ctx, gid, uid)
		unlock()
		b.audit(ctx, kindGroup, gid, fmt.Sprintf("PUT /v1/groups/%d/users/%d", gid, uid), []string{"members"}, err)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			if refusedOutright(err) {
				b.log.Warn().Err(err).Int64("user", uid).Int64("group", gid).Msg("Domo refused to put a reactivated user back in a group")
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

// LoadSwitches restores the pause switch, the breaker and what the bridge learnt of the
// tenant's fields from the store after a restart.
func (b *Bridge) LoadSwitches(ctx context.Context) error {
	_, refuses, err := b.store.Setting(ctx, settingUndocumented)
	if err != nil {
		return err
	}
	b.undocumentedRefused.Store(refuses)
	return b.refreshSwitches(ctx)
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
	b.switched()
	b.auditEvent(ctx, store.AuditEvent{Resource: kindBridge, ResourceID: "pause", Fields: []string{"paused"}, Outcome: "paused: " + reason})
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
	b.switched()
	b.auditEvent(ctx, store.AuditEvent{Resource: kindBridge, ResourceID: "pause", Fields: []string{"paused"}, Outcome: "resumed"})
	b.log.Info().Msg("provisioning resumed")
	return nil
}

// ResetBreaker closes the deprovision breaker and forgets the window's count.
func (b *Bridge) ResetBreaker(ctx context.Context) error {
	if err := b.store.ClearBreaker(ctx); err != nil {
		return err
	}
	if err := b.store.DeleteSetting(ctx, settingBreaker); err != nil {
		return err
	}
	b.mu.Lock()
	b.breaker = breakerState{}
	b.mu.Unlock()
	b.switched()
	b.auditEvent(ctx, store.AuditEvent{Resource: kindBridge, ResourceID: "breaker", Fields: []string{"open"}, Outcome: "reset"})
	b.log.Info().Msg("deprovision breaker reset")
	return nil
}

// Status reports the switches and the index, for operators.
func (b *Bridge) Status(ctx context.Context) (map[string]any, error) {
	_, details := b.Ready(ctx)
	if _, err := b.breakerOpen(ctx); err != nil {
		return nil, err
	}
	recent, err := b.store.BreakerCount(ctx, b.now().Add(-b.cfg.BreakerWindow))
	if err != nil {
		return nil, err
	}
	unfinished, err := b.store.Intents(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	st := map[string]any{
		"paused":  b.paused != nil,
		"policy":  b.cfg.Policy,
		"breaker": map[string]any{"open": b.breaker.open, "max": b.cfg.BreakerMax, "window": b.cfg.BreakerWindow.String(), "recent": recent},
		"index":   details["index"],
		// unfinished counts the changes interrupted half-way that are still to be finished.
		"unfinished": len(unfinished),
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
