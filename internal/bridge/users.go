package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Users is the /Users backend.
type Users struct{ b *Bridge }

var _ scim.Users = (*Users)(nil)

const kindUser = "User"

// view renders a user for a response, with its groups from Domo's own record when the record
// has them (GET by id), else from the group index.
func (b *Bridge) view(ctx context.Context, d domo.User, rec *userRecord) (mapping.User, map[string]any) {
	opt := b.options(ctx)
	u := mapping.UserFromDomo(d, &rec.Shadow, opt)
	if d.Groups == nil {
		u.Groups = b.groupRefs(d.ID, opt)
	}
	return u, u.Attributes(opt)
}

// groupRefs lists a user's groups from the index.
func (b *Bridge) groupRefs(userID int64, opt mapping.Options) []mapping.GroupRef {
	var refs []mapping.GroupRef
	for _, gid := range b.index.UserGroups(userID) {
		g, ok := b.index.Group(gid)
		if !ok || (g.Default && (opt.HideDefaultGroup || !b.cfg.ShowDefaultGroup)) {
			continue
		}
		refs = append(refs, mapping.GroupRef{Value: strconv.FormatInt(gid, 10), Display: g.DisplayName})
	}
	return refs
}

// fetch reads a user fresh from Domo with its stored state. Protected users, deleted users and
// users the bridge hid are all 404.
func (b *Bridge) fetch(ctx context.Context, id int64, sid string) (domo.User, *userRecord, error) {
	d, rec, err := b.fetchAny(ctx, id, sid)
	if err == nil && rec.Hidden {
		return domo.User{}, nil, scim.NotFound(kindUser, sid)
	}
	return d, rec, err
}

// fetchAny is fetch that also returns the users a DELETE hid.
func (b *Bridge) fetchAny(ctx context.Context, id int64, sid string) (domo.User, *userRecord, error) {
	if b.isProtected(id, "") {
		return domo.User{}, nil, scim.NotFound(kindUser, sid)
	}
	d, err := b.getUser(ctx, id)
	if err != nil {
		if isNotFound(err) {
			b.index.DeleteUser(id)
		}
		return domo.User{}, nil, upstream(err, kindUser, sid)
	}
	if b.isProtected(d.ID, d.Email) {
		return domo.User{}, nil, scim.NotFound(kindUser, sid)
	}
	rec, _, err := b.loadUserRecord(ctx, id)
	if err != nil {
		return domo.User{}, nil, err
	}
	return d, rec, nil
}

// Domo may not show a user it just created to reads for a moment (fides polls for it). A 404
// for a user the bridge wrote within readAfterWriteGrace is taken for that lag and asked
// again, for at most readAfterWriteWait; only then is the user gone. A user that reads back
// deleted:true is gone at once.
const (
	readAfterWriteGrace = 30 * time.Second
	readAfterWriteWait  = 3 * time.Second
)

// getUser reads a user from Domo, waiting out Domo's read-after-write lag.
func (b *Bridge) getUser(ctx context.Context, id int64) (domo.User, error) {
	d, err := b.domo.GetUser(ctx, id)
	var ae *domo.APIError
	if err == nil || !isNotFound(err) || !errors.As(err, &ae) || !b.recentlyWritten(ctx, id) {
		return d, err
	}
	waited := time.Duration(0)
	for wait := 50 * time.Millisecond; waited+wait <= readAfterWriteWait; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return d, err
		case <-t.C:
		}
		waited += wait
		d, err = b.domo.GetUser(ctx, id)
		if err == nil || !isNotFound(err) || !errors.As(err, &ae) {
			return d, err
		}
	}
	return d, err
}

// recentlyWritten reports whether the bridge stored state for the user within
// readAfterWriteGrace.
func (b *Bridge) recentlyWritten(ctx context.Context, id int64) bool {
	sh, ok, err := b.store.UserShadow(ctx, id)
	return err == nil && ok && !isTombstone(sh.Data) && b.now().Sub(sh.Updated) < readAfterWriteGrace
}

