package bridge

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// userPlan is the intent of a user change: everything needed to finish it without the request
// that began it.
type userPlan struct {
	ID    int64      `json:"id,omitempty"`    // 0 for a create until Domo assigned one
	Email string     `json:"email,omitempty"` // create: the Domo email
	Write *domo.User `json:"write,omitempty"` // the record to POST, or whose Fields to PUT
	Clear []string   `json:"clear,omitempty"`
	// Fields are the Domo fields an update sets: finishing sends them again on top of the user
	// as Domo holds it then, so that a field an admin changed meanwhile is not overwritten.
	Fields []string `json:"fields,omitempty"`
	Leave  []int64  `json:"leave,omitempty"` // groups the demote policy takes the user out of
	Join   []int64  `json:"join,omitempty"`  // groups a reactivation gives back
	// Record is what the store keeps once the change is made, the saved role and groups of a
	// demotion included: written here before Domo changes anything.
	Record *userRecord `json:"record,omitempty"`
	Invite bool        `json:"invite,omitempty"`
}

// onto is the update that applies the plan's fields to d, the user as Domo holds it now.
func (p *userPlan) onto(d domo.User) domo.UserUpdate {
	u := d
	u.ID, u.CreatedAt, u.UpdatedAt, u.Image, u.Groups, u.Deleted = 0, domo.Time{}, domo.Time{}, "", nil, false
	upd := domo.UserUpdate{User: u}
	for _, f := range p.Fields {
		setField(&upd.User, *p.Write, f)
		if slices.Contains(p.Clear, f) {
			upd.Clear = append(upd.Clear, f)
		}
	}
	return upd
}

// setField copies one writable Domo field, named by its JSON name, from src to dst.
func setField(dst *domo.User, src domo.User, f string) {
	switch f {
	case domo.FieldName:
		dst.Name = src.Name
	case domo.FieldEmail:
		dst.Email = src.Email
	case domo.FieldAlternateEmail:
		dst.AlternateEmail = src.AlternateEmail
	case domo.FieldRole, domo.FieldRoleID:
		dst.Role, dst.RoleID = src.Role, src.RoleID
	case domo.FieldTitle:
		dst.Title = src.Title
	case domo.FieldPhone:
		dst.Phone = src.Phone
	case domo.FieldLocation:
		dst.Location = src.Location
	case domo.FieldTimezone:
		dst.Timezone = src.Timezone
	case domo.FieldLocale:
		dst.Locale = src.Locale
	case domo.FieldEmployeeNumber:
		dst.EmployeeNumber = src.EmployeeNumber
	case domo.FieldEmployeeID:
		dst.EmployeeID = src.EmployeeID
	case domo.FieldDepartment:
		dst.Department = src.Department
	}
}

// runUserUpdate carries out an update plan on d, the user as Domo holds it now: the PUT of the
// plan's fields when Domo does not hold them yet, the membership moves, then the record. It
// clears the intent when done, and also when Domo refuses the PUT outright (nothing of the
// change was made, and no retry can make it). Memberships Domo refuses (a dynamic group) are
// skipped with a warning: the rest of a deprovision must not wait for ever on them.
func (b *Bridge) runUserUpdate(ctx context.Context, in store.Intent, p *userPlan, d domo.User) (domo.User, *userRecord, error) {
	sid := strconv.FormatInt(p.ID, 10)
	resp := d
	if p.Write != nil {
		upd := p.onto(d)
		if b.refusesUndocumented() {
			stripUndocumented(&upd)
		}
		if changed := mapping.ChangedFields(upd, d); len(changed) > 0 {
			var err error
			if resp, err = b.putUser(ctx, p.ID, sid, upd, changed, d); err != nil {
				if refusedOutright(err) {
					b.done(ctx, in)
				}
				return domo.User{}, nil, err
			}
		}
	}
	if err := b.leaveGroups(ctx, p.ID, p.Leave); err != nil {
		return domo.User{}, nil, err
	}
	if _, err := b.joinGroups(ctx, p.ID, p.Join); err != nil {
		return domo.User{}, nil, err
	}
	if len(p.Leave)+len(p.Join) > 0 {
		resp.Groups = nil // memberships changed: the index has them
	}
	rec := *p.Record
	if p.Write != nil {
		resp = b.settleUpdatedRole(ctx, resp, *p.Write, &rec)
	}
	rec.Shadow.Rebase(resp)
	if p.Write != nil {
		distrustRole(&rec.Shadow, resp, *p.Write)
	}
	rec.Shadow.Modified = b.now().UTC()
	if err := b.saveUserRecord(ctx, p.ID, &rec, rec.Shadow.ExternalID); err != nil {
		return domo.User{}, nil, scim.Unavailable(intentRetry, "Domo was changed, but the bridge's state database is unavailable; retry to finish", err)
	}
	b.done(ctx, in)
	b.noteHidden(cmp.Or(resp.Email, d.Email), p.ID, rec.Hidden)
	if rec.Hidden {
		b.index.DeleteUser(p.ID)
	} else {
		b.index.PutUser(b.entry(resp, &rec, b.cfg.Mapping))
	}
	return resp, &rec, nil
}

