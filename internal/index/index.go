package index

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Index is the in-memory view of the tenant. All methods are safe for concurrent use.
type Index struct {
	mu sync.RWMutex
	st *state

	// Writes are numbered: seq counts them, and touched remembers the number of the last write
	// to each user and group. A full load reads Domo over seconds or minutes, so an entry it
	// read may predate a write the bridge made meanwhile; Replace keeps such writes.
	seq      uint64
	touched  map[int64]uint64
	gtouched map[int64]uint64

	loaded       bool
	fromSnapshot bool
	loading      bool
	loadedAt     time.Time
	loadTook     time.Duration
	lastError    string
	lastErrorAt  time.Time
	changed      chan struct{} // closed when a load ends or a snapshot is restored
}

// state is what a full load replaces at once.
type state struct {
	users      map[int64]*User
	order      []*User       // ascending id: the listing order
	byUserName keyMap[*User] // foldKey(UserName)
	byEmail    keyMap[*User] // foldKey(DomoEmail), only where it differs from foldKey(UserName)
	byExtID    keyMap[*User] // ExternalID as is: externalId is case-exact
	byAddress  keyMap[*User] // foldKey of emails[].value, only where it differs from foldKey(UserName)

	groups     map[int64]*Group
	groupOrder []*Group
	byGroupKey keyMap[*Group] // foldKey(DisplayName)
	byGroupExt keyMap[*Group]
	userGroups map[int64][]int64 // user id -> ids of the groups whose member lists hold it
}

func newState(users, groups int) *state {
	return &state{
		users:      make(map[int64]*User, users),
		byUserName: newKeyMap[*User](users),
		byEmail:    newKeyMap[*User](0),
		byExtID:    newKeyMap[*User](users),
		byAddress:  newKeyMap[*User](0),
		groups:     make(map[int64]*Group, groups),
		byGroupKey: newKeyMap[*Group](groups),
		byGroupExt: newKeyMap[*Group](0),
		userGroups: map[int64][]int64{},
	}
}

// New returns an empty, not yet loaded index.
func New() *Index {
	return &Index{st: newState(0, 0), touched: map[int64]uint64{}, gtouched: map[int64]uint64{}}
}

// Snapshot is the content of the index: every user and group with its members, and when it
// was read from Domo.
type Snapshot struct {
	Users    []User
	Groups   []Group
	LoadedAt time.Time     // when the load that read it began
	LoadTook time.Duration // how long that load took
}

// Stats describes the index for /readyz and metrics.
type Stats struct {
	Loaded       bool // the index holds a full load or a stored snapshot, and can answer
	FromSnapshot bool // what it holds came from the stored snapshot; no load from Domo has finished since
	Loading      bool // a full load is running
	Users        int
	Groups       int
	LoadedAt     time.Time     // when the data it holds was read from Domo
	LoadTook     time.Duration // how long that load took
	LastError    string        // why the last load failed, "" when it succeeded
	LastErrorAt  time.Time
}

// Stats reports size and age.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{
		Loaded: ix.loaded, FromSnapshot: ix.fromSnapshot, Loading: ix.loading,
		Users: len(ix.st.users), Groups: len(ix.st.groups),
		LoadedAt: ix.loadedAt, LoadTook: ix.loadTook, LastError: ix.lastError, LastErrorAt: ix.lastErrorAt,
	}
}

// Load is one full load in progress, from BeginLoad to Replace or Fail.
type Load struct {
	ix   *Index
	mark uint64
}

// BeginLoad starts a full load; ok is false while another one runs, because a second load at
// the same time would only repeat the first one's Domo calls. Exactly one of Replace and Fail
// must end the load.
func (ix *Index) BeginLoad() (l *Load, ok bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.loading {
		return nil, false
	}
	ix.loading = true
	return &Load{ix: ix, mark: ix.seq}, true
}

// Fail ends a load that could not finish; the index keeps serving what it holds.
func (l *Load) Fail(err error) {
	ix := l.ix
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.loading = false
	if err != nil {
		ix.lastError, ix.lastErrorAt = err.Error(), time.Now()
	}
	ix.signal()
}

// Replace ends the load by installing s in place of the index's content. Users and groups the
// bridge wrote or deleted after BeginLoad keep their written state, because the load may have
// read them before the write. s is consumed: its entries become the index's.
func (l *Load) Replace(s *Snapshot) {
	ix := l.ix
	next := build(s)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.install(next, l.mark)
	ix.loading = false
	ix.fromSnapshot = false
	ix.loadedAt, ix.loadTook = s.LoadedAt, s.LoadTook
	ix.lastError, ix.lastErrorAt = "", time.Time{}
	ix.signal()
}

