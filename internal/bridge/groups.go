package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Groups is the /Groups backend.
type Groups struct{ b *Bridge }

var _ scim.Groups = (*Groups)(nil)

const kindGroup = "Group"

func (b *Bridge) loadGroupShadow(ctx context.Context, id int64) (*mapping.GroupShadow, error) {
	sh, ok, err := b.store.GroupShadow(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	var gs mapping.GroupShadow
	if err := json.Unmarshal(sh.Data, &gs); err != nil {
		b.log.Error().Err(err).Int64("group", id).Msg("unreadable group shadow ignored")
		return nil, nil
	}
	return &gs, nil
}

func (b *Bridge) saveGroupShadow(ctx context.Context, id int64, gs mapping.GroupShadow) error {
	data, err := json.Marshal(gs)
	if err != nil {
		return fmt.Errorf("encode group %d shadow: %w", id, err)
	}
	return b.store.PutGroupShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, ExternalID: gs.ExternalID, Data: data})
}

// hiddenGroup reports whether the SCIM side must not see a group: Domo's Default group, unless
// configured otherwise.
func (b *Bridge) hiddenGroup(g domo.Group) bool {
	return g.Default && !b.cfg.ShowDefaultGroup
}

// displayOf names a member for a response: the user's displayName from the index.
func (b *Bridge) displayOf(uid int64) (string, bool) {
	u, ok := b.index.User(uid)
	if !ok {
		return "", false
	}
	if u.DisplayName != "" {
		return u.DisplayName, true
	}
	return u.UserName, true
}

// visibleMembers drops members the SCIM side must not see or touch (protected users).
func (b *Bridge) visibleMembers(ids []int64) (visible, hidden []int64) {
	for _, id := range ids {
		if b.isProtected(id, "") {
			hidden = append(hidden, id)
		} else {
			visible = append(visible, id)
		}
	}
	return visible, hidden
}

// fetchGroup reads a group and, when needed, its members fresh from Domo.
func (b *Bridge) fetchGroup(ctx context.Context, id int64, sid string, members bool) (domo.Group, []int64, *mapping.GroupShadow, error) {
	g, err := b.domo.GetGroup(ctx, id)
	if err != nil {
		if isNotFound(err) {
			b.index.DeleteGroup(id)
		}
		return domo.Group{}, nil, nil, upstream(err, kindGroup, sid)
	}
	if g.Deleted {
		b.index.DeleteGroup(id)
		return domo.Group{}, nil, nil, scim.NotFound(kindGroup, sid)
	}
	if b.hiddenGroup(g) {
		return domo.Group{}, nil, nil, scim.NotFound(kindGroup, sid)
	}
	var ids []int64
	if members {
		if ids, err = b.domo.GroupMembers(ctx, id); err != nil {
			return domo.Group{}, nil, nil, upstream(err, kindGroup, sid)
		}
	}
	sh, err := b.loadGroupShadow(ctx, id)
	if err != nil {
		return domo.Group{}, nil, nil, err
	}
	return g, ids, sh, nil
}

// Get reads a group from Domo: one call, plus one per 500 members when members are wanted.
// Member names come from the index, never from a call per member.
func (s *Groups) Get(ctx context.Context, sid string, opt scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return nil, err
	}
	g, ids, sh, err := b.fetchGroup(ctx, id, sid, opt.Members)
	if err != nil {
		return nil, err
	}
	mopt := b.options(ctx)
	if opt.Members {
		visible, _ := b.visibleMembers(ids)
		b.refreshGroupIndex(g, sh, ids)
		mg := mapping.GroupFromDomo(g, sh, visible, b.displayOf, mopt)
		return mg.Attributes(mopt, true), nil
	}
	mg := mapping.GroupFromDomo(g, sh, nil, b.displayOf, mopt)
	return mg.Attributes(mopt, false), nil
}

