package domosim

import (
	"net/http"
	"strconv"
	"strings"
)

// groupJSON is a group as Domo answers it; which fields appear depends on the endpoint.
type groupJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name,omitempty"`
	Active      *bool   `json:"active,omitempty"`
	Default     *bool   `json:"default,omitempty"`
	CreatorID   string  `json:"creatorId,omitempty"`
	MemberCount *int    `json:"memberCount,omitempty"`
	UserIDs     []int64 `json:"userIds,omitempty"`
	Deleted     bool    `json:"deleted,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func (g *group) listView() groupJSON {
	return groupJSON{ID: g.ID, Name: g.Name, Default: ptr(g.Default), Active: ptr(g.Active), MemberCount: ptr(len(g.Members))}
}

func (g *group) fullView(withIDs bool) groupJSON {
	v := g.listView()
	v.CreatorID = strconv.FormatInt(g.CreatorID, 10)
	if withIDs {
		v.UserIDs = append([]int64{}, g.Members...)
	}
	return v
}

func (s *Sim) nameTakenLocked(name string, except int64, fold bool) bool {
	for _, g := range s.liveGroups {
		if g.ID == except {
			continue
		}
		if g.Name == name || (fold && strings.EqualFold(g.Name, name)) {
			return true
		}
	}
	return false
}

func (s *Sim) listGroups(w http.ResponseWriter, r *http.Request, opts Options) {
	limit, offset, ok := paging(w, r, opts)
	if !ok {
		return
	}
	s.mu.RLock()
	out := []groupJSON{}
	if offset < len(s.liveGroups) {
		for _, g := range s.liveGroups[offset:min(len(s.liveGroups), offset+limit)] {
			out = append(out, g.listView())
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}

// lookupGroup parses the group id at path segment 2 and finds the group. It writes the error
// answer itself and returns nil then; deleted groups count as found only when withDeleted.
func (s *Sim) lookupGroupLocked(w http.ResponseWriter, r *http.Request, opts Options, withDeleted bool) *group {
	id, ok := pathID(r, 2)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid group id")
		return nil
	}
	g, found := s.groups[id]
	if !found || (g.Deleted && !withDeleted) {
		writeError(w, r, opts, http.StatusNotFound, "Group not found: "+strconv.FormatInt(id, 10))
		return nil
	}
	return g
}

func (s *Sim) getGroup(w http.ResponseWriter, r *http.Request, opts Options) {
	s.mu.RLock()
	g := s.lookupGroupLocked(w, r, opts, true)
	var v groupJSON
	if g != nil {
		v = g.fullView(opts.GroupUserIDsOnGet)
		if g.Deleted {
			v = groupJSON{ID: g.ID, Name: g.Name, Deleted: true}
		}
	}
	s.mu.RUnlock()
	if g != nil {
		writeJSON(w, http.StatusOK, v)
	}
}

func (s *Sim) createGroup(w http.ResponseWriter, r *http.Request, opts Options) {
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	name, ok := get(m, "name").str()
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		bad("name is required")
		return
	}
	active, def := true, false
	if v := get(m, "active"); v.present && !v.null {
		if active, ok = v.boolean(); !ok {
			bad("active must be a boolean")
			return
		}
	}
	if v := get(m, "default"); v.present && !v.null {
		if def, ok = v.boolean(); !ok {
			bad("default must be a boolean")
			return
		}
	}
	creator := s.tokenUser(r)
	s.mu.Lock()
	if s.nameTakenLocked(name, 0, opts.GroupNamesFoldCase) {
		s.mu.Unlock()
		bad("Group " + name + " already exists")
		return
	}
	id := s.insertGroupLocked(name, def, creator, opts.Now())
	g := s.groups[id]
	g.Active = active
	v := groupJSON{ID: g.ID, Name: g.Name, Active: ptr(g.Active), CreatorID: strconv.FormatInt(creator, 10), Default: ptr(g.Default)}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, v)
}

func (s *Sim) tokenUser(r *http.Request) int64 {
	tok, _ := bearer(r)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tokens[tok].userID
}

func (s *Sim) putGroup(w http.ResponseWriter, r *http.Request, opts Options) {
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookupGroupLocked(w, r, opts, false)
	if g == nil {
		return
	}
	name, active, def := g.Name, g.Active, g.Default
	if v := get(m, "name"); v.present {
		n, ok := v.str()
		n = strings.TrimSpace(n)
		if !ok || n == "" {
			bad("name must not be empty")
			return
		}
		name = n
	}
	if v := get(m, "active"); v.present && !v.null {
		if active, ok = v.boolean(); !ok {
			bad("active must be a boolean")
			return
		}
	}
	if v := get(m, "default"); v.present && !v.null {
		if def, ok = v.boolean(); !ok {
			bad("default must be a boolean")
			return
		}
	}
	if g.Default && (name != g.Name || !def) {
		bad("The default group cannot be renamed or made non-default")
		return
	}
	if name != g.Name && s.nameTakenLocked(name, g.ID, opts.GroupNamesFoldCase) {
		bad("Group " + name + " already exists")
		return
	}
	g.Name, g.Active, g.Default = name, active, def
	writeJSON(w, http.StatusOK, g.fullView(opts.GroupUserIDsOnGet))
}

func (s *Sim) deleteGroup(w http.ResponseWriter, r *http.Request, opts Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.lookupGroupLocked(w, r, opts, false)
	switch {
	case g == nil:
	case g.Default:
		writeError(w, r, opts, http.StatusBadRequest, "The default group cannot be deleted")
	case len(g.Members) > 0 && opts.DeleteNonEmptyGroup == "reject":
		writeError(w, r, opts, http.StatusBadRequest, "Group has members; remove them first")
	default:
		s.deleteGroupLocked(g)
		noContent(w)
	}
}

func (s *Sim) deleteGroupLocked(g *group) {
	g.Deleted = true
	g.Members, g.set = nil, map[int64]struct{}{}
	for i, l := range s.liveGroups {
		if l == g {
			s.liveGroups = append(s.liveGroups[:i], s.liveGroups[i+1:]...)
			break
		}
	}
}

func (s *Sim) listMembers(w http.ResponseWriter, r *http.Request, opts Options) {
	s.mu.RLock()
	g := s.lookupGroupLocked(w, r, opts, false)
	if g == nil {
		s.mu.RUnlock()
		return
	}
	limit, offset, ok := paging(w, r, opts)
	if !ok {
		s.mu.RUnlock()
		return
	}
	out := []int64{}
	if offset < len(g.Members) {
		out = append(out, g.Members[offset:min(len(g.Members), offset+limit)]...)
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) memberTarget(w http.ResponseWriter, r *http.Request, opts Options) (*group, int64) {
	g := s.lookupGroupLocked(w, r, opts, false)
	if g == nil {
		return nil, 0
	}
	uid, ok := pathID(r, 4)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return nil, 0
	}
	return g, uid
}

func (s *Sim) addMember(w http.ResponseWriter, r *http.Request, opts Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, uid := s.memberTarget(w, r, opts)
	if g == nil {
		return
	}
	if u, found := s.users[uid]; !found || u.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(uid, 10))
		return
	}
	g.add(uid)
	noContent(w)
}

func (s *Sim) removeMember(w http.ResponseWriter, r *http.Request, opts Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, uid := s.memberTarget(w, r, opts)
	if g == nil {
		return
	}
	if !g.remove(uid) && opts.RemoveNonMemberStatus == http.StatusNotFound {
		writeError(w, r, opts, http.StatusNotFound, "User "+strconv.FormatInt(uid, 10)+" is not a member of the group")
		return
	}
	noContent(w)
}
