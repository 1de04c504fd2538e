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
// filter scans the index, keeping only the page and the count unless it must sort.
func (s *Users) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
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
		sortResources(keyed, *q.SortBy, q.Descending)
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

// sortResources sorts stably by the scim Comparator for p; ties keep the id order.
func sortResources[R scim.Resource](rs []R, p scim.AttrPath, descending bool) {
	order := scim.Comparator(p)
	slices.SortStableFunc(rs, func(x, y R) int {
		if descending {
			return order(y, x)
		}
		return order(x, y)
	})
}

// userView is how filters see an indexed user: the attributes the index holds decoded are read
// in place, anything else from one scratch expansion per user (no allocation once the scratch
// has grown), and groups from the group index. One view serves a whole scan, one user at a
// time; it is not safe for concurrent use.
type userView struct {
	b        *Bridge
	opt      mapping.Options
	u        *index.User
	scratch  mapping.User
	expanded bool
	groups   bool // scratch.Groups holds u's groups
	elems    []scim.Resource
}

var (
	_ scim.StringValuer  = (*userView)(nil)
	_ scim.ElementValuer = (*userView)(nil)
)

func (b *Bridge) newUserView(opt mapping.Options) *userView { return &userView{b: b, opt: opt} }

// of points the view at u.
func (v *userView) of(u *index.User) *userView {
	v.u, v.expanded, v.groups = u, false, false
	return v
}

func (v *userView) matches(f *scim.Filter) bool { return f == nil || f.Match(v) }

func (v *userView) full(key string) *mapping.User {
	if !v.expanded {
		v.u.Expand(&v.scratch)
		v.expanded = true
	}
	if key == "groups" && !v.groups {
		v.scratch.Groups = v.b.groupRefs(v.u.ID, v.opt)
		v.groups = true
	}
	return &v.scratch
}

// Values implements scim.Resource.
func (v *userView) Values(key, sub string) []any { return v.full(key).Values(key, sub) }

// StringValue implements scim.StringValuer, from the entry itself for what it holds decoded.
func (v *userView) StringValue(key, sub string) (string, bool) {
	u := v.u
	if sub == "" {
		switch key {
		case "username":
			return u.UserName, true
		case "externalid":
			return u.ExternalID, true
		case "displayname":
			return u.DisplayName, true
		case "title":
			return u.Title(), true
		}
	} else if key == "name" {
		switch sub {
		case "givenname":
			return u.GivenName(), true
		case "familyname":
			return u.FamilyName(), true
		}
	}
	return v.full(key).StringValue(key, sub)
}

// Elements implements scim.ElementValuer for the multi-valued complex attributes.
func (v *userView) Elements(key string) ([]scim.Resource, bool) {
	m := v.full(key)
	v.elems = v.elems[:0]
	switch key {
	case "emails":
		v.elems = appendMultis(v.elems, m.Emails)
	case "phonenumbers":
		v.elems = appendMultis(v.elems, m.PhoneNumbers)
	case "ims":
		v.elems = appendMultis(v.elems, m.IMs)
	case "photos":
		v.elems = appendMultis(v.elems, m.Photos)
	case "entitlements":
		v.elems = appendMultis(v.elems, m.Entitlements)
	case "roles":
		v.elems = appendMultis(v.elems, m.Roles)
	case "x509certificates":
		v.elems = appendMultis(v.elems, m.X509Certificates)
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
// through a shared view and kept, so that n log n comparisons cost n expansions.
type sortKeyed struct {
	src   *userView
	u     *index.User
	cache [2]struct {
		key, sub string
		vals     []any
	}
	n int
}

// Values implements scim.Resource. Values from a view outlive it: strings belong to the entry,
// and maps and slices are fresh.
func (k *sortKeyed) Values(key, sub string) []any {
	for i := range k.n {
		if c := &k.cache[i]; c.key == key && c.sub == sub {
			return c.vals
		}
	}
	vals := k.src.of(k.u).Values(key, sub)
	if k.n < len(k.cache) {
		k.cache[k.n].key, k.cache[k.n].sub, k.cache[k.n].vals = key, sub, vals
		k.n++
	}
	return vals
}

// List answers from the index, with members (from the index) only when asked.
func (s *Groups) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
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
		sortResources(rs, *q.SortBy, q.Descending)
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

// groupResource lets filters see an indexed group's members.
type groupResource struct {
	g *index.Group
	b *Bridge
}

func (r groupResource) Values(key, sub string) []any {
	if key != "members" {
		return r.g.Group.Values(key, sub)
	}
	var out []any
	for _, id := range r.g.MemberIDs {
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
