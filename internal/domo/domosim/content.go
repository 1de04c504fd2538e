package domosim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

type contentGroupJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	UserIDs     []int64 `json:"userIds"`
	CreatorID   int64   `json:"creatorId"`
	MemberCount int     `json:"memberCount"`
	GUID        string  `json:"guid"`
	Description string  `json:"description"`
	Hidden      bool    `json:"hidden"`
	Default     bool    `json:"default"`
	Active      bool    `json:"active"`
}

// contentGroup serves GET /api/content/v2/groups/{id}: the group with every member id (cut
// after GroupReadMaxIDs when that knob is set).
func (s *Sim) contentGroup(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 4)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid group id")
		return
	}
	s.mu.RLock()
	g, found := s.groups[id]
	var v contentGroupJSON
	if found && !g.Deleted {
		ids := append([]int64{}, g.Members...)
		if opts.GroupReadMaxIDs > 0 && len(ids) > opts.GroupReadMaxIDs {
			ids = ids[:opts.GroupReadMaxIDs]
		}
		typ := "closed"
		if g.Default {
			typ = "system"
		}
		v = contentGroupJSON{ID: g.ID, Name: g.Name, Type: typ, UserIDs: ids, CreatorID: g.CreatorID,
			MemberCount: len(g.Members), GUID: groupGUID(g.ID), Default: g.Default, Active: g.Active}
	}
	s.mu.RUnlock()
	if !found || g.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(id, 10))
		return
	}
	if opts.InstanceIDs == "string" {
		ids := make([]string, len(v.UserIDs))
		for i, u := range v.UserIDs {
			ids[i] = strconv.FormatInt(u, 10)
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": idOut(v.ID, opts), "name": v.Name, "type": v.Type, "userIds": ids,
			"creatorId": idOut(v.CreatorID, opts), "memberCount": v.MemberCount, "guid": v.GUID, "description": v.Description,
			"hidden": v.Hidden, "default": v.Default, "active": v.Active})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func groupGUID(id int64) string {
	h := strconv.FormatInt(id*2654435761%1_000_000_000_000, 16)
	return strings.Repeat("0", max(0, 12-len(h))) + h
}

// member is an entry of a bulk membership body: {"id": "123", "type": "USER"}; the id may be a
// string or a number.
type member struct {
	ID   json.RawMessage `json:"id"`
	Type string          `json:"type"`
}

func (m member) userID() (int64, bool) {
	var s string
	if json.Unmarshal(m.ID, &s) == nil {
		return parseID(strings.TrimSpace(s))
	}
	return parseID(strings.TrimSpace(string(m.ID)))
}

// readArray reads a JSON array body into dst. ok is false after an error answer.
func readArray(w http.ResponseWriter, r *http.Request, opts Options, dst any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, r, opts, http.StatusBadRequest, "Could not read request body")
		return false
	}
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '[' || json.Unmarshal(b, dst) != nil {
		writeError(w, r, opts, http.StatusBadRequest, "Malformed JSON request body: a list is expected")
		return false
	}
	return true
}

// memberIDs checks a list of members: USER entries with positive ids, at most MaxBatch.
func memberIDs(list []member) ([]int64, string) {
	ids := make([]int64, 0, len(list))
	for _, m := range list {
		if !strings.EqualFold(m.Type, "USER") {
			return nil, "Only members of type USER are supported here"
		}
		id, ok := m.userID()
		if !ok {
			return nil, "Invalid member id " + string(m.ID)
		}
		ids = append(ids, id)
	}
	return ids, ""
}

// addableLocked screens ids for a bulk add: a user that is not live is refused (400 for the
// whole call) or skipped, per BulkUnknownUser.
func (s *Sim) addableLocked(ids []int64, opts Options) ([]int64, string) {
	out := ids[:0:0]
	for _, id := range ids {
		if u, ok := s.users[id]; ok && !u.Deleted {
			out = append(out, id)
		} else if opts.BulkUnknownUser != "skip" {
			return nil, "User not found: " + strconv.FormatInt(id, 10)
		}
	}
	return out, ""
}

