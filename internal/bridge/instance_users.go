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
// instance loop, or the user's next write, delivers it.
//
// What Domo refuses outright (a key it does not have, a value it does not take) is a 400
// invalidValue naming the keys, and nothing of the change is written:
//   - when the attribute catalogue answers, a custom key it lacks is refused before any write;
//   - otherwise Domo's answer to the identity PATCH is the judge. An update sends that PATCH
//     before its v1 PUT, so a refusal leaves everything unwritten. A create cannot (the user
//     must exist first): Domo refusing the PATCH of a user the create just made has the bridge
//     delete that user again before it answers 400 (undoCreate).
//
// organization is the one key the bridge sends without the IdP naming it (enterprise
// organization, Domo SCIM's "Organization"): when nothing tells whether the tenant has it, it
// goes in a PATCH of its own after the others, and a refusal only teaches the bridge that the
// tenant lacks it (the value stays the bridge's).
//
// The manager becomes Domo's reportsTo only when it names a user of this bridge. A manager the
// bridge cannot map (Okta's managerId, an HR number, a user it does not have) is kept and read
// back, and Domo's reportsTo is left as it is: an admin's choice in Domo is not undone because
// the IdP sent an id the bridge does not know.

const intentUserAttributes = "user.attributes"

func attrsKey(id int64) string { return "attrs:" + strconv.FormatInt(id, 10) }

// attrPlan is what one user write asks of the identity API.
type attrPlan struct {
	want    map[string][]string // the identity attributes the IdP's user asks for, by key
	changes []domo.Attribute    // what differs from what Domo is known to hold
	// tentative are keys of want that the bridge sends unasked (organization) while nothing
	// tells whether the tenant has them: they go in a PATCH of their own.
	tentative map[string]bool
}

// optionalKeys are the identity attributes the bridge writes without the IdP naming the key.
var optionalKeys = []string{domo.AttrOrganization}

// identityWant works out the identity attributes u asks for, against have (what Domo is known
// to hold). managerOK says whether u's manager names a user of this bridge.
func (b *Bridge) identityWant(u mapping.User, have map[string][]string, managerOK bool) (*attrPlan, error) {
	in := b.cfg.Instance
	// An optional key nothing decided yet is asked for; it is tried on its own.
	mayHave := func(key string) bool {
		exists, decided := in.KeyState(key)
		return exists || !decided
	}
	want, err := mapping.IdentityAttributes(u, mayHave)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(u.Enterprise.Manager.Value) != "" {
		if _, mapped := want[domo.AttrReportsTo]; !mapped || !managerOK {
			// Not a user of this bridge: Domo's reportsTo stays as it is.
			if v, ok := have[domo.AttrReportsTo]; ok {
				want[domo.AttrReportsTo] = v
			} else {
				delete(want, domo.AttrReportsTo)
			}
		}
	}
	p := &attrPlan{want: want, tentative: map[string]bool{}}
	for _, k := range optionalKeys {
		if _, asked := want[k]; !asked || slices.ContainsFunc(u.CustomAttributes, func(c mapping.CustomAttribute) bool { return c.Key == k }) {
			continue
		}
		if _, decided := in.KeyState(k); !decided {
			p.tentative[k] = true
		}
	}
	p.changes = mapping.AttributeChanges(want, have)
	return p, nil
}

// managerID is u's manager as a user id, or 0.
func managerID(u mapping.User) int64 {
	v := strings.TrimSpace(u.Enterprise.Manager.Value)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != v || id == u.ID {
		return 0
	}
	return id
}

// planAttributes works out, before anything is written, which identity attributes a write of
// u changes, and refuses what the bridge can tell Domo would refuse: a custom key the
// attribute catalogue lacks. prev is the user's shadow (nil on create). Without the instance
// APIs it returns nil: the values live in the shadow only, as they always have.
func (b *Bridge) planAttributes(ctx context.Context, u mapping.User, prev *mapping.UserShadow) (*attrPlan, error) {
	in := b.cfg.Instance
	if in == nil {
		return nil, nil
	}
	var have map[string][]string
	if prev != nil {
		have = prev.Delivered
	}
	managerOK := false
	if mid := managerID(u); mid > 0 && slices.Equal(have[domo.AttrReportsTo], []string{strconv.FormatInt(mid, 10)}) {
		managerOK = true // delivered before: nothing to ask
	} else if mid > 0 {
		var err error
		if managerOK, err = b.admitUser(ctx, mid); err != nil {
			return nil, err
		}
		if !managerOK {
			b.log.Warn().Str("manager", u.Enterprise.Manager.Value).Msg("manager is not a user of this bridge; Domo's reportsTo is left as it is")
		}
	}
	p, err := b.identityWant(u, have, managerOK)
	if err != nil {
		return nil, upstream(err, kindUser, "")
	}
	if len(p.changes) == 0 {
		return p, nil
	}
	var keys []string
	for _, c := range p.changes {
		if len(c.Values) > 0 && !domoDefined(c.Key) && !p.tentative[c.Key] {
			keys = append(keys, c.Key)
		}
	}
	if unknown := b.unknownKeys(ctx, keys); len(unknown) > 0 {
		return nil, scim.BadRequest(scim.TypeInvalidValue, "customAttributes: %s not a user attribute of this Domo instance (keys are case-sensitive; create it in Domo under Admin > Governance > User attributes); nothing was written", quoteKeys(unknown))
	}
	return p, nil
}

