package bridge

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
)

// Kinds of drift: what changed in Domo behind the bridge's back. Each is one value of the
// kind label of scimbridge_drift_resources.
const (
	DriftUnmanagedUsers  = "unmanaged_users"  // Domo users SCIM does not manage (the bridge never wrote them)
	DriftUnmanagedGroups = "unmanaged_groups" // Domo groups SCIM does not manage
	DriftChangedUsers    = "changed_users"    // managed users with a Domo field changed since the bridge's last write
	DriftOrphanedShadows = "orphaned_shadows" // stored records whose Domo user or group is gone
	DriftForeignMembers  = "foreign_members"  // group members added in Domo, not by the IdP
)

// DriftKinds lists every kind of drift, in the order reports show them.
var DriftKinds = []string{DriftUnmanagedUsers, DriftUnmanagedGroups, DriftChangedUsers, DriftOrphanedShadows, DriftForeignMembers}

// DriftListMax bounds each list of a report; the counts are always complete. A tenant of
// 100,000 users that SCIM manages a few of has 100,000 unmanaged users, which nobody reads one
// by one.
const DriftListMax = 2000

// DriftReport says what changed in Domo behind the bridge's back, as of an index load: it is
// computed from the load's own reads, so it costs Domo no call. Field values are Domo's and the
// IdP's data (names, emails, titles), never secrets.
type DriftReport struct {
	At         time.Time      `json:"at"` // when the load it comes from began
	DomoUsers  int            `json:"domoUsers"`
	DomoGroups int            `json:"domoGroups"`
	Counts     map[string]int `json:"counts"` // by kind, every kind present

	UnmanagedUsers  []DriftUser      `json:"unmanagedUsers"`
	UnmanagedGroups []DriftGroup     `json:"unmanagedGroups"`
	ChangedUsers    []ChangedUser    `json:"changedUsers"`
	OrphanedShadows []OrphanedShadow `json:"orphanedShadows"`
	ForeignMembers  []ForeignMembers `json:"foreignMembers"`
	// Truncated: a list was cut at DriftListMax entries.
	Truncated bool `json:"truncated,omitempty"`
}

