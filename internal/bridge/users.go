package bridge

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
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
	if b.isProtected(id, "") {
		return domo.User{}, nil, scim.NotFound(kindUser, sid)
	}
	d, err := b.domo.GetUser(ctx, id)
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
	if rec.Hidden {
		return domo.User{}, nil, scim.NotFound(kindUser, sid)
	}
	return d, rec, nil
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
	return attrs, nil
}

// Create adds a user: 409 when the userName or the Domo email is taken (from the index, and
// from Domo itself), else one POST.
func (s *Users) Create(ctx context.Context, attrs scim.Attributes) (scim.Attributes, error) {
	b := s.b
	u, err := mapping.UserFromAttributes(attrs)
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	if _, taken := b.index.UserByUserName(u.UserName); taken {
		return nil, scim.Conflict("a user with userName %q already exists", u.UserName)
	}
	opt := b.options(ctx)
	upd, sh, err := mapping.UserToDomo(u, domo.User{}, nil, opt)
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	if _, taken := b.index.UserByDomoEmail(upd.User.Email); taken || b.isProtected(0, upd.User.Email) {
		return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
	}
	rec := &userRecord{Shadow: sh}
	if !u.Active && b.cfg.Policy == PolicyDemote {
		rec.Saved = &savedAccess{Role: upd.User.Role, RoleID: int64(upd.User.RoleID)}
		if err := b.demoteRole(&upd); err != nil {
			return nil, err
		}
	}

	unlock := b.userLocks.lock("email:" + strings.ToLower(upd.User.Email))
	defer unlock()
	d, err := b.domo.CreateUser(ctx, upd, b.cfg.SendInvite)
	b.audit(ctx, kindUser, d.ID, "POST /v1/users", mapping.ChangedFields(upd, domo.User{}), err)
	if err != nil {
		if isConflict(err) {
			return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
		}
		return nil, upstream(err, kindUser, "")
	}
	// Domo's create answer leaves out timezone and locale; they were sent, so they are set.
	if d.Timezone == "" {
		d.Timezone = upd.User.Timezone
	}
	if d.Locale == "" {
		d.Locale = upd.User.Locale
	}
	rec.Shadow.Rebase(d)
	if err := b.saveUserRecord(ctx, d.ID, rec, u.ExternalID); err != nil {
		// The user exists in Domo; losing the shadow degrades fidelity, not correctness.
		b.log.Error().Err(err).Int64("user", d.ID).Msg("shadow not saved after create")
	}
	b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
	_, out := b.view(ctx, d, rec)
	return out, nil
}

