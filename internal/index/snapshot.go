package index

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// snapshotMagic starts every stored snapshot; the byte after it is the format version, which
// changes whenever the encoding of users (codec.go) or of this file does.
const (
	snapshotMagic   = "scimbridge-index\x00"
	snapshotVersion = 2 // 2: primary false kept, address flags a uvarint
)

// ErrSnapshotFormat reports a snapshot this version cannot read: written by another version,
// or damaged. The caller loads from Domo instead.
var ErrSnapshotFormat = errors.New("index snapshot: unknown format")

// MarshalBinary encodes the snapshot compactly: users as their encoded attributes, so that
// storing 100,000 users takes some 15 MB and milliseconds.
func (s *Snapshot) MarshalBinary() ([]byte, error) {
	n := len(snapshotMagic) + 32
	for i := range s.Users {
		n += len(s.Users[i].data) + 8
	}
	e := encoder{buf: make([]byte, 0, n)}
	e.buf = append(e.buf, snapshotMagic...)
	e.buf = append(e.buf, snapshotVersion)
	e.maybeTime(s.LoadedAt)
	e.uvarint(uint64(max(s.LoadTook, 0)))
	e.uvarint(uint64(len(s.Users)))
	for i := range s.Users {
		u := &s.Users[i]
		e.varint(u.ID)
		e.uvarint(uint64(len(u.data)))
		e.buf = append(e.buf, u.data...)
	}
	e.uvarint(uint64(len(s.Groups)))
	for i := range s.Groups {
		g := &s.Groups[i]
		e.varint(g.ID)
		e.raw(g.ExternalID)
		e.raw(g.DisplayName)
		var f byte
		if g.Default {
			f = 1
		}
		e.buf = append(e.buf, f)
		e.maybeTime(g.Created)
		e.maybeTime(g.LastModified)
		ids := sortedIDs(g.MemberIDs)
		e.uvarint(uint64(len(ids)))
		var prev int64
		for _, id := range ids {
			e.varint(id - prev)
			prev = id
		}
	}
	return e.buf, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote. Any fault is ErrSnapshotFormat.
func (s *Snapshot) UnmarshalBinary(data []byte) error {
	if !strings.HasPrefix(string(data), snapshotMagic) || len(data) <= len(snapshotMagic) || data[len(snapshotMagic)] != snapshotVersion {
		return ErrSnapshotFormat
	}
	// One string holds every user's attributes: each user's are a substring of it.
	d := decoder{data: string(data), pos: len(snapshotMagic) + 1}
	var out Snapshot
	out.LoadedAt = d.maybeTime()
	out.LoadTook = time.Duration(d.uvarint())
	n := d.count()
	out.Users = make([]User, 0, n)
	for range n {
		id := d.varint()
		size := d.count()
		if d.err != nil {
			break
		}
		u, err := userFromData(id, d.data[d.pos:d.pos+size])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSnapshotFormat, err)
		}
		d.pos += size
		out.Users = append(out.Users, u)
	}
	n = d.count()
	out.Groups = make([]Group, 0, n)
	for range n {
		var g Group
		g.ID = d.varint()
		g.ExternalID = strings.Clone(d.raw())
		g.DisplayName = strings.Clone(d.raw())
		g.Default = d.byte()&1 != 0
		g.Created = d.maybeTime()
		g.LastModified = d.maybeTime()
		m := d.count()
		if d.err != nil {
			break
		}
		g.MemberIDs = make([]int64, m)
		var prev int64
		for i := range g.MemberIDs {
			prev += d.varint()
			g.MemberIDs[i] = prev
		}
		out.Groups = append(out.Groups, g)
	}
	if d.err != nil || d.pos != len(d.data) {
		return fmt.Errorf("%w: damaged at byte %d", ErrSnapshotFormat, d.pos)
	}
	*s = out
	return nil
}

func (e *encoder) varint(v int64) { e.uvarint(uint64(v<<1) ^ uint64(v>>63)) }

// raw writes a string without back-references.
func (e *encoder) raw(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) maybeTime(t time.Time) {
	if t.IsZero() {
		e.buf = append(e.buf, 0)
		return
	}
	e.buf = append(e.buf, 1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

func (d *decoder) varint() int64 {
	z := d.uvarint()
	return int64(z>>1) ^ -int64(z&1)
}

func (d *decoder) raw() string {
	n := d.count()
	s := d.data[d.pos : d.pos+n]
	d.pos += n
	return s
}

func (d *decoder) maybeTime() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
