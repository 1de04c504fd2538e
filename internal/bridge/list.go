package bridge

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// List answers from the index: no Domo call, whatever the filter. Only the page asked for is
// rendered. An unfiltered, unsorted page is a slice of the index's order; a filter with an
// indexed equality (userName, externalId, emails, id) reads the few users it names; any other
// filter scans the index, keeping only the page and the count unless it must sort. After a
// restart, a snapshot past SnapshotMaxAge answers nothing (fresh).
func (s *Users) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
	if err := b.fresh(); err != nil {
		return scim.Page{}, err
	}
	opt := b.options(ctx)
	from := max(q.StartIndex-1, 0)
	var window []*index.User
	total := 0
	switch lookups, indexed := candidates(q.Filter); {
	case q.Filter == nil && q.SortBy == nil:
		window, total = b.index.UserPage(from, q.Count)
	case indexed:
		v := b.newUserView(opt)
		var matched []*index.User
		for _, l := range lookups {
			for _, u := range b.index.LookupUsers(l.Key, l.Value) {
				if v.of(u).matches(q.Filter) {
					matched = append(matched, u)
				}
			}
		}
		slices.SortFunc(matched, func(x, y *index.User) int { return cmp.Compare(x.ID, y.ID) })
		matched = slices.CompactFunc(matched, func(x, y *index.User) bool { return x.ID == y.ID })
		window, total = b.sortUsers(matched, q, opt)
	case q.SortBy == nil:
		v := b.newUserView(opt)
		end := from + q.Count
		b.index.Users(func(u *index.User) bool {
			if v.of(u).matches(q.Filter) {
				if total >= from && total < end {
					window = append(window, u)
				}
				total++
			}
			return true
		})
	default:
		v := b.newUserView(opt)
		var matched []*index.User
		b.index.Users(func(u *index.User) bool {
			if v.of(u).matches(q.Filter) {
				matched = append(matched, u)
			}
			return true
		})
		window, total = b.sortUsers(matched, q, opt)
	}
	page := scim.Page{TotalResults: total, Resources: make([]scim.Attributes, 0, len(window))}
	for _, u := range window {
		mu := u.SCIM()
		mu.Groups = b.groupRefs(u.ID, opt)
		page.Resources = append(page.Resources, mu.Attributes(opt))
	}
	return page, nil
}

// sortUsers orders matched (in id order) by q.SortBy when given, and returns the page of it q
// asks for and the total. Each user is expanded once for the sort, not at every comparison.
func (b *Bridge) sortUsers(matched []*index.User, q scim.Query, opt mapping.Options) ([]*index.User, int) {
	if q.SortBy != nil && len(matched) > 1 {
		v := b.newUserView(opt)
		items := make([]sortKeyed, len(matched))
		keyed := make([]*sortKeyed, len(matched))
		for i, u := range matched {
			items[i] = sortKeyed{src: v, u: u}
			keyed[i] = &items[i]
		}
		sortResources(keyed, *q.SortBy, q.Descending, func(k *sortKeyed) int64 { return k.u.ID })
		for i := range keyed {
			matched[i] = keyed[i].u
		}
	}
	return pageOf(matched, q), len(matched)
}

// pageOf is the part of all that q's startIndex and count select.
func pageOf[T any](all []T, q scim.Query) []T {
	from := max(q.StartIndex-1, 0)
	if from >= len(all) || q.Count <= 0 {
		return nil
	}
	return all[from:min(from+q.Count, len(all))]
}

func candidates(f *scim.Filter) ([]scim.Lookup, bool) {
	if f == nil {
		return nil, false
	}
	return f.Candidates()
}

