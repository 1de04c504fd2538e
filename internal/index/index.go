package index

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimbridge/scimbridge/internal/mapping"
)

// User is one indexed user: its SCIM view plus the Domo email, which differs from userName
// when the IdP's userName is not an address. Entries are immutable once indexed: a change
// replaces the entry, so readers may keep a pointer without locking.
type User struct {
	mapping.User
	DomoEmail string
}

// Group is one indexed group: its SCIM view without members, and the member ids in ascending
// order.
type Group struct {
	mapping.Group
	MemberIDs []int64
}

// Index is the in-memory view of the tenant. All methods are safe for concurrent use.
type Index struct {
	mu sync.RWMutex

	users      map[int64]*User
	userOrder  []int64 // ascending ids: the stable listing order
	byUserName map[string]int64
	byEmail    map[string]int64   // lower-cased Domo email
	byExtID    map[string][]int64 // externalId is not unique across IdPs
	byAddress  map[string][]int64 // lower-cased values of emails[].value

	groups     map[int64]*Group
	groupOrder []int64
	byGroupKey map[string]int64 // lower-cased displayName
	byGroupExt map[string][]int64
	userGroups map[int64][]int64 // user id -> group ids, from the membership lists

	loaded    bool
	loadedAt  time.Time
	loadTook  time.Duration
	touched   map[int64]time.Time // users written through since the last full load began
	gtouched  map[int64]time.Time // groups likewise
	lastError string
}

// New returns an empty, not yet loaded index.
func New() *Index {
	ix := &Index{}
	ix.reset()
	return ix
}

func (ix *Index) reset() {
	ix.users = map[int64]*User{}
	ix.userOrder = nil
	ix.byUserName = map[string]int64{}
	ix.byEmail = map[string]int64{}
	ix.byExtID = map[string][]int64{}
	ix.byAddress = map[string][]int64{}
	ix.groups = map[int64]*Group{}
	ix.groupOrder = nil
	ix.byGroupKey = map[string]int64{}
	ix.byGroupExt = map[string][]int64{}
	ix.userGroups = map[int64][]int64{}
	ix.touched = map[int64]time.Time{}
	ix.gtouched = map[int64]time.Time{}
}

// Stats describes the index for /readyz and metrics.
type Stats struct {
	Loaded    bool
	Users     int
	Groups    int
	LoadedAt  time.Time
	LoadTook  time.Duration
	LastError string
}

// Stats reports size and age.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{Loaded: ix.loaded, Users: len(ix.users), Groups: len(ix.groups),
		LoadedAt: ix.loadedAt, LoadTook: ix.loadTook, LastError: ix.lastError}
}

// SetError records why the last refresh failed, for /readyz.
func (ix *Index) SetError(err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err == nil {
		ix.lastError = ""
	} else {
		ix.lastError = err.Error()
	}
}

// Snapshot is a full load: every user and group with membership.
type Snapshot struct {
	Users  []User
	Groups []Group
}

// Replace installs a full load that began at started. Users and groups written through after
// started keep their written state, because the load may have read them before the write.
func (ix *Index) Replace(s Snapshot, started time.Time, took time.Duration) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	keepU := map[int64]*User{}
	goneU := map[int64]bool{}
	for id, t := range ix.touched {
		if t.After(started) {
			if u, ok := ix.users[id]; ok {
				keepU[id] = u
			} else {
				goneU[id] = true
			}
		}
	}
	keepG := map[int64]*Group{}
	goneG := map[int64]bool{}
	for id, t := range ix.gtouched {
		if t.After(started) {
			if g, ok := ix.groups[id]; ok {
				keepG[id] = g
			} else {
				goneG[id] = true
			}
		}
	}
	ix.reset()
	for i := range s.Users {
		u := &s.Users[i]
		if goneU[u.ID] || keepU[u.ID] != nil {
			continue
		}
		ix.putUserLocked(u)
	}
	for id, u := range keepU {
		ix.putUserLocked(u)
		ix.touched[id] = time.Now()
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		if goneG[g.ID] || keepG[g.ID] != nil {
			continue
		}
		ix.putGroupLocked(g)
	}
	for id, g := range keepG {
		ix.putGroupLocked(g)
		ix.gtouched[id] = time.Now()
	}
	ix.loaded = true
	ix.loadedAt = time.Now()
	ix.loadTook = took
	ix.lastError = ""
}

// Export copies the index into a Snapshot, for persisting it so a restart can serve at once.
func (ix *Index) Export() Snapshot {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := Snapshot{Users: make([]User, 0, len(ix.users)), Groups: make([]Group, 0, len(ix.groups))}
	for _, id := range ix.userOrder {
		s.Users = append(s.Users, *ix.users[id])
	}
	for _, id := range ix.groupOrder {
		s.Groups = append(s.Groups, *ix.groups[id])
	}
	return s
}

