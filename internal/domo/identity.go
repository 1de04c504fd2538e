package domo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Identity API paths.
const (
	identityUsersPath = "/api/identity/v1/users"
	attributeKeysPath = "/api/user/v1/properties/meta/keys"
)

// Attribute is one user attribute of the identity API: a key (case-sensitive, fixed when the
// attribute was created in Domo) and its values. An empty Values in an update clears it.
type Attribute struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Domo-defined attribute keys the bridge writes through the identity API.
const (
	AttrReportsTo        = "reportsTo"        // the manager's Domo user id
	AttrHireDate         = "hireDate"         // Domo SCIM's domo extension hireDate
	AttrEmployeeLocation = "employeeLocation" // Domo SCIM's domo extension employeeLocation
	AttrOrganization     = "organization"     // enterprise organization, where the tenant has the key
	AttrDepartment       = "department"
)

// AttributeKey describes one attribute the tenant has: Domo's own ("domo-defined"), an IdP's
// ("idp") or the customer's ("customer-defined").
type AttributeKey struct {
	Key       string `json:"key"`
	Name      string `json:"name,omitempty"`
	Keyspace  string `json:"keyspace,omitempty"`
	ValueType string `json:"valueType,omitempty"`
	Validator string `json:"validator,omitempty"`
}

// IdentityUser is a user as the identity API describes it.
type IdentityUser struct {
	ID           int64
	DisplayName  string
	UserName     string
	EmailAddress string
	RoleID       int64
	Attributes   []Attribute
}

// Attribute returns the values of one attribute, and whether the user has it.
func (u IdentityUser) Attribute(key string) ([]string, bool) {
	for _, a := range u.Attributes {
		if a.Key == key {
			return a.Values, true
		}
	}
	return nil, false
}

// IdentityUpdate is a PATCH of the identity API: a role by id (0 leaves it) and the attributes
// to set; attributes not listed keep their values.
type IdentityUpdate struct {
	RoleID     int64
	Attributes []Attribute
}

// Empty reports whether the update changes nothing.
func (u IdentityUpdate) Empty() bool { return u.RoleID == 0 && len(u.Attributes) == 0 }

// MarshalJSON encodes the PATCH body: roleId only when set, attributes only when given, and
// every values list present (an empty one clears the attribute).
func (u IdentityUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.RoleID != 0 {
		m["roleId"] = u.RoleID
	}
	if len(u.Attributes) > 0 {
		attrs := make([]Attribute, len(u.Attributes))
		for i, a := range u.Attributes {
			attrs[i] = Attribute{Key: a.Key, Values: a.Values}
			if attrs[i].Values == nil {
				attrs[i].Values = []string{}
			}
		}
		m["attributes"] = attrs
	}
	return json.Marshal(m)
}

// AttributeKeys returns the attribute catalogue read by the last probe, sorted by key.
func (in *Instance) AttributeKeys() []AttributeKey {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]AttributeKey, 0, len(in.keys))
	for _, k := range in.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// UnknownKeys returns, in order, the keys the tenant's attribute catalogue does not have.
