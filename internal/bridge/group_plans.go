package bridge

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// groupPlan is the intent of a group change.
type groupPlan struct {
	ID         int64             `json:"id,omitempty"` // 0 for a create until Domo assigned one
	Name       string            `json:"name,omitempty"`
	ExternalID string            `json:"externalId,omitempty"`
	Add        []int64           `json:"add,omitempty"`
	Remove     []int64           `json:"remove,omitempty"`
	Displays   map[string]string `json:"displays,omitempty"` // member displays the IdP wrote
}

// runGroupCreate carries out a create plan: the POST (unless lookup finds the group an earlier
// attempt created), then the initial members. It answers with the group, members included.
func (b *Bridge) runGroupCreate(ctx context.Context, in store.Intent, p *groupPlan, lookup bool) (scim.Attributes, error) {
	var g domo.Group
	if lookup {
		var err error
		if g, err = b.createdGroup(ctx, p); err != nil {
			if errors.Is(err, errGroupTaken) {
				b.done(ctx, in)
				return nil, scim.Conflict("a group named %q already exists", p.Name)
			}
			return nil, err
		}
	}
	fresh := g.ID == 0
	if fresh {
		var err error
		g, err = b.domo.CreateGroup(ctx, p.Name)
		b.audit(ctx, kindGroup, g.ID, "POST /v1/groups", []string{"name"}, err)
		if err != nil {
			if definite(err) || isConflict(err) {
				b.done(ctx, in)
			}
			if isConflict(err) {
				// The index lagged Domo: learn the group, so that the IdP's lookup by
				// displayName finds it and it can link instead of creating again.
				b.learnGroup(ctx, p.Name)
				return nil, scim.Conflict("a group named %q already exists", p.Name)
			}
			return nil, upstream(err, kindGroup, "")
		}
		if g.Name == "" {
			g.Name = p.Name
		}
		p.ID = g.ID
		if err := b.update(ctx, &in, p); err != nil {
			return nil, err
		}
	}
	rec, err := b.loadGroupRecord(ctx, g.ID)
	if err != nil {
		return nil, scim.Unavailable(intentRetry, "the bridge's state database is unavailable; retry later", err)
	}
	var cur []int64
	if !fresh {
		if cur, err = b.groupMembers(ctx, g); err != nil {
			return nil, err
		}
		if rec != nil && rec.LastModified.After(in.Updated) {
			// A refresh showed the group to the IdP, which has changed it since: the create's
			// members are older than what the group holds now, and must not undo it.
			b.done(ctx, in)
			p.Add = nil
		}
	}
	visible, hidden := b.resolveMembers(ctx, cur)
	add, _ := diff(visible, unionIDs(visible, p.Add))
	return b.applyGroup(ctx, &in, p, g, rec, visible, hidden, add, nil, true)
}

// A group whose create is not finished is not indexed: the IdP's lookup by displayName misses
// it, and its retried POST finishes the job (it finds the intent by the name).

// createdGroup finds the group an interrupted create may have made: by the id the intent
// learnt, else by its name. A group of that name the bridge did not create for this plan is
// not it: the create ends with 409, as it would have at first.
func (b *Bridge) createdGroup(ctx context.Context, p *groupPlan) (domo.Group, error) {
	if p.ID > 0 {
		g, err := b.domo.GetGroup(ctx, p.ID)
		switch {
		case err == nil && !g.Deleted:
			if g.ID == 0 {
				g.ID = p.ID
			}
			return g, nil
		case err != nil && !isNotFound(err):
			return domo.Group{}, upstream(err, kindGroup, strconv.FormatInt(p.ID, 10))
		}
		return domo.Group{}, nil // deleted since: create it again
	}
	id, ok := int64(0), false
	if ig, found := b.index.GroupByName(p.Name); found {
		id, ok = ig.ID, true
	} else {
		id, ok = b.learnGroup(ctx, p.Name)
	}
	if !ok {
		return domo.Group{}, nil
	}
	g, err := b.domo.GetGroup(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return domo.Group{}, nil
		}
		return domo.Group{}, upstream(err, kindGroup, strconv.FormatInt(id, 10))
	}
	if g.ID == 0 {
		g.ID = id
	}
	// Domo has the name, and the intent never learnt an id: the POST may have created it just
	// before the process stopped. A group made by someone other than the API client's owner is
	// not that one (Domo records the creator): it is not taken over, and the create ends with
	// 409 as it would have at first.
	if tok, err := b.domo.Token(ctx); err == nil && tok.UserID != 0 && g.CreatorID != 0 && int64(g.CreatorID) != tok.UserID {
		return domo.Group{}, errGroupTaken
	}
	return g, nil
}

// errGroupTaken: the name of a group being created belongs to a group someone else made.
var errGroupTaken = errors.New("group name taken by a group the bridge did not create")