// Get reads a user fresh from Domo (one call) and merges its shadow.
func (s *Users) Get(ctx context.Context, sid string, _ scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindUser, sid)
	if err != nil {
		return nil, err
	}
	d, rec, err := b.fetch(ctx, id, sid)
	if err != nil {
		return nil, err
	}
	_, attrs := b.view(ctx, d, rec)
	b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
	b.syncUserGroups(d.ID, d.Groups) // lists then show the memberships this read saw
	return attrs, nil
}

// Create adds a user: 409 when the userName or the Domo email is taken (from the index, and
// from Domo itself), else one POST, plus one PUT when Domo ignored the roleId of a role it
// takes by id only (Editor, Social, custom roles). A create that was interrupted is finished
// by the IdP's retry, which then gets the user.
func (s *Users) Create(ctx context.Context, attrs scim.Attributes) (scim.Attributes, error) {
	b := s.b
	u, err := mapping.UserFromAttributes(attrs)
	if err == nil {
		u.CustomAttributes, err = mapping.ResolveCustom(u.CustomAttributes, nil)
	}
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	opt := b.options(ctx)
	upd, sh, err := mapping.UserToDomo(u, domo.User{}, nil, opt)
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	locked, err := b.userLocks.lock(ctx, "email:"+strings.ToLower(upd.User.Email))
	if err != nil {
		return nil, err
	}
	unlock := sync.OnceFunc(locked)
	defer unlock()
	if in, ok, err := b.pendingIntent(ctx, emailKey(upd.User.Email)); err != nil {
		return nil, err
	} else if ok {
		// An earlier POST of this user was interrupted: finish it, then make the user what
		// this POST (the IdP's retry) says.
		var p userPlan
		if err := json.Unmarshal(in.Data, &p); err != nil || p.Write == nil {
			if err := b.dropUnreadable(ctx, in, err); err != nil {
				return nil, err
			}
		} else if d, err := b.runUserCreate(ctx, in, &p, true); err == nil {
			unlock()
			return b.replaceCreated(ctx, d.ID, attrs)
		} else if undone := (*errCreateUndone)(nil); !errors.As(err, &undone) {
			return nil, err
		}
		// Else the earlier POST's attributes were refused and its user deleted again: this
		// POST creates the user as it says.
	}
	if _, taken := b.index.UserByUserName(u.UserName); taken {
		return nil, scim.Conflict("a user with userName %q already exists", u.UserName)
	}
	if _, taken := b.index.UserByDomoEmail(upd.User.Email); taken || b.isProtected(0, upd.User.Email) {
		return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
	}
	if id, ok := b.hiddenByEmail(upd.User.Email); ok {
		out, err := b.revive(ctx, id, attrs)
		if !errors.Is(err, errNotHidden) {
			return out, err
		}
	}
	// Refused before anything is written: an attribute key Domo does not have, a manager
	// that is not a user. runUserCreate delivers the attributes from the record.
	if _, err := b.planAttributes(ctx, u, nil); err != nil {
		return nil, err
	}
	rec := &userRecord{Shadow: sh}
	if !u.Active && b.cfg.Policy == PolicyDemote {
		rec.Saved = &savedAccess{Role: upd.User.Role, RoleID: int64(upd.User.RoleID)}
		if err := b.demoteRole(&upd); err != nil {
			return nil, err
		}
	}
	p := userPlan{Email: upd.User.Email, Write: &upd.User, Clear: upd.Clear, Record: rec, Invite: b.cfg.SendInvite}
	in, err := b.record(ctx, emailKey(upd.User.Email), intentUserCreate, p)
	if err != nil {
		return nil, err
	}
	d, err := b.runUserCreate(ctx, in, &p, false)
	if err != nil {
		if undone := (*errCreateUndone)(nil); errors.As(err, &undone) {
			return nil, undone.err
		}
		if isConflict(err) {
			if id, hidden := b.learnUser(ctx, err, upd.User.Email); hidden {
				unlock()
				if out, err := b.revive(ctx, id, attrs); !errors.Is(err, errNotHidden) {
					return out, err
				}
			}
			return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
		}
		return nil, upstream(err, kindUser, "")
	}
	rec = p.Record
	rec.Shadow.Rebase(d)
	_, out := b.view(ctx, d, rec)
	return out, nil
}