// Keys are case-sensitive in Domo. Without a catalogue every key is unknown.
func (in *Instance) UnknownKeys(keys []string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, k := range keys {
		if _, ok := in.keys[k]; !ok && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// HasAttributeKey reports whether the tenant has an attribute key.
func (in *Instance) HasAttributeKey(key string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, ok := in.keys[key]
	return ok
}

func keyMap(keys []AttributeKey) map[string]AttributeKey {
	m := make(map[string]AttributeKey, len(keys))
	for _, k := range keys {
		if k.Key != "" {
			m[k.Key] = k
		}
	}
	return m
}

// RefreshAttributeKeys reads the attribute catalogue again (an admin may have added a key).
func (in *Instance) RefreshAttributeKeys(ctx context.Context) ([]AttributeKey, error) {
	keys, err := in.fetchAttributeKeys(ctx)
	if err != nil {
		if _, ok := endpointRefusal(err); ok {
			return nil, in.classify(ctx, CapAttributes, "attributes.keys", err, false)
		}
		if _, ok := missing(err); ok {
			return nil, in.classify(ctx, CapAttributes, "attributes.keys", err, false)
		}
		return nil, fmt.Errorf("read attribute keys: %w", err)
	}
	in.mu.Lock()
	in.keys = keyMap(keys)
	in.mu.Unlock()
	return keys, nil
}

func (in *Instance) fetchAttributeKeys(ctx context.Context) ([]AttributeKey, error) {
	q := url.Values{"issuerTypes": {"idp,domo-defined,customer-defined"}}
	res, err := in.c.do(ctx, call{op: "attributes.keys", method: http.MethodGet, path: attributeKeysPath, query: q, idempotent: true})
	if err != nil {
		return nil, err
	}
	keys, err := decodeAttributeKeys(res.body)
	if err != nil {
		return nil, fmt.Errorf("domo attributes.keys: %w: %w", ErrUnavailable, err)
	}
	return keys, nil
}

func identityUserPath(id int64) string { return identityUsersPath + "/" + strconv.FormatInt(id, 10) }

// User reads a user through the identity API, attributes included. A user Domo does not have
// is ErrNotFound; a capability that turned out gone is a *CapabilityError.
func (in *Instance) User(ctx context.Context, id int64) (IdentityUser, error) {
	if id <= 0 {
		return IdentityUser{}, fmt.Errorf("identity user %d: %w", id, ErrNotFound)
	}
	u, err := in.fetchUser(ctx, "identity.get", id)
	if err != nil {
		return IdentityUser{}, fmt.Errorf("identity user %d: %w", id, in.classify(ctx, CapAttributes, "identity.get", err, true))
	}
	return u, nil
}

func (in *Instance) fetchUser(ctx context.Context, op string, id int64) (IdentityUser, error) {
	q := url.Values{"parts": {"DETAILED"}}
	res, err := in.c.do(ctx, call{op: op, method: http.MethodGet, path: identityUserPath(id), query: q, idempotent: true})
	if err != nil {
		return IdentityUser{}, err
	}
	u, err := decodeIdentityUser(res.body)
	if err != nil {
		return IdentityUser{}, fmt.Errorf("domo %s: %w: %w", op, ErrUnavailable, err)
	}
	if u.ID == 0 {
		u.ID = id
	}
	if u.ID != id {
		return IdentityUser{}, fmt.Errorf("domo %s: %w: the answer describes user %d", op, ErrUnavailable, u.ID)
	}
	return u, nil
}

// UpdateUser PATCHes a user through the identity API: its role by id and the given
// attributes. The PATCH sets values, so repeating it changes nothing and it is retried like a
// read. Domo's 400 (an unknown key, a value it refuses) is an *APIError with status 400.
func (in *Instance) UpdateUser(ctx context.Context, id int64, upd IdentityUpdate) (IdentityUser, error) {
	const op = "identity.update"
	if id <= 0 {
		return IdentityUser{}, fmt.Errorf("update identity user %d: %w", id, ErrNotFound)
	}
	if upd.Empty() {
		return in.User(ctx, id)
	}
	res, err := in.c.do(ctx, call{op: op, method: http.MethodPatch, path: identityUserPath(id), body: upd, idempotent: true})
	if err != nil {
		return IdentityUser{}, fmt.Errorf("update identity user %d: %w", id, in.classify(ctx, CapAttributes, op, err, true))
	}
	u, derr := decodeIdentityUser(res.body)
	if derr != nil || u.ID == 0 {
		// Domo answered 2xx: the change is made. Its body is only a courtesy.
		return IdentityUser{ID: id, RoleID: upd.RoleID, Attributes: upd.Attributes}, nil
	}
	return u, nil
}

// Roles returns the tenant's roles as the last probe read them.
func (in *Instance) Roles() []Role {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.roles)
}

// decodeIdentityUser reads a user object, or the {"users":[…]} wrapper GET by id answers with.
func decodeIdentityUser(b []byte) (IdentityUser, error) {
	b = bytes.TrimSpace(b)
	var wrap struct {
		Users []json.RawMessage `json:"users"`
	}
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil || len(list) == 0 {
			return IdentityUser{}, fmt.Errorf("identity user answer is an empty or bad list")
		}
		b = list[0]
	} else if json.Unmarshal(b, &wrap) == nil && wrap.Users != nil {
		if len(wrap.Users) == 0 {
			return IdentityUser{}, fmt.Errorf("identity user answer holds no user")
		}
		b = wrap.Users[0]
	}
	var w struct {
		ID           Int               `json:"id"`
		DisplayName  string            `json:"displayName"`
		UserName     string            `json:"userName"`
		EmailAddress string            `json:"emailAddress"`
		RoleID       Int               `json:"roleId"`
		Attributes   []json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return IdentityUser{}, fmt.Errorf("identity user: %w", err)
	}
	u := IdentityUser{ID: int64(w.ID), DisplayName: w.DisplayName, UserName: w.UserName, EmailAddress: w.EmailAddress, RoleID: int64(w.RoleID)}
	for _, raw := range w.Attributes {
		var a struct {
			Key    string            `json:"key"`
			Values []json.RawMessage `json:"values"`
		}
		if json.Unmarshal(raw, &a) != nil || a.Key == "" {
			continue
		}
		attr := Attribute{Key: a.Key, Values: []string{}}
		for _, v := range a.Values {
			if s, ok := scalarText(v); ok {
				attr.Values = append(attr.Values, s)
			}
		}
		u.Attributes = append(u.Attributes, attr)
	}
	return u, nil
}

// scalarText reads a JSON string, number or bool as text (values are "number|string[]").
func scalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

// decodeAttributeKeys reads the catalogue: a list of key objects (or of bare key strings).
func decodeAttributeKeys(b []byte) ([]AttributeKey, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		var wrap struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if json.Unmarshal(b, &wrap) != nil || wrap.Keys == nil {
			return nil, fmt.Errorf("attribute catalogue is not a JSON list: %w", err)
		}
		raws = wrap.Keys
	}
	out := make([]AttributeKey, 0, len(raws))
	for _, raw := range raws {
		var k AttributeKey
		if json.Unmarshal(raw, &k) != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				continue
			}
			k.Key = s
		}
		if k.Key = strings.TrimSpace(k.Key); k.Key != "" {
			out = append(out, k)
		}
	}
	return out, nil
}