// applyGroup makes a group change on g, read fresh with its visible and hidden members: the
// rename to p.Name, then the member adds and removes, then the record and the index. in is the
// change's intent, nil when it makes no Domo write. The intent is cleared when everything went
// through, or when what failed can never go through (Domo refused it, or the user is gone); a
// failure that a retry can overcome keeps it for the IdP's retry or the next pass.
func (b *Bridge) applyGroup(ctx context.Context, in *store.Intent, p *groupPlan, g domo.Group, rec *groupRecord, visible, hidden, add, remove []int64, withMembers bool) (scim.Attributes, error) {
	if p.Name != "" && p.Name != g.Name {
		renamed, err := b.renameGroup(ctx, g, p.Name)
		if err != nil {
			if in != nil && (refusedOutright(err) || scimStatusOf(err) == http.StatusConflict || scimStatusOf(err) == http.StatusBadRequest) {
				b.done(ctx, *in)
			}
			return nil, err
		}
		g = renamed
	}
	res := b.changeMembers(ctx, g.ID, add, remove)
	if res.groupGone {
		b.index.DeleteGroup(g.ID)
		if in != nil {
			b.done(ctx, *in)
		}
		return nil, res.err(ctx)
	}
	final := res.after(visible, add, remove)
	if res.uncertain {
		// Some change may have reached Domo without its answer: ask Domo what it holds now.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resyncTimeout)
		if ids, err := b.memberIDsNow(rctx, g.ID); err == nil {
			res.settle(ids)
			final, hidden = b.visibleMembers(ids)
		} else {
			b.log.Warn().Err(err).Int64("group", g.ID).Msg("members not re-read after an uncertain change; the index may lag Domo until the next read")
		}
		cancel()
	}
	merr := res.err(ctx)
	out := groupRecord{GroupShadow: mapping.GroupShadowFor(mapping.Group{DisplayName: g.Name, ExternalID: p.ExternalID, Members: membersOf(final, p.Displays)}, rec.shadow(), b.now())}
	out.NoteAdded(append(slices.Clone(p.Add), add...), final) // the drift report tells these from members added in Domo
	if in == nil || in.Kind != intentGroupCreate || !res.retryable() {
		b.indexGroup(g, &out, append(slices.Clone(final), hidden...))
	}
	if rec == nil || !recordEqual(*rec, out) {
		if err := b.saveGroupRecord(ctx, g.ID, out); err != nil {
			return nil, scim.Unavailable(intentRetry, "the group was changed in Domo, but the bridge's state database is unavailable; retry to finish", errors.Join(err, merr))
		}
	}
	switch {
	case in == nil:
	case !res.retryable():
		b.done(ctx, *in)
	default:
		// Kept for a retry: written again after the record, so that a record newer than the
		// intent always means someone else changed the group since (runGroupCreate).
		if err := b.update(ctx, in, p); err != nil {
			b.log.Warn().Err(err).Int64("group", g.ID).Msg("unfinished group change not re-recorded")
		}
	}
	if merr != nil {
		return nil, merr
	}
	mopt := b.options(ctx)
	mg := mapping.GroupFromDomo(g, out.shadow(), final, b.displayOf, mopt)
	return mg.Attributes(mopt, withMembers), nil
}

// retryable reports whether some change of res failed in a way a retry can overcome: it was
// not sent, Domo did not say whether it took effect, or Domo was throttling or unavailable.
func (res *memberResult) retryable() bool {
	return res.unsent > 0 || slices.ContainsFunc(res.failed, func(f memberChange) bool { return !refusedOutright(f.err) })
}

// finishGroup finishes a group plan left unfinished.
func (b *Bridge) finishGroup(ctx context.Context, in store.Intent, p *groupPlan) error {
	switch in.Kind {
	case intentGroupCreate:
		_, err := b.runGroupCreate(ctx, in, p, true)
		return err
	case intentGroupDelete:
		if err := b.runGroupDelete(ctx, in, p.ID); scimStatusOf(err) != http.StatusNotFound {
			return err
		}
		return nil // deleted already
	}
	sid := strconv.FormatInt(p.ID, 10)
	g, rec, err := b.readGroup(ctx, p.ID, sid)
	if err != nil {
		if scimStatusOf(err) == http.StatusNotFound {
			b.done(ctx, in)
			b.forgetGroup(ctx, p.ID)
			return nil
		}
		return err
	}
	cur, err := b.groupMembers(ctx, g)
	if err != nil {
		return err
	}
	visible, hidden := b.resolveMembers(ctx, cur)
	add, _ := diff(visible, unionIDs(visible, p.Add))
	var remove []int64
	for _, id := range visible {
		if slices.Contains(p.Remove, id) {
			remove = append(remove, id)
		}
	}
	_, err = b.applyGroup(ctx, &in, p, g, rec, visible, hidden, add, remove, false)
	return err
}

// runGroupDelete deletes a Domo group and forgets its record. A tenant that refuses to delete
// a non-empty group gets its members removed first, as Domo's own SDKs do.
func (b *Bridge) runGroupDelete(ctx context.Context, in store.Intent, id int64) error {
	sid := strconv.FormatInt(id, 10)
	err := b.domo.DeleteGroup(ctx, id)
	b.audit(ctx, kindGroup, id, "DELETE /v1/groups/"+sid, nil, err)
	if domo.KindOf(err) == domo.KindRefused {
		err = b.emptyAndDelete(ctx, id, err)
	}
	if err != nil {
		if isNotFound(err) || scimStatusOf(err) == http.StatusNotFound {
			b.forgetGroup(ctx, id)
			b.done(ctx, in)
			return scim.NotFound(kindGroup, sid)
		}
		if refusedOutright(err) || scimStatusOf(err) == http.StatusBadRequest {
			b.done(ctx, in)
		}
		return upstream(err, kindGroup, sid)
	}
	b.forgetGroup(ctx, id)
	b.done(ctx, in)
	return nil
}
