package domo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Content groups API paths.
const (
	contentGroupsPath = "/api/content/v2/groups"
	contentAccessPath = contentGroupsPath + "/access"
)

func contentGroupPath(id int64) string { return contentGroupsPath + "/" + strconv.FormatInt(id, 10) }

// ErrIncomplete: Domo's one-call group read did not carry every member id (its memberCount
// says more): the caller pages the members through v1 instead. Domo documents no paging of
// userIds, so a tenant may cut long lists.
var ErrIncomplete = errors.New("domo: group read did not list every member")

// errNoUserIDs: the one-call group read carries no userIds at all, so it can never stand for
// a full read of the members.
var errNoUserIDs = fmt.Errorf("%w: the answer carries no userIds", ErrIncomplete)

// Group reads a group with all its member ids in one call (UserIDs is complete, and
// MemberCount set). A group Domo does not have is ErrNotFound; an answer that does not list
// every member is ErrIncomplete; a capability that turned out gone is a *CapabilityError.
func (in *Instance) Group(ctx context.Context, id int64) (Group, error) {
	if id <= 0 {
		return Group{}, fmt.Errorf("read group %d: %w", id, ErrNotFound)
	}
	g, err := in.fetchGroup(ctx, "content.groups.get", id)
	if err != nil {
		if errors.Is(err, ErrIncomplete) {
			return Group{}, fmt.Errorf("read group %d: %w", id, err)
		}
		return Group{}, fmt.Errorf("read group %d: %w", id, in.classify(ctx, CapGroupRead, "content.groups.get", err, true))
	}
	return g, nil
}

func (in *Instance) fetchGroup(ctx context.Context, op string, id int64) (Group, error) {
	res, err := in.c.do(ctx, call{op: op, method: http.MethodGet, path: contentGroupPath(id), idempotent: true})
	if err != nil {
		return Group{}, err
	}
	g, err := decodeGroup(res.body)
	if err != nil {
		return Group{}, fmt.Errorf("domo %s: %w: %w", op, ErrUnavailable, err)
	}
	if g.Deleted {
		return Group{}, &APIError{Op: op, Status: http.StatusNotFound, Reason: "Not Found", Message: "group reads back deleted"}
	}
	if g.UserIDs == nil {
		return Group{}, fmt.Errorf("domo %s: %w", op, errNoUserIDs)
	}
	// Every id once, and as many as Domo counts: otherwise the list cannot be trusted.
	seen := make(map[Int]struct{}, len(g.UserIDs))
	ids := g.UserIDs[:0]
	for _, u := range g.UserIDs {
		if _, dup := seen[u]; dup || u <= 0 {
			continue
		}
		seen[u] = struct{}{}
		ids = append(ids, u)
	}
	g.UserIDs = ids
	switch {
	case g.MemberCount == nil && len(ids) == 0:
		return Group{}, fmt.Errorf("domo %s: %w: neither memberCount nor userIds", op, ErrIncomplete)
	case g.MemberCount != nil && int64(len(ids)) != *g.MemberCount:
		return Group{}, fmt.Errorf("domo %s: %w: %d ids for %d members", op, ErrIncomplete, len(ids), *g.MemberCount)
	case g.MemberCount == nil:
		n := int64(len(ids))
		g.MemberCount = &n
	}
	if g.UserIDs == nil {
		g.UserIDs = []Int{}
	}
	return g, nil
}

// BulkResult is the outcome of one bulk membership change.
type BulkResult struct {
	// Applied are the users whose change Domo confirmed.
	Applied []int64
	// Refused are users Domo refused on their own (400 for a batch of just them): another
	// attempt would be refused again.
	Refused map[int64]error
	// Pending are the users whose change was not confirmed, for the reason in Err: the group
	// or the capability is gone (ErrNotFound, ErrCapability), Domo kept failing
	// (ErrUnavailable: the change may have happened), or the budget ran out (*RateLimitError:
	// it did not).
	Pending []int64
	Err     error
	// Calls is how many calls were sent.
	Calls int
}

// AddMembers puts users in a group: one PUT /api/content/v2/groups/{id}/user per batch (ids
// beyond BatchSize are split). A batch Domo answers 400 is halved until the refusal is pinned
// to single users; when both halves of a refused batch go through, the batch was too large
// and later batches are made smaller.
func (in *Instance) AddMembers(ctx context.Context, groupID int64, ids []int64) BulkResult {
	return in.bulk(ctx, "content.members.add", groupID, ids, func(batch []int64) error {
		body := make([]map[string]string, len(batch))
		for i, id := range batch {
			body[i] = map[string]string{"id": strconv.FormatInt(id, 10), "type": "USER"}
		}
		return in.sendBulk(ctx, "content.members.add", contentGroupPath(groupID)+"/user", body)
	})
}

