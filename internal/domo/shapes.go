package domo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// The instance APIs' answers are decoded for every shape a faithful reading of Domo's docs
// allows, since the docs show one example each and other tenants (or versions) answer
// otherwise: a list bare or wrapped in an object, ids as numbers or strings, attribute values
// as a list of strings, of numbers, or a bare value. One odd field loses that field (or that
// attribute, or that role), never the record it belongs to.

// errNoRecord: an answer that is well-formed but carries no record (an empty list).
var errNoRecord = errors.New("the answer holds no record")

// listIn returns the list an answer carries: the answer itself when it is a JSON array, else
// the first member of an object named in names that is an array, else the object's only
// array-valued member.
func listIn(b []byte, names ...string) ([]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("empty answer where a list was expected")
	}
	var list []json.RawMessage
	if b[0] == '[' {
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("answer is not a JSON list: %w", err)
		}
		return list, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("answer is neither a JSON list nor an object: %w", err)
	}
	for _, n := range names {
		if raw, ok := m[n]; ok && json.Unmarshal(raw, &list) == nil && list != nil {
			return list, nil
		}
	}
	var found []json.RawMessage
	arrays := 0
	for _, raw := range m {
		var l []json.RawMessage
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' && json.Unmarshal(t, &l) == nil {
			found, arrays = l, arrays+1
		}
	}
	if arrays == 1 {
		return found, nil
	}
	return nil, fmt.Errorf("answer is an object without one list to read (%d lists)", arrays)
}

// object decodes a JSON object into its members; ok is false for anything else.
func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// intOf reads the first of keys that holds an integer (a number or a numeric string).
func intOf(m map[string]json.RawMessage, keys ...string) int64 {
	for _, k := range keys {
		if raw, ok := m[k]; ok {
			var n Int
			if n.UnmarshalJSON(raw) == nil && n != 0 {
				return int64(n)
			}
		}
	}
	return 0
}

// strOf reads the first of keys that holds a scalar, as text.
func strOf(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if s, ok := scalarText(m[k]); ok {
			return s
		}
	}
	return ""
}

// scalarText reads a JSON string, number or bool as text: a number keeps its decimal text
// (42 is "42", 1.5 is "1.5", 1e3 is "1000"). null, objects, lists and nothing are not scalars.
func scalarText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '{', '[', 'n':
		return "", false
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return "", false
		}
		return strconv.FormatBool(b), true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return decimalText(n.String()), true
}

// decimalText writes a JSON number without an exponent, exactly: "1e3" is "1000", "2.5E-2"
// is "0.025". A number without an exponent is kept as written, and so is one whose exponent is
// too large to write out (1e999999999 would take a gigabyte).
func decimalText(s string) string {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return s
	}
	if exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+")); err != nil || exp > maxExponent || exp < -maxExponent {
		return s
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	// A decimal literal is exact in decimal: find the fewest digits that say it.
	for prec := 1; prec <= 400; prec++ {
		out := r.FloatString(prec)
		if back, ok := new(big.Rat).SetString(out); ok && back.Cmp(r) == 0 {
			return out
		}
	}
	return s
}

// maxExponent bounds the exponents decimalText writes out.
const maxExponent = 100

// attributeValues reads an attribute's values as Domo documents them ("values":
// number|string[]) and as tenants send them: a list of strings, of numbers, or of both; a bare
// string or number; null or nothing (no values). Entries that are not scalars are dropped.
func attributeValues(raw json.RawMessage) []string {
	out := []string{}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			for _, v := range list {
				if s, ok := scalarText(v); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	if s, ok := scalarText(raw); ok {
		out = append(out, s)
	}
	return out
}

// decodeAttributes reads a user's attributes: a list of {key, values} (an entry without a
// usable key is skipped), or an object mapping keys to values.
func decodeAttributes(raw json.RawMessage) []Attribute {
	var out []Attribute
	if m, ok := object(raw); ok {
		for k, v := range m {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, Attribute{Key: k, Values: attributeValues(v)})
			}
		}
		sortAttributes(out)
		return out
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	for _, entry := range list {
		m, ok := object(entry)
		if !ok {
			continue
		}
		key := strings.TrimSpace(strOf(m, "key"))
		if key == "" {
			continue
		}
		out = append(out, Attribute{Key: key, Values: attributeValues(m["values"])})
	}
	return out
}

