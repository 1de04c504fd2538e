package bridge

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// Groups through the instance APIs: a group with all its member ids in one call (content
// read), and membership changes of many users per call (bulk membership). A change of N
// members costs the group's read, ceil(N / batch) writes and one read that settles what Domo
// holds: ceil(N / batch) + 2 calls, where v1 needs N + 2. Every failure the instance API
// cannot explain is retried through v1, member by member, so what v1 can do never fails
// because the instance API did.

// bulkMinMembers is the smallest change sent in bulk: a bulk change costs its writes plus the
// read that settles it, so one or two members are cheaper through v1, one call each.
const bulkMinMembers = 3

// changeMembers sends membership changes: in bulk through the content API when it can and the
// change is large enough to gain by it, else one v1 call per member. Every group change goes
// through here.
func (b *Bridge) changeMembers(ctx context.Context, gid int64, add, remove []int64) *memberResult {
	if len(add)+len(remove) >= bulkMinMembers && b.can(domo.CapBulkMembership) {
		return b.changeMembersBulk(ctx, gid, add, remove)
	}
	return b.changeMembersV1(ctx, gid, add, remove)
}

// getGroup reads a group: through the content API when it can, with every member id, so that
// a group's members cost no further call; else through v1.
func (b *Bridge) getGroup(ctx context.Context, id int64) (domo.Group, error) {
	if b.can(domo.CapGroupRead) {
		g, err := b.cfg.Instance.Group(ctx, id)
		switch {
		case err == nil:
			return g, nil
		case isNotFound(err):
			return domo.Group{}, err
		case isCapability(err):
			b.fellBack(domo.CapGroupRead, "content.groups.get", err)
		}
	}
	return b.domo.GetGroup(ctx, id)
}

// membersOf lists the members of a group Domo has just listed: one content read when it can
// (none for an empty group), else v1's pages of 500.
func (b *Bridge) membersOf(ctx context.Context, g domo.Group) ([]int64, error) {
	if g.MemberCount != nil && *g.MemberCount == 0 && g.ID > 0 {
		return []int64{}, nil
	}
	if b.can(domo.CapGroupRead) {
		full, err := b.cfg.Instance.Group(ctx, g.ID)
		if err == nil {
			return idsOf(full.UserIDs), nil
		}
		if isCapability(err) {
			b.fellBack(domo.CapGroupRead, "content.groups.get", err)
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return b.domo.MembersOf(ctx, g)
}

// memberIDsNow reads a group's member ids after a change, to settle what Domo holds.
func (b *Bridge) memberIDsNow(ctx context.Context, gid int64) ([]int64, error) {
	if b.can(domo.CapGroupRead) {
		g, err := b.cfg.Instance.Group(ctx, gid)
		if err == nil {
			return idsOf(g.UserIDs), nil
		}
		if isCapability(err) {
			b.fellBack(domo.CapGroupRead, "content.groups.get", err)
		}
	}
	return b.domo.GroupMembers(ctx, gid)
}

func idsOf(ids []domo.Int) []int64 {
	out := make([]int64, len(ids))
	for i, u := range ids {
		out[i] = int64(u)
	}
	return out
}

// changeMembersBulk is changeMembers through the content API: batches of the instance's batch
// size, one audit event per batch, then one read that settles what Domo holds. What the bulk
// calls leave undone for a reason v1 may overcome (the capability gone, a 404 that may name
// the group or a user, a user Domo refused in a batch) goes through v1, one call per member;
// what Domo throttled or left in doubt is reported as v1's failures are.
func (b *Bridge) changeMembersBulk(ctx context.Context, gid int64, add, remove []int64) *memberResult {
	in := b.cfg.Instance
	res := &memberResult{gid: gid, total: len(add) + len(remove), applied: make(map[int64]bool, len(add)+len(remove))}
	var retryAdd, retryRemove []int64 // for v1
	sent := false
	run := func(ids []int64, adding bool) {
		for start := 0; start < len(ids); {
			if ctx.Err() != nil {
				res.unsent += len(ids) - start
				return
			}
			size := min(in.BatchSize(), len(ids)-start)
			batch := ids[start : start+size]
			start += size
			var r domo.BulkResult
			var call string
			if adding {
				r = in.AddMembers(ctx, gid, batch)
				call = fmt.Sprintf("PUT /api/content/v2/groups/%d/user", gid)
			} else {
				r = in.RemoveMembers(ctx, gid, batch)
				call = "PUT /api/content/v2/groups/access"
			}
			b.audit(ctx, kindGroup, gid, call+" users="+joinIDs(batch), []string{"members"}, r.Err)
			sent = sent || len(r.Applied) > 0
			for _, u := range r.Applied {
				res.applied[u] = true
			}
			v1 := refusedIDs(r.Refused)
			switch {
			case r.Err == nil:
			case isCapability(r.Err) || isNotFound(r.Err):
				if isCapability(r.Err) {
					b.fellBack(domo.CapBulkMembership, call, r.Err)
				}
				v1 = append(v1, r.Pending...)
				// Later batches go through v1 too: the capability is gone, or the 404 needs
				// v1's per-member answers.
				v1 = append(v1, ids[start:]...)
				start = len(ids)
			default:
				for _, u := range r.Pending {
					res.failed = append(res.failed, memberChange{uid: u, add: adding, err: r.Err})
				}
				if !definite(r.Err) {
					res.uncertain = true
				}
			}
			if adding {
				retryAdd = append(retryAdd, v1...)
			} else {
				retryRemove = append(retryRemove, v1...)
			}
		}
	}
	run(add, true)
	run(remove, false)

	if sent {
		// Domo's true answer: a bulk call may apply part of a batch (a user it skips), and one
		// read of the group says what it holds.
		if ids, err := b.memberIDsNow(ctx, gid); err == nil {
			b.settleBulk(res, ids, add, remove, &retryAdd, &retryRemove)
		} else if !isNotFound(err) {
			res.uncertain = true
		}
	}
	if len(retryAdd)+len(retryRemove) > 0 {
		slices.Sort(retryAdd)
		slices.Sort(retryRemove)
		v1 := b.changeMembersV1(ctx, gid, retryAdd, retryRemove)
		for u := range v1.applied {
			res.applied[u] = true
		}
		res.failed = append(res.failed, v1.failed...)
		res.gone = append(res.gone, v1.gone...)
		res.unsent += v1.unsent
		res.uncertain = res.uncertain || v1.uncertain
		res.groupGone = v1.groupGone
	}
	return res
}

// settleBulk corrects res by the members Domo holds after the bulk calls: an add it confirmed
// but does not hold goes to v1 (which tells why), a failed one it holds is applied, and
// likewise for removals.
func (b *Bridge) settleBulk(res *memberResult, members, add, remove []int64, retryAdd, retryRemove *[]int64) {
	in := make(map[int64]bool, len(members))
	for _, id := range members {
		in[id] = true
	}
	for _, u := range add {
		if res.applied[u] && !in[u] {
			delete(res.applied, u)
			*retryAdd = append(*retryAdd, u)
		}
	}
	for _, u := range remove {
		if res.applied[u] && in[u] {
			delete(res.applied, u)
			*retryRemove = append(*retryRemove, u)
		}
	}
	kept := res.failed[:0]
	for _, f := range res.failed {
		if in[f.uid] == f.add {
			res.applied[f.uid] = true
			continue
		}
		kept = append(kept, f)
	}
	res.failed = kept
	res.uncertain = false
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

func refusedIDs(m map[int64]error) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
