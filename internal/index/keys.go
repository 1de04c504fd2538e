package index

import "slices"

// entry is what a keyMap points at.
type entry interface {
	comparable
	entryID() int64
}

func (u *User) entryID() int64  { return u.ID }
func (g *Group) entryID() int64 { return g.ID }

// keyMap maps a key to the entries holding it. Nearly every key is held by one entry, which
// costs one map slot; a key several entries share (an externalId reused across IdPs, two
// userNames that differ only in case) spills into more, so no entry is ever shadowed.
type keyMap[E entry] struct {
	one  map[string]E
	more map[string][]E // entries beyond one[k], in the order they came
}

func newKeyMap[E entry](n int) keyMap[E] {
	return keyMap[E]{one: make(map[string]E, n), more: map[string][]E{}}
}

// add records that e holds k, replacing an earlier version of the same entry.
func (m *keyMap[E]) add(k string, e E) {
	first, ok := m.one[k]
	switch {
	case !ok:
		m.one[k] = e
		return
	case first.entryID() == e.entryID():
		m.one[k] = e
		return
	}
	rest := m.more[k]
	for i, x := range rest {
		if x.entryID() == e.entryID() {
			rest[i] = e
			return
		}
	}
	m.more[k] = append(rest, e)
}

// remove forgets that entry id holds k.
func (m *keyMap[E]) remove(k string, id int64) {
	first, ok := m.one[k]
	if !ok {
		return
	}
	rest := m.more[k]
	if first.entryID() == id {
		if len(rest) == 0 {
			delete(m.one, k)
			return
		}
		m.one[k] = rest[0]
		rest = rest[1:]
	} else {
		i := slices.IndexFunc(rest, func(x E) bool { return x.entryID() == id })
		if i < 0 {
			return
		}
		rest = slices.Delete(slices.Clone(rest), i, i+1)
	}
	if len(rest) == 0 {
		delete(m.more, k)
	} else {
		m.more[k] = rest
	}
}

// appendTo appends the entries holding k to dst.
func (m *keyMap[E]) appendTo(dst []E, k string) []E {
	first, ok := m.one[k]
	if !ok {
		return dst
	}
	dst = append(dst, first)
	return append(dst, m.more[k]...)
}

// first returns the entry with the lowest id among those holding k.
func (m *keyMap[E]) first(k string) (E, bool) {
	e, ok := m.one[k]
	for _, x := range m.more[k] {
		if x.entryID() < e.entryID() {
			e = x
		}
	}
	return e, ok
}
