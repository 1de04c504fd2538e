package domo

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
)

// Groups lists every group, pages of 500 until a short page, de-duplicated by id.
func (c *Client) Groups(ctx context.Context) iter.Seq2[Group, error] {
	return func(yield func(Group, error) bool) {
		seen := map[int64]struct{}{}
		err := c.scanPages(ctx, pageScan{op: "groups.list", path: "/v1/groups", ahead: 1, lastPage: -1},
			func(body []byte, _ int) (int, bool, error) {
				groups, err := decodeGroups(body)
				if err != nil {
					return 0, false, fmt.Errorf("domo groups.list: %w: %w", ErrBadAnswer, err)
				}
				for _, g := range groups {
					if _, dup := seen[g.ID]; dup || g.ID == 0 || g.Deleted {
						continue
					}
					seen[g.ID] = struct{}{}
					if !yield(g, nil) {
						return len(groups), false, nil
					}
				}
				return len(groups), true, nil
			})
		if err != nil {
			yield(Group{}, fmt.Errorf("list groups: %w", err))
		}
	}
}

func groupPath(id int64) string { return "/v1/groups/" + strconv.FormatInt(id, 10) }

// GetGroup reads one group; a deleted group is ErrNotFound.
func (c *Client) GetGroup(ctx context.Context, id int64) (Group, error) {
	if id <= 0 {
		return Group{}, fmt.Errorf("get group %d: %w", id, ErrNotFound)
	}
	res, err := c.do(ctx, call{op: "groups.get", method: "GET", path: groupPath(id), idempotent: true})
	if err != nil {
		return Group{}, fmt.Errorf("get group %d: %w", id, err)
	}
	g, err := decodeGroup(res.body)
	if err != nil {
		return Group{}, fmt.Errorf("get group %d: %w: %w", id, ErrBadAnswer, err)
	}
	if g.Deleted {
		return Group{}, fmt.Errorf("get group %d: deleted: %w", id, ErrNotFound)
	}
	return g, nil
}

// findGroupByName scans the groups for an exact name, then for one equal but for case.
func (c *Client) findGroupByName(ctx context.Context, name string) (Group, bool, error) {
	var fold Group
	foldOK := false
	for g, err := range c.Groups(ctx) {
		if err != nil {
			return Group{}, false, err
		}
		if g.Name == name {
			return g, true, nil
		}
		if !foldOK && strings.EqualFold(g.Name, name) {
			fold, foldOK = g, true
		}
	}
	return fold, foldOK, nil
}

// CreateGroup creates a group. Domo answers 400 for a taken name; that becomes ErrConflict
// once a listing confirms the name exists. After an unknown outcome the name is looked up
// before trying again, so a group is never created twice.
func (c *Client) CreateGroup(ctx context.Context, name string) (Group, error) {
	const op = "groups.create"
	name = strings.TrimSpace(name)
	if name == "" {
		return Group{}, fmt.Errorf("create group: %w", &APIError{Op: op, Status: http.StatusBadRequest, Reason: "Bad Request", Message: "name required (not sent)", Kind: KindRejected})
	}
	body := map[string]any{"name": name, "default": false, "active": true}
	uncertain := false
	attempts := 0
	for {
		res, err := c.do(ctx, call{op: op, method: "POST", path: "/v1/groups", body: body})
		if err == nil {
			g, derr := decodeGroup(res.body)
			if derr == nil && g.ID != 0 {
				if g.Name == "" {
					g.Name = name
				}
				return g, nil
			}
			if found, ok, ferr := c.findGroupByName(ctx, name); ferr == nil && ok {
				return found, nil
			}
			return Group{}, fmt.Errorf("create group: created, but the answer could not be read: %w", ErrUnavailable)
		}
		var unknown *unknownOutcome
		var apiErr *APIError
		switch {
		case errors.As(err, &unknown):
			uncertain = true
			attempts++
			if unknown.reason == "canceled" || attempts >= c.maxAttempts {
				return Group{}, fmt.Errorf("create group: %w", err)
			}
			if err := c.retryPause(ctx, op, unknown.reason, attempts); err != nil {
				return Group{}, fmt.Errorf("create group: %w", unknown)
			}
			found, ok, ferr := c.findGroupByName(ctx, name)
			if ferr != nil {
				return Group{}, fmt.Errorf("create group: %w, and the lookup failed: %w", unknown, ferr)
			}
			if ok && found.Name == name {
				return found, nil
			}
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusConflict):
			found, ok, ferr := c.findGroupByName(ctx, name)
			switch {
			case ferr != nil:
				return Group{}, fmt.Errorf("create group: the name lookup failed (%w) after %w", ferr, apiErr)
			case ok && uncertain && found.Name == name:
				return found, nil
			case ok:
				return Group{}, fmt.Errorf("create group: name taken by group %d: %w: %w", found.ID, ErrConflict, apiErr)
			}
			return Group{}, fmt.Errorf("create group: %w", apiErr)
		default:
			return Group{}, fmt.Errorf("create group: %w", err)
		}
	}
}

