package domosim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// domoKey is one of Domo's own ("domo-defined") user attributes, bound to the field of the
// user record that v1 shows too, where there is one: a title written through the identity API
// is the title v1 reads.
type domoKey struct {
	key, name string
	get       func(*SimUser) []any
	// set validates and applies values (one value; none clears); it returns a message for a
	// 400, or "".
	set func(s *Sim, u *SimUser, values []string) string
}

func strKey(key, name string, f func(*SimUser) *string) domoKey {
	return domoKey{key: key, name: name,
		get: func(u *SimUser) []any {
			if v := *f(u); v != "" {
				return []any{v}
			}
			return nil
		},
		set: func(_ *Sim, u *SimUser, vs []string) string {
			if len(vs) > 1 {
				return "Attribute " + key + " takes one value"
			}
			*f(u) = ""
			if len(vs) == 1 {
				*f(u) = strings.TrimSpace(vs[0])
			}
			return ""
		}}
}

// domoKeys are the domo-defined attributes the identity API reads and writes (observed keys,
// facts file §9). displayName and emailAddress are also top-level fields.
var domoKeys = []domoKey{
	strKey("displayName", "Display Name", func(u *SimUser) *string { return &u.Name }),
	strKey("emailAddress", "Email Address", func(u *SimUser) *string { return &u.Email }),
	strKey("phoneNumber", "Phone Number", func(u *SimUser) *string { return &u.Phone }),
	strKey("title", "Title", func(u *SimUser) *string { return &u.Title }),
	strKey("department", "Department", func(u *SimUser) *string { return &u.Department }),
	strKey("employeeId", "Employee ID", func(u *SimUser) *string { return &u.EmployeeID }),
	strKey("employeeLocation", "Location", func(u *SimUser) *string { return &u.Location }),
	strKey("hireDate", "Hire Date", func(u *SimUser) *string { return &u.HireDate }),
	strKey("locale", "Locale", func(u *SimUser) *string { return &u.Locale }),
	strKey("timeZone", "Time zone", func(u *SimUser) *string { return &u.Timezone }),
	{key: "employeeNumber", name: "Employee number",
		get: func(u *SimUser) []any {
			if u.EmployeeNumber != 0 {
				return []any{u.EmployeeNumber}
			}
			return nil
		},
		set: func(_ *Sim, u *SimUser, vs []string) string {
			if len(vs) == 0 {
				u.EmployeeNumber = 0
				return ""
			}
			n, err := strconv.ParseInt(strings.TrimSpace(vs[0]), 10, 64)
			if len(vs) > 1 || err != nil {
				return "Attribute employeeNumber takes one integer"
			}
			u.EmployeeNumber = n
			return ""
		}},
	{key: "reportsTo", name: "Reports To ID",
		get: func(u *SimUser) []any {
			if u.ReportsTo != 0 {
				return []any{u.ReportsTo}
			}
			return nil
		},
		set: func(s *Sim, u *SimUser, vs []string) string {
			if len(vs) == 0 {
				u.ReportsTo = 0
				return ""
			}
			id, ok := parseID(strings.TrimSpace(vs[0]))
			if len(vs) > 1 || !ok {
				return "Attribute reportsTo takes one user id"
			}
			if m, found := s.users[id]; !found || m.Deleted || id == u.ID {
				return "reportsTo: no such user " + vs[0]
			}
			u.ReportsTo = id
			return ""
		}},
}

func findDomoKey(key string) (domoKey, bool) {
	for _, k := range domoKeys {
		if k.key == key {
			return k, true
		}
	}
	return domoKey{}, false
}

type attrJSON struct {
	Key    string `json:"key"`
	Values []any  `json:"values"`
}

type identityUserJSON struct {
	ID           int64      `json:"id"`
	DisplayName  string     `json:"displayName,omitempty"`
	UserName     string     `json:"userName,omitempty"`
	EmailAddress string     `json:"emailAddress,omitempty"`
	RoleID       int64      `json:"roleId,omitempty"`
	Attributes   []attrJSON `json:"attributes"`
}

