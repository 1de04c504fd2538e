package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Quirk names reported to metrics when an IdP's non-RFC input is normalised. They are a
// closed vocabulary so that a dashboard can count them.
const (
	QuirkManagerString    = "manager-string"        // enterprise manager sent as a bare id string
	QuirkMemberString     = "member-string"         // a group member sent as a bare id string
	QuirkStringBool       = "string-bool"           // "True"/"false" for a boolean attribute
	QuirkFlatExtensionKey = "flat-extension-key"    // "urn:…:User:department" as a top-level key
	QuirkMemberDisplay    = "member-displayName"    // members[].displayName instead of display
	QuirkOpCase           = "op-case"               // "Replace" instead of "replace"
	QuirkDottedKey        = "dotted-key"            // "name.givenName" as a key of a value object
	QuirkRemoveWithValue  = "remove-with-value"     // a remove carrying a value on a single-valued attribute
	QuirkRemoveValueList  = "remove-value-list"     // Entra's remove of listed members (path plus value)
	QuirkIDInValue        = "id-in-value"           // Okta's rename carrying the resource's own id
	QuirkPatchOpSchema    = "patchop-schema-absent" // a PATCH body whose schemas lack the PatchOp URN
	QuirkUnquotedFilter   = "path-unquoted-value"   // members[value eq 42] or single quotes in a path
)

// QuirkKinds lists every kind of IdP quirk the bridge normalises (metrics start each at zero).
var QuirkKinds = []string{
	QuirkManagerString, QuirkMemberString, QuirkStringBool, QuirkFlatExtensionKey, QuirkMemberDisplay,
	QuirkOpCase, QuirkDottedKey, QuirkRemoveWithValue, QuirkRemoveValueList, QuirkIDInValue,
	QuirkPatchOpSchema, QuirkUnquotedFilter,
}

// add records name once; the order is the order of first appearance.
func (q *Quirks) add(name string) {
	for _, n := range *q {
		if n == name {
			return
		}
	}
	*q = append(*q, name)
}

// jsonShape turns values built in Go (by a backend or a test) into the shapes
// encoding/json produces, so that the rest of the code handles one set of types. Values it
// cannot express in JSON yield an error.
func jsonShape(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ne, err := jsonShape(e)
			if err != nil {
				return nil, err
			}
			out[k] = ne
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ne, err := jsonShape(e)
			if err != nil {
				return nil, err
			}
			out[i] = ne
		}
		return out, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := decodeStrict(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStrict decodes one JSON value with UseNumber and rejects trailing data.
func decodeStrict(b []byte, out *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// keysSorted returns m's keys in order, so that the first error reported for a body is always
// the same one.
func keysSorted(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// deepCopyValue deep-copies a JSON-shaped value. Slices of maps or strings built in Go become
// []any so that callers see one shape.
func deepCopyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyValue(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyValue(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}

// deepCopyAttrs deep-copies a resource.
func deepCopyAttrs(a Attributes) Attributes {
	out := make(Attributes, len(a))
	for k, v := range a {
		out[k] = deepCopyValue(v)
	}
	return out
}

// jsonEqual compares two JSON-shaped values; numbers compare by value whatever their Go type.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			f, ok := y[k]
			if !ok || !jsonEqual(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	if fa, ok := jsonFloat(a); ok {
		fb, ok := jsonFloat(b)
		return ok && fa == fb
	}
	return false
}

// jsonFloat reads a JSON number of any Go type.
func jsonFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// attrContainer returns the map that holds p's attribute: the resource itself for core and
// common attributes, or the object under the extension URN, created when create is set.
func attrContainer(res map[string]any, urn string, create bool) map[string]any {
	if urn == "" {
		return res
	}
	key, found := keyFold(res, urn)
	if m, isMap := res[key].(map[string]any); found && isMap {
		if key != urn {
			delete(res, key)
			res[urn] = m
		}
		return m
	}
	if !create {
		return nil
	}
	if found {
		delete(res, key) // not an object: the new value replaces it
	}
	m := map[string]any{}
	res[urn] = m
	return m
}

// keyFold finds key in m, exactly or else case-insensitively, and returns the key as stored.
func keyFold(m map[string]any, key string) (string, bool) {
	if _, ok := m[key]; ok {
		return key, true
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return k, true
		}
	}
	return "", false
}

// scalarString renders a scalar for comparisons and messages (ids may be strings or numbers).
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
