package index

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// Group is one indexed group: its SCIM view without members, and the member ids in ascending
// order. A tenant has few groups, so they are kept as they are.
type Group struct {
	mapping.Group
	MemberIDs []int64
}

// ---- state: the caller holds the index's lock ----

func (st *state) indexGroup(g *Group) {
	st.byGroupKey.add(foldKey(g.DisplayName), g)
	if g.ExternalID != "" {
		st.byGroupExt.add(g.ExternalID, g)
	}
	for _, uid := range g.MemberIDs {
		st.userGroups[uid] = appendUnique(st.userGroups[uid], g.ID)
	}
}

func (st *state) unindexGroup(g *Group) {
	st.byGroupKey.remove(foldKey(g.DisplayName), g.ID)
	if g.ExternalID != "" {
		st.byGroupExt.remove(g.ExternalID, g.ID)
	}
	for _, uid := range g.MemberIDs {
		deleteFrom(st.userGroups, uid, g.ID)
	}
}

func (st *state) putGroup(g *Group) {
	if old, ok := st.groups[g.ID]; ok {
		st.unindexGroup(old)
	}
	st.replaceGroup(g)
	st.indexGroup(g)
}

// replaceGroup swaps in a new version of a group whose keys and members the caller keeps in
// step.
func (st *state) replaceGroup(g *Group) {
	i, found := slices.BinarySearchFunc(st.groupOrder, g.ID, func(x *Group, id int64) int { return cmp.Compare(x.ID, id) })
	if found {
		st.groupOrder[i] = g
	} else {
		st.groupOrder = slices.Insert(st.groupOrder, i, g)
	}
	st.groups[g.ID] = g
}

func (st *state) deleteGroup(id int64) {
	g, ok := st.groups[id]
	if !ok {
		return
	}
	st.unindexGroup(g)
	delete(st.groups, id)
	if i, found := slices.BinarySearchFunc(st.groupOrder, id, func(x *Group, id int64) int { return cmp.Compare(x.ID, id) }); found {
		st.groupOrder = slices.Delete(st.groupOrder, i, i+1)
	}
}

// ---- groups ----

// PutGroup indexes a group and its membership. The caller's member slice is not kept.
func (ix *Index) PutGroup(g Group) {
	g.MemberIDs = slices.Clone(sortedIDs(g.MemberIDs))
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.putGroup(&g)
	ix.gtouch(g.ID)
}

// DeleteGroup removes a group.
func (ix *Index) DeleteGroup(id int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.deleteGroup(id)
	ix.gtouch(id)
}

// Group returns the group with the given id.
func (ix *Index) Group(id int64) (*Group, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g, ok := ix.st.groups[id]
	return g, ok
}

// GroupByName finds a group by displayName, case-insensitively as strings.EqualFold compares.
func (ix *Index) GroupByName(name string) (*Group, bool) {
	k := foldKey(name)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.byGroupKey.first(k)
}

// LookupGroups is LookupUsers for groups: key "id", "displayname" or "externalid".
func (ix *Index) LookupGroups(key, value string) []*Group {
	var out []*Group
	ix.mu.RLock()
	switch key {
	case "id":
		if id, err := strconv.ParseInt(value, 10, 64); err == nil {
			if g, ok := ix.st.groups[id]; ok {
				out = append(out, g)
			}
		}
	case "displayname":
		out = ix.st.byGroupKey.appendTo(out, foldKey(value))
	case "externalid":
		out = ix.st.byGroupExt.appendTo(out, value)
	}
	ix.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Group) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Groups calls fn for every group in listing order until fn returns false.
func (ix *Index) Groups(fn func(*Group) bool) {
	ix.mu.RLock()
	groups := slices.Clone(ix.st.groupOrder)
	ix.mu.RUnlock()
	for _, g := range groups {
		if !fn(g) {
			return
		}
	}
}

// UserGroups returns the ids of the groups a user belongs to, ascending.
func (ix *Index) UserGroups(userID int64) []int64 { return ix.AppendUserGroups(nil, userID) }

// AppendUserGroups is UserGroups appending to dst, for a scan that asks for every user.
func (ix *Index) AppendUserGroups(dst []int64, userID int64) []int64 {
	n := len(dst)
	ix.mu.RLock()
	dst = append(dst, ix.st.userGroups[userID]...)
	ix.mu.RUnlock()
	slices.Sort(dst[n:])
	return dst
}

// SetMembership records that userID joined (in=true) or left groupID, after the bridge
// changed it in Domo.
func (ix *Index) SetMembership(groupID, userID int64, in bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	g, ok := ix.st.groups[groupID]
	if !ok {
		return
	}
	ng := *g
	ids := slices.Clone(g.MemberIDs)
	if in {
		if i, found := slices.BinarySearch(ids, userID); !found {
			ids = slices.Insert(ids, i, userID)
		}
		ix.st.userGroups[userID] = appendUnique(ix.st.userGroups[userID], groupID)
	} else {
		ids = removeSorted(ids, userID)
		deleteFrom(ix.st.userGroups, userID, groupID)
	}
	ng.MemberIDs = ids
	ix.st.replaceGroup(&ng)
	ix.gtouch(groupID)
}

// sortedIDs returns ids ascending without repeats: ids itself when it already is, else a
// sorted copy, so that a caller's slice is never reordered under it.
func sortedIDs(ids []int64) []int64 {
	strict := true
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			strict = false
			break
		}
	}
	if strict {
		return ids
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

func appendUnique[K comparable](s []K, v K) []K {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func deleteFrom[K comparable](m map[K][]int64, k K, id int64) {
	s := m[k]
	i := slices.Index(s, id)
	if i < 0 {
		return
	}
	if len(s) == 1 {
		delete(m, k)
		return
	}
	m[k] = slices.Delete(slices.Clone(s), i, i+1)
}

func removeSorted(s []int64, v int64) []int64 {
	if i, found := slices.BinarySearch(s, v); found {
		return slices.Delete(s, i, i+1)
	}
	return s
}