// contentAddMany serves PUT /api/content/v2/groups/{id}/user with a list of members.
func (s *Sim) contentAddMany(w http.ResponseWriter, r *http.Request, opts Options) {
	gid, ok := pathID(r, 4)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid group id")
		return
	}
	var list []member
	if !readArray(w, r, opts, &list) {
		return
	}
	if len(list) > opts.MaxBatch {
		writeError(w, r, opts, http.StatusBadRequest, "Too many members in one request (at most "+strconv.Itoa(opts.MaxBatch)+")")
		return
	}
	if len(list) == 0 && opts.BulkEmptyStatus != http.StatusOK {
		writeError(w, r, opts, opts.BulkEmptyStatus, "At least one member is required")
		return
	}
	ids, msg := memberIDs(list)
	if msg != "" {
		writeError(w, r, opts, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, found := s.groups[gid]
	if !found || g.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(gid, 10))
		return
	}
	add, msg := s.addableLocked(ids, opts)
	if msg != "" {
		writeError(w, r, opts, http.StatusBadRequest, msg)
		return
	}
	for _, id := range add {
		g.add(id)
	}
	writeBulkDone(w, opts)
}

// contentAddOne serves PUT /api/content/v2/groups/{id}/user/{userId}.
func (s *Sim) contentAddOne(w http.ResponseWriter, r *http.Request, opts Options) {
	gid, gok := pathID(r, 4)
	uid, uok := pathID(r, 6)
	if !gok || !uok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, found := s.groups[gid]
	if !found || g.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(gid, 10))
		return
	}
	if u, ok := s.users[uid]; !ok || u.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(uid, 10))
		return
	}
	g.add(uid)
	writeJSON(w, http.StatusOK, true)
}

// contentRemoveOne serves DELETE /api/content/v2/groups/{id}/removeuser/{userId}.
func (s *Sim) contentRemoveOne(w http.ResponseWriter, r *http.Request, opts Options) {
	gid, gok := pathID(r, 4)
	uid, uok := pathID(r, 6)
	if !gok || !uok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, found := s.groups[gid]
	if !found || g.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(gid, 10))
		return
	}
	g.remove(uid)
	writeJSON(w, http.StatusOK, true)
}

// accessChange is one entry of PUT /api/content/v2/groups/access.
type accessChange struct {
	GroupID       json.RawMessage `json:"groupId"`
	AddMembers    []member        `json:"addMembers"`
	RemoveMembers []member        `json:"removeMembers"`
	AddOwners     []member        `json:"addOwners"`
	RemoveOwners  []member        `json:"removeOwners"`
}

// contentAccess serves PUT /api/content/v2/groups/access: member (and owner) changes of any
// number of groups. Every group must exist and every part be valid, or nothing changes.
// Owners are accepted and not modelled.
func (s *Sim) contentAccess(w http.ResponseWriter, r *http.Request, opts Options) {
	var list []accessChange
	if !readArray(w, r, opts, &list) {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	type plan struct {
		g           *group
		add, remove []int64
	}
	total := 0
	for _, c := range list {
		total += len(c.AddMembers) + len(c.RemoveMembers)
	}
	if total > opts.MaxBatch {
		bad("Too many members in one request (at most " + strconv.Itoa(opts.MaxBatch) + ")")
		return
	}
	if total == 0 && opts.BulkEmptyStatus != http.StatusOK {
		writeError(w, r, opts, opts.BulkEmptyStatus, "At least one member change is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plans := make([]plan, 0, len(list))
	for _, c := range list {
		gid, ok := member{ID: c.GroupID}.userID()
		if !ok {
			bad("Invalid groupId " + string(c.GroupID))
			return
		}
		g, found := s.groups[gid]
		if !found || g.Deleted {
			writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(gid, 10))
			return
		}
		add, msg := memberIDs(c.AddMembers)
		if msg == "" {
			add, msg = s.addableLocked(add, opts)
		}
		if msg != "" {
			bad(msg)
			return
		}
		remove, msg := memberIDs(c.RemoveMembers)
		if msg != "" {
			bad(msg)
			return
		}
		plans = append(plans, plan{g: g, add: add, remove: remove})
	}
	for _, p := range plans {
		for _, id := range p.add {
			p.g.add(id)
		}
		for _, id := range p.remove {
			p.g.remove(id)
		}
	}
	writeBulkDone(w, opts)
}
