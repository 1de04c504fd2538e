package domo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
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

// CatalogueState is what the client knows of the attribute catalogue
// (GET /api/user/v1/properties/meta/keys). Domo's identity API page does not list it, so it is
// optional: when it answers with keys, a custom attribute key it lacks is refused before
// anything is written; when it does not, the attributes capability stays available and Domo's
// answer to the identity PATCH is the judge of the keys.
type CatalogueState struct {
	Available bool
	// Status is the HTTP status of the answer that decided (0: no answer, or not read yet).
	Status int
	// Reason says why the catalogue is not used; empty when it is.
	Reason  string
	Keys    int // keys it listed
	Checked time.Time
}

// Catalogue reports the state of the attribute catalogue.
func (in *Instance) Catalogue() CatalogueState {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.catalogue
}

// AttributeKeys returns the attribute catalogue as last read, sorted by key; nil while the
// catalogue is not available.
func (in *Instance) AttributeKeys() []AttributeKey {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.catalogue.Available {
		return nil
	}
	out := make([]AttributeKey, 0, len(in.keys))
	for _, k := range in.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// KeyState tells what the client knows of an attribute key (case-sensitive in Domo): decided
// is false when nothing tells (no catalogue, and Domo never showed or took or refused the key
// alone); exists says whether the tenant has it. What Domo showed (a user's attributes) or
// took (a PATCH setting the key) outweighs the catalogue.
func (in *Instance) KeyState(key string) (exists, decided bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.keyStateLocked(key)
}

func (in *Instance) keyStateLocked(key string) (exists, decided bool) {
	if v, ok := in.known[key]; ok {
		return v, true
	}
	if in.catalogue.Available {
		_, ok := in.keys[key]
		return ok, true
	}
	return false, false
}

// HasAttributeKey reports whether the tenant is known to have an attribute key.
func (in *Instance) HasAttributeKey(key string) bool {
	exists, decided := in.KeyState(key)
	return exists && decided
}

// UnknownKeys returns, in order and once each, the keys the tenant is known not to have: the
// catalogue (when it answered) lacks them, and Domo never showed or took them. Without a
// catalogue it returns only keys Domo refused on their own.
func (in *Instance) UnknownKeys(keys []string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, k := range keys {
		if exists, decided := in.keyStateLocked(k); decided && !exists && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// UncertainKeys returns, in order and once each, the keys the tenant is not known to have:
// those UnknownKeys returns, and those nothing tells of.
func (in *Instance) UncertainKeys(keys []string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, k := range keys {
		if exists, decided := in.keyStateLocked(k); !(exists && decided) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// NoteKey records what Domo showed of a key: exists after Domo took a PATCH setting it, not
// after it refused a PATCH of that key alone. What was learnt of missing keys is forgotten at
// the next probe of the attributes capability (an admin may create the key meanwhile).
func (in *Instance) NoteKey(key string, exists bool) {
	if key == "" {
		return
	}
	in.mu.Lock()
	if in.known == nil {
		in.known = map[string]bool{}
	}
	in.known[key] = exists
	in.mu.Unlock()
}

// learn records the keys of attributes Domo showed or took with values.
func (in *Instance) learn(attrs []Attribute) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, a := range attrs {
		if a.Key == "" || len(a.Values) == 0 {
			continue
		}
		if in.known == nil {
			in.known = map[string]bool{}
		}
		in.known[a.Key] = true
	}
}

// forgetMissing drops what was learnt of keys the tenant lacked.
func (in *Instance) forgetMissing() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for k, v := range in.known {
		if !v {
			delete(in.known, k)
		}
	}
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

// RefreshAttributeKeys reads the attribute catalogue again (an admin may have added a key) and
// records its state. The catalogue failing never touches a capability: without it, Domo's
// answer to each write judges the keys.
func (in *Instance) RefreshAttributeKeys(ctx context.Context) ([]AttributeKey, error) {
	st := CatalogueState{Checked: time.Now()}
	keys, err := in.fetchAttributeKeys(ctx)
	var ae *APIError
	switch {
	case err == nil && len(keys) == 0:
		// Domo's own keys (displayName, title...) are always there: an empty catalogue cannot
		// judge anything.
		st.Reason = "answered without any key"
	case err == nil:
		st.Available, st.Keys = true, len(keys)
	case errors.As(err, &ae):
		st.Status = ae.Status
		st.Reason = capabilityReason(ae.Status)
		if ae.Status >= 500 || ae.Status == http.StatusTooManyRequests {
			st.Reason = "failed: " + err.Error()
		}
	default:
		st.Reason = "failed: " + err.Error()
	}
	in.mu.Lock()
	prev := in.catalogue
	in.catalogue = st
	if st.Available {
		in.keys = keyMap(keys)
	} else {
		in.keys = nil
	}
	in.mu.Unlock()
	if prev.Available != st.Available || prev.Checked.IsZero() {
		if st.Available {
			in.log.Info().Int("keys", st.Keys).Msg("Domo attribute catalogue read: custom attribute keys are checked before writes")
		} else {
			in.log.Info().Int("status", st.Status).Str("reason", st.Reason).Msg("Domo attribute catalogue not available: Domo's answer to each attribute write judges its keys")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read attribute keys: %w", err)
	}
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

func sortAttributes(list []Attribute) {
	slices.SortFunc(list, func(a, b Attribute) int { return strings.Compare(a.Key, b.Key) })
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
	u, err := decodeIdentityUser(res.body, id)
	if errors.Is(err, errNoRecord) {
		// {"users":[]}: the tenant's way of saying it has no such user.
		return IdentityUser{}, &APIError{Op: op, Status: http.StatusNotFound, Reason: "Not Found", Message: "the answer lists no user"}
	}
	if err != nil {
		return IdentityUser{}, fmt.Errorf("domo %s: %w: %w", op, ErrUnavailable, err)
	}
	if u.ID == 0 {
		u.ID = id
	}
	in.learn(u.Attributes)
	return u, nil
}

// UpdateUser PATCHes a user through the identity API: its role by id and the given
// attributes, in the body Domo documents ({"roleId": n}, {"attributes": [{key, values}]}). The
// PATCH sets values, so repeating it changes nothing and it is retried like a read. Domo's 400
// (an unknown key, a value it refuses) is an *APIError with status 400. Domo's answer may be
// the user, {"users": [user]}, or nothing at all (200 or 204): a 2xx means the change is made,
// and the keys it set are then known to exist.
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
	in.learn(upd.Attributes)
	u, derr := decodeIdentityUser(res.body, id)
	if derr != nil {
		// Domo answered 2xx: the change is made. Its body is only a courtesy.
		return IdentityUser{ID: id, RoleID: upd.RoleID, Attributes: upd.Attributes}, nil
	}
	if u.ID == 0 {
		u.ID = id
	}
	in.learn(u.Attributes)
	return u, nil
}

// Roles returns the tenant's roles as the last probe read them.
func (in *Instance) Roles() []Role {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.roles)
}
