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
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Attributes only the identity API can write (custom attributes, reportsTo from the manager,
// hireDate, organization where the tenant has the key) are delivered by a PATCH of the
// identity API; the user's shadow remembers what Domo confirmed (UserShadow.Delivered).
//
// A delivery the bridge cannot make now (the access token revoked, the API down, throttled) is
// never dropped and never costs the IdP a 5xx: the change is answered, its values are kept in
// the shadow (GET returns them), and an intent "attrs:<id>" stays in the store until the
// instance loop, or the user's next write, delivers it. What Domo refuses outright (400: a
// key it does not have, a value it does not take) is a 400 invalidValue before anything is
// written, when the bridge can tell in advance; the attribute catalogue lets it.

const intentUserAttributes = "user.attributes"

func attrsKey(id int64) string { return "attrs:" + strconv.FormatInt(id, 10) }

// attrPlan is what one user write asks of the identity API.
type attrPlan struct {
	want    map[string][]string // the identity attributes the IdP's user asks for, by key
	changes []domo.Attribute    // what differs from what Domo is known to hold
}

// planAttributes works out, before anything is written, which identity attributes a write of
// u changes, and refuses what Domo would refuse: a custom key the tenant does not have. prev is the user's shadow (nil on create). Without the instance
// APIs it returns nil: the values live in the shadow only, as they always have.
func (b *Bridge) planAttributes(ctx context.Context, u mapping.User, prev *mapping.UserShadow) (*attrPlan, error) {
	in := b.cfg.Instance
	if in == nil {
		return nil, nil
	}
	want, err := mapping.IdentityAttributes(u, in.HasAttributeKey)
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	var have map[string][]string
	if prev != nil {
		have = prev.Delivered
	}
	if vals, ok := want[domo.AttrReportsTo]; ok && !slices.Equal(vals, have[domo.AttrReportsTo]) {
		// A manager the bridge does not know as a user cannot be Domo's reportsTo: it stays
		// the bridge's (GET returns it), and Domo's is cleared rather than left wrong.
		mid, _ := strconv.ParseInt(vals[0], 10, 64)
		if ok, err := b.admitUser(ctx, mid); err != nil {
			return nil, err
		} else if !ok {
			b.log.Warn().Str("manager", vals[0]).Msg("manager is not a user of this bridge; not written to Domo's reportsTo")
			delete(want, domo.AttrReportsTo)
		}
	}
	p := &attrPlan{want: want, changes: mapping.AttributeChanges(want, have)}
	if len(p.changes) == 0 {
		return p, nil
	}
	var keys []string
	for _, c := range p.changes {
		if len(c.Values) > 0 && c.Key != domo.AttrReportsTo && c.Key != domo.AttrHireDate {
			keys = append(keys, c.Key)
		}
	}
	if unknown := b.unknownKeys(ctx, keys); len(unknown) > 0 {
		q := make([]string, len(unknown))
		for i, k := range unknown {
			q[i] = strconv.Quote(k)
		}
		return nil, scim.BadRequest(scim.TypeInvalidValue, "customAttributes: %s not a user attribute of this Domo instance (keys are case-sensitive; create it in Domo under Admin > Governance > User attributes); nothing was written", strings.Join(q, ", ")+map[bool]string{true: " is", false: " are"}[len(q) == 1])
	}
	return p, nil
}

// attributesOf is the plan that brings Domo to what a stored shadow asks for: what a create
// finishing from its intent, or a pending delivery, sends. nil without the instance APIs.
func (b *Bridge) attributesOf(sh *mapping.UserShadow) *attrPlan {
	in := b.cfg.Instance
	if in == nil {
		return nil
	}
	u := mapping.User{Enterprise: sh.Enterprise, Domo: sh.Domo, CustomAttributes: sh.CustomAttributes}
	want, err := mapping.IdentityAttributes(u, in.HasAttributeKey)
	if err != nil {
		b.log.Warn().Err(err).Msg("stored attributes cannot be delivered")
		return nil
	}
	return &attrPlan{want: want, changes: mapping.AttributeChanges(want, sh.Delivered)}
}

// unknownKeys returns the keys the tenant's attribute catalogue lacks, reading the catalogue
// again first when one seems missing (an admin may just have created it). Without a
// catalogue (the identity API never answered) no key can be judged: Domo will.
func (b *Bridge) unknownKeys(ctx context.Context, keys []string) []string {
	in := b.cfg.Instance
	if len(keys) == 0 || len(in.AttributeKeys()) == 0 {
		return nil
	}
	unknown := in.UnknownKeys(keys)
	if len(unknown) > 0 && in.Available(domo.CapAttributes) {
		if _, err := in.RefreshAttributeKeys(ctx); err == nil {
			unknown = in.UnknownKeys(keys)
		}
	}
	return unknown
}

// deliverAttributes makes the PATCH a plan needs, with roleID too when it is not 0, and
// records what Domo confirmed in rec. A change it cannot make now is left pending: an intent
// is kept and the instance loop delivers it. It reports whether the role was set, and returns
// Domo's 400 (as a SCIM error) when Domo refused the change outright; the caller decides
// whether that may still reach the IdP (it may when nothing else was written yet).
//
// fresh marks a user created in this request: Domo may not show it to reads for a moment
// (fides polls for it), so a 404 is asked again for a few seconds, as getUser does.
func (b *Bridge) deliverAttributes(ctx context.Context, id int64, p *attrPlan, roleID int64, rec *userRecord, fresh bool) (roleSet bool, refusal error) {
	if p == nil || (len(p.changes) == 0 && roleID == 0) {
		return false, nil
	}
	in := b.cfg.Instance
	key := attrsKey(id)
	var intent store.Intent
	if len(p.changes) > 0 {
		data, _ := json.Marshal(map[string]int64{"user": id})
		var err error
		if intent, err = b.store.PutIntent(context.WithoutCancel(ctx), store.Intent{Key: key, Kind: intentUserAttributes, Data: data}); err != nil {
			// Without its intent a failed delivery could be forgotten; sent now, it may still
			// go through, and the shadow keeps the values either way.
			b.log.Error().Err(err).Int64("user", id).Msg("attribute delivery intent not recorded")
		}
	}
	if !in.Available(domo.CapAttributes) {
		b.inst.fallbacks[domo.CapAttributes].Add(1)
		b.markPending(id, len(p.changes) > 0)
		return false, nil
	}
	upd := domo.IdentityUpdate{RoleID: roleID, Attributes: p.changes}
	_, err := in.UpdateUser(ctx, id, upd)
	for wait, waited := 50*time.Millisecond, time.Duration(0); fresh && isNotFound(err) && waited+wait <= readAfterWriteWait; wait *= 2 {
		if sleep(ctx, wait) != nil {
			break
		}
		waited += wait
		_, err = in.UpdateUser(ctx, id, upd)
	}
	b.audit(ctx, kindUser, id, "PATCH /api/identity/v1/users/"+strconv.FormatInt(id, 10), attributeFields(upd), err)
	if err == nil {
		rec.Shadow.Delivered = p.want
		// Domo's updatedAt moved, and no answer tells to what: lastModified follows the
		// shadow's stamp, taken after Domo's change.
		rec.Shadow.Modified = b.now().UTC()
		if len(p.changes) > 0 {
			if derr := b.store.DeleteIntent(context.WithoutCancel(ctx), key, intent.Updated); derr != nil {
				b.log.Warn().Err(derr).Int64("user", id).Msg("attribute delivery intent not cleared; the next pass finds nothing to do")
			}
		}
		b.inst.setPending(id, false)
		return roleID != 0, nil
	}
	var ae *domo.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		b.inst.refused.Add(1)
		b.dropIntent(ctx, key, intent)
		b.log.Error().Err(err).Int64("user", id).Msg("Domo refused the user's attributes")
		msg := ae.Message
		if msg == "" {
			msg = "bad request"
		}
		return false, scim.BadRequest(scim.TypeInvalidValue, "Domo refused the user's attributes: %s", msg)
	}
	if isCapability(err) {
		b.fellBack(domo.CapAttributes, "identity.update", err)
	} else {
		b.log.Warn().Err(err).Int64("user", id).Msg("attribute delivery failed; it stays pending")
	}
	b.markPending(id, len(p.changes) > 0)
	return false, nil
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// markPending notes a delivery left for later.
func (b *Bridge) markPending(id int64, pending bool) {
	if pending {
		b.inst.setPending(id, true)
		b.inst.wake()
	}
}

func (b *Bridge) dropIntent(ctx context.Context, key string, in store.Intent) {
	if in.Key == "" {
		return
	}
	if err := b.store.DeleteIntent(context.WithoutCancel(ctx), key, in.Updated); err != nil {
		b.log.Warn().Err(err).Str("intent", key).Msg("intent not cleared")
	}
}

// attributeFields names what an identity PATCH changes, for the audit log: attribute keys (a
// cleared one marked so) and roleId. Never values.
func attributeFields(u domo.IdentityUpdate) []string {
	var out []string
	if u.RoleID != 0 {
		out = append(out, "roleId")
	}
	for _, a := range u.Attributes {
		f := "attributes." + a.Key
		if len(a.Values) == 0 {
			f += " (cleared)"
		}
		out = append(out, f)
	}
	return out
}

// settleCreated finishes a create after Domo's POST: the role by id when Domo's v1 ignored it,
// and the identity attributes, in one PATCH of the identity API when it works; the role
// through v1 (settleRole) when it does not.
func (b *Bridge) settleCreated(ctx context.Context, d domo.User, upd domo.UserUpdate, p *attrPlan, rec *userRecord) (domo.User, error) {
	var roleID int64
	if !roleApplied(d, upd.User) && b.can(domo.CapAttributes) {
		roleID = int64(upd.User.RoleID)
	}
	roleSet, refusal := b.deliverAttributes(ctx, d.ID, p, roleID, rec, true)
	if refusal != nil {
		// The user exists: a refusal cannot undo that. It is logged, audited and counted;
		// the values stay in the shadow, so GET shows them and the IdP's next write tries
		// again.
		b.log.Error().Err(refusal).Int64("user", d.ID).Msg("created user's attributes not delivered")
	}
	if roleSet {
		d.Role, d.RoleID = upd.User.Role, upd.User.RoleID
		if r, ok := b.roleCatalogue().ByID(int64(upd.User.RoleID)); ok {
			d.Role = r.Name
		}
		return d, nil
	}
	if roleID != 0 {
		b.fellBack(domo.CapAttributes, "identity.update role", nil)
	}
	return b.settleRole(ctx, d, upd)
}

// settleUpdatedRole sets, through the identity API, a role Domo's v1 PUT did not apply (a
// custom role on a tenant that ignores roleId). v1 already did what it could; without the
// identity API the caller's distrustRole shows Domo's role, as before.
func (b *Bridge) settleUpdatedRole(ctx context.Context, resp domo.User, want domo.User, rec *userRecord) domo.User {
	if roleApplied(resp, want) || want.RoleID == 0 || !b.can(domo.CapAttributes) {
		return resp
	}
	roleOnly := &attrPlan{want: rec.Shadow.Delivered}
	if set, _ := b.deliverAttributes(ctx, resp.ID, roleOnly, int64(want.RoleID), rec, false); set {
		resp.RoleID = want.RoleID
		resp.Role = want.Role
		if r, ok := b.roleCatalogue().ByID(int64(want.RoleID)); ok {
			resp.Role = r.Name
		}
	}
	return resp
}

// deliverBeforeWrite delivers an update's attribute changes before its v1 PUT, so that Domo
// refusing them (a 400) leaves everything unwritten. A delivery that cannot be made now stays
// pending and the update goes on.
func (b *Bridge) deliverBeforeWrite(ctx context.Context, id int64, p *attrPlan, rec *userRecord) error {
	if p == nil || len(p.changes) == 0 {
		return nil
	}
	_, refusal := b.deliverAttributes(ctx, id, p, 0, rec, false)
	return refusal
}

// seedPending learns, from the store, which users have a delivery pending.
func (b *Bridge) seedPending(ctx context.Context) {
	ins, err := b.store.Intents(ctx)
	if err != nil {
		b.log.Warn().Err(err).Msg("pending attribute deliveries not read")
		return
	}
	for _, in := range ins {
		if in.Kind != intentUserAttributes {
			continue
		}
		if id, ok := intentUser(in); ok {
			b.inst.setPending(id, true)
		}
	}
}

func intentUser(in store.Intent) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(in.Key, "attrs:"), 10, 64)
	return id, err == nil && id > 0
}