// replaceCreated makes a user that an interrupted create made what a retried POST says, and
// answers as the create would have.
func (b *Bridge) replaceCreated(ctx context.Context, id int64, attrs scim.Attributes) (scim.Attributes, error) {
	sid := strconv.FormatInt(id, 10)
	unlock, err := b.userLocks.lock(ctx, sid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return b.updateUser(ctx, id, sid, func(scim.Attributes) (scim.Attributes, error) {
		next := maps.Clone(attrs)
		if !hasAttr(next, "active") {
			next["active"] = true // a create's active defaults to true
		}
		return next, nil
	}, stayVisible)
}

// settleRole makes sure a created user has the role it was created with: POST /v1/users may
// ignore roleId (Domo documents only role names there), which leaves a user meant to have a
// custom role with the placeholder role, so one full PUT follows. It returns the user as Domo
// holds it afterwards, and the PUT's error.
func (b *Bridge) settleRole(ctx context.Context, d domo.User, upd domo.UserUpdate) (domo.User, error) {
	if roleApplied(d, upd.User) {
		return d, nil
	}
	sid := strconv.FormatInt(d.ID, 10)
	resp, err := b.domo.UpdateUser(ctx, d.ID, wireUpdate(upd))
	b.audit(ctx, kindUser, d.ID, "PUT /v1/users/"+sid, []string{domo.FieldRole, domo.FieldRoleID}, err)
	if err != nil {
		return d, fmt.Errorf("set the role of created user %d: %w", d.ID, err)
	}
	resp.Groups = d.Groups
	if resp.ID == 0 {
		resp.ID = d.ID
	}
	if resp.Timezone == "" {
		resp.Timezone = d.Timezone
	}
	if resp.Locale == "" {
		resp.Locale = d.Locale
	}
	if !roleApplied(resp, upd.User) {
		b.log.Error().Int64("user", d.ID).Int64("role_id", int64(upd.User.RoleID)).Msg("Domo ignored the roleId of a created user")
	}
	return resp, nil
}

// roleApplied reports whether Domo holds the role want names: by id when both have one, else
// by name.
func roleApplied(d domo.User, want domo.User) bool {
	if want.RoleID != 0 && d.RoleID != 0 {
		return want.RoleID == d.RoleID
	}
	return want.Role == "" || strings.EqualFold(d.Role, want.Role)
}

// namedRoles are the roles Domo documents by name for "role" on POST and PUT (Admin,
// Privileged, Participant: "Role must match exactly, otherwise the API will throw an error").
// Every other role, Editor and Social included, travels as its roleId.
var namedRoles = map[int64]string{1: "Admin", 2: "Privileged", 4: "Participant"}

// placeholderRole is the role name sent along a roleId. Domo requires "role" on POST and PUT
// but documents only the names above for it; roleId carries the role. It is the least
// privileged documented name, so a tenant that ignores roleId grants no more.
const placeholderRole = "Participant"

// wireUpdate is an update as Domo accepts it: a documented role by its exact name, any other
// by its roleId with the placeholder name.
func wireUpdate(upd domo.UserUpdate) domo.UserUpdate {
	u := &upd.User
	if u.RoleID == 0 {
		return upd
	}
	if name, ok := namedRoles[int64(u.RoleID)]; ok {
		u.Role = name
	} else {
		u.Role = placeholderRole
	}
	return upd
}

// distrustRole makes reads show Domo's role when a write did not apply the role the IdP
// asked for (a tenant that ignores roleId): the shadow would otherwise show the IdP's role
// as if Domo had it, and the IdP would never send it again.
func distrustRole(sh *mapping.UserShadow, after, want domo.User) {
	if !roleApplied(after, want) {
		sh.Basis.Role, sh.Basis.RoleID = want.Role, int64(want.RoleID)
	}
}

// learnUser indexes the Domo user that holds email after Domo called the email taken although
// the index did not know it (the user was created in Domo's UI since the index loaded). The
// IdP's next lookup then finds the user and links it, instead of creating it again and
// getting 409 forever.
func (b *Bridge) learnUser(ctx context.Context, conflict error, email string) (hiddenID int64, hidden bool) {
	var d domo.User
	var ce *domo.ConflictError
	if errors.As(conflict, &ce) {
		d = ce.Existing // the client already found the holder while checking the conflict
	} else {
		found, ok, err := b.domo.FindUserByEmail(ctx, email)
		if err != nil || !ok {
			return 0, false
		}
		d = found
	}
	if d.ID <= 0 || b.isProtected(d.ID, d.Email) {
		return 0, false
	}
	rec, _, err := b.loadUserRecord(ctx, d.ID)
	if err != nil {
		return 0, false
	}
	if rec.Hidden {
		return d.ID, true
	}
	b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
	return 0, false
}

// Update is PUT and PATCH: lock the user, read it fresh, let apply compute the desired SCIM
// view, and write back one full Domo record only if something changed.
func (s *Users) Update(ctx context.Context, sid string, apply scim.ApplyFunc, _ scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindUser, sid)
	if err != nil {
		return nil, err
	}
	unlock, err := b.userLocks.lock(ctx, sid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return b.updateUser(ctx, id, sid, apply, stayVisible)
}

// visibility is what an update does to the user's place on the SCIM side.
type visibility int

const (
	stayVisible visibility = iota // PUT and PATCH
	hideUser                      // DELETE under DeleteDeprovision: deprovision, then hide
	reviveUser                    // POST of a user such a DELETE hid: provisioned again
)

// updateUser is Update with the user's lock held. An unfinished change of the user is
// finished first, so that this one starts from what it left (a demotion's saved role and
// groups above all).
func (b *Bridge) updateUser(ctx context.Context, id int64, sid string, apply scim.ApplyFunc, vis visibility) (scim.Attributes, error) {
	if err := b.finishPending(ctx, userKey(id)); err != nil {
		return nil, err
	}
	d, rec, err := b.fetchAny(ctx, id, sid)
	if err != nil {
		return nil, err
	}
	if rec.Hidden != (vis == reviveUser) {
		if vis == reviveUser {
			return nil, errNotHidden
		}
		return nil, scim.NotFound(kindUser, sid)
	}
	opt := b.options(ctx)
	cur := mapping.UserFromDomo(d, &rec.Shadow, opt)
	nextAttrs, err := apply(cur.Attributes(opt))
	if err != nil {
		return nil, err
	}
	next, err := mapping.UserFromAttributes(nextAttrs)
	if err == nil {
		// A key the IdP wrote in the other form than the one shown: the change wins.
		next.CustomAttributes, err = mapping.ResolveCustom(next.CustomAttributes, rec.Shadow.CustomAttributes)
	}
	if err != nil {
		return nil, upstream(err, kindUser, sid)
	}
	if !hasAttr(nextAttrs, "active") && vis != reviveUser {
		// A PUT that leaves active out means no change: reading it as true would reactivate
		// a deprovisioned user behind the IdP's back. (A create's active defaults to true.)
		next.Active = cur.Active
	}
	if !strings.EqualFold(next.UserName, cur.UserName) {
		if other, taken := b.index.UserByUserName(next.UserName); taken && other.ID != id {
			return nil, scim.Conflict("a user with userName %q already exists", next.UserName)
		}
	}
	deactivate := cur.Active && !next.Active
	if deactivate {
		if err := b.allowDeprovision(ctx, []store.BreakerEvent{{Kind: breakerDeactivate, Resource: kindUser, ResourceID: sid}}); err != nil {
			return nil, err
		}
		if b.cfg.Policy == PolicyDelete {
			if err := b.deleteUser(ctx, id, sid); err != nil {
				return nil, err
			}
			next.ID = id
			return next.Attributes(opt), nil
		}
	}

	upd, sh, err := mapping.UserToDomo(next, d, &rec.Shadow, opt)
	if err != nil {
		return nil, upstream(err, kindUser, sid)
	}
	if !strings.EqualFold(upd.User.Email, d.Email) {
		if other, taken := b.index.UserByDomoEmail(upd.User.Email); (taken && other.ID != id) || b.isProtected(0, upd.User.Email) {
			return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
		}
	}
	newRec := &userRecord{Shadow: sh, Saved: rec.Saved, Hidden: vis == hideUser}
	moves, err := b.planAccess(d, deactivate, next.Active, rec.Saved, newRec, &upd)
	if err != nil {
		return nil, err
	}
	plan, err := b.planAttributes(ctx, next, &rec.Shadow)
	if err != nil {
		return nil, err
	}
	if b.refusesUndocumented() {
		stripUndocumented(&upd) // the shadow keeps them; a change of them alone is no PUT
	}
	changed := mapping.ChangedFields(upd, d)
	if !deactivate && next.Active && b.demotes(d, upd.User) {
		if err := b.allowDeprovision(ctx, []store.BreakerEvent{{Kind: breakerDemote, Resource: kindUser, ResourceID: sid}}); err != nil {
			return nil, err
		}
	}
	if cur.Active != next.Active {
		// Recorded whatever the policy: under mark no Domo call tells of it.
		b.auditEvent(ctx, store.AuditEvent{Resource: kindUser, ResourceID: sid, Fields: []string{"active"}, Outcome: "ok: active " + strconv.FormatBool(next.Active) + " (policy " + b.cfg.Policy + ")"})
	}

	// Anything for Domo is recorded as a plan before the first write, the identity API's
	// part included. That part goes first: Domo refusing it (400) leaves everything unwritten;
	// a delivery it cannot make now stays pending (an intent of its own, read from the record
	// this plan writes) and the update goes on.
	var in store.Intent
	p := userPlan{ID: id, Write: &upd.User, Clear: upd.Clear, Fields: changed, Leave: moves.leave, Join: moves.join, Record: newRec}
	if len(changed) > 0 || moves.any() || (plan != nil && len(plan.changes) > 0) {
		if in, err = b.record(ctx, userKey(id), intentUserUpdate, p); err != nil {
			return nil, err
		}
		delivered := newRec.Shadow.Delivered
		if err := b.deliverBeforeWrite(ctx, id, plan, newRec); err != nil {
			b.done(ctx, in)
			return nil, err
		}
		if !maps.EqualFunc(delivered, newRec.Shadow.Delivered, slices.Equal) && (len(changed) > 0 || moves.any()) {
			// What Domo now holds goes into the plan, so that finishing it records it.
			if err := b.update(ctx, &in, p); err != nil {
				return nil, err
			}
		}
	}
	if len(changed) > 0 || moves.any() {
		resp, done, err := b.runUserUpdate(ctx, in, &p, d)
		if err != nil {
			return nil, err
		}
		if done.Hidden {
			return nil, nil
		}
		_, out := b.view(ctx, resp, done)
		return out, nil
	}

	// Nothing for Domo's v1: the record alone changes, in one store write.
	newRec.Shadow.Rebase(d)
	distrustRole(&newRec.Shadow, d, upd.User)
	if !mapping.ShadowEqual(&rec.Shadow, &newRec.Shadow) || !savedEqual(rec.Saved, newRec.Saved) || newRec.Hidden != rec.Hidden {
		newRec.Shadow.Modified = b.now().UTC()
		if err := b.saveUserRecord(ctx, id, newRec, newRec.Shadow.ExternalID); err != nil {
			return nil, scim.Unavailable(intentRetry, "the bridge's state database is unavailable; retry later", err)
		}
	}
	if in.Key != "" {
		b.done(ctx, in)
	}
	b.noteHidden(d.Email, id, newRec.Hidden)
	if newRec.Hidden {
		b.index.DeleteUser(id)
		return nil, nil
	}
	b.index.PutUser(b.entry(d, newRec, b.cfg.Mapping))
	_, out := b.view(ctx, d, newRec)
	return out, nil
}

// deactivate is the update a DELETE under DeleteDeprovision makes before hiding the user.
func deactivate(cur scim.Attributes) (scim.Attributes, error) {
	cur["active"] = false
	return cur, nil
}

// errNotHidden: the user to revive is not (or no longer) one a DELETE hid.
var errNotHidden = errors.New("user is not hidden")

// revive provisions again a user that a DELETE hid: the IdP's POST becomes a full replace of
// that Domo user, which reactivates it by the policy (demote gives back its role and groups).
// It answers as a create would, with the user's old id.
func (b *Bridge) revive(ctx context.Context, id int64, attrs scim.Attributes) (scim.Attributes, error) {
	sid := strconv.FormatInt(id, 10)
	unlock, err := b.userLocks.lock(ctx, sid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out, err := b.updateUser(ctx, id, sid, func(scim.Attributes) (scim.Attributes, error) { return attrs, nil }, reviveUser)
	if err != nil {
		var se *scim.Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			b.noteHidden("", id, false) // gone from Domo since it was hidden
			return nil, errNotHidden
		}
		return nil, err
	}
	b.log.Info().Int64("user", id).Msg("user hidden by an earlier DELETE provisioned again")
	return out, nil
}

// hiddenByEmail finds a user a DELETE hid by its Domo email.
func (b *Bridge) hiddenByEmail(email string) (int64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	id, ok := b.hiddenEmail[strings.ToLower(email)]
	return id, ok
}

// noteHidden keeps hiddenEmail up to date for one user, here and on the other replicas; an
// empty email forgets the id.
func (b *Bridge) noteHidden(email string, id int64, hidden bool) {
	b.setHidden(email, id, hidden)
	b.publishHidden(email, id, hidden)
}

func (b *Bridge) setHidden(email string, id int64, hidden bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if email == "" {
		for e, hid := range b.hiddenEmail {
			if hid == id {
				delete(b.hiddenEmail, e)
			}
		}
		return
	}
	if hidden {
		b.hiddenEmail[strings.ToLower(email)] = id
	} else if b.hiddenEmail[strings.ToLower(email)] == id {
		delete(b.hiddenEmail, strings.ToLower(email))
	}
}

func hasAttr(attrs scim.Attributes, name string) bool {
	for k, v := range attrs {
		if strings.EqualFold(k, name) && v != nil {
			return true
		}
	}
	return false
}

// putUser sends one full record to Domo. Domo's "email taken" is 409 uniqueness.
func (b *Bridge) putUser(ctx context.Context, id int64, sid string, upd domo.UserUpdate, changed []string, cur domo.User) (domo.User, error) {
	resp, err := b.writeUser(ctx, &upd, func(u domo.UserUpdate) (domo.User, error) {
		return b.domo.UpdateUser(ctx, id, wireUpdate(u))
	})
	b.audit(ctx, kindUser, id, "PUT /v1/users/"+sid, changed, err)
	if err != nil {
		if isConflict(err) {
			b.learnUser(ctx, err, upd.User.Email)
			return domo.User{}, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
		}
		return domo.User{}, upstream(err, kindUser, sid)
	}
	if resp.Groups == nil {
		resp.Groups = cur.Groups
	}
	if resp.ID == 0 {
		resp.ID = id
	}
	return resp, nil
}

// Delete removes the user in Domo or, with OnDelete DeleteDeprovision, deprovisions it by the
// policy and hides it (the Domo user and its content stay; an IdP creating it again revives
// it). Afterwards every operation on the id is 404.
func (s *Users) Delete(ctx context.Context, sid string) error {
	b := s.b
	id, err := parseID(kindUser, sid)
	if err != nil {
		return err
	}
	unlock, err := b.userLocks.lock(ctx, sid)
	if err != nil {
		return err
	}
	defer unlock()
	if b.isProtected(id, "") {
		return scim.NotFound(kindUser, sid)
	}
	if err := b.finishPending(ctx, userKey(id)); err != nil {
		return err
	}
	if b.cfg.OnDelete == DeleteDeprovision && b.cfg.Policy != PolicyDelete {
		_, err := b.updateUser(ctx, id, sid, deactivate, hideUser)
		return err
	}
	rec, _, err := b.loadUserRecord(ctx, id)
	if err != nil {
		return err
	}
	if rec.Hidden {
		return scim.NotFound(kindUser, sid)
	}
	if err := b.allowDeprovision(ctx, []store.BreakerEvent{{Kind: breakerDelete, Resource: kindUser, ResourceID: sid}}); err != nil {
		return err
	}
	return b.deleteUser(ctx, id, sid)
}

// deleteUser deletes a user in Domo, recording the intent first so that the record is
// forgotten even when the process stops between Domo's answer and the store.
func (b *Bridge) deleteUser(ctx context.Context, id int64, sid string) error {
	in, err := b.record(ctx, userKey(id), intentUserDelete, userPlan{ID: id})
	if err != nil {
		return err
	}
	return b.runUserDelete(ctx, in, id)
}

func savedEqual(a, b *savedAccess) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Role == b.Role && a.RoleID == b.RoleID && slices.Equal(a.Groups, b.Groups)
}