// decodeIdentityUser reads the user want (0: the only one) from an identity API answer: a
// user object, {"users":[…]} as GET answers, {"user":{…}}, or a bare list. An answer that
// lists users but not want is an error; one that lists none is errNoRecord.
func decodeIdentityUser(b []byte, want int64) (IdentityUser, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return IdentityUser{}, fmt.Errorf("identity user: empty answer")
	}
	var entries []json.RawMessage
	switch m, isObj := object(b); {
	case isObj && isList(m["users"]):
		_ = json.Unmarshal(m["users"], &entries)
	case isObj && isObject(m["user"]):
		entries = []json.RawMessage{m["user"]}
	case isObj:
		entries = []json.RawMessage{b}
	case b[0] == '[':
		if err := json.Unmarshal(b, &entries); err != nil {
			return IdentityUser{}, fmt.Errorf("identity user: %w", err)
		}
	default:
		return IdentityUser{}, fmt.Errorf("identity user: the answer is not a JSON object")
	}
	var users []IdentityUser
	for _, e := range entries {
		if u, ok := identityUserOf(e); ok {
			users = append(users, u)
		}
	}
	switch {
	case len(users) == 0:
		return IdentityUser{}, fmt.Errorf("identity user: %w", errNoRecord)
	case want == 0 && len(users) == 1:
		return users[0], nil
	}
	for _, u := range users {
		if u.ID == want {
			return u, nil
		}
	}
	if len(users) == 1 && users[0].ID == 0 {
		return users[0], nil // no id in the record: the caller knows whose it is
	}
	return IdentityUser{}, fmt.Errorf("identity user: the answer does not describe user %d", want)
}

// identityUserOf reads one user record field by field.
func identityUserOf(raw json.RawMessage) (IdentityUser, bool) {
	m, ok := object(raw)
	if !ok {
		return IdentityUser{}, false
	}
	u := IdentityUser{
		ID:           intOf(m, "id", "userId"),
		DisplayName:  strOf(m, "displayName"),
		UserName:     strOf(m, "userName"),
		EmailAddress: strOf(m, "emailAddress"),
		RoleID:       intOf(m, "roleId"),
	}
	if raw, ok := m["attributes"]; ok {
		u.Attributes = decodeAttributes(raw)
	}
	return u, true
}

func isList(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// decodeRoles reads the roles list: bare or wrapped (e.g. {"roles":[…]}); ids numbers or
// strings; unknown fields ignored. A role without a usable id or name is skipped.
func decodeRoles(b []byte) ([]Role, error) {
	raws, err := listIn(b, "roles", "items", "data")
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	out := make([]Role, 0, len(raws))
	for _, raw := range raws {
		m, ok := object(raw)
		if !ok {
			continue
		}
		r := Role{ID: intOf(m, "id", "roleId"), Name: strings.TrimSpace(strOf(m, "name", "roleName")),
			Description: strOf(m, "description"), UserCount: intOf(m, "userCount")}
		if r.ID > 0 && r.Name != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// decodeAttributeKeys reads the catalogue: a list (bare or wrapped) of key objects or of bare
// key strings.
func decodeAttributeKeys(b []byte) ([]AttributeKey, error) {
	raws, err := listIn(b, "keys", "properties", "attributes", "items", "data")
	if err != nil {
		return nil, fmt.Errorf("attribute catalogue: %w", err)
	}
	out := make([]AttributeKey, 0, len(raws))
	for _, raw := range raws {
		var k AttributeKey
		if m, ok := object(raw); ok {
			k = AttributeKey{Key: strOf(m, "key"), Name: strOf(m, "name", "displayName"), Keyspace: strOf(m, "keyspace", "issuerType"),
				ValueType: strOf(m, "valueType"), Validator: strOf(m, "validator")}
		} else if s, ok := scalarText(raw); ok {
			k.Key = s
		}
		if k.Key = strings.TrimSpace(k.Key); k.Key != "" {
			out = append(out, k)
		}
	}
	return out, nil
}