// domoDefined are the keys the bridge writes from SCIM attributes of their own, which every
// tenant has.
func domoDefined(key string) bool { return key == domo.AttrReportsTo || key == domo.AttrHireDate }

// quoteKeys lists keys for a message: `"a" is` or `"a", "b" are`.
func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	if len(q) == 1 {
		return q[0] + " is"
	}
	return strings.Join(q, ", ") + " are"
}

// attributesOf is the plan that brings Domo to what a stored shadow asks for: what a create
// finishing from its intent, or a pending delivery, sends. The manager counts as a user of
// the bridge when the index holds it (planAttributes indexed it when it checked it). nil
// without the instance APIs.
func (b *Bridge) attributesOf(id int64, sh *mapping.UserShadow) *attrPlan {
	if b.cfg.Instance == nil {
		return nil
	}
	u := mapping.User{ID: id, Enterprise: sh.Enterprise, Domo: sh.Domo, CustomAttributes: sh.CustomAttributes}
	managerOK := false
	if mid := managerID(u); mid > 0 && !b.isProtected(mid, "") {
		_, managerOK = b.index.User(mid)
	}
	p, err := b.identityWant(u, sh.Delivered, managerOK)
	if err != nil {
		b.log.Warn().Err(err).Msg("stored attributes cannot be delivered")
		return nil
	}
	return p
}

// unknownKeys returns the keys the tenant is known not to have, reading the catalogue again
// first when one seems missing (an admin may just have created it). Without a catalogue no key
// is judged in advance (only one Domo refused on its own): Domo's answer to the PATCH will.
func (b *Bridge) unknownKeys(ctx context.Context, keys []string) []string {
	in := b.cfg.Instance
	if len(keys) == 0 {
		return nil
	}
	unknown := in.UnknownKeys(keys)
	if len(unknown) > 0 && in.Catalogue().Available && in.Available(domo.CapAttributes) {
		if _, err := in.RefreshAttributeKeys(ctx); err == nil {
			unknown = in.UnknownKeys(keys)
		}
	}
	return unknown
}

// refusal turns Domo's 400 to an identity PATCH of sent into the IdP's 400 invalidValue. It
// names the custom keys sent that Domo is not known to have (narrowed to those Domo's message
// names, when it names any): without a catalogue, those are what Domo refused. When every key
// is one Domo has, it refused a value, and the message says so.
func (b *Bridge) refusal(ae *domo.APIError, sent []domo.Attribute) error {
	var custom, all []string
	for _, a := range sent {
		all = append(all, a.Key)
		if len(a.Values) > 0 && !domoDefined(a.Key) {
			custom = append(custom, a.Key)
		}
	}
	suspects := b.cfg.Instance.UncertainKeys(custom)
	if named := mentioned(ae.Message, suspects); len(named) > 0 {
		suspects = named
	}
	detail := ""
	if ae.Message != "" {
		detail = " (Domo: " + ae.Message + ")"
	}
	if len(suspects) > 0 {
		return scim.BadRequest(scim.TypeInvalidValue, "customAttributes: %s not a user attribute of this Domo instance: Domo refused the change%s (keys are case-sensitive; create it in Domo under Admin > Governance > User attributes); nothing was written", quoteKeys(suspects), detail)
	}
	return scim.BadRequest(scim.TypeInvalidValue, "Domo refused the values of the user attributes %s%s; nothing was written", strings.Join(all, ", "), detail)
}

// mentioned returns the keys msg names as whole words.
func mentioned(msg string, keys []string) []string {
	var out []string
	for _, k := range keys {
		for rest, off := msg, 0; ; {
			i := strings.Index(rest, k)
			if i < 0 {
				break
			}
			before, after := off+i-1, off+i+len(k)
			if (before < 0 || !wordByte(msg[before])) && (after >= len(msg) || !wordByte(msg[after])) {
				out = append(out, k)
				break
			}
			off += i + 1
			rest = msg[off:]
		}
	}
	return out
}

func wordByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// identityPatch sends one identity PATCH and audits it. fresh marks a user created in this
// request: Domo may not show it to the identity API for a moment, so a 404 is asked again for
// a few seconds, as getUser does.
func (b *Bridge) identityPatch(ctx context.Context, id int64, upd domo.IdentityUpdate, fresh bool, note string) error {
	in := b.cfg.Instance
	_, err := in.UpdateUser(ctx, id, upd)
	for wait, waited := 50*time.Millisecond, time.Duration(0); fresh && isNotFound(err) && waited+wait <= readAfterWriteWait; wait *= 2 {
		if sleep(ctx, wait) != nil {
			break
		}
		waited += wait
		_, err = in.UpdateUser(ctx, id, upd)
	}
	b.audit(ctx, kindUser, id, "PATCH /api/identity/v1/users/"+strconv.FormatInt(id, 10)+note, attributeFields(upd), err)
	return err
}

// patchAttributes sends a plan's changes: one PATCH with every key but the tentative ones,
// then one PATCH for each tentative key (a refusal of which only teaches that the tenant lacks
// it). It returns what Domo now holds of the plan's keys, or the error of the first PATCH that
// failed.
func (b *Bridge) patchAttributes(ctx context.Context, id int64, p *attrPlan, fresh bool, note string) (map[string][]string, error) {
	held := maps.Clone(p.want)
	var main, alone []domo.Attribute
	for _, c := range p.changes {
		if p.tentative[c.Key] && len(c.Values) > 0 {
			alone = append(alone, c)
		} else {
			main = append(main, c)
		}
	}
	if len(main) > 0 {
		if err := b.identityPatch(ctx, id, domo.IdentityUpdate{Attributes: main}, fresh, note); err != nil {
			return nil, err
		}
		fresh = false
	}
	for _, a := range alone {
		err := b.identityPatch(ctx, id, domo.IdentityUpdate{Attributes: []domo.Attribute{a}}, fresh, note+" (key "+a.Key+" alone: does the tenant have it?)")
		fresh = false
		var ae *domo.APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
			b.cfg.Instance.NoteKey(a.Key, false)
			delete(held, a.Key)
			b.log.Info().Str("key", a.Key).Msg("the tenant has no such user attribute: its value stays in the bridge")
		default:
			return nil, err
		}
	}
	return held, nil
}

// errAttributesRefused carries Domo's refusal of a created user's attributes (as the IdP's
// 400) to runUserCreate, which undoes the create.
type errAttributesRefused struct{ err error }

func (e *errAttributesRefused) Error() string { return e.err.Error() }
func (e *errAttributesRefused) Unwrap() error { return e.err }

// deliverAttributes makes the PATCHes a plan needs, then sets roleID (when not 0) in a PATCH
// of its own (Domo documents {"roleId": n} and {"attributes": [...]} as separate bodies), and
// records what Domo confirmed in rec. A change it cannot make now is left pending: an intent is
// kept and the instance loop delivers it. It reports whether the role was set, and returns
// Domo's 400 (as a SCIM error) when Domo refused the change outright; the caller decides what
// that means (nothing else was written for an update; a create is undone).
//
// fresh marks a user created in this request (see identityPatch).
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
	if len(p.changes) > 0 {
		held, err := b.patchAttributes(ctx, id, p, fresh, "")
		var ae *domo.APIError
		switch {
		case err == nil:
			rec.Shadow.Delivered = held
			// Domo's updatedAt moved, and no answer tells to what: lastModified follows the
			// shadow's stamp, taken after Domo's change.
			rec.Shadow.Modified = b.now().UTC()
			if derr := b.store.DeleteIntent(context.WithoutCancel(ctx), key, intent.Updated); derr != nil {
				b.log.Warn().Err(derr).Int64("user", id).Msg("attribute delivery intent not cleared; the next pass finds nothing to do")
			}
			b.inst.setPending(id, false)
			fresh = false
		case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
			b.inst.refused.Add(1)
			b.dropIntent(ctx, key, intent)
			b.log.Error().Err(err).Int64("user", id).Msg("Domo refused the user's attributes")
			return false, b.refusal(ae, p.changes)
		default:
			if isCapability(err) {
				b.fellBack(domo.CapAttributes, "identity.update", err)
			} else {
				b.log.Warn().Err(err).Int64("user", id).Msg("attribute delivery failed; it stays pending")
			}
			b.markPending(id, true)
			return false, nil
		}
	}
	if roleID == 0 {
		return false, nil
	}
	if err := b.identityPatch(ctx, id, domo.IdentityUpdate{RoleID: roleID}, fresh, ""); err != nil {
		// The caller sets the role through v1 instead.
		b.fellBack(domo.CapAttributes, "identity.update role", err)
		return false, nil
	}
	rec.Shadow.Modified = b.now().UTC()
	return true, nil
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

