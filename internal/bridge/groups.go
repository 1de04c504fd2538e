package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Groups is the /Groups backend.
type Groups struct{ b *Bridge }

var _ scim.Groups = (*Groups)(nil)

const kindGroup = "Group"

// resyncTimeout bounds the re-read of a group's members after a change whose outcome Domo left
// unknown; the IdP is still waiting for its answer.
const resyncTimeout = 5 * time.Second

// maxMemberLookups bounds how many members unknown to the index one request asks Domo about.
// Members beyond it are treated as hidden (never removed, never shown) until the index learns
// them; every lookup indexes the user, so repeated requests converge.
const maxMemberLookups = 100

// groupRecord is what the store keeps per group: the mapping's shadow. Its JSON is the
// shadow's, so that readers of the plain shadow (the index load) keep working, and the bridge
// can add keys of its own.
type groupRecord struct {
	mapping.GroupShadow
}

// shadow returns the mapping shadow of rec, nil for a group the bridge has no record of.
func (rec *groupRecord) shadow() *mapping.GroupShadow {
	if rec == nil {
		return nil
	}
	return &rec.GroupShadow
}

func (b *Bridge) loadGroupRecord(ctx context.Context, id int64) (*groupRecord, error) {
	sh, ok, err := b.store.GroupShadow(ctx, id)
	if err != nil || !ok || isTombstone(sh.Data) {
		return nil, err
	}
	var rec groupRecord
	if err := json.Unmarshal(sh.Data, &rec); err != nil {
		b.log.Error().Err(err).Int64("group", id).Msg("unreadable group shadow ignored")
		return nil, nil
	}
	return &rec, nil
}

func (b *Bridge) saveGroupRecord(ctx context.Context, id int64, rec groupRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode group %d shadow: %w", id, err)
	}
	if err := b.store.PutGroupShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, ExternalID: rec.ExternalID, Data: data, Updated: b.now().UTC()}); err != nil {
		return fmt.Errorf("save group %d shadow: %w", id, err)
	}
	return nil
}

// isDefault reports whether g is Domo's Default group. Domo documents the default flag on list
// rows but not on GET by id, so the index (loaded from the list) is asked too, and a tenant
// that sends the flag nowhere still has the group's name to go by.
func (b *Bridge) isDefault(g domo.Group) bool {
	if g.Default || g.Name == mapping.DefaultGroupName {
		return true
	}
	ig, ok := b.index.Group(g.ID)
	return ok && ig.Default
}