// finishUserUpdate finishes an update plan left unfinished: it reads the user again and sends
// what Domo does not hold yet. A user Domo no longer has cannot be changed: the plan is dropped.
func (b *Bridge) finishUserUpdate(ctx context.Context, in store.Intent, p *userPlan) error {
	d, err := b.getUser(ctx, p.ID)
	if err != nil {
		if isNotFound(err) {
			b.done(ctx, in)
			b.index.DeleteUser(p.ID)
			return nil
		}
		return upstream(err, kindUser, strconv.FormatInt(p.ID, 10))
	}
	_, _, err = b.runUserUpdate(ctx, in, p, d)
	return err
}

// runUserCreate carries out a create plan: the POST (unless lookup finds the user an earlier
// attempt created), the identity attributes and the role when Domo ignored it, then the
// record. A create Domo refuses (the email is taken, a value is invalid) clears the intent:
// nothing was created. One whose attributes Domo refuses is undone (undoCreate): the user it
// made is deleted again and the error is an *errCreateUndone.
func (b *Bridge) runUserCreate(ctx context.Context, in store.Intent, p *userPlan, lookup bool) (domo.User, error) {
	upd := domo.UserUpdate{User: *p.Write, Clear: p.Clear}
	var d domo.User
	found := false
	// The intent holds an id only once this create's POST answered: a user found by it is
	// this create's own, and may be deleted again (undoCreate); one found by email may not.
	hadID := p.ID > 0
	if lookup {
		var err error
		if d, found, err = b.createdUser(ctx, p); err != nil {
			return domo.User{}, err
		}
		if found {
			if rec, ok, err := b.loadUserRecord(ctx, d.ID); err == nil && ok && rec.Shadow.Modified.After(in.Updated) {
				// A refresh showed the user to the IdP, which has written it since: the
				// create's plan is older than what the user holds now, and must not undo it.
				b.done(ctx, in)
				b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
				return d, nil
			}
		}
	}
	if !found {
		var err error
		d, err = b.writeUser(ctx, &upd, func(u domo.UserUpdate) (domo.User, error) {
			return b.domo.CreateUser(ctx, wireUpdate(u), p.Invite)
		})
		b.audit(ctx, kindUser, d.ID, "POST /v1/users", mapping.ChangedFields(upd, domo.User{}), err)
		var ce *domo.ConflictError
		switch {
		case err == nil:
		case lookup && errors.As(err, &ce) && ce.Existing.ID > 0 && strings.EqualFold(ce.Existing.Email, p.Email) && !b.isProtected(ce.Existing.ID, ce.Existing.Email):
			// Domo lagged the lookup: the user it calls taken is the earlier attempt's.
			d = ce.Existing
		default:
			if definite(err) || isConflict(err) {
				b.done(ctx, in)
			}
			return domo.User{}, err
		}
		// Domo's create answer leaves out timezone and locale; they were sent, so they are set.
		d.Timezone = cmp.Or(d.Timezone, upd.User.Timezone)
		d.Locale = cmp.Or(d.Locale, upd.User.Locale)
	}
	if p.ID != d.ID {
		p.ID = d.ID
		if err := b.update(ctx, &in, p); err != nil {
			return domo.User{}, err
		}
	}
	rec := *p.Record
	// The role by id when Domo's v1 ignored it, and the identity attributes the record holds,
	// through the identity API when it works (the role through v1 when it does not).
	d, err := b.settleCreated(ctx, d, upd, b.attributesOf(d.ID, &rec.Shadow), &rec, !found || hadID)
	if refused := (*errAttributesRefused)(nil); errors.As(err, &refused) {
		return domo.User{}, b.undoCreate(ctx, in, d.ID, refused.err)
	}
	if err != nil {
		// The intent stays, with the id, for the role: until it is finished the user is not
		// indexed, so that the IdP's lookup misses it and its retried POST finishes the job.
		return domo.User{}, upstream(err, kindUser, strconv.FormatInt(d.ID, 10))
	}
	rec.Shadow.Rebase(d)
	// When the role did not take, the user exists with another role than the IdP asked for:
	// reads show Domo's, so that the IdP's next PUT or PATCH sets it.
	distrustRole(&rec.Shadow, d, upd.User)
	if err := b.saveUserRecord(ctx, d.ID, &rec, rec.Shadow.ExternalID); err != nil {
		return domo.User{}, scim.Unavailable(intentRetry, "the user was created in Domo, but the bridge's state database is unavailable; retry to finish", err)
	}
	*p.Record = rec // what the create answers with
	b.done(ctx, in)
	b.index.PutUser(b.entry(d, &rec, b.cfg.Mapping))
	return d, nil
}

