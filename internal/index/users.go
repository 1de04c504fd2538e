package index

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
)

// ---- state: the caller holds the index's lock ----

func (st *state) indexUser(u *User) {
	name := foldKey(u.UserName)
	if u.UserName != "" {
		st.byUserName.add(name, u)
	}
	if u.DomoEmail != "" {
		if k := foldKey(u.DomoEmail); k != name {
			st.byEmail.add(k, u)
		}
	}
	if u.ExternalID != "" {
		st.byExtID.add(u.ExternalID, u)
	}
	u.emailValues(func(v string) {
		if k := foldKey(v); k != name {
			st.byAddress.add(k, u)
		}
	})
}

func (st *state) unindexUser(u *User) {
	name := foldKey(u.UserName)
	if u.UserName != "" {
		st.byUserName.remove(name, u.ID)
	}
	if u.DomoEmail != "" {
		st.byEmail.remove(foldKey(u.DomoEmail), u.ID)
	}
	if u.ExternalID != "" {
		st.byExtID.remove(u.ExternalID, u.ID)
	}
	u.emailValues(func(v string) { st.byAddress.remove(foldKey(v), u.ID) })
}

func (st *state) putUser(u *User) {
	i, found := slices.BinarySearchFunc(st.order, u.ID, func(x *User, id int64) int { return cmp.Compare(x.ID, id) })
	if found {
		st.unindexUser(st.order[i])
		st.order[i] = u
	} else {
		st.order = slices.Insert(st.order, i, u)
	}
	st.users[u.ID] = u
	st.indexUser(u)
}

func (st *state) deleteUser(id int64) {
	u, ok := st.users[id]
	if ok {
		st.unindexUser(u)
		delete(st.users, id)
		if i, found := slices.BinarySearchFunc(st.order, id, func(x *User, id int64) int { return cmp.Compare(x.ID, id) }); found {
			st.order = slices.Delete(st.order, i, i+1)
		}
	}
	for _, gid := range st.userGroups[id] {
		if g, ok := st.groups[gid]; ok {
			ng := *g
			ng.MemberIDs = removeSorted(slices.Clone(g.MemberIDs), id)
			st.replaceGroup(&ng)
		}
	}
	delete(st.userGroups, id)
}

// emailValues calls fn with the value of each of u's emails, without decoding the rest.
func (u *User) emailValues(fn func(string)) {
	d := decoder{data: u.data}
	for !d.done() {
		t := d.tag()
		if t == tagEmails {
			for range d.count() {
				f := d.byte()
				if f&multiValue != 0 {
					fn(d.str())
				}
				for _, bit := range [...]byte{multiDisplay, multiType} {
					if f&bit != 0 {
						d.str()
					}
				}
			}
			return
		}
		d.skip(t)
	}
}

// ---- users ----

// PutUser indexes a user the bridge wrote, or read fresh from Domo.
func (ix *Index) PutUser(u User) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.putUser(&u)
	ix.touch(u.ID)
}

// DeleteUser removes a user and its memberships.
func (ix *Index) DeleteUser(id int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.st.deleteUser(id)
	ix.touch(id)
}

// User returns the user with the given id.
func (ix *Index) User(id int64) (*User, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	u, ok := ix.st.users[id]
	return u, ok
}

// UserByUserName finds a user by userName, case-insensitively as strings.EqualFold compares.
// When several users' userNames fold together, the lowest id wins.
func (ix *Index) UserByUserName(name string) (*User, bool) {
	k := foldKey(name)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.st.byUserName.first(k)
}

// UserByDomoEmail finds a user by Domo login, case-insensitively.
func (ix *Index) UserByDomoEmail(email string) (*User, bool) {
	k := foldKey(email)
	var buf [4]*User
	ix.mu.RLock()
	cands := ix.st.byEmail.appendTo(buf[:0], k)
	cands = ix.st.byUserName.appendTo(cands, k) // logins that fold like the userName are not in byEmail
	ix.mu.RUnlock()
	var best *User
	for _, u := range cands {
		if foldKey(u.DomoEmail) == k && (best == nil || u.ID < best.ID) {
			best = u
		}
	}
	return best, best != nil
}

// LookupUsers returns, in listing order, the users an indexed equality selects: key is "id",
// "username", "externalid" or "emails.value", as scim.Lookup names them. userName and emails
// match as strings.EqualFold does, and the emails lookup may return more (users whose
// userName folds like the value); callers apply the exact filter afterwards.
func (ix *Index) LookupUsers(key, value string) []*User {
	var out []*User
	switch key {
	case "id":
		id, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil
		}
		ix.mu.RLock()
		u, ok := ix.st.users[id]
		ix.mu.RUnlock()
		if ok {
			out = []*User{u}
		}
		return out
	case "username":
		k := foldKey(value)
		ix.mu.RLock()
		out = ix.st.byUserName.appendTo(out, k)
		ix.mu.RUnlock()
	case "externalid":
		ix.mu.RLock()
		out = ix.st.byExtID.appendTo(out, value)
		ix.mu.RUnlock()
	case "emails.value":
		k := foldKey(value)
		ix.mu.RLock()
		out = ix.st.byAddress.appendTo(out, k)
		out = ix.st.byUserName.appendTo(out, k)
		ix.mu.RUnlock()
	default:
		return nil
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b *User) int { return cmp.Compare(a.ID, b.ID) })
		out = slices.CompactFunc(out, func(a, b *User) bool { return a.ID == b.ID })
	}
	return out
}

// scanBuffers recycles the copies of the listing order that scans iterate over.
var scanBuffers = sync.Pool{New: func() any { return new([]*User) }}

// Users calls fn for every user in listing order until fn returns false. The lock is held only
// to copy the order, so fn may take its time, and writes made meanwhile are not seen.
func (ix *Index) Users(fn func(*User) bool) {
	bp := scanBuffers.Get().(*[]*User)
	ix.mu.RLock()
	users := append((*bp)[:0], ix.st.order...)
	ix.mu.RUnlock()
	defer func() {
		clear(users) // the pool must not keep replaced entries alive
		*bp = users[:0]
		scanBuffers.Put(bp)
	}()
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
	total := len(ix.st.order)
	offset = max(offset, 0)
	if offset >= total || limit <= 0 {
		return nil, total
	}
	return slices.Clone(ix.st.order[offset:min(offset+limit, total)]), total
}

// UsersAround returns, in listing order, up to limit users right after the user with id after
// (before it, when back is set) by id, whether or not that user still exists, with the
// position of the first one in the order and the total count, all read at one instant: the
// keyset a pagination cursor resumes from, found by binary search rather than a scan.
func (ix *Index) UsersAround(id int64, back bool, limit int) (users []*User, from, total int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	order := ix.st.order
	total = len(order)
	// i: the first user whose id is at least id (above id when going forward).
	i, found := slices.BinarySearchFunc(order, id, func(u *User, id int64) int { return cmp.Compare(u.ID, id) })
	to := i
	if !back {
		if found {
			i++
		}
		from, to = i, min(total, i+max(limit, 0))
	} else {
		from = max(0, to-max(limit, 0))
	}
	return slices.Clone(order[from:to]), from, total
}

// UserCount is the number of users.
func (ix *Index) UserCount() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.st.users)
}