// Restore installs a stored snapshot, so that a restart can answer before its first load from
// Domo finishes. It does nothing, and returns false, once a load has been installed: a
// snapshot is never fresher than a load.
func (ix *Index) Restore(s *Snapshot) bool {
	next := build(s)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.loaded && !ix.fromSnapshot {
		return false
	}
	ix.install(next, 0)
	ix.fromSnapshot = true
	ix.loadedAt, ix.loadTook = s.LoadedAt, s.LoadTook
	ix.signal()
	return true
}

// Changed returns a channel that is closed when a load ends (installed or failed) or a
// snapshot is restored, so that a caller can wait for readiness without polling.
func (ix *Index) Changed() <-chan struct{} {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.changed == nil {
		ix.changed = make(chan struct{})
	}
	return ix.changed
}

// signal wakes the waiters of Changed. The caller holds mu.
func (ix *Index) signal() {
	if ix.changed != nil {
		close(ix.changed)
		ix.changed = nil
	}
}

// install swaps in next, carrying over every write numbered after mark. The caller holds mu.
func (ix *Index) install(next *state, mark uint64) {
	prev := ix.st
	for id, n := range ix.touched {
		if n <= mark {
			delete(ix.touched, id) // the new content is at least as new
			continue
		}
		if u, ok := prev.users[id]; ok {
			next.putUser(u)
		} else {
			next.deleteUser(id)
		}
	}
	for id, n := range ix.gtouched {
		if n <= mark {
			delete(ix.gtouched, id)
			continue
		}
		if g, ok := prev.groups[id]; ok {
			next.putGroup(g)
		} else {
			next.deleteGroup(id)
		}
	}
	ix.st = next
	ix.loaded = true
}

// build indexes a snapshot in bulk: sorting once is what makes a load of 100,000 users take
// milliseconds here rather than a quadratic series of inserts.
func build(s *Snapshot) *state {
	users := s.Users
	if cap(users) > len(users)+len(users)/8 {
		users = slices.Clone(users) // the index keeps the array: no slack
	}
	slices.SortStableFunc(users, func(a, b User) int { return cmp.Compare(a.ID, b.ID) })
	users = compactByID(users, func(u *User) int64 { return u.ID })
	pack(users)
	st := newState(len(users), len(s.Groups))
	st.order = make([]*User, len(users))
	for i := range users {
		u := &users[i]
		st.order[i] = u
		st.users[u.ID] = u
		st.indexUser(u)
	}
	groups := slices.Clone(s.Groups)
	slices.SortStableFunc(groups, func(a, b Group) int { return cmp.Compare(a.ID, b.ID) })
	groups = compactByID(groups, func(g *Group) int64 { return g.ID })
	st.groupOrder = make([]*Group, len(groups))
	for i := range groups {
		g := &groups[i]
		g.MemberIDs = sortedIDs(g.MemberIDs)
		st.groupOrder[i] = g
		st.groups[g.ID] = g
		st.indexGroup(g)
	}
	return st
}

// pack moves the users' encodings into one string, in listing order: a scan then reads
// memory in sequence instead of 100,000 scattered allocations, which on its own makes it
// several times faster, and no allocation rounds a user's size up.
func pack(users []User) {
	n := 0
	for i := range users {
		n += len(users[i].data)
	}
	var b strings.Builder
	b.Grow(n)
	for i := range users {
		b.WriteString(users[i].data)
	}
	arena, off := b.String(), 0
	for i := range users {
		u := &users[i]
		data := arena[off : off+len(u.data)]
		off += len(u.data)
		moved, err := userFromData(u.ID, data)
		if err != nil {
			panic("index: a user's encoding stopped decoding: " + err.Error()) // entries are checked when built
		}
		*u = moved
	}
}

// compactByID keeps the last of each run of equal ids in a sorted slice: a listing that saw a
// user twice (Domo's offsets shift under concurrent changes) keeps what it read last.
func compactByID[T any](s []T, id func(*T) int64) []T {
	out := s[:0]
	for i := range s {
		if len(out) > 0 && id(&out[len(out)-1]) == id(&s[i]) {
			out[len(out)-1] = s[i]
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// Export copies the index's content, for storing it so that a restart can serve at once.
// Entries are shared, not copied: they are immutable.
func (ix *Index) Export() *Snapshot {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := &Snapshot{Users: make([]User, len(ix.st.order)), Groups: make([]Group, len(ix.st.groupOrder)),
		LoadedAt: ix.loadedAt, LoadTook: ix.loadTook}
	for i, u := range ix.st.order {
		s.Users[i] = *u
	}
	for i, g := range ix.st.groupOrder {
		s.Groups[i] = *g
	}
	return s
}

// touch numbers a write to user id. The caller holds mu.
func (ix *Index) touch(id int64) {
	ix.seq++
	ix.touched[id] = ix.seq
}

func (ix *Index) gtouch(id int64) {
	ix.seq++
	ix.gtouched[id] = ix.seq
}