func (b *Bridge) refreshGroupIndex(g domo.Group, sh *mapping.GroupShadow, members []int64) {
	b.index.PutGroup(b.groupEntry(g, sh, members, b.cfg.Mapping))
}

// checkMembers makes sure every id names a user the SCIM side may reference. The index
// answers for known users; an id it does not know is asked of Domo once (the index may lag a
// user created in Domo's UI minutes ago).
func (b *Bridge) checkMembers(ctx context.Context, ids []int64) error {
	for _, uid := range ids {
		if b.isProtected(uid, "") {
			return scim.BadRequest(scim.TypeInvalidValue, "members: %d is not a user", uid)
		}
		if _, ok := b.index.User(uid); ok {
			continue
		}
		d, err := b.domo.GetUser(ctx, uid)
		if err != nil {
			if isNotFound(err) {
				return scim.BadRequest(scim.TypeInvalidValue, "members: %d is not a user", uid)
			}
			return upstream(err, kindUser, strconv.FormatInt(uid, 10))
		}
		rec, _, err := b.loadUserRecord(ctx, uid)
		if err != nil {
			return err
		}
		if rec.Hidden || b.isProtected(d.ID, d.Email) {
			return scim.BadRequest(scim.TypeInvalidValue, "members: %d is not a user", uid)
		}
		b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
	}
	return nil
}

