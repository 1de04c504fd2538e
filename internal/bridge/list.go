package bridge

import (
	"context"
	"slices"
	"strconv"

	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// List answers from the index: no Domo call, whatever the filter.
func (s *Users) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
	opt := b.options(ctx)
	render := func(u *index.User) scim.Attributes {
		mu := u.User
		mu.Groups = b.groupRefs(u.ID, opt)
		return mu.Attributes(opt)
	}
	if q.Filter == nil && q.SortBy == nil {
		users, total := b.index.UserPage(q.StartIndex-1, q.Count)
		page := scim.Page{TotalResults: total, Resources: make([]scim.Attributes, 0, len(users))}
		for _, u := range users {
			page.Resources = append(page.Resources, render(u))
		}
		return page, nil
	}
	var matched []*index.User
	match := func(u *index.User) bool { return q.Filter == nil || q.Filter.Match(u) }
	if lookups, ok := candidates(q.Filter); ok {
		seen := map[int64]bool{}
		for _, l := range lookups {
			for _, u := range b.index.LookupUsers(l.Key, l.Value) {
				if !seen[u.ID] && match(u) {
					seen[u.ID] = true
					matched = append(matched, u)
				}
			}
		}
		slices.SortFunc(matched, func(a, b *index.User) int { return cmpID(a.ID, b.ID) })
	} else {
		b.index.Users(func(u *index.User) bool {
			if match(u) {
				matched = append(matched, u)
			}
			return true
		})
	}
	if q.SortBy != nil {
		cmp := scim.Comparator(*q.SortBy)
		slices.SortStableFunc(matched, func(x, y *index.User) int {
			if q.Descending {
				return cmp(y, x)
			}
			return cmp(x, y)
		})
	}
	page := scim.Page{TotalResults: len(matched), Resources: []scim.Attributes{}}
	from := q.StartIndex - 1
	if from < len(matched) && q.Count > 0 {
		for _, u := range matched[from:min(from+q.Count, len(matched))] {
			page.Resources = append(page.Resources, render(u))
		}
	}
	return page, nil
}

func candidates(f *scim.Filter) ([]scim.Lookup, bool) {
	if f == nil {
		return nil, false
	}
	return f.Candidates()
}

func cmpID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// List answers from the index, with members (from the index) only when asked.
func (s *Groups) List(ctx context.Context, q scim.Query) (scim.Page, error) {
	b := s.b
	mopt := b.options(ctx)
	var matched []*index.Group
	keep := func(g *index.Group) bool {
		if g.Default && !b.cfg.ShowDefaultGroup {
			return false
		}
		return q.Filter == nil || q.Filter.Match(groupResource{g, b})
	}
	if lookups, ok := candidates(q.Filter); ok {
		seen := map[int64]bool{}
		for _, l := range lookups {
			for _, g := range b.index.LookupGroups(l.Key, l.Value) {
				if !seen[g.ID] && keep(g) {
					seen[g.ID] = true
					matched = append(matched, g)
				}
			}
		}
		slices.SortFunc(matched, func(x, y *index.Group) int { return cmpID(x.ID, y.ID) })
	} else {
		b.index.Groups(func(g *index.Group) bool {
			if keep(g) {
				matched = append(matched, g)
			}
			return true
		})
	}
	if q.SortBy != nil {
		cmp := scim.Comparator(*q.SortBy)
		slices.SortStableFunc(matched, func(x, y *index.Group) int {
			gx, gy := groupResource{x, b}, groupResource{y, b}
			if q.Descending {
				return cmp(gy, gx)
			}
			return cmp(gx, gy)
		})
	}
	page := scim.Page{TotalResults: len(matched), Resources: []scim.Attributes{}}
	from := q.StartIndex - 1
	if from < len(matched) && q.Count > 0 {
		for _, g := range matched[from:min(from+q.Count, len(matched))] {
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
	}
	return page, nil
}

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
		case "", "value":
			if sub == "" {
				out = append(out, map[string]any{"value": v, "type": "User"})
			} else {
				out = append(out, v)
			}
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
