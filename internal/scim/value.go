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

	"github.com/elimity-com/scim/schema"
)

// Quirk names reported to metrics when an IdP's non-RFC input is normalised. They are a
// closed vocabulary so that a dashboard can count them.
const (
	QuirkManagerString    = "manager-string"        // enterprise manager sent as a bare id string
	QuirkMemberString     = "member-string"         // a group member sent as a bare id string
	QuirkComplexString    = "complex-string"        // another complex value sent as a bare string
	QuirkStringBool       = "string-bool"           // "True"/"false" for a boolean attribute
	QuirkNumberAsString   = "number-as-string"      // a JSON number where a string is expected
	QuirkStringAsNumber   = "string-as-number"      // a numeric string where a number is expected
	QuirkFlatExtensionKey = "flat-extension-key"    // "urn:…:User:department" as a top-level key
	QuirkMemberDisplay    = "member-displayName"    // members[].displayName instead of display
	QuirkOpCase           = "op-case"               // "Replace" instead of "replace"
	QuirkDottedKey        = "dotted-key"            // "name.givenName" as a key of a value object
	QuirkValueArrayUnwrap = "value-array-unwrap"    // a one-element array where one value is expected
	QuirkSingleAsList     = "single-as-list"        // one value where an array is expected
	QuirkRemoveWithValue  = "remove-with-value"     // a remove carrying a value on a single-valued attribute
	QuirkRemoveValueList  = "remove-value-list"     // Entra's remove of listed members (path plus value)
	QuirkIDInValue        = "id-in-value"           // Okta's rename carrying the resource's own id
	QuirkPatchOpSchema    = "patchop-schema-absent" // a PATCH body whose schemas lack the PatchOp URN
	QuirkUnquotedFilter   = "path-unquoted-value"   // members[value eq 42] or single quotes in a path
)

// add records name once; the order is the order of first appearance.
func (q *Quirks) add(name string) {
	for _, n := range *q {
		if n == name {
			return
		}
	}
	*q = append(*q, name)
}

// coercer turns JSON-decoded values into the canonical Attributes shape of one attribute: the
// schema's canonical sub-attribute names, no nulls, booleans as bool, strings as string. It
// normalises the IdP quirks it meets into q. Both DecodeResource and ApplyPatch use it, so a
// value means the same in a POST body and in a PATCH.
type coercer struct {
	q *Quirks
}

// value coerces v for attribute a. name is the attribute's path for error details. ok is false
// when v amounts to no value (null, or a complex value whose sub-attributes are all null).
func (c coercer) value(a schema.CoreAttribute, v any, name string) (out any, ok bool, err *Error) {
	if v == nil {
		return nil, false, nil
	}
	if !a.MultiValued() {
		if arr, isArr := v.([]any); isArr {
			// Some clients wrap a single value in an array; accept exactly one element.
			if len(arr) != 1 {
				return nil, false, BadRequest(TypeInvalidValue, "attribute %q is single-valued; got an array of %d values", name, len(arr))
			}
			c.q.add(QuirkValueArrayUnwrap)
			v = arr[0]
		}
		return c.single(a, v, name)
	}
	arr, isArr := v.([]any)
	if !isArr {
		c.q.add(QuirkSingleAsList)
		arr = []any{v}
	}
	list := make([]any, 0, len(arr))
	for _, e := range arr {
		ev, ok, err := c.single(a, e, name)
		if err != nil {
			return nil, false, err
		}
		if ok {
			list = append(list, ev)
		}
	}
	return list, true, nil
}

