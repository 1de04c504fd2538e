package domosim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// userJSON is a user as Domo answers it: unset fields omitted, never null.
type userJSON struct {
	ID             int64      `json:"id"`
	Name           string     `json:"name,omitempty"`
	Email          string     `json:"email,omitempty"`
	AlternateEmail string     `json:"alternateEmail,omitempty"`
	Role           string     `json:"role,omitempty"`
	RoleID         int64      `json:"roleId,omitempty"`
	Title          string     `json:"title,omitempty"`
	Phone          string     `json:"phone,omitempty"`
	Location       string     `json:"location,omitempty"`
	Timezone       string     `json:"timezone,omitempty"`
	Locale         string     `json:"locale,omitempty"`
	EmployeeNumber int64      `json:"employeeNumber,omitempty"`
	EmployeeID     string     `json:"employeeId,omitempty"`
	Department     string     `json:"department,omitempty"`
	CreatedAt      string     `json:"createdAt,omitempty"`
	UpdatedAt      string     `json:"updatedAt,omitempty"`
	Image          string     `json:"image,omitempty"`
	Groups         []groupRef `json:"groups,omitempty"`
	Deleted        bool       `json:"deleted,omitempty"`
}

type groupRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (s *Sim) userView(u *user, customer string) userJSON {
	return userJSON{
		ID: u.ID, Name: u.Name, Email: u.Email, AlternateEmail: u.AlternateEmail, Role: u.Role,
		RoleID: u.RoleID, Title: u.Title, Phone: u.Phone, Location: u.Location, Timezone: u.Timezone,
		Locale: u.Locale, EmployeeNumber: u.EmployeeNumber, EmployeeID: u.EmployeeID,
		Department: u.Department, CreatedAt: timestamp(u.CreatedAt), UpdatedAt: timestamp(u.UpdatedAt),
		Image: "https://" + customer + ".domo.com/avatar/thumb/domo/" + strconv.FormatInt(u.ID, 10),
	}
}

// groupRefsLocked lists the live groups u belongs to.
func (s *Sim) groupRefsLocked(id int64) []groupRef {
	refs := []groupRef{}
	for _, g := range s.liveGroups {
		if _, ok := g.set[id]; ok {
			refs = append(refs, groupRef{ID: g.ID, Name: g.Name})
		}
	}
	return refs
}