// createdUser finds the user an interrupted create may have made: by the id the intent learnt,
// else by its email (the index, then Domo).
func (b *Bridge) createdUser(ctx context.Context, p *userPlan) (domo.User, bool, error) {
	if p.ID > 0 {
		d, err := b.getUser(ctx, p.ID)
		if err == nil {
			return d, true, nil
		}
		if !isNotFound(err) {
			return domo.User{}, false, upstream(err, kindUser, strconv.FormatInt(p.ID, 10))
		}
		return domo.User{}, false, nil // deleted since: create it again
	}
	if e, ok := b.index.UserByDomoEmail(p.Email); ok {
		d, err := b.getUser(ctx, e.ID)
		if err == nil {
			return d, true, nil
		}
		if !isNotFound(err) {
			return domo.User{}, false, upstream(err, kindUser, strconv.FormatInt(e.ID, 10))
		}
	}
	d, ok, err := b.domo.FindUserByEmail(ctx, p.Email)
	if err != nil {
		return domo.User{}, false, upstream(err, kindUser, "")
	}
	if ok && b.isProtected(d.ID, d.Email) {
		return domo.User{}, false, scim.Conflict("a Domo user with email %q already exists", p.Email)
	}
	return d, ok, nil
}

// runUserDelete deletes a Domo user and leaves a tombstone in place of its record. Domo
// refusing (a user who owns DataSets: the error table's 409) clears the intent: no retry can
// delete the user until an admin acts in Domo.
func (b *Bridge) runUserDelete(ctx context.Context, in store.Intent, id int64) error {
	sid := strconv.FormatInt(id, 10)
	err := b.domo.DeleteUser(ctx, id)
	b.audit(ctx, kindUser, id, "DELETE /v1/users/"+sid, nil, err)
	if err != nil && !isNotFound(err) {
		if refusedOutright(err) {
			b.done(ctx, in)
		}
		return upstream(err, kindUser, sid)
	}
	if err := b.forgetUser(ctx, id); err != nil {
		return scim.Unavailable(intentRetry, "the user was deleted in Domo, but the bridge's state database is unavailable; retry to finish", err)
	}
	b.done(ctx, in)
	if err != nil {
		return scim.NotFound(kindUser, sid)
	}
	return nil
}

// refusedOutright reports whether Domo refused a write for what it asked, which no retry can
// change (the error table's conflict, rejected and refused kinds): not a missing resource
// (finishing reads it as done), not the bridge's credentials or a token endpoint's refusal
// (an operator fixes those), not throttling or Domo failing (passing).
func refusedOutright(err error) bool {
	switch domo.KindOf(err) {
	case domo.KindConflict, domo.KindRejected, domo.KindRefused:
		return true
	}
	return false
}