// single coerces one value (one element of a multi-valued attribute).
func (c coercer) single(a schema.CoreAttribute, v any, name string) (any, bool, *Error) {
	if v == nil {
		return nil, false, nil
	}
	switch a.AttributeType() {
	case "complex":
		return c.complex(a, v, name)
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, true, nil
		case string:
			// Entra sends "True"/"False" by default; nothing else is a boolean.
			if strings.EqualFold(b, "true") {
				c.q.add(QuirkStringBool)
				return true, true, nil
			}
			if strings.EqualFold(b, "false") {
				c.q.add(QuirkStringBool)
				return false, true, nil
			}
		}
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a boolean", name)
	case "integer":
		n, ok := numberFromJSON(v, c.q)
		if ok {
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return i, true, nil
			}
		}
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be an integer", name)
	case "decimal":
		n, ok := numberFromJSON(v, c.q)
		if ok {
			if _, err := strconv.ParseFloat(string(n), 64); err == nil {
				return n, true, nil
			}
		}
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a number", name)
	default: // string, reference, dateTime, binary
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			// Values are kept exactly as sent: 55555555555 stays "55555555555".
			c.q.add(QuirkNumberAsString)
			s = string(x)
		default:
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a string", name)
		}
		switch a.AttributeType() {
		case "dateTime", "binary":
			// The schema package knows the xsd:dateTime and base64 grammars.
			if _, err := a.ValidateSingular(s); err != nil {
				return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a valid %s", name, a.AttributeType())
			}
		}
		return s, true, nil
	}
}

// complex coerces a complex value: sub-attribute names matched case-insensitively and made
// canonical, unknown sub-attributes and readOnly ones (manager.displayName) dropped.
func (c coercer) complex(a schema.CoreAttribute, v any, name string) (any, bool, *Error) {
	if s, isStr := v.(string); isStr {
		if _, has := a.SubAttributes().ContainsAttribute("value"); has {
			// Entra's manager and Microsoft's members come as a bare id.
			c.q.add(stringQuirk(a))
			return map[string]any{"value": s}, true, nil
		}
	}
	if n, isNum := v.(json.Number); isNum {
		if _, has := a.SubAttributes().ContainsAttribute("value"); has {
			c.q.add(stringQuirk(a))
			c.q.add(QuirkNumberAsString)
			return map[string]any{"value": string(n)}, true, nil
		}
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be an object", name)
	}
	out := make(map[string]any, len(m))
	for _, k := range keysSorted(m) {
		sub, ok := c.subFor(a, m, k)
		if !ok || sub.Mutability() == "readOnly" {
			continue
		}
		sv, ok, err := c.value(sub, m[k], name+"."+sub.Name())
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		if _, dup := out[sub.Name()]; dup {
			return nil, false, BadRequest(TypeInvalidSyntax, "attribute %q is given more than once", name+"."+sub.Name())
		}
		out[sub.Name()] = sv
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	return out, true, nil
}

// subFor finds the sub-attribute of a that key k of m names. Group members' displayName is
// taken as display (Microsoft sends it and later expects it back), unless display is also given.
func (c coercer) subFor(a schema.CoreAttribute, m map[string]any, k string) (schema.CoreAttribute, bool) {
	sub, ok := a.SubAttributes().ContainsAttribute(k)
	if ok {
		return sub, true
	}
	if strings.EqualFold(k, "displayName") && strings.EqualFold(a.Name(), "members") {
		if _, has := keyFold(m, "display"); !has {
			if sub, ok := a.SubAttributes().ContainsAttribute("display"); ok {
				c.q.add(QuirkMemberDisplay)
				return sub, true
			}
		}
	}
	return schema.CoreAttribute{}, false
}

func stringQuirk(a schema.CoreAttribute) string {
	switch strings.ToLower(a.Name()) {
	case "manager":
		return QuirkManagerString
	case "members":
		return QuirkMemberString
	}
	return QuirkComplexString
}

// numberFromJSON accepts a JSON number, or a string holding one (recorded as a quirk).
func numberFromJSON(v any, q *Quirks) (json.Number, bool) {
	switch x := v.(type) {
	case json.Number:
		return x, true
	case string:
		if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			q.add(QuirkStringAsNumber)
			return json.Number(strings.TrimSpace(x)), true
		}
	}
	return "", false
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