func memberIDs(g mapping.Group) ([]int64, error) {
	ids := make([]int64, 0, len(g.Members))
	for _, m := range g.Members {
		id, err := strconv.ParseInt(m.Value, 10, 64)
		if err != nil || id <= 0 || strconv.FormatInt(id, 10) != m.Value {
			return nil, scim.BadRequest(scim.TypeInvalidValue, "members: %q is not a user", m.Value)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Create adds a group, then its initial members.
func (s *Groups) Create(ctx context.Context, attrs scim.Attributes) (scim.Attributes, error) {
	b := s.b
	mg, err := mapping.GroupFromAttributes(attrs)
	if err != nil {
		return nil, upstream(err, kindGroup, "")
	}
	unlock := b.groupLocks.lock("name:" + strings.ToLower(mg.DisplayName))
	defer unlock()
	if b.groupNameTaken(mg.DisplayName, 0) {
		return nil, scim.Conflict("a group named %q already exists", mg.DisplayName)
	}
	want, err := memberIDs(mg)
	if err != nil {
		return nil, err
	}
	if err := b.checkMembers(ctx, want); err != nil {
		return nil, err
	}
	g, err := b.domo.CreateGroup(ctx, mg.DisplayName)
	b.audit(ctx, kindGroup, g.ID, "POST /v1/groups", []string{"name"}, err)
	if err != nil {
		if isConflict(err) {
			return nil, scim.Conflict("a group named %q already exists", mg.DisplayName)
		}
		return nil, upstream(err, kindGroup, "")
	}
	if g.Name == "" {
		g.Name = mg.DisplayName
	}
	sh := mapping.GroupShadowFor(mg, nil, b.now())
	if err := b.saveGroupShadow(ctx, g.ID, sh); err != nil {
		b.log.Error().Err(err).Int64("group", g.ID).Msg("group shadow not saved after create")
	}
	b.refreshGroupIndex(g, &sh, nil)
	applied, err := b.changeMembers(ctx, g.ID, want, nil)
	members := applyChanges(nil, want, nil, applied)
	b.refreshGroupIndex(g, &sh, members)
	if err != nil {
		return nil, err
	}
	mopt := b.options(ctx)
	out := mapping.GroupFromDomo(g, &sh, members, b.displayOf, mopt)
	return out.Attributes(mopt, true), nil
}

func (b *Bridge) groupNameTaken(name string, self int64) bool {
	g, ok := b.index.GroupByName(name)
	return ok && g.ID != self
}

// Update is PUT and PATCH on a group: the new member list is diffed against Domo's current
// members and only the differences are sent, one call each; a rename is sent only when the
// name changes. Nothing of a request is applied when any member id is not a user.
func (s *Groups) Update(ctx context.Context, sid string, apply scim.ApplyFunc, opt scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return nil, err
	}
	unlock := b.groupLocks.lock(sid)
	defer unlock()
	g, cur, sh, err := b.fetchGroup(ctx, id, sid, true)
	if err != nil {
		return nil, err
	}
	visible, hidden := b.visibleMembers(cur)
	mopt := b.options(ctx)
	curView := mapping.GroupFromDomo(g, sh, visible, b.displayOf, mopt)
	nextAttrs, err := apply(curView.Attributes(mopt, true))
	if err != nil {
		return nil, err
	}
	next, err := mapping.GroupFromAttributes(nextAttrs)
	if err != nil {
		return nil, upstream(err, kindGroup, sid)
	}
	want, err := memberIDs(next)
	if err != nil {
		return nil, err
	}
	add, remove := diff(visible, want)
	if err := b.checkMembers(ctx, add); err != nil {
		return nil, err
	}
	if next.DisplayName != g.Name {
		if g.Default {
			return nil, scim.BadRequest(scim.TypeMutability, "Domo's Default group cannot be renamed")
		}
		if b.groupNameTaken(next.DisplayName, id) {
			return nil, scim.Conflict("a group named %q already exists", next.DisplayName)
		}
		renamed, err := b.domo.RenameGroup(ctx, id, next.DisplayName)
		b.audit(ctx, kindGroup, id, "PUT /v1/groups/"+sid, []string{"name"}, err)
		if err != nil {
			if isConflict(err) {
				return nil, scim.Conflict("a group named %q already exists", next.DisplayName)
			}
			return nil, upstream(err, kindGroup, sid)
		}
		g.Name = next.DisplayName
		if renamed.Name != "" {
			g.Name = renamed.Name
		}
	}
	newSh := mapping.GroupShadowFor(next, sh, b.now())
	applied, merr := b.changeMembers(ctx, id, add, remove)
	// applied is the visible membership Domo now has: the old one plus what went through.
	final := applyChanges(visible, add, remove, applied)
	b.refreshGroupIndex(g, &newSh, append(slices.Clone(final), hidden...))
	if sh == nil || !groupShadowEqual(*sh, newSh) {
		if err := b.saveGroupShadow(ctx, id, newSh); err != nil {
			return nil, err
		}
	}
	if merr != nil {
		return nil, merr
	}
	out := mapping.GroupFromDomo(g, &newSh, final, b.displayOf, mopt)
	return out.Attributes(mopt, opt.Members), nil
}

func groupShadowEqual(a, b mapping.GroupShadow) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// diff returns what to add to and remove from cur to reach want; both sorted.
func diff(cur, want []int64) (add, remove []int64) {
	c := map[int64]bool{}
	for _, id := range cur {
		c[id] = true
	}
	w := map[int64]bool{}
	for _, id := range want {
		w[id] = true
		if !c[id] {
			add = append(add, id)
		}
	}
	for _, id := range cur {
		if !w[id] {
			remove = append(remove, id)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

// memberChange is one membership call's outcome.
type memberChange struct {
	uid int64
	add bool
	err error
}

// changeMembers sends membership changes, several at a time (the Domo client paces them under
// the tenant's budget). It returns the changes that succeeded as a set keyed by user id, and an
// error that says truthfully how much was applied when something failed; an IdP retry then
// finishes the job, because adding a member twice or removing a non-member is harmless.
func (b *Bridge) changeMembers(ctx context.Context, gid int64, add, remove []int64) (map[int64]bool, error) {
	type job struct {
		uid int64
		add bool
	}
	jobs := make([]job, 0, len(add)+len(remove))
	for _, u := range add {
		jobs = append(jobs, job{u, true})
	}
	for _, u := range remove {
		jobs = append(jobs, job{u, false})
	}
	applied := map[int64]bool{}
	if len(jobs) == 0 {
		return applied, nil
	}
	results := make(chan memberChange, len(jobs))
	work := make(chan job)
	var wg sync.WaitGroup
	for range min(b.cfg.MemberWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				var err error
				if j.add {
					err = b.domo.AddGroupMember(ctx, gid, j.uid)
					b.audit(ctx, kindGroup, gid, fmt.Sprintf("PUT /v1/groups/%d/users/%d", gid, j.uid), []string{"members"}, err)
				} else {
					err = b.domo.RemoveGroupMember(ctx, gid, j.uid)
					if isNotFound(err) {
						err = nil // not a member any more: the goal is reached
					}
					b.audit(ctx, kindGroup, gid, fmt.Sprintf("DELETE /v1/groups/%d/users/%d", gid, j.uid), []string{"members"}, err)
				}
				results <- memberChange{j.uid, j.add, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, j := range jobs {
			select {
			case work <- j:
			case <-ctx.Done():
				return // the unsent changes are reported as not applied
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var failed []memberChange
	for r := range results {
		if r.err != nil {
			failed = append(failed, r)
			continue
		}
		applied[r.uid] = true
	}
	if len(applied) == len(jobs) {
		return applied, nil
	}
	first := ctx.Err()
	if len(failed) > 0 {
		first = failed[0].err
	}
	if first == nil {
		first = fmt.Errorf("membership changes of group %d were not sent", gid)
	}
	e := upstream(first, kindGroup, strconv.FormatInt(gid, 10))
	se, ok := e.(*scim.Error)
	if !ok {
		se = &scim.Error{Status: http.StatusBadGateway, Err: first}
	}
	se.Detail = fmt.Sprintf("applied %d of %d membership changes to group %d before Domo failed (%s); retry the request to finish", len(applied), len(jobs), gid, strings.TrimSuffix(se.Detail, "."))
	return applied, se
}

// applyChanges computes the membership after a partially applied change.
func applyChanges(cur, add, remove []int64, applied map[int64]bool) []int64 {
	set := map[int64]bool{}
	for _, id := range cur {
		set[id] = true
	}
	for _, id := range add {
		if applied[id] {
			set[id] = true
		}
	}
	for _, id := range remove {
		if applied[id] {
			delete(set, id)
		}
	}
	out := make([]int64, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Delete removes a group in Domo. Domo's Default group is never deleted.
func (s *Groups) Delete(ctx context.Context, sid string) error {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return err
	}
	unlock := b.groupLocks.lock(sid)
	defer unlock()
	if ig, ok := b.index.Group(id); ok && ig.Default {
		if !b.cfg.ShowDefaultGroup {
			return scim.NotFound(kindGroup, sid)
		}
		return scim.BadRequest(scim.TypeMutability, "Domo's Default group cannot be deleted")
	}
	g, err := b.domo.GetGroup(ctx, id)
	if err != nil || g.Deleted {
		if err == nil || isNotFound(err) {
			b.index.DeleteGroup(id)
			return scim.NotFound(kindGroup, sid)
		}
		return upstream(err, kindGroup, sid)
	}
	if g.Default {
		if b.hiddenGroup(g) {
			return scim.NotFound(kindGroup, sid)
		}
		return scim.BadRequest(scim.TypeMutability, "Domo's Default group cannot be deleted")
	}
	err = b.domo.DeleteGroup(ctx, id)
	b.audit(ctx, kindGroup, id, "DELETE /v1/groups/"+sid, nil, err)
	if err != nil && !isNotFound(err) {
		return upstream(err, kindGroup, sid)
	}
	b.index.DeleteGroup(id)
	if err := b.store.DeleteGroupShadow(context.WithoutCancel(ctx), id); err != nil {
		b.log.Error().Err(err).Int64("group", id).Msg("group shadow not deleted")
	}
	return nil
}