// DriftUser names a Domo user.
type DriftUser struct {
	ID    int64  `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// DriftGroup names a Domo group.
type DriftGroup struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// ChangedUser is a managed user whose Domo fields someone changed after the bridge's last
// write, field by field.
type ChangedUser struct {
	ID     int64                 `json:"id"`
	Email  string                `json:"email"`
	Fields []mapping.FieldChange `json:"fields"`
}

// OrphanedShadow is a record the bridge keeps for a Domo user or group that is gone.
type OrphanedShadow struct {
	Resource   string `json:"resource"` // "User" or "Group"
	ID         int64  `json:"id"`
	ExternalID string `json:"externalId,omitempty"`
}

// ForeignMembers are the members of a group that were added in Domo, not by the IdP.
type ForeignMembers struct {
	GroupID   int64       `json:"groupId"`
	GroupName string      `json:"groupName"`
	Members   []DriftUser `json:"members"`
}

// LastDrift returns the report of the last index load, nil before the first. Callers must not
// change it: it is shared.
func (b *Bridge) LastDrift() *DriftReport { return b.drift.Load() }

// Drift implements scim.Admin: the report of the last index load, for /admin/v1/drift; ok is
// false before the first load has finished.
func (b *Bridge) Drift(context.Context) (report any, ok bool) {
	r := b.drift.Load()
	return r, r != nil
}

// computeDrift builds the report from what a load read: rows (Domo's users, protected ones
// left out), the stored user records and the groups with their shadows and members.
func (b *Bridge) computeDrift(rows []domo.User, records map[int64]*userRecord, gr *groupReads) *DriftReport {
	r := &DriftReport{DomoUsers: len(rows), DomoGroups: len(gr.groups), Counts: map[string]int{}}
	for _, k := range DriftKinds {
		r.Counts[k] = 0
	}
	listed := mapping.ListedFieldsOf(rows)
	inDomo := make(map[int64]*domo.User, len(rows))
	for i := range rows {
		d := &rows[i]
		inDomo[d.ID] = d
		rec := records[d.ID]
		switch {
		case rec == nil:
			r.Counts[DriftUnmanagedUsers]++
			r.UnmanagedUsers = appendCapped(r, r.UnmanagedUsers, DriftUser{ID: d.ID, Email: d.Email, Name: d.Name})
		case rec.Hidden:
			// The IdP deleted it; the bridge keeps it only to revive it.
		default:
			if fields := mapping.DomoChanges(*d, &rec.Shadow, listed); len(fields) > 0 {
				r.Counts[DriftChangedUsers]++
				r.ChangedUsers = appendCapped(r, r.ChangedUsers, ChangedUser{ID: d.ID, Email: d.Email, Fields: fields})
			}
		}
	}
	for id, rec := range records {
		if inDomo[id] == nil && !b.isProtected(id, "") {
			r.Counts[DriftOrphanedShadows]++
			r.OrphanedShadows = appendCapped(r, r.OrphanedShadows, OrphanedShadow{Resource: kindUser, ID: id, ExternalID: rec.Shadow.ExternalID})
		}
	}
	groupIDs := make(map[int64]bool, len(gr.groups))
	for i, g := range gr.groups {
		groupIDs[g.ID] = true
		if b.isDefault(g) {
			continue // Domo's own group, which every user joins
		}
		sh := gr.shadows[g.ID]
		if sh == nil {
			r.Counts[DriftUnmanagedGroups]++
			r.UnmanagedGroups = appendCapped(r, r.UnmanagedGroups, DriftGroup{ID: g.ID, Name: g.Name})
			continue
		}
		var foreign []DriftUser
		for _, id := range mapping.ForeignMembers(sh, gr.members[i]) {
			if b.isProtected(id, "") {
				continue
			}
			u := DriftUser{ID: id}
			if d := inDomo[id]; d != nil {
				u.Email, u.Name = d.Email, d.Name
			}
			foreign = append(foreign, u)
		}
		if len(foreign) > 0 {
			r.Counts[DriftForeignMembers] += len(foreign)
			r.ForeignMembers = appendCapped(r, r.ForeignMembers, ForeignMembers{GroupID: g.ID, GroupName: g.Name, Members: foreign})
		}
	}
	for id, sh := range gr.shadows {
		if !groupIDs[id] {
			r.Counts[DriftOrphanedShadows]++
			r.OrphanedShadows = appendCapped(r, r.OrphanedShadows, OrphanedShadow{Resource: kindGroup, ID: id, ExternalID: sh.ExternalID})
		}
	}
	slices.SortFunc(r.OrphanedShadows, func(a, b OrphanedShadow) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(r.UnmanagedGroups, func(a, b DriftGroup) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(r.ForeignMembers, func(a, b ForeignMembers) int { return cmp.Compare(a.GroupID, b.GroupID) })
	return r
}

func appendCapped[T any](r *DriftReport, list []T, v T) []T {
	if len(list) >= DriftListMax {
		r.Truncated = true
		return list
	}
	return append(list, v)
}

// publishDrift settles a report against what the bridge wrote while the load read Domo, and
// makes it the current one. A load reads Domo and the store at once, so a user or group the
// bridge wrote meanwhile may look changed, unmanaged or orphaned when it is not: every listed
// finding is checked again against the store, and one whose record changed since the load
// began is left to the next load. Only the store is read; Domo is not called.
func (b *Bridge) publishDrift(ctx context.Context, r *DriftReport, started time.Time) {
	if r == nil {
		return
	}
	r.At = started
	since := func(t time.Time) bool { return !t.IsZero() && !t.Before(started) }
	userRec := func(id int64) (*userRecord, bool) {
		rec, ok, err := b.loadUserRecord(ctx, id)
		return rec, ok && err == nil
	}
	groupRec := func(id int64) (*groupRecord, bool) {
		rec, err := b.loadGroupRecord(ctx, id)
		return rec, err == nil && rec != nil
	}
	r.UnmanagedUsers = settle(r, DriftUnmanagedUsers, r.UnmanagedUsers, func(u DriftUser) int {
		if _, ok := userRec(u.ID); ok {
			return 1 // written while the load read
		}
		if _, ok := b.index.User(u.ID); !ok {
			return 1 // deleted while the load read
		}
		return 0
	})
	r.ChangedUsers = settle(r, DriftChangedUsers, r.ChangedUsers, func(c ChangedUser) int {
		if rec, ok := userRec(c.ID); !ok || rec.Deleted || since(rec.Shadow.Modified) {
			return 1
		}
		return 0
	})
	r.UnmanagedGroups = settle(r, DriftUnmanagedGroups, r.UnmanagedGroups, func(g DriftGroup) int {
		if _, ok := groupRec(g.ID); ok {
			return 1
		}
		if _, ok := b.index.Group(g.ID); !ok {
			return 1
		}
		return 0
	})
	r.OrphanedShadows = settle(r, DriftOrphanedShadows, r.OrphanedShadows, func(o OrphanedShadow) int {
		if o.Resource == kindUser {
			if rec, ok := userRec(o.ID); !ok || rec.Deleted || since(rec.Shadow.Modified) {
				return 1
			}
			return 0
		}
		if rec, ok := groupRec(o.ID); !ok || since(rec.LastModified) {
			return 1
		}
		return 0
	})
	r.ForeignMembers = settle(r, DriftForeignMembers, r.ForeignMembers, func(f ForeignMembers) int {
		if rec, ok := groupRec(f.GroupID); !ok || since(rec.LastModified) {
			return len(f.Members)
		}
		return 0
	})
	b.drift.Store(r)
	ev := b.log.Info().Time("as_of", started)
	for _, k := range DriftKinds {
		ev = ev.Int(k, r.Counts[k])
	}
	ev.Msg("drift report")
}

// settle drops the entries of list for which drop returns a count above zero, taking that
// count off the kind's.
func settle[T any](r *DriftReport, kind string, list []T, drop func(T) int) []T {
	return slices.DeleteFunc(list, func(v T) bool {
		n := drop(v)
		r.Counts[kind] -= n
		return n > 0
	})
}