// Update is PUT and PATCH: lock the user, read it fresh, let apply compute the desired SCIM
// view, and write back one full Domo record only if something changed.
func (s *Users) Update(ctx context.Context, sid string, apply scim.ApplyFunc, _ scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindUser, sid)
	if err != nil {
		return nil, err
	}
	unlock := b.userLocks.lock(sid)
	defer unlock()

	d, rec, err := b.fetch(ctx, id, sid)
	if err != nil {
		return nil, err
	}
	opt := b.options(ctx)
	cur := mapping.UserFromDomo(d, &rec.Shadow, opt)
	nextAttrs, err := apply(cur.Attributes(opt))
	if err != nil {
		return nil, err
	}
	next, err := mapping.UserFromAttributes(nextAttrs)
	if err != nil {
		return nil, upstream(err, kindUser, sid)
	}
	if !strings.EqualFold(next.UserName, cur.UserName) {
		if other, taken := b.index.UserByUserName(next.UserName); taken && other.ID != id {
			return nil, scim.Conflict("a user with userName %q already exists", next.UserName)
		}
	}
	deactivate, reactivate := cur.Active && !next.Active, !cur.Active && next.Active
	if deactivate {
		if err := b.allowDeprovision(ctx); err != nil {
			return nil, err
		}
		if b.cfg.Policy == PolicyDelete {
			if err := b.deleteUser(ctx, id, sid, rec); err != nil {
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
	newRec := &userRecord{Shadow: sh, Saved: rec.Saved}
	var regroup []int64 // groups to re-join on reactivation
	if b.cfg.Policy == PolicyDemote {
		switch {
		case deactivate:
			newRec.Saved = &savedAccess{Role: upd.User.Role, RoleID: int64(upd.User.RoleID), Groups: b.nonDefaultGroups(d)}
			if err := b.demoteRole(&upd); err != nil {
				return nil, err
			}
		case !next.Active && rec.Saved != nil:
			// Still inactive: keep the demoted role, but remember a role the IdP changed.
			if upd.User.Role != d.Role {
				newRec.Saved.Role, newRec.Saved.RoleID = upd.User.Role, int64(upd.User.RoleID)
			}
			upd.User.Role, upd.User.RoleID = d.Role, d.RoleID
		case reactivate && rec.Saved != nil:
			if len(next.Roles) == 0 {
				upd.User.Role, upd.User.RoleID = rec.Saved.Role, domo.Int(rec.Saved.RoleID)
			}
			regroup = rec.Saved.Groups
			newRec.Saved = nil
		}
	}

	resp := d
	if changed := mapping.ChangedFields(upd, d); len(changed) > 0 {
		resp, err = b.domo.UpdateUser(ctx, id, upd)
		b.audit(ctx, kindUser, id, "PUT /v1/users/"+sid, changed, err)
		if err != nil {
			if isConflict(err) {
				return nil, scim.Conflict("a Domo user with email %q already exists", upd.User.Email)
			}
			return nil, upstream(err, kindUser, sid)
		}
		if resp.Groups == nil {
			resp.Groups = d.Groups
		}
		if resp.ID == 0 {
			resp.ID = id
		}
	}
	if deactivate && b.cfg.Policy == PolicyDemote {
		if err := b.leaveGroups(ctx, id, newRec.Saved.Groups); err != nil {
			return nil, err
		}
		resp.Groups = keepDefault(resp.Groups)
	}
	if len(regroup) > 0 {
		b.joinGroups(ctx, id, regroup)
		resp.Groups = nil // re-read from the index
	}
	newRec.Shadow.Rebase(resp)
	if !mapping.ShadowEqual(&rec.Shadow, &newRec.Shadow) || !savedEqual(rec.Saved, newRec.Saved) {
		if err := b.saveUserRecord(ctx, id, newRec, next.ExternalID); err != nil {
			return nil, err
		}
	}
	b.index.PutUser(b.entry(resp, newRec, b.cfg.Mapping))
	_, out := b.view(ctx, resp, newRec)
	return out, nil
}

// Delete removes the user in Domo. Afterwards every operation on the id is 404.
func (s *Users) Delete(ctx context.Context, sid string) error {
	b := s.b
	id, err := parseID(kindUser, sid)
	if err != nil {
		return err
	}
	unlock := b.userLocks.lock(sid)
	defer unlock()
	if b.isProtected(id, "") {
		return scim.NotFound(kindUser, sid)
	}
	rec, _, err := b.loadUserRecord(ctx, id)
	if err != nil {
		return err
	}
	if rec.Hidden {
		return scim.NotFound(kindUser, sid)
	}
	if err := b.allowDeprovision(ctx); err != nil {
		return err
	}
	return b.deleteUser(ctx, id, sid, rec)
}

func (b *Bridge) deleteUser(ctx context.Context, id int64, sid string, rec *userRecord) error {
	err := b.domo.DeleteUser(ctx, id)
	b.audit(ctx, kindUser, id, "DELETE /v1/users/"+sid, nil, err)
	if err != nil {
		if isNotFound(err) {
			b.index.DeleteUser(id)
			_ = b.store.DeleteUserShadow(context.WithoutCancel(ctx), id)
		}
		var ae *domo.APIError
		if asAPIError(err, &ae) && ae.Status == http.StatusBadRequest {
			return &scim.Error{Status: http.StatusConflict, Detail: "Domo refused to delete the user (it may own DataSets or DataFlows; reassign them in Domo first): " + ae.Message, Err: err}
		}
		return upstream(err, kindUser, sid)
	}
	b.index.DeleteUser(id)
	if err := b.store.DeleteUserShadow(context.WithoutCancel(ctx), id); err != nil {
		b.log.Error().Err(err).Int64("user", id).Msg("shadow not deleted")
	}
	return nil
}

func savedEqual(a, b *savedAccess) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Role == b.Role && a.RoleID == b.RoleID && slices.Equal(a.Groups, b.Groups)
}