// ---- users ----

// PutUser indexes a user written through by the bridge (or read fresh from Domo).
func (ix *Index) PutUser(u User) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.putUserLocked(&u)
	ix.touched[u.ID] = time.Now()
}

func (ix *Index) putUserLocked(u *User) {
	if old, ok := ix.users[u.ID]; ok {
		ix.unindexUserLocked(old)
	} else {
		i, _ := slices.BinarySearch(ix.userOrder, u.ID)
		ix.userOrder = slices.Insert(ix.userOrder, i, u.ID)
	}
	ix.users[u.ID] = u
	if u.UserName != "" {
		ix.byUserName[strings.ToLower(u.UserName)] = u.ID
	}
	if u.DomoEmail != "" {
		ix.byEmail[strings.ToLower(u.DomoEmail)] = u.ID
	}
	if u.ExternalID != "" {
		ix.byExtID[u.ExternalID] = appendUnique(ix.byExtID[u.ExternalID], u.ID)
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			k := strings.ToLower(e.Value)
			ix.byAddress[k] = appendUnique(ix.byAddress[k], u.ID)
		}
	}
}

func (ix *Index) unindexUserLocked(u *User) {
	if k := strings.ToLower(u.UserName); ix.byUserName[k] == u.ID {
		delete(ix.byUserName, k)
	}
	if k := strings.ToLower(u.DomoEmail); ix.byEmail[k] == u.ID {
		delete(ix.byEmail, k)
	}
	if u.ExternalID != "" {
		deleteFrom(ix.byExtID, u.ExternalID, u.ID)
	}
	for _, e := range u.Emails {
		deleteFrom(ix.byAddress, strings.ToLower(e.Value), u.ID)
	}
}

// DeleteUser removes a user and its memberships.
func (ix *Index) DeleteUser(id int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.touched[id] = time.Now()
	u, ok := ix.users[id]
	if !ok {
		return
	}
	ix.unindexUserLocked(u)
	delete(ix.users, id)
	if i, found := slices.BinarySearch(ix.userOrder, id); found {
		ix.userOrder = slices.Delete(ix.userOrder, i, i+1)
	}
	for _, gid := range ix.userGroups[id] {
		if g, ok := ix.groups[gid]; ok {
			ng := *g
			ng.MemberIDs = removeSorted(slices.Clone(g.MemberIDs), id)
			ix.groups[gid] = &ng
		}
	}
	delete(ix.userGroups, id)
}

// User returns the user with the given id.
func (ix *Index) User(id int64) (*User, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	u, ok := ix.users[id]
	return u, ok
}

// UserByUserName finds a user by userName, case-insensitively.
func (ix *Index) UserByUserName(name string) (*User, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id, ok := ix.byUserName[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return ix.users[id], true
}

// UserByDomoEmail finds a user by Domo email, case-insensitively.
func (ix *Index) UserByDomoEmail(email string) (*User, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id, ok := ix.byEmail[strings.ToLower(email)]
	if !ok {
		return nil, false
	}
	return ix.users[id], true
}

// LookupUsers returns the users an indexed equality selects, in listing order: key is "id",
// "username", "externalid" or "emails.value". Matching is as loose as the attribute allows
// (case-insensitive for userName and emails); callers apply the exact filter afterwards.
func (ix *Index) LookupUsers(key, value string) []*User {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var ids []int64
	switch key {
	case "id":
		if id, err := strconv.ParseInt(value, 10, 64); err == nil {
			ids = []int64{id}
		}
	case "username":
		lv := strings.ToLower(value)
		if id, ok := ix.byUserName[lv]; ok {
			ids = append(ids, id)
		}
	case "externalid":
		ids = ix.byExtID[value]
	case "emails.value":
		ids = ix.byAddress[strings.ToLower(value)]
	}
	out := make([]*User, 0, len(ids))
	for _, id := range ids {
		if u, ok := ix.users[id]; ok {
			out = append(out, u)
		}
	}
	return out
}

// Users calls fn for every user in listing order until fn returns false. The read lock is
// held only to copy the order, so fn may take its time.
func (ix *Index) Users(fn func(*User) bool) {
	ix.mu.RLock()
	users := make([]*User, len(ix.userOrder))
	for i, id := range ix.userOrder {
		users[i] = ix.users[id]
	}
	ix.mu.RUnlock()
	for _, u := range users {
		if !fn(u) {
			return
		}
	}
}

// UserPage returns users [offset, offset+limit) in listing order and the total count, without
// scanning: an unfiltered list is a slice of the order.
func (ix *Index) UserPage(offset, limit int) ([]*User, int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total := len(ix.userOrder)
	if offset >= total || limit <= 0 {
		return nil, total
	}
	end := min(offset+limit, total)
	out := make([]*User, 0, end-offset)
	for _, id := range ix.userOrder[offset:end] {
		out = append(out, ix.users[id])
	}
	return out, total
}

// UserCount is the number of users.
func (ix *Index) UserCount() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.users)
}