// RenameGroup changes a group's name. A 400 for a name another group holds is ErrConflict.
func (c *Client) RenameGroup(ctx context.Context, id int64, name string) (Group, error) {
	const op = "groups.update"
	name = strings.TrimSpace(name)
	if id <= 0 {
		return Group{}, fmt.Errorf("rename group %d: %w", id, ErrNotFound)
	}
	if name == "" {
		return Group{}, fmt.Errorf("rename group %d: %w", id, &APIError{Op: op, Status: http.StatusBadRequest, Reason: "Bad Request", Message: "name required (not sent)", Kind: KindRejected})
	}
	res, err := c.do(ctx, call{op: op, method: "PUT", path: groupPath(id), body: map[string]any{"name": name}, idempotent: true})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusConflict) {
			if found, ok, ferr := c.findGroupByName(ctx, name); ferr == nil && ok && found.ID != id {
				return Group{}, fmt.Errorf("rename group %d: name taken by group %d: %w: %w", id, found.ID, ErrConflict, apiErr)
			}
		}
		return Group{}, fmt.Errorf("rename group %d: %w", id, err)
	}
	g, derr := decodeGroup(res.body)
	if derr != nil || g.ID == 0 {
		return c.GetGroup(ctx, id)
	}
	return g, nil
}

// DeleteGroup deletes a group. A 404 on a retry after an unknown outcome is success.
func (c *Client) DeleteGroup(ctx context.Context, id int64) error {
	if id <= 0 {
		return fmt.Errorf("delete group %d: %w", id, ErrNotFound)
	}
	res, err := c.do(ctx, call{op: "groups.delete", method: "DELETE", path: groupPath(id), idempotent: true})
	if err != nil && !(res.uncertain && errors.Is(err, ErrNotFound)) {
		return fmt.Errorf("delete group %d: %w", id, err)
	}
	return nil
}

// GroupMembers lists a group's member ids: pages of 500, de-duplicated, in Domo's order.
func (c *Client) GroupMembers(ctx context.Context, id int64) ([]int64, error) {
	return c.groupMembers(ctx, id, -1)
}

// MembersOf lists the member ids of a group Domo has just described (listed or read). Its
// memberCount saves calls: a group of 0 members is not asked, and a listing whose full pages
// add up to exactly memberCount stops there instead of asking for the empty page after them
// (100 groups of 1,000 members: 200 calls instead of 300). Without a memberCount it is
// GroupMembers. A member added after Domo counted may be missed, as by any read that raced
// the addition; the next refresh sees it.
func (c *Client) MembersOf(ctx context.Context, g Group) ([]int64, error) {
	if g.MemberCount == nil || *g.MemberCount < 0 {
		return c.groupMembers(ctx, g.ID, -1)
	}
	if *g.MemberCount == 0 && g.ID > 0 {
		return []int64{}, nil
	}
	return c.groupMembers(ctx, g.ID, *g.MemberCount)
}

// groupMembers pages a group's member list until a short page or, when expect is not
// negative, until a full page brings the count to exactly expect.
func (c *Client) groupMembers(ctx context.Context, id, expect int64) ([]int64, error) {
	if id <= 0 {
		return nil, fmt.Errorf("list members of group %d: %w", id, ErrNotFound)
	}
	var out []int64
	seen := map[int64]struct{}{}
	s := pageScan{op: "groups.members", path: groupPath(id) + "/users", ahead: 1, lastPage: -1}
	if expect > 0 {
		s.ahead, s.lastPage = int(min((expect+pageSize-1)/pageSize, 4)), int((expect-1)/pageSize)
	}
	err := c.scanPages(ctx, s,
		func(body []byte, _ int) (int, bool, error) {
			ids, n, err := decodeIDPage(body)
			if err != nil {
				return 0, false, fmt.Errorf("domo groups.members: %w: %w", ErrBadAnswer, err)
			}
			added := 0
			for _, m := range ids {
				if _, dup := seen[m]; !dup {
					seen[m] = struct{}{}
					out = append(out, m)
					added++
				}
			}
			// A full page that adds nobody means Domo ignores the offset: stop rather than
			// page until the deadline.
			more := added > 0 || n < pageSize
			if expect > 0 && int64(len(out)) == expect {
				more = false
			}
			return n, more, nil
		})
	if err != nil {
		return nil, fmt.Errorf("list members of group %d: %w", id, err)
	}
	if out == nil {
		out = []int64{}
	}
	return out, nil
}

func memberPath(groupID, userID int64) string {
	return groupPath(groupID) + "/users/" + strconv.FormatInt(userID, 10)
}

// AddGroupMember puts a user in a group (204; adding a member again changes nothing).
func (c *Client) AddGroupMember(ctx context.Context, groupID, userID int64) error {
	if groupID <= 0 || userID <= 0 {
		return fmt.Errorf("add user %d to group %d: %w", userID, groupID, ErrNotFound)
	}
	if _, err := c.do(ctx, call{op: "groups.members.add", method: "PUT", path: memberPath(groupID, userID), idempotent: true}); err != nil {
		return fmt.Errorf("add user %d to group %d: %w", userID, groupID, err)
	}
	return nil
}

// RemoveGroupMember takes a user out of a group. A 404 on a retry after an unknown outcome is
// success; a first-attempt 404 (unknown group, or a non-member on tenants that say so) is
// ErrNotFound.
func (c *Client) RemoveGroupMember(ctx context.Context, groupID, userID int64) error {
	if groupID <= 0 || userID <= 0 {
		return fmt.Errorf("remove user %d from group %d: %w", userID, groupID, ErrNotFound)
	}
	res, err := c.do(ctx, call{op: "groups.members.remove", method: "DELETE", path: memberPath(groupID, userID), idempotent: true})
	if err != nil && !(res.uncertain && errors.Is(err, ErrNotFound)) {
		return fmt.Errorf("remove user %d from group %d: %w", userID, groupID, err)
	}
	return nil
}