// RemoveMembers takes users out of a group: one PUT /api/content/v2/groups/access per batch,
// with the same splitting as AddMembers.
func (in *Instance) RemoveMembers(ctx context.Context, groupID int64, ids []int64) BulkResult {
	return in.bulk(ctx, "content.members.remove", groupID, ids, func(batch []int64) error {
		members := make([]map[string]string, len(batch))
		for i, id := range batch {
			members[i] = map[string]string{"type": "USER", "id": strconv.FormatInt(id, 10)}
		}
		body := []map[string]any{{"groupId": strconv.FormatInt(groupID, 10), "removeMembers": members}}
		return in.sendBulk(ctx, "content.members.remove", contentAccessPath, body)
	})
}

// sendBulk sends one bulk call. Domo documents the answer true; a tenant answering {}, nothing,
// 200 or 204 has made the change as well. Only false leaves the outcome unknown.
func (in *Instance) sendBulk(ctx context.Context, op, path string, body any) error {
	res, err := in.c.do(ctx, call{op: op, method: http.MethodPut, path: path, body: body, idempotent: true})
	if err != nil {
		return err
	}
	if b := bytes.TrimSpace(res.body); bytes.Equal(b, []byte("false")) {
		return fmt.Errorf("domo %s: %w: Domo answered false", op, ErrUnavailable)
	}
	return nil
}

// bulkRefusalStreak is how many users in a row Domo may refuse one by one, with none taken
// yet, before the client concludes that Domo refuses the bulk calls themselves (their shape,
// not the users): the capability is then given up and the change goes through v1.
const bulkRefusalStreak = 3

// bulk runs send over ids in batches, splitting refused batches.
//
// What a failed call means: 400 halves the batch (too large, or one user refused); 401 and 403
// lose the capability; 404 and 405 are checked by a probe (the group gone, or the endpoint);
// any other 4xx (409, 415, 422...) shows the endpoint unusable as the client calls it, and
// loses the capability too, so that the caller moves to v1 within the same request.
func (in *Instance) bulk(ctx context.Context, op string, groupID int64, ids []int64, send func([]int64) error) BulkResult {
	res := BulkResult{Refused: map[int64]error{}}
	if groupID <= 0 {
		res.Pending, res.Err = append(res.Pending, ids...), fmt.Errorf("group %d: %w", groupID, ErrNotFound)
		return res
	}
	streak := 0 // users refused one by one in a row
	// run sends one batch; it reports whether every user of it was applied, and the error
	// that stops the whole change.
	var run func(batch []int64) (bool, error)
	run = func(batch []int64) (bool, error) {
		res.Calls++
		err := send(batch)
		if err == nil {
			res.Applied = append(res.Applied, batch...)
			streak = 0
			return true, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			return false, err
		}
		if len(batch) == 1 {
			res.Refused[batch[0]] = fmt.Errorf("group %d, user %d: %w", groupID, batch[0], err)
			if streak++; streak >= bulkRefusalStreak && len(res.Applied) == 0 {
				return false, in.lose(CapBulkMembership, op, &APIError{Op: op, Status: ae.Status, Reason: ae.Reason,
					Message: "Domo refuses every bulk membership call, even of one member: " + ae.Message})
			}
			return false, nil
		}
		half := len(batch) / 2
		okA, err := run(batch[:half])
		if err != nil {
			res.Pending = append(res.Pending, batch[half:]...)
			return false, err
		}
		okB, err := run(batch[half:])
		if err != nil {
			return false, err
		}
		if okA && okB {
			// Domo took every user in halves: the batch was too large for it.
			if cur := in.batch.Load(); int64(len(batch)) <= cur {
				next := int64(len(batch) - half)
				if in.batch.CompareAndSwap(cur, next) {
					in.log.Warn().Str("op", op).Int("refused", len(batch)).Int64("batch", next).Msg("Domo refused a membership batch that it took in halves; sending smaller batches from now on")
				}
			}
		}
		return okA && okB, nil
	}
	for start := 0; start < len(ids); {
		size := min(in.BatchSize(), len(ids)-start)
		batch := ids[start : start+size]
		if _, err := run(batch); err != nil {
			res.Pending = append(res.Pending, pendingOf(batch, res)...)
			res.Pending = append(res.Pending, ids[start+size:]...)
			res.Err = fmt.Errorf("group %d: %w", groupID, in.classifyBulk(ctx, op, err))
			return res
		}
		start += size
	}
	return res
}

// classifyBulk is classify for a bulk call: a 4xx that neither names the resource nor refuses
// the token (409, 415, 422...) shows the endpoint unusable as called, and loses the capability.
func (in *Instance) classifyBulk(ctx context.Context, op string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		switch ae.Status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
			http.StatusMethodNotAllowed, http.StatusGone, http.StatusTooManyRequests:
		default:
			return in.lose(CapBulkMembership, op, ae)
		}
	}
	return in.classify(ctx, CapBulkMembership, op, err, true)
}

// pendingOf lists the users of batch that res neither applied nor refused nor already holds as
// pending.
func pendingOf(batch []int64, res BulkResult) []int64 {
	done := make(map[int64]bool, len(res.Applied)+len(res.Pending))
	for _, id := range res.Applied {
		done[id] = true
	}
	for _, id := range res.Pending {
		done[id] = true
	}
	var out []int64
	for _, id := range batch {
		if _, refused := res.Refused[id]; !refused && !done[id] {
			out = append(out, id)
		}
	}
	return out
}