func identityView(rec *user, opts Options) identityUserJSON {
	u := &rec.SimUser
	v := identityUserJSON{ID: u.ID, DisplayName: u.Name, UserName: u.Email, EmailAddress: u.Email, RoleID: u.RoleID, Attributes: []attrJSON{}}
	for _, k := range domoKeys {
		if vals := k.get(u); len(vals) > 0 {
			v.Attributes = append(v.Attributes, attrJSON{Key: k.key, Values: vals})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(rec.attrs)) {
		// A key an admin deleted from the catalogue no longer shows.
		if vals := rec.attrs[key]; len(vals) > 0 && slices.Contains(opts.AttributeKeys, key) {
			list := make([]any, len(vals))
			for i, s := range vals {
				list[i] = s
			}
			v.Attributes = append(v.Attributes, attrJSON{Key: key, Values: list})
		}
	}
	return v
}

func (s *Sim) identityList(w http.ResponseWriter, r *http.Request, opts Options) {
	now := opts.Now()
	s.mu.RLock()
	out := make([]identityUserJSON, 0, len(s.live))
	for _, u := range s.live {
		if u.visible(now) {
			out = append(out, identityView(u, opts))
		}
	}
	s.mu.RUnlock()
	list := make([]any, len(out))
	for i, v := range out {
		list[i] = identityOut(v, opts)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}

func (s *Sim) identityGet(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 4)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return
	}
	s.mu.RLock()
	u, found := s.users[id]
	var v identityUserJSON
	if found && u.visible(opts.Now()) {
		v = identityView(u, opts)
	} else {
		found = false
	}
	s.mu.RUnlock()
	if !found {
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(id, 10))
		return
	}
	writeIdentityUser(w, v, opts)
}

func (s *Sim) identityCreate(w http.ResponseWriter, r *http.Request, opts Options) {
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	name, _ := get(m, "displayName").str()
	email, _ := get(m, "emailAddress").str()
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	if name == "" || !validEmail(email) {
		bad("displayName and a valid emailAddress are required")
		return
	}
	u := SimUser{Name: name, Email: email}
	role := SystemRoles[3] // Participant
	if v := get(m, "roleId"); v.present && !v.null {
		n, nok := v.integer()
		found, rok := opts.roleByID(n)
		if !nok || !rok {
			bad("Invalid roleId")
			return
		}
		role = found
	}
	u.Role, u.RoleID = role.Name, role.ID
	now := opts.Now().UTC()
	s.mu.Lock()
	if _, taken := s.emails[strings.ToLower(email)]; taken {
		s.mu.Unlock()
		writeError(w, r, opts, http.StatusConflict, "User already exists")
		return
	}
	id := s.insertUserLocked(u, now)
	v := identityView(s.users[id], opts)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, identityOut(v, opts))
}

// identityPatch changes a user's displayName, emailAddress, roleId and attributes. Every
// attribute key must exist; nothing changes when any part is refused.
func (s *Sim) identityPatch(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 4)
	if !ok {
		writeError(w, r, opts, http.StatusBadRequest, "Invalid user id")
		return
	}
	m, ok := readObject(w, r, opts)
	if !ok {
		return
	}
	bad := func(msg string) { writeError(w, r, opts, http.StatusBadRequest, msg) }
	var attrs []struct {
		Key    string            `json:"key"`
		Values []json.RawMessage `json:"values"`
	}
	if v := get(m, "attributes"); v.present && !v.null {
		if err := json.Unmarshal(v.raw, &attrs); err != nil {
			bad("attributes must be a list of {key, values}")
			return
		}
	}
	now := opts.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, found := s.users[id]
	if !found || !cur.visible(now) {
		writeError(w, r, opts, http.StatusNotFound, "User not found: "+strconv.FormatInt(id, 10))
		return
	}
	next := cur.SimUser
	custom := maps.Clone(cur.attrs)
	for _, f := range []struct {
		key string
		dst *string
	}{{"displayName", &next.Name}, {"emailAddress", &next.Email}} {
		if v := get(m, f.key); v.present {
			str, ok := v.str()
			if !ok || strings.TrimSpace(str) == "" {
				bad(f.key + " must be a non-empty string")
				return
			}
			*f.dst = strings.TrimSpace(str)
		}
	}
	if v := get(m, "roleId"); v.present && !v.null {
		n, nok := v.integer()
		if !nok {
			if str, sok := v.str(); sok {
				n, nok = parseID(strings.TrimSpace(str))
			}
		}
		role, rok := opts.roleByID(n)
		if !nok || !rok {
			bad("Invalid roleId")
			return
		}
		next.Role, next.RoleID = role.Name, role.ID
	}
	for _, a := range attrs {
		vals := make([]string, 0, len(a.Values))
		for _, raw := range a.Values {
			str, ok := scalar(raw)
			if !ok {
				bad("Attribute " + a.Key + ": values must be strings or numbers")
				return
			}
			vals = append(vals, str)
		}
		if k, ok := findDomoKey(a.Key); ok {
			if msg := k.set(s, &next, vals); msg != "" {
				bad(msg)
				return
			}
			continue
		}
		if !slices.Contains(opts.AttributeKeys, a.Key) {
			bad("Unknown attribute key: " + a.Key)
			return
		}
		if custom == nil {
			custom = map[string][]string{}
		}
		if len(vals) == 0 {
			delete(custom, a.Key)
		} else {
			custom[a.Key] = vals
		}
	}
	if !validEmail(next.Email) {
		bad("emailAddress is not a valid email address")
		return
	}
	oldKey, newKey := strings.ToLower(cur.Email), strings.ToLower(next.Email)
	if other, taken := s.emails[newKey]; taken && other != id {
		writeError(w, r, opts, http.StatusConflict, "User already exists")
		return
	}
	next.UpdatedAt = now
	cur.SimUser = next
	cur.attrs = custom
	if oldKey != newKey {
		delete(s.emails, oldKey)
		s.emails[newKey] = id
	}
	writeIdentityChange(w, identityView(cur, opts), opts)
}