// sortResources sorts by the scim Comparator for p, ties by ascending id, so that pages of
// one sorted listing never overlap.
func sortResources[R scim.Resource](rs []R, p scim.AttrPath, descending bool, id func(R) int64) {
	order := scim.Comparator(p)
	slices.SortFunc(rs, func(x, y R) int {
		c := order(x, y)
		if descending {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(id(x), id(y))
	})
}

// userView is how filters see an indexed user: single strings and lists of emails (or
// phones, roles...) are read from the entry without decoding the rest, anything else from one
// scratch expansion per user, and groups from the group index. A scan reuses one view for
// every user and allocates nothing per user once its buffers have grown. It is not safe for
// concurrent use.
type userView struct {
	b        *Bridge
	opt      mapping.Options
	u        *index.User
	scratch  mapping.User
	expanded bool
	groups   bool // scratch.Groups holds u's groups
	multis   []mapping.Multi
	elems    []scim.Resource
	refs     map[int64]groupRef // the groups met so far in this scan, as references
	gids     []int64
	grouped  mapping.User // only Groups set: what groups filters read, without expanding
}

type groupRef struct {
	ref     mapping.GroupRef
	visible bool
}

var (
	_ scim.StringValuer  = (*userView)(nil)
	_ scim.ElementValuer = (*userView)(nil)

	valsActive = [2][]any{{false}, {true}}
)

func (b *Bridge) newUserView(opt mapping.Options) *userView { return &userView{b: b, opt: opt} }

// of points the view at u.
func (v *userView) of(u *index.User) *userView {
	v.u, v.expanded, v.groups = u, false, false
	return v
}

func (v *userView) matches(f *scim.Filter) bool { return f == nil || f.Match(v) }

// full is the user expanded, or for groups, a user holding only its groups.
func (v *userView) full(key string) *mapping.User {
	if key == "groups" {
		if !v.groups {
			v.grouped.Groups = v.groupRefs(v.grouped.Groups[:0])
			v.groups = true
		}
		return &v.grouped
	}
	if !v.expanded {
		v.u.Expand(&v.scratch)
		v.expanded = true
	}
	return &v.scratch
}

// groupRefs is Bridge.groupRefs, with each group looked up once per scan.
func (v *userView) groupRefs(dst []mapping.GroupRef) []mapping.GroupRef {
	if v.refs == nil {
		v.refs = map[int64]groupRef{}
	}
	v.gids = v.b.index.AppendUserGroups(v.gids[:0], v.u.ID)
	for _, gid := range v.gids {
		r, ok := v.refs[gid]
		if !ok {
			g, found := v.b.index.Group(gid)
			r.visible = found && !(g.Default && (v.opt.HideDefaultGroup || !v.b.cfg.ShowDefaultGroup))
			if r.visible {
				r.ref = mapping.GroupRef{Value: strconv.FormatInt(gid, 10), Display: g.DisplayName}
			}
			v.refs[gid] = r
		}
		if r.visible {
			dst = append(dst, r.ref)
		}
	}
	return dst
}

// Values implements scim.Resource.
func (v *userView) Values(key, sub string) []any {
	if key == "active" && sub == "" {
		if v.u.Active() {
			return valsActive[1]
		}
		return valsActive[0]
	}
	if s, ok := v.u.StringValue(key, sub); ok {
		if s == "" {
			return nil
		}
		return []any{s}
	}
	return v.full(key).Values(key, sub)
}

// StringValue implements scim.StringValuer. Where the entry has no answer, mapping's answer
// does not depend on the user (false for ids, booleans and lists; nothing for unknown
// sub-attributes), so it is asked of an empty user rather than of an expansion.
func (v *userView) StringValue(key, sub string) (string, bool) {
	if s, ok := v.u.StringValue(key, sub); ok {
		return s, true
	}
	return noUser.StringValue(key, sub)
}

var noUser = &mapping.User{}

// Elements implements scim.ElementValuer for the multi-valued complex attributes.
func (v *userView) Elements(key string) ([]scim.Resource, bool) {
	v.elems = v.elems[:0]
	if list, ok := v.u.AppendMultis(v.multis[:0], key); ok {
		v.multis = list
		v.elems = appendMultis(v.elems, list)
		return v.elems, true
	}
	m := v.full(key)
	switch key {
	case "addresses":
		for i := range m.Addresses {
			v.elems = append(v.elems, &m.Addresses[i])
		}
	case "groups":
		for i := range m.Groups {
			v.elems = append(v.elems, &m.Groups[i])
		}
	default:
		return nil, false
	}
	return v.elems, true
}

func appendMultis(dst []scim.Resource, list []mapping.Multi) []scim.Resource {
	for i := range list {
		dst = append(dst, &list[i])
	}
	return dst
}

// sortKeyed is a user as a sort sees it: the answers for the attribute sorted by, computed once
// through a shared view and kept, so that n log n comparisons cost n look-ups.
type sortKeyed struct {
	src  *userView
	u    *index.User
	str  struct{ key, sub, s string }
	strN int8 // 0: not asked; 1: str holds the answer; -1: StringValue said false
	vals [2]struct {
		key, sub string
		vals     []any
	}
	n int
}

var _ scim.StringValuer = (*sortKeyed)(nil)

// Values implements scim.Resource. Values from a view outlive it: strings belong to the entry,
// and maps and slices are fresh.
func (k *sortKeyed) Values(key, sub string) []any {
	for i := range k.n {
		if c := &k.vals[i]; c.key == key && c.sub == sub {
			return c.vals
		}
	}
	vals := k.src.of(k.u).Values(key, sub)
	if k.n < len(k.vals) {
		k.vals[k.n].key, k.vals[k.n].sub, k.vals[k.n].vals = key, sub, vals
		k.n++
	}
	return vals
}

// StringValue implements scim.StringValuer.
func (k *sortKeyed) StringValue(key, sub string) (string, bool) {
	if k.strN != 0 && k.str.key == key && k.str.sub == sub {
		return k.str.s, k.strN > 0
	}
	s, ok := k.src.of(k.u).StringValue(key, sub)
	k.str.key, k.str.sub, k.str.s, k.strN = key, sub, s, 1
	if !ok {
		k.strN = -1
	}
	return s, ok
}

// List answers from the index, with members (from the index) only when asked, under the same
// staleness bound as users.
func (s *Groups) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
	if err := b.fresh(); err != nil {
		return scim.Page{}, err
	}
	mopt := b.options(ctx)
	var matched []*index.Group
	keep := func(g *index.Group) bool {
		if b.hiddenIndexGroup(g) {
			return false
		}
		return q.Filter == nil || q.Filter.Match(groupResource{g, b})
	}
	if lookups, ok := candidates(q.Filter); ok {
		for _, l := range lookups {
			for _, g := range b.index.LookupGroups(l.Key, l.Value) {
				if keep(g) {
					matched = append(matched, g)
				}
			}
		}
		slices.SortFunc(matched, func(x, y *index.Group) int { return cmp.Compare(x.ID, y.ID) })
		matched = slices.CompactFunc(matched, func(x, y *index.Group) bool { return x.ID == y.ID })
	} else {
		b.index.Groups(func(g *index.Group) bool {
			if keep(g) {
				matched = append(matched, g)
			}
			return true
		})
	}
	if q.SortBy != nil {
		rs := make([]groupResource, len(matched))
		for i, g := range matched {
			rs[i] = groupResource{g, b}
		}
		sortResources(rs, *q.SortBy, q.Descending, func(r groupResource) int64 { return r.g.ID })
		for i := range rs {
			matched[i] = rs[i].g
		}
	}
	window := pageOf(matched, q)
	page := scim.Page{TotalResults: len(matched), Resources: make([]scim.Attributes, 0, len(window))}
	for _, g := range window {
		mg := g.Group
		mg.Members = nil
		if q.Members {
			ids, _ := b.visibleMembers(g.MemberIDs)
			for _, uid := range ids {
				d, _ := b.displayOf(uid)
				mg.Members = append(mg.Members, mapping.Member{Value: strconv.FormatInt(uid, 10), Display: d})
			}
		}
		page.Resources = append(page.Resources, mg.Attributes(mopt, q.Members))
	}
	return page, nil
}

// hiddenIndexGroup is hiddenGroup for an indexed group.
func (b *Bridge) hiddenIndexGroup(g *index.Group) bool { return g.Default && !b.cfg.ShowDefaultGroup }

// groupResource lets filters see an indexed group's members: those a response would show,
// so that a filter cannot find a group by a protected member.
type groupResource struct {
	g *index.Group
	b *Bridge
}

func (r groupResource) Values(key, sub string) []any {
	if key != "members" {
		return r.g.Group.Values(key, sub)
	}
	var out []any
	ids, _ := r.b.visibleMembers(r.g.MemberIDs)
	for _, id := range ids {
		v := strconv.FormatInt(id, 10)
		switch sub {
		case "":
			m := map[string]any{"value": v, "type": "User"}
			if d, ok := r.b.displayOf(id); ok && d != "" {
				m["display"] = d
			}
			out = append(out, m)
		case "value":
			out = append(out, v)
		case "type":
			out = append(out, "User")
		case "display":
			if d, ok := r.b.displayOf(id); ok {
				out = append(out, d)
			}
		}
	}
	return out
}