// settleCreated finishes a create after Domo's POST: the identity attributes, then the role
// by id when Domo's v1 ignored it, through the identity API when it works; the role through v1
// (settleRole) when it does not. Domo refusing the attributes is an *errAttributesRefused when
// undoable (the create made this user: runUserCreate deletes it again), and is only logged
// when not (a user the create found by email may be someone else's): the values stay in the
// shadow, so GET shows them and the IdP's next write tries again.
func (b *Bridge) settleCreated(ctx context.Context, d domo.User, upd domo.UserUpdate, p *attrPlan, rec *userRecord, undoable bool) (domo.User, error) {
	var roleID int64
	if !roleApplied(d, upd.User) && b.can(domo.CapAttributes) {
		roleID = int64(upd.User.RoleID)
	}
	roleSet, refusal := b.deliverAttributes(ctx, d.ID, p, roleID, rec, true)
	if refusal != nil {
		if undoable {
			return d, &errAttributesRefused{refusal}
		}
		b.log.Error().Err(refusal).Int64("user", d.ID).Msg("created user's attributes not delivered")
	}
	if roleSet {
		d.Role, d.RoleID = upd.User.Role, upd.User.RoleID
		if r, ok := b.roleCatalogue().ByID(int64(upd.User.RoleID)); ok {
			d.Role = r.Name
		}
		return d, nil
	}
	return b.settleRole(ctx, d, upd)
}

// errCreateUndone: a create was refused as a whole because Domo refused its attributes, and
// the user it had made is deleted again; err is the refusal for the IdP. The intent is done:
// an IdP's retried POST that finished it goes on with its own create.
type errCreateUndone struct{ err error }

func (e *errCreateUndone) Error() string { return e.err.Error() }
func (e *errCreateUndone) Unwrap() error { return e.err }

// undoCreate deletes a user the create just made, after Domo refused its attributes: the
// create is refused as a whole (an *errCreateUndone carrying the 400), as an update's would
// be, and Domo is left as it was. A delete Domo does not confirm keeps the create's intent and
// answers 503: the IdP's retry (or the next start) finds the user by the intent's id and
// undoes it then.
func (b *Bridge) undoCreate(ctx context.Context, in store.Intent, id int64, refusal error) error {
	sid := strconv.FormatInt(id, 10)
	err := b.domo.DeleteUser(ctx, id)
	b.audit(ctx, kindUser, id, "DELETE /v1/users/"+sid+" (undo: Domo refused the created user's attributes)", nil, err)
	if err != nil && !isNotFound(err) {
		b.log.Error().Err(err).Int64("user", id).Msg("a created user whose attributes Domo refused is not deleted yet; the retry deletes it")
		return scim.Unavailable(intentRetry, "Domo refused the user's attributes, and the user it had just created could not be removed yet; retry", err)
	}
	b.log.Warn().Int64("user", id).Err(refusal).Msg("create refused: Domo refused the user's attributes; the user it had made is deleted again")
	b.done(ctx, in)
	return &errCreateUndone{refusal}
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
	unlock, err := b.userLocks.lock(ctx, sid)
	if err != nil {
		return false // the state is unreachable: the next round tries again
	}
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
	p := b.attributesOf(id, &rec.Shadow)
	if !found || p == nil || len(p.changes) == 0 {
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
		return false
	}
	held, err := b.patchAttributes(ctx, id, p, false, " (pending delivery)")
	var ae *domo.APIError
	switch {
	case err == nil:
		next := *rec
		next.Shadow.Delivered = held
		next.Shadow.Modified = b.now().UTC()
		if serr := b.saveUserRecord(ctx, id, &next, next.Shadow.ExternalID); serr != nil {
			b.log.Error().Err(serr).Int64("user", id).Msg("delivered attributes not recorded; the next write sends them again")
			return false
		}
		b.dropIntent(ctx, intent.Key, intent)
		b.inst.setPending(id, false)
		b.inst.delivered.Add(1)
		b.log.Info().Int64("user", id).Int("attributes", len(p.changes)).Msg("pending attribute change delivered")
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