// deliverPending delivers every pending attribute change it can: each user under its lock,
// its wish read from its shadow. It stops at the first sign the capability is gone again.
func (b *Bridge) deliverPending(ctx context.Context) {
	ins, err := b.store.Intents(ctx)
	if err != nil {
		b.log.Warn().Err(err).Msg("pending attribute deliveries not read")
		return
	}
	for _, in := range ins {
		if in.Kind != intentUserAttributes || ctx.Err() != nil {
			continue
		}
		id, ok := intentUser(in)
		if !ok {
			b.dropIntent(ctx, in.Key, in)
			continue
		}
		if stop := b.deliverOne(ctx, id, in); stop {
			return
		}
	}
}

// deliverOne delivers one user's pending change; stop reports that the capability is gone.
func (b *Bridge) deliverOne(ctx context.Context, id int64, intent store.Intent) (stop bool) {
	sid := strconv.FormatInt(id, 10)
	unlock := b.userLocks.lock(sid)
	defer unlock()
	if _, updating, err := b.store.Intent(ctx, userKey(id)); err != nil || updating {
		// An unfinished update of the user is still to write the record the delivery reads:
		// the delivery waits for it, rather than compare against the record before it.
		return false
	}
	rec, found, err := b.loadUserRecord(ctx, id)
	if err != nil {
		return false
	}
	u := mapping.User{ID: id, Enterprise: rec.Shadow.Enterprise, Domo: rec.Shadow.Domo, CustomAttributes: rec.Shadow.CustomAttributes}
	want, err := mapping.IdentityAttributes(u, b.cfg.Instance.HasAttributeKey)
	changes := mapping.AttributeChanges(want, rec.Shadow.Delivered)
	if !found || err != nil || len(changes) == 0 {
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
		return false
	}
	upd := domo.IdentityUpdate{Attributes: changes}
	_, err = b.cfg.Instance.UpdateUser(ctx, id, upd)
	b.audit(ctx, kindUser, id, "PATCH /api/identity/v1/users/"+sid+" (pending delivery)", attributeFields(upd), err)
	var ae *domo.APIError
	switch {
	case err == nil:
		next := *rec
		next.Shadow.Delivered = maps.Clone(want)
		next.Shadow.Modified = b.now().UTC()
		if serr := b.saveUserRecord(ctx, id, &next, next.Shadow.ExternalID); serr != nil {
			b.log.Error().Err(serr).Int64("user", id).Msg("delivered attributes not recorded; the next write sends them again")
			return false
		}
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
		b.inst.delivered.Add(1)
		b.log.Info().Int64("user", id).Int("attributes", len(changes)).Msg("pending attribute change delivered")
	case isNotFound(err):
		// The user is gone from Domo: nothing left to deliver to.
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		b.inst.refused.Add(1)
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
		b.log.Error().Err(err).Int64("user", id).Msg("Domo refused a pending attribute change; the values stay in the bridge, and the IdP's next change of them is tried again")
	case isCapability(err):
		return true
	default:
		b.log.Warn().Err(fmt.Errorf("deliver attributes of user %d: %w", id, err)).Msg("pending attribute change still not delivered")
	}
	return false
}