func scalar(raw json.RawMessage) (string, bool) {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

func (s *Sim) identityDelete(w http.ResponseWriter, r *http.Request, opts Options) {
	id, ok := pathID(r, 4)
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
		writeJSON(w, http.StatusOK, 1)
	}
}

type keyJSON struct {
	Key       string `json:"key"`
	Name      string `json:"name"`
	Keyspace  string `json:"keyspace"`
	ValueType string `json:"valueType"`
	Validator string `json:"validator"`
}

// attributeKeys serves the catalogue, filtered by issuerTypes (keyspaces) when given.
func (s *Sim) attributeKeys(w http.ResponseWriter, r *http.Request, opts Options) {
	if opts.AttributeCatalogue == "absent" {
		writeError(w, r, opts, http.StatusNotFound, "No handler found for "+r.Method+" "+r.URL.Path)
		return
	}
	want := map[string]bool{}
	for _, t := range strings.Split(r.URL.Query().Get("issuerTypes"), ",") {
		if t = strings.TrimSpace(strings.ToLower(t)); t != "" {
			want[t] = true
		}
	}
	out := []keyJSON{}
	if len(want) == 0 || want["domo-defined"] {
		for _, k := range domoKeys {
			out = append(out, keyJSON{Key: k.key, Name: k.name, Keyspace: "domo-defined", ValueType: "null", Validator: "ANY_VALUE"})
		}
	}
	if len(want) == 0 || want["customer-defined"] {
		for _, k := range opts.AttributeKeys {
			out = append(out, keyJSON{Key: k, Name: k, Keyspace: "customer-defined", ValueType: "STRING", Validator: "ANY_VALUE_MULTI"})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type roleJSON struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	UserCount   int    `json:"userCount"`
}

func (s *Sim) listRoles(w http.ResponseWriter, r *http.Request, opts Options) {
	counts := map[int64]int{}
	s.mu.RLock()
	for _, u := range s.live {
		counts[u.RoleID]++
	}
	s.mu.RUnlock()
	out := []any{}
	for _, list := range [][]Role{SystemRoles, opts.CustomRoles} {
		for _, role := range list {
			if opts.RolesAnswer == "wrapped" || opts.InstanceIDs == "string" {
				// The other shape, with fields a client has no use for.
				out = append(out, map[string]any{"id": idOut(role.ID, opts), "name": role.Name, "description": role.Name + " role",
					"userCount": strconv.Itoa(counts[role.ID]), "authorityCount": nil, "isSystem": role.ID <= 5, "authorities": []any{}})
				continue
			}
			out = append(out, roleJSON{ID: role.ID, Name: role.Name, Description: role.Name + " role", UserCount: counts[role.ID]})
		}
	}
	if opts.RolesAnswer == "wrapped" {
		writeJSON(w, http.StatusOK, map[string]any{"roles": out, "totalCount": len(out)})
		return
	}
	writeJSON(w, http.StatusOK, out)
}