func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request, opts Options) {
	limit, offset, ok := paging(w, r, opts)
	if !ok {
		return
	}
	now := opts.Now()
	s.mu.RLock()
	out := make([]userJSON, 0, min(limit, max(0, len(s.live)-offset)))
	if opts.ReadAfterWriteDelay <= 0 {
		if offset < len(s.live) {
			for _, u := range s.live[offset:min(len(s.live), offset+limit)] {
				out = append(out, s.userView(u, opts.Customer))
			}
		}
	} else {
		skip := offset
		for _, u := range s.live {
			if len(out) == limit {
				break
			}
			if !u.visible(now) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, s.userView(u, opts.Customer))
		}
	}
	s.mu.RUnlock()
	if opts.ListRows == "documented" {
		for i, u := range out {
			out[i] = userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role, Title: u.Title, Phone: u.Phone}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) getUser(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 2)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return
	}
	s.mu.RLock()
	u, found := s.users[id]
	var v userJSON
	switch {
	case found && u.Deleted:
		v = userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Deleted: true}
	case found && u.visible(opts.Now()):
		v = s.userView(u, opts.Customer)
		v.Groups = s.groupRefsLocked(id)
	default:
		found = false
	}
	s.mu.RUnlock()
	if !found {
		writeError(w, r, opts, opts.UnknownUserGetStatus, "User not found: "+strconv.FormatInt(id, 10))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// optionalUserFields are the fields a replace-mode PUT clears when the body omits them.
var optionalUserFields = []string{"alternateEmail", "title", "phone", "location", "timezone", "locale", "employeeNumber", "employeeId", "department"}

// applyUserFields copies the body's fields onto u. It returns a message for a 400 or "".
// A present "" (or null) clears an optional field; absent fields are left alone here.
func applyUserFields(u *SimUser, m map[string]json.RawMessage) string {
	strs := []struct {
		key string
		dst *string
	}{
		{"name", &u.Name}, {"email", &u.Email}, {"alternateEmail", &u.AlternateEmail},
		{"title", &u.Title}, {"phone", &u.Phone}, {"location", &u.Location},
		{"timezone", &u.Timezone}, {"locale", &u.Locale}, {"employeeId", &u.EmployeeID},
		{"department", &u.Department},
	}
	for _, f := range strs {
		v := get(m, f.key)
		if !v.present {
			continue
		}
		s, ok := v.str()
		if !ok {
			return f.key + " must be a string"
		}
		*f.dst = strings.TrimSpace(s)
	}
	if v := get(m, "employeeNumber"); v.present {
		n, ok := v.integer()
		if !ok {
			return "employeeNumber must be an integer"
		}
		u.EmployeeNumber = n
	}
	if u.AlternateEmail != "" && !validEmail(u.AlternateEmail) {
		return "alternateEmail is not a valid email address"
	}
	return ""
}

// applyRole sets the role from "role" and/or "roleId"; roleId wins when both are given.
func applyRole(u *SimUser, m map[string]json.RawMessage, opts Options, useRoleID bool) string {
	if v := get(m, "role"); v.present {
		name, ok := v.str()
		if !ok {
			return "role must be a string"
		}
		role, ok := opts.roleByName(name)
		if !ok {
			return "Invalid role: " + name
		}
		u.Role, u.RoleID = role.Name, role.ID
	}
	if v := get(m, "roleId"); useRoleID && v.present && !v.null {
		n, ok := v.integer()
		if !ok {
			// Domo's own docs type roleId as a string ("1"); accept that too.
			if s, sok := v.str(); sok {
				n, ok = parseID(strings.TrimSpace(s))
			}
		}
		role, found := opts.roleByID(n)
		if !ok || !found {
			return "Invalid roleId"
		}
		u.Role, u.RoleID = role.Name, role.ID
	}
	return ""
}

func (s *Sim) createUser(w http.ResponseWriter, r *http.Request, opts Options) {
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	for _, k := range []string{"name", "email", "role"} {
		v, ok := get(m, k).str()
		if !get(m, k).present || !ok || strings.TrimSpace(v) == "" {
			bad(k + " is required")
			return
		}
	}
	if msg := opts.screenUndocumented(m); msg != "" {
		bad(msg)
		return
	}
	var u SimUser
	if msg := applyUserFields(&u, m); msg != "" {
		bad(msg)
		return
	}
	if !validEmail(u.Email) {
		bad("email is not a valid email address")
		return
	}
	if msg := applyRole(&u, m, opts, opts.RoleIDOnCreate); msg != "" {
		bad(msg)
		return
	}
	sendInvite, _ := strconv.ParseBool(r.URL.Query().Get("sendInvite"))
	now := opts.Now().UTC()

	s.mu.Lock()
	if _, taken := s.emails[strings.ToLower(u.Email)]; taken {
		s.mu.Unlock()
		writeError(w, r, opts, opts.DuplicateEmailStatus, "User with email already exists")
		return
	}
	id := s.insertUserLocked(u, now)
	rec := s.users[id]
	if sendInvite {
		s.invites = append(s.invites, Invite{UserID: id, Email: rec.Email, At: now})
	}
	v := s.userView(rec, opts.Customer)
	v.Groups = s.groupRefsLocked(id)
	s.mu.Unlock()
	// Domo documents that create does not echo timezone and locale.
	v.Timezone, v.Locale = "", ""
	writeJSON(w, http.StatusCreated, v)
}

func (s *Sim) putUser(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 2)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return
	}
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	for _, k := range []string{"name", "email", "role"} {
		v := get(m, k)
		if !v.present {
			if opts.strictPut() {
				bad(k + " is required")
				return
			}
			continue
		}
		if s, ok := v.str(); !ok || strings.TrimSpace(s) == "" {
			bad(k + " must not be empty")
			return
		}
	}
	now := opts.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, found := s.users[id]
	if !found || cur.Deleted {
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(id, 10))
		return
	}
	if msg := opts.screenUndocumented(m); msg != "" {
		bad(msg)
		return
	}
	next := cur.SimUser
	if opts.PutMode == "replace" {
		for _, k := range optionalUserFields {
			if opts.UndocumentedFields == "ignore" && slices.Contains(undocumentedFields, k) {
				continue
			}
			if _, given := m[k]; !given {
				m[k] = json.RawMessage(`""`)
			}
		}
	}
	if msg := applyUserFields(&next, m); msg != "" {
		bad(msg)
		return
	}
	if !validEmail(next.Email) {
		bad("email is not a valid email address")
		return
	}
	if msg := applyRole(&next, m, opts, true); msg != "" {
		bad(msg)
		return
	}
	oldKey, newKey := strings.ToLower(cur.Email), strings.ToLower(next.Email)
	if other, taken := s.emails[newKey]; taken && other != id {
		writeError(w, r, opts, opts.DuplicateEmailStatus, "User with email already exists")
		return
	}
	next.UpdatedAt = now
	cur.SimUser = next
	if oldKey != newKey {
		delete(s.emails, oldKey)
		s.emails[newKey] = id
	}
	writeJSON(w, http.StatusOK, s.userView(cur, opts.Customer))
}

func (s *Sim) deleteUser(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 2)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, found := s.users[id]
	switch {
	case !found || u.Deleted:
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(id, 10))
	case u.OwnsContent:
		writeError(w, r, opts, http.StatusBadRequest, "User owns DataSets/DataFlows; transfer ownership before deleting")
	default:
		s.deleteUserLocked(u, opts.Now().UTC())
		noContent(w)
	}
}