// hiddenGroup reports whether the SCIM side must not see a group: Domo's Default group, unless
// configured otherwise.
func (b *Bridge) hiddenGroup(g domo.Group) bool {
	return !b.cfg.ShowDefaultGroup && b.isDefault(g)
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

// visibleMembers splits member ids into those the SCIM side may see and the rest, from the
// index alone (no Domo call, for reads of any size): protected users and users the index does
// not hold (protected by email, hidden by the bridge, or created in Domo since the last load)
// are hidden.
func (b *Bridge) visibleMembers(ids []int64) (visible, hidden []int64) {
	for _, id := range ids {
		if _, ok := b.index.User(id); ok && !b.isProtected(id, "") {
			visible = append(visible, id)
		} else {
			hidden = append(hidden, id)
		}
	}
	return visible, hidden
}

// resolveMembers is visibleMembers for a write, where a hidden member is one the diff must
// leave alone: members the index does not hold are looked up in Domo (up to maxMemberLookups),
// so that a user created in Domo's UI since the last load is seen, and a protected one is not.
// A member that cannot be classified is hidden, which is the safe side: it is never removed.
func (b *Bridge) resolveMembers(ctx context.Context, ids []int64) (visible, hidden []int64) {
	var unknown []int64
	for _, id := range ids {
		switch _, indexed := b.index.User(id); {
		case b.isProtected(id, ""):
			hidden = append(hidden, id)
		case indexed:
			visible = append(visible, id)
		default:
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > maxMemberLookups {
		b.log.Warn().Int("unknown", len(unknown)).Int("looked_up", maxMemberLookups).
			Msg("many group members unknown to the index; the rest are left alone until the index is refreshed")
		hidden = append(hidden, unknown[maxMemberLookups:]...)
		unknown = unknown[:maxMemberLookups]
	}
	admitted, errs := b.admitUsers(ctx, unknown)
	for i, id := range unknown {
		if errs[i] != nil {
			b.log.Warn().Err(errs[i]).Int64("user", id).Msg("group member could not be classified; left alone")
		}
		if admitted[i] {
			visible = append(visible, id)
		} else {
			hidden = append(hidden, id)
		}
	}
	slices.Sort(visible)
	return visible, hidden
}

// admitUsers runs admitUser for each id, several at a time: with Domo's latency, a hundred
// lookups one after the other would take longer than an IdP waits.
func (b *Bridge) admitUsers(ctx context.Context, ids []int64) ([]bool, []error) {
	ok := make([]bool, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.cfg.MemberWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ok[i], errs[i] = b.admitUser(ctx, ids[i])
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return ok, errs
}

// admitUser reports whether uid names a user the SCIM side may reference. The index answers
// for the users it holds; any other id costs one Domo GET (the index may lag a user created in
// Domo's UI minutes ago), and a user found so is indexed. A user protected by email is
// remembered by id, so the next request asks nothing.
func (b *Bridge) admitUser(ctx context.Context, uid int64) (bool, error) {
	if b.isProtected(uid, "") {
		return false, nil
	}
	if _, ok := b.index.User(uid); ok {
		return true, nil
	}
	d, err := b.domo.GetUser(ctx, uid)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, upstream(err, kindUser, strconv.FormatInt(uid, 10))
	}
	if b.isProtected(d.ID, d.Email) {
		b.protect(strconv.FormatInt(uid, 10))
		return false, nil
	}
	rec, _, err := b.loadUserRecord(ctx, uid)
	if err != nil {
		return false, err
	}
	if rec.Hidden {
		return false, nil
	}
	b.index.PutUser(b.entry(d, rec, b.cfg.Mapping))
	return true, nil
}

// checkMembers makes sure every id names a user the SCIM side may reference; otherwise the
// whole request fails with 400 invalidValue before anything is written.
func (b *Bridge) checkMembers(ctx context.Context, ids []int64) error {
	var unknown []int64
	var bad []string
	for _, uid := range ids {
		if b.isProtected(uid, "") {
			bad = append(bad, strconv.FormatInt(uid, 10))
		} else if _, ok := b.index.User(uid); !ok {
			unknown = append(unknown, uid)
		}
	}
	admitted, errs := b.admitUsers(ctx, unknown)
	for i, uid := range unknown {
		if errs[i] != nil {
			return errs[i]
		}
		if !admitted[i] {
			bad = append(bad, strconv.FormatInt(uid, 10))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return scim.BadRequest(scim.TypeInvalidValue, "members: %s not a user; nothing was changed", listIDs(bad))
	}
	return nil
}

// listIDs names a few ids for an error detail: `"1", "2" are` or `"1" is`.
func listIDs(ids []string) string {
	const most = 5
	q := make([]string, 0, most)
	for _, id := range ids[:min(len(ids), most)] {
		q = append(q, strconv.Quote(id))
	}
	s := strings.Join(q, ", ")
	if len(ids) > most {
		s += fmt.Sprintf(" and %d more", len(ids)-most)
	}
	if len(ids) == 1 {
		return s + " is"
	}
	return s + " are"
}

// memberIDs returns the Domo user ids of g's members, ascending and unique.
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

// membersOf lists ids as members carrying the displays the IdP wrote for them, for the shadow.
func membersOf(ids []int64, displays map[string]string) []mapping.Member {
	out := make([]mapping.Member, len(ids))
	for i, id := range ids {
		v := strconv.FormatInt(id, 10)
		out[i] = mapping.Member{Value: v, Display: displays[v]}
	}
	return out
}

// idpDisplays picks the member displays the IdP wrote, which GET must give back as written.
// shown holds what the bridge showed the IdP (the current view, whose displays come from the
// shadow or the index); nil for a create, where every display is the IdP's. A display equal to
// the one shown was not written by the IdP, so the shadow keeps what it had for that member.
func idpDisplays(next []mapping.Member, shown map[string]string, prev *mapping.GroupShadow) map[string]string {
	out := make(map[string]string)
	for _, m := range next {
		cur, wasShown := shown[m.Value]
		switch {
		case wasShown && m.Display == cur:
			if prev != nil && prev.MemberDisplay[m.Value] != "" {
				out[m.Value] = prev.MemberDisplay[m.Value]
			}
		case m.Display != "":
			out[m.Value] = m.Display
		}
	}
	return out
}

// readGroup reads a group fresh from Domo with its stored record. Deleted groups and the
// hidden Default group are 404.
func (b *Bridge) readGroup(ctx context.Context, id int64, sid string) (domo.Group, *groupRecord, error) {
	g, err := b.getGroup(ctx, id)
	if err != nil {
		if isNotFound(err) {
			b.index.DeleteGroup(id)
		}
		return domo.Group{}, nil, upstream(err, kindGroup, sid)
	}
	if g.ID == 0 {
		g.ID = id
	}
	if b.hiddenGroup(g) {
		return domo.Group{}, nil, scim.NotFound(kindGroup, sid)
	}
	rec, err := b.loadGroupRecord(ctx, id)
	if err != nil {
		return domo.Group{}, nil, err
	}
	return g, rec, nil
}

// groupMembers lists a group's member ids. When Domo's GET carried userIds and they add up to
// memberCount they are used as they are; otherwise the member list is paged, 500 ids a call,
// memberCount sparing the calls it can (domo.Client.MembersOf).
func (b *Bridge) groupMembers(ctx context.Context, g domo.Group) ([]int64, error) {
	if len(g.UserIDs) > 0 && g.MemberCount != nil && int64(len(g.UserIDs)) == *g.MemberCount {
		ids := make([]int64, len(g.UserIDs))
		for i, u := range g.UserIDs {
			ids[i] = int64(u)
		}
		return ids, nil
	}
	ids, err := b.domo.MembersOf(ctx, g)
	if err != nil {
		return nil, upstream(err, kindGroup, strconv.FormatInt(g.ID, 10))
	}
	return ids, nil
}

// indexGroup writes a group through to the index.
func (b *Bridge) indexGroup(g domo.Group, rec *groupRecord, members []int64) {
	b.index.PutGroup(b.groupEntry(g, rec.shadow(), members, b.cfg.Mapping))
}

// Get reads a group from Domo: one call, plus one per 500 members when members are wanted.
// Member names come from the index, never from a call per member.
func (s *Groups) Get(ctx context.Context, sid string, opt scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return nil, err
	}
	g, rec, err := b.readGroup(ctx, id, sid)
	if err != nil {
		return nil, err
	}
	mopt := b.options(ctx)
	ig, indexed := b.index.Group(id)
	if !opt.Members && indexed {
		if ig.DisplayName != g.Name {
			// Renamed in Domo's UI: filters by displayName must find the new name.
			b.indexGroup(g, rec, ig.MemberIDs)
		}
		mg := mapping.GroupFromDomo(g, rec.shadow(), nil, nil, mopt)
		return mg.Attributes(mopt, false), nil
	}
	// A group the index lacks (created in Domo's UI) is learnt whole, members included.
	ids, err := b.groupMembers(ctx, g)
	if err != nil {
		return nil, err
	}
	b.indexGroup(g, rec, ids)
	var visible []int64
	if opt.Members {
		visible, _ = b.visibleMembers(ids)
	}
	mg := mapping.GroupFromDomo(g, rec.shadow(), visible, b.displayOf, mopt)
	return mg.Attributes(mopt, opt.Members), nil
}

// Create adds a group, then its initial members. A displayName another group holds (compared
// case-insensitively) is 409, whether the index knows the group or only Domo does. A POST
// that was interrupted (the IdP got an error, not the id) is finished by the IdP's retry,
// which then gets the group.
func (s *Groups) Create(ctx context.Context, attrs scim.Attributes) (scim.Attributes, error) {
	b := s.b
	mg, err := mapping.GroupFromAttributes(attrs)
	if err != nil {
		return nil, upstream(err, kindGroup, "")
	}
	mg.DisplayName = strings.TrimSpace(mg.DisplayName) // Domo trims names; compare what it keeps
	want, err := memberIDs(mg)
	if err != nil {
		return nil, err
	}
	unlock, err := b.groupLocks.lock(ctx, "name:"+strings.ToLower(mg.DisplayName))
	if err != nil {
		return nil, err
	}
	defer unlock()
	key := groupNameKey(mg.DisplayName)
	if in, ok, err := b.pendingIntent(ctx, key); err != nil {
		return nil, err
	} else if ok {
		var p groupPlan
		if err := json.Unmarshal(in.Data, &p); err == nil && in.Kind == intentGroupCreate {
			return b.runGroupCreate(ctx, in, &p, true)
		}
		if err := b.finish(ctx, in); err != nil {
			return nil, err
		}
	}
	if _, ok := b.index.GroupByName(mg.DisplayName); ok {
		return nil, scim.Conflict("a group named %q already exists", mg.DisplayName)
	}
	if err := b.checkMembers(ctx, want); err != nil {
		return nil, err
	}
	p := groupPlan{Name: mg.DisplayName, ExternalID: mg.ExternalID, Add: want, Displays: idpDisplays(mg.Members, nil, nil)}
	in, err := b.record(ctx, key, intentGroupCreate, p)
	if err != nil {
		return nil, err
	}
	return b.runGroupCreate(ctx, in, &p, false)
}

// learnGroup finds the group Domo holds under name (case-insensitively) and indexes it with
// its members. It runs after Domo refused a name the index thought free.
func (b *Bridge) learnGroup(ctx context.Context, name string) (int64, bool) {
	var found domo.Group
	for g, err := range b.domo.Groups(ctx) {
		if err != nil {
			b.log.Warn().Err(err).Msg("group listing failed while looking up a taken name")
			return 0, false
		}
		if g.Name == name {
			found = g
			break
		}
		if found.ID == 0 && strings.EqualFold(g.Name, name) {
			found = g
		}
	}
	if found.ID == 0 {
		return 0, false
	}
	ids, err := b.groupMembers(ctx, found)
	if err != nil {
		b.log.Warn().Err(err).Int64("group", found.ID).Msg("members of a taken name not read")
		return found.ID, true
	}
	rec, _ := b.loadGroupRecord(ctx, found.ID)
	b.indexGroup(found, rec, ids)
	return found.ID, true
}

func (b *Bridge) groupNameTaken(name string, self int64) bool {
	g, ok := b.index.GroupByName(name)
	return ok && g.ID != self
}

// Update is PUT and PATCH on a group: the new member list is diffed against Domo's current
// members and only the differences are sent, one call each; a rename is sent only when the
// name changes. Nothing of a request is applied when any member id is not a user. Members the
// SCIM side cannot see (protected users) are never removed.
func (s *Groups) Update(ctx context.Context, sid string, apply scim.ApplyFunc, opt scim.ReadOptions) (scim.Attributes, error) {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return nil, err
	}
	unlock, err := b.groupLocks.lock(ctx, sid)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := b.finishPending(ctx, groupKey(id)); err != nil {
		return nil, err
	}
	g, rec, err := b.readGroup(ctx, id, sid)
	if err != nil {
		return nil, err
	}
	var cur []int64
	if ig, ok := b.index.Group(id); ok && opt.MembersUntouched {
		// Nothing in the request can change members: the index's list serves the view and
		// the diff stays empty, which saves paging a large group from Domo.
		cur = slices.Clone(ig.MemberIDs)
	} else if cur, err = b.groupMembers(ctx, g); err != nil {
		return nil, err
	}
	visible, hidden := b.resolveMembers(ctx, cur)
	mopt := b.options(ctx)
	curView := mapping.GroupFromDomo(g, rec.shadow(), visible, b.displayOf, mopt)
	nextAttrs, err := apply(curView.Attributes(mopt, true))
	if err != nil {
		return nil, err
	}
	next, err := mapping.GroupFromAttributes(nextAttrs)
	if err != nil {
		return nil, upstream(err, kindGroup, sid)
	}
	next.DisplayName = strings.TrimSpace(next.DisplayName)
	// A PUT that leaves out members keeps them: wiping a Domo group because a body omitted an
	// attribute is the failure IdP integrations fear most, and a PUT that means "no members"
	// can say "members": [].
	want := visible
	if next.Members != nil || !opt.Replace {
		if want, err = memberIDs(next); err != nil {
			return nil, err
		}
	}
	add, _ := diff(visible, want)
	if err := b.checkMembers(ctx, add); err != nil {
		return nil, err
	}
	shown := make(map[string]string, len(curView.Members))
	for _, m := range curView.Members {
		shown[m.Value] = m.Display
	}
	p := groupPlan{ID: id, Name: next.DisplayName, ExternalID: next.ExternalID, Displays: idpDisplays(next.Members, shown, rec.shadow())}
	p.Add, p.Remove = diff(visible, want)
	if err := b.allowDeprovision(ctx, memberRemovals(p.Remove)); err != nil {
		return nil, err
	}
	if next.DisplayName == g.Name && len(p.Add)+len(p.Remove) == 0 {
		return b.applyGroup(ctx, nil, &p, g, rec, visible, hidden, nil, nil, opt.Members)
	}
	in, err := b.record(ctx, groupKey(id), intentGroupUpdate, p)
	if err != nil {
		return nil, err
	}
	return b.applyGroup(ctx, &in, &p, g, rec, visible, hidden, p.Add, p.Remove, opt.Members)
}

// memberRemovals are the breaker events of removing users from a group.
func memberRemovals(users []int64) []store.BreakerEvent {
	out := make([]store.BreakerEvent, len(users))
	for i, u := range users {
		out[i] = store.BreakerEvent{Kind: breakerLeaveGroup, Resource: kindUser, ResourceID: strconv.FormatInt(u, 10)}
	}
	return out
}

// renameGroup renames a group in Domo. Domo's Default group is never renamed.
func (b *Bridge) renameGroup(ctx context.Context, g domo.Group, name string) (domo.Group, error) {
	sid := strconv.FormatInt(g.ID, 10)
	if b.isDefault(g) {
		return g, scim.BadRequest(scim.TypeMutability, "Domo's Default group cannot be renamed")
	}
	if b.groupNameTaken(name, g.ID) {
		return g, scim.Conflict("a group named %q already exists", name)
	}
	renamed, err := b.domo.RenameGroup(ctx, g.ID, name)
	b.audit(ctx, kindGroup, g.ID, "PUT /v1/groups/"+sid, []string{"name"}, err)
	if err != nil {
		if isConflict(err) {
			b.learnGroup(ctx, name)
			return g, scim.Conflict("a group named %q already exists", name)
		}
		return g, upstream(err, kindGroup, sid)
	}
	g.Name = name
	if renamed.Name != "" {
		g.Name = renamed.Name
	}
	return g, nil
}

// diff returns what to add to and remove from cur to reach want; both sorted.
func diff(cur, want []int64) (add, remove []int64) {
	c := make(map[int64]bool, len(cur))
	for _, id := range cur {
		c[id] = true
	}
	w := make(map[int64]bool, len(want))
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

// memberResult is the outcome of a batch of membership calls.
type memberResult struct {
	gid       int64
	total     int
	applied   map[int64]bool // user ids whose change Domo confirmed
	failed    []memberChange // changes that failed (throttled, refused, outcome unknown)
	gone      []int64        // adds Domo refused because the user no longer exists
	unsent    int            // changes not sent before the request ran out of time
	uncertain bool           // some call ended without telling whether it took effect
	groupGone bool           // Domo no longer has the group
}

// after computes the visible membership once res is applied to cur.
func (res *memberResult) after(cur, add, remove []int64) []int64 {
	set := make(map[int64]bool, len(cur)+len(add))
	for _, id := range cur {
		set[id] = true
	}
	for _, id := range add {
		if res.applied[id] {
			set[id] = true
		}
	}
	for _, id := range remove {
		if res.applied[id] {
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

// settle takes Domo's members, read after an uncertain outcome, as the truth: a failed change
// Domo holds anyway was applied.
func (res *memberResult) settle(members []int64) {
	in := make(map[int64]bool, len(members))
	for _, id := range members {
		in[id] = true
	}
	kept := res.failed[:0]
	for _, f := range res.failed {
		if in[f.uid] == f.add {
			res.applied[f.uid] = true
			continue
		}
		kept = append(kept, f)
	}
	res.failed = kept
	res.uncertain = false
}

// memberChange is one membership call and its outcome.
type memberChange struct {
	uid int64
	add bool
	err error
}

// changeMembersV1 sends membership changes through v1, one call per member, several at a
// time (the Domo client paces them under the tenant's budget). Every change is attempted even when some fail, so a failure costs only
// itself. The result says which went through; an IdP retry then finishes the job, because the
// retry diffs against Domo's members again and sends only what is still missing.
func (b *Bridge) changeMembersV1(ctx context.Context, gid int64, add, remove []int64) *memberResult {
	jobs := make([]memberChange, 0, len(add)+len(remove))
	for _, u := range add {
		jobs = append(jobs, memberChange{uid: u, add: true})
	}
	for _, u := range remove {
		jobs = append(jobs, memberChange{uid: u})
	}
	res := &memberResult{gid: gid, total: len(jobs), applied: make(map[int64]bool, len(jobs))}
	if len(jobs) == 0 {
		return res
	}
	results := make(chan memberChange, len(jobs))
	work := make(chan memberChange)
	var wg sync.WaitGroup
	for range min(b.cfg.MemberWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if j.add {
					j.err = b.domo.AddGroupMember(ctx, gid, j.uid)
					b.audit(ctx, kindGroup, gid, fmt.Sprintf("PUT /v1/groups/%d/users/%d", gid, j.uid), []string{"members"}, j.err)
				} else {
					j.err = b.domo.RemoveGroupMember(ctx, gid, j.uid)
					b.audit(ctx, kindGroup, gid, fmt.Sprintf("DELETE /v1/groups/%d/users/%d", gid, j.uid), []string{"members"}, j.err)
				}
				results <- j
			}
		}()
	}
	sent := 0
	func() {
		defer close(work)
		for _, j := range jobs {
			select {
			case work <- j:
				sent++
			case <-ctx.Done():
				return // the unsent changes are reported as not applied
			}
		}
	}()
	wg.Wait()
	close(results)
	res.unsent = len(jobs) - sent

	var notFound []int64 // adds Domo answered 404: the user, or the group, is gone
	for r := range results {
		switch {
		case r.err == nil:
			res.applied[r.uid] = true
		case !r.add && isNotFound(r.err):
			res.applied[r.uid] = true // not a member (any more): the goal is reached
		case r.add && isNotFound(r.err):
			notFound = append(notFound, r.uid)
		default:
			res.failed = append(res.failed, r)
			if !definite(r.err) {
				res.uncertain = true
			}
		}
	}
	if len(notFound) > 0 {
		// Domo answers 404 for an unknown user and an unknown group alike: ask which.
		_, err := b.domo.GetGroup(ctx, gid)
		switch {
		case isNotFound(err):
			res.groupGone = true
		case err != nil:
			for _, u := range notFound {
				res.failed = append(res.failed, memberChange{uid: u, add: true, err: err})
			}
		default:
			slices.Sort(notFound)
			res.gone = notFound
			for _, u := range notFound {
				b.index.DeleteUser(u)
			}
		}
	}
	return res
}

// refused reports whether Domo refused a call for what it asked (the error table's 4xx
// kinds): sending it again changes nothing. Credentials an operator fixes are not such.
func refused(err error) bool {
	switch domo.KindOf(err) {
	case domo.KindNotFound, domo.KindConflict, domo.KindRejected, domo.KindRefused:
		return true
	}
	return false
}

// definite reports whether a failed call certainly did not take effect: Domo refused it, the
// credentials were refused (before or instead of the call), or the budget ran out before it
// was sent.
func definite(err error) bool {
	return refused(err) || domo.KindOf(err) == domo.KindCredentials || domo.KindOf(err) == domo.KindRateLimited
}

// err tells the IdP how much of a membership change was applied and why the rest was not; nil
// when everything was. A failure a retry can overcome (throttling, Domo unavailable) sets the
// status, so the IdP retries; users that no longer exist make it a 400, because no retry can
// add them.
func (res *memberResult) err(ctx context.Context) error {
	sid := strconv.FormatInt(res.gid, 10)
	if res.groupGone {
		return scim.NotFound(kindGroup, sid)
	}
	if len(res.applied) == res.total {
		return nil
	}
	var se *scim.Error
	switch {
	case len(res.failed) > 0:
		cause := res.failed[0].err
		var rl *domo.RateLimitError
		for _, f := range res.failed {
			if errors.As(f.err, &rl) {
				cause = f.err
				break
			}
		}
		if !errors.As(upstream(cause, kindGroup, sid), &se) {
			se = &scim.Error{Status: http.StatusBadGateway, Detail: "Domo failed", Err: cause}
		}
	case res.unsent > 0:
		se = scim.Unavailable(unavailableRetry, "", ctx.Err())
	default:
		se = scim.BadRequest(scim.TypeInvalidValue, "")
	}
	var parts []string
	if len(res.failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d failed (%s)", len(res.failed), strings.TrimSuffix(se.Detail, ".")))
	}
	if res.unsent > 0 {
		parts = append(parts, fmt.Sprintf("%d were not sent before the request ran out of time", res.unsent))
	}
	if len(res.gone) > 0 {
		ids := make([]string, len(res.gone))
		for i, u := range res.gone {
			ids[i] = strconv.FormatInt(u, 10)
		}
		parts = append(parts, "members: "+listIDs(ids)+" no longer a Domo user")
	}
	se.Detail = fmt.Sprintf("applied %d of %d membership changes to group %s; %s", len(res.applied), res.total, sid, strings.Join(parts, "; "))
	if res.unsent > 0 || slices.ContainsFunc(res.failed, func(f memberChange) bool { return !refused(f.err) }) {
		se.Detail += "; retry the request to finish"
	}
	return se
}

// Delete removes a group in Domo. Domo's Default group is never deleted. It counts against
// the deprovision breaker once per member, at least once: deleting a group takes access away
// from every member.
func (s *Groups) Delete(ctx context.Context, sid string) error {
	b := s.b
	id, err := parseID(kindGroup, sid)
	if err != nil {
		return err
	}
	unlock, err := b.groupLocks.lock(ctx, sid)
	if err != nil {
		return err
	}
	defer unlock()
	if err := b.finishPending(ctx, groupKey(id)); err != nil {
		return err
	}
	ig, indexed := b.index.Group(id)
	members := 0
	if !indexed {
		// Unknown to the index: read it, so the Default group is recognised whatever happens.
		g, err := b.domo.GetGroup(ctx, id)
		if err != nil {
			if isNotFound(err) {
				b.forgetGroup(ctx, id)
				return scim.NotFound(kindGroup, sid)
			}
			return upstream(err, kindGroup, sid)
		}
		if b.isDefault(g) {
			return b.refuseDefault(sid, "deleted")
		}
		if g.MemberCount != nil {
			members = int(*g.MemberCount)
		}
	} else if ig.Default {
		return b.refuseDefault(sid, "deleted")
	} else {
		members = len(ig.MemberIDs)
	}
	events := make([]store.BreakerEvent, max(members, 1))
	for i := range events {
		events[i] = store.BreakerEvent{Kind: breakerDeleteGroup, Resource: kindGroup, ResourceID: sid}
	}
	if err := b.allowDeprovision(ctx, events); err != nil {
		return err
	}
	in, err := b.record(ctx, groupKey(id), intentGroupDelete, groupPlan{ID: id})
	if err != nil {
		return err
	}
	return b.runGroupDelete(ctx, in, id)
}

// emptyAndDelete handles a 400 on a group delete: when the group has members, they are removed
// and the delete repeated; an empty group's 400 stands.
func (b *Bridge) emptyAndDelete(ctx context.Context, id int64, refused error) error {
	ids, err := b.domo.GroupMembers(ctx, id)
	if err != nil || len(ids) == 0 {
		return refused
	}
	res := b.changeMembers(ctx, id, nil, ids)
	err = res.err(ctx)
	if err == nil {
		err = b.domo.DeleteGroup(ctx, id)
		b.audit(ctx, kindGroup, id, "DELETE /v1/groups/"+strconv.FormatInt(id, 10), nil, err)
	}
	if err != nil && !res.groupGone {
		// The group stays, with fewer members: the index must say so.
		if ig, ok := b.index.Group(id); ok {
			ng := *ig
			ng.MemberIDs = res.after(ig.MemberIDs, nil, ids)
			b.index.PutGroup(ng)
		}
	}
	return err
}

// forgetGroup records that a group is gone: out of the index, and a tombstone in place of its
// record, so that a restart serving an older snapshot does not list it (replayRecords); the
// next load's snapshot lets the tombstone go.
func (b *Bridge) forgetGroup(ctx context.Context, id int64) {
	b.index.DeleteGroup(id)
	if err := b.store.PutGroupShadow(context.WithoutCancel(ctx), store.Shadow{ID: id, Data: tombstone, Updated: b.now().UTC()}); err != nil {
		b.log.Error().Err(err).Int64("group", id).Msg("group tombstone not written")
	}
}

// refuseDefault answers an attempt to delete or rename Domo's Default group: 404 while the
// group is not shown, 400 mutability when it is.
func (b *Bridge) refuseDefault(sid, what string) error {
	if !b.cfg.ShowDefaultGroup {
		return scim.NotFound(kindGroup, sid)
	}
	return scim.BadRequest(scim.TypeMutability, "Domo's Default group cannot be %s", what)
}

// syncUserGroups makes the index agree with the memberships Domo's own record of a user lists
// (GET /v1/users/{id} carries them), so that the groups attribute of a user in lists matches
// what a GET by id shows. groups nil means the record had none to tell.
func (b *Bridge) syncUserGroups(uid int64, groups []domo.GroupRef) {
	if groups == nil {
		return
	}
	in := make(map[int64]bool, len(groups))
	for _, g := range groups {
		in[int64(g.ID)] = true
		if _, ok := b.index.Group(int64(g.ID)); ok {
			b.index.SetMembership(int64(g.ID), uid, true)
		}
	}
	for _, gid := range b.index.UserGroups(uid) {
		if !in[gid] {
			b.index.SetMembership(gid, uid, false)
		}
	}
}

func recordEqual(a, b groupRecord) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func scimStatusOf(err error) int {
	var se *scim.Error
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}