// ---- groups ----

// PutGroup indexes a group and its membership.
func (ix *Index) PutGroup(g Group) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.putGroupLocked(&g)
	ix.gtouched[g.ID] = time.Now()
}

func (ix *Index) putGroupLocked(g *Group) {
	// The caller's slice is never kept: entries must not change under readers.
	g.MemberIDs = slices.Compact(slices.Sorted(slices.Values(g.MemberIDs)))
	if old, ok := ix.groups[g.ID]; ok {
		ix.unindexGroupLocked(old)
	} else {
		i, _ := slices.BinarySearch(ix.groupOrder, g.ID)
		ix.groupOrder = slices.Insert(ix.groupOrder, i, g.ID)
	}
	ix.groups[g.ID] = g
	ix.byGroupKey[strings.ToLower(g.DisplayName)] = g.ID
	if g.ExternalID != "" {
		ix.byGroupExt[g.ExternalID] = appendUnique(ix.byGroupExt[g.ExternalID], g.ID)
	}
	for _, uid := range g.MemberIDs {
		ix.userGroups[uid] = appendUnique(ix.userGroups[uid], g.ID)
	}
}

func (ix *Index) unindexGroupLocked(g *Group) {
	if k := strings.ToLower(g.DisplayName); ix.byGroupKey[k] == g.ID {
		delete(ix.byGroupKey, k)
	}
	if g.ExternalID != "" {
		deleteFrom(ix.byGroupExt, g.ExternalID, g.ID)
	}
	for _, uid := range g.MemberIDs {
		deleteFrom(ix.userGroups, uid, g.ID)
	}
}

// DeleteGroup removes a group.
func (ix *Index) DeleteGroup(id int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.gtouched[id] = time.Now()
	g, ok := ix.groups[id]
	if !ok {
		return
	}
	ix.unindexGroupLocked(g)
	delete(ix.groups, id)
	if i, found := slices.BinarySearch(ix.groupOrder, id); found {
		ix.groupOrder = slices.Delete(ix.groupOrder, i, i+1)
	}
}

// Group returns the group with the given id.
func (ix *Index) Group(id int64) (*Group, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	g, ok := ix.groups[id]
	return g, ok
}

// GroupByName finds a group by displayName, case-insensitively.
func (ix *Index) GroupByName(name string) (*Group, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id, ok := ix.byGroupKey[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return ix.groups[id], true
}

// LookupGroups is LookupUsers for groups: key "id", "displayname" or "externalid".
func (ix *Index) LookupGroups(key, value string) []*Group {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var ids []int64
	switch key {
	case "id":
		if id, err := strconv.ParseInt(value, 10, 64); err == nil {
			ids = []int64{id}
		}
	case "displayname":
		if id, ok := ix.byGroupKey[strings.ToLower(value)]; ok {
			ids = []int64{id}
		}
	case "externalid":
		ids = ix.byGroupExt[value]
	}
	out := make([]*Group, 0, len(ids))
	for _, id := range ids {
		if g, ok := ix.groups[id]; ok {
			out = append(out, g)
		}
	}
	return out
}

// Groups calls fn for every group in listing order until fn returns false.
func (ix *Index) Groups(fn func(*Group) bool) {
	ix.mu.RLock()
	groups := make([]*Group, len(ix.groupOrder))
	for i, id := range ix.groupOrder {
		groups[i] = ix.groups[id]
	}
	ix.mu.RUnlock()
	for _, g := range groups {
		if !fn(g) {
			return
		}
	}
}

// UserGroups returns the ids of the groups a user belongs to, ascending.
func (ix *Index) UserGroups(userID int64) []int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := slices.Clone(ix.userGroups[userID])
	slices.Sort(out)
	return out
}

// SetMembership records that userID joined (in=true) or left groupID, after the bridge
// changed it in Domo.
func (ix *Index) SetMembership(groupID, userID int64, in bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	g, ok := ix.groups[groupID]
	if !ok {
		return
	}
	ng := *g
	ids := slices.Clone(g.MemberIDs)
	if in {
		if i, found := slices.BinarySearch(ids, userID); !found {
			ids = slices.Insert(ids, i, userID)
		}
		ix.userGroups[userID] = appendUnique(ix.userGroups[userID], groupID)
	} else {
		ids = removeSorted(ids, userID)
		deleteFrom(ix.userGroups, userID, groupID)
	}
	ng.MemberIDs = ids
	ix.groups[groupID] = &ng
	ix.gtouched[groupID] = time.Now()
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
