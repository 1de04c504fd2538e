package scim

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Caps on what one request may hold, far above what any IdP sends (Okta and Entra write a
// handful of values per attribute and a few dozen operations per PATCH), so that a request
// costs time linear in its size and small in absolute terms. A group's members are the
// exception: Okta's App Integration Wizard apps PUT a pushed group's whole member list, and a
// Domo group may have tens of thousands of members, so their cap is the group's size Domo
// allows in practice, and the body limit (SCIMBRIDGE_MAX_BODY_BYTES) bounds a request.
const (
	MaxMultiValues     = 1000    // values of one multi-valued attribute
	MaxGroupMembers    = 1000000 // members of one group
	MaxPatchOperations = 1000    // operations of one PATCH
)

// maxValues is the cap on the values of attribute a.
func maxValues(a schema.CoreAttribute) int {
	if strings.EqualFold(a.Name(), "members") {
		return MaxGroupMembers
	}
	return MaxMultiValues
}

// coercer turns JSON-decoded values into the canonical Attributes shape of one attribute: the
// schema's canonical sub-attribute names, no nulls, booleans as bool, strings as string. Every
// value must have its attribute's type (RFC 7643 §2.3): a number is not a string, an object
// is not a list, a string is not an object. The only coercions are the IdP quirks documented
// in docs/idp-clients.md, each reported in q: "True"/"False" strings for booleans (Entra), a
// bare id string for the enterprise manager (Entra) and for a group member (Microsoft).
// Both DecodeResource and ApplyPatch use it, so a value means the same in a POST body and in
// a PATCH.
type coercer struct {
	q *Quirks
	// patch is set for PATCH values, where one element may stand for the list of a
	// multi-valued attribute (RFC 7644 §3.5.2.1: the value of an add "MAY be a quoted value,
	// or it may be a JSON object containing the sub-attributes of the complex attribute").
	patch bool
}

// value coerces v for attribute a. name is the attribute's path for error details. ok is false
// when v amounts to no value (null, or a complex value whose sub-attributes are all null).
func (c coercer) value(a schema.CoreAttribute, v any, name string) (out any, ok bool, err *Error) {
	if v == nil {
		return nil, false, nil
	}
	if !a.MultiValued() {
		if _, isArr := v.([]any); isArr {
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q is single-valued; got an array", name)
		}
		return c.single(a, v, name)
	}
	arr, isArr := v.([]any)
	if !isArr {
		if !c.patch {
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q is multi-valued: its value must be an array, not %s", name, jsonKind(v))
		}
		arr = []any{v}
	}
	if len(arr) > maxValues(a) {
		return nil, false, tooManyValues(name, len(arr), maxValues(a))
	}
	list := make([]any, 0, len(arr))
	for _, e := range arr {
		if _, nested := e.([]any); nested {
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q: a value is an array, not one %s", name, a.AttributeType())
		}
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

func tooManyValues(name string, n, most int) *Error {
	return BadRequest(TypeTooMany, "attribute %q has %d values; at most %d are accepted", name, n, most)
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
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a boolean, not %s", name, jsonKind(v))
	case "integer":
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return i, true, nil
			}
		}
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be an integer", name)
	case "decimal":
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), 64); err == nil {
				return n, true, nil
			}
		}
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a number", name)
	}
	// string, reference, dateTime, binary: a JSON string, kept exactly as sent.
	s, isStr := v.(string)
	if !isStr {
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a string, not %s", name, jsonKind(v))
	}
	switch a.AttributeType() {
	case "dateTime", "binary":
		// The schema package knows the xsd:dateTime and base64 grammars.
		if _, err := a.ValidateSingular(s); err != nil {
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a valid %s", name, a.AttributeType())
		}
	case "reference":
		if _, err := url.Parse(s); err != nil || strings.ContainsAny(s, " \t\r\n") {
			return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be a URI reference", name)
		}
	}
	if closedValues[strings.ToLower(name)] && !slices.ContainsFunc(a.CanonicalValues(), func(c string) bool { return strings.EqualFold(c, s) }) {
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be one of %s; got %q", name, strings.Join(a.CanonicalValues(), ", "), clipDetail(s))
	}
	return s, true, nil
}

// jsonKind names the JSON type of a decoded value for error details.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number, int, int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "null"
}

// complex coerces a complex value: sub-attribute names matched case-insensitively and made
// canonical, unknown sub-attributes and readOnly ones (manager.displayName) dropped.
func (c coercer) complex(a schema.CoreAttribute, v any, name string) (any, bool, *Error) {
	if s, isStr := v.(string); isStr && bareIDAllowed(a) {
		// Entra's manager and Microsoft's members come as a bare id.
		c.q.add(stringQuirk(a))
		return map[string]any{"value": s}, true, nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, false, BadRequest(TypeInvalidValue, "attribute %q must be an object, not %s", name, jsonKind(v))
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

// bareIDAllowed reports whether a complex attribute may be given as a bare id string: the
// enterprise manager (Entra) and group members (Microsoft), both documented IdP quirks.
func bareIDAllowed(a schema.CoreAttribute) bool {
	switch strings.ToLower(a.Name()) {
	case "manager", "members":
		return true
	}
	return false
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
	if strings.EqualFold(a.Name(), "manager") {
		return QuirkManagerString
	}
	return QuirkMemberString
}

// settleList enforces RFC 7643 §2.4 on the values of a multi-valued attribute: exact duplicates
// (the same type and value, compared as the sub-attributes' caseExact says; for elements
// without a value, the same sub-attributes) collapse into the first, which becomes primary if
// any of them was; "primary": true may then appear at most once (400 invalidValue otherwise:
// the bridge refuses rather than guess which one the client meant). It runs in time linear in
// the list, which it shortens in place, and enforces MaxMultiValues.
func settleList(a schema.CoreAttribute, list []any, name string) ([]any, *Error) {
	if len(list) > maxValues(a) {
		return nil, tooManyValues(name, len(list), maxValues(a))
	}
	if len(list) < 2 {
		return list, nil
	}
	seen := make(map[string]int, len(list))
	out := list[:0]
	primaries := 0
	for _, e := range list {
		key := elemKey(a, e)
		if i, dup := seen[key]; dup {
			if isPrimary(e) && !isPrimary(out[i]) {
				m := deepCopyValue(out[i]).(map[string]any)
				if k, ok := keyFold(m, "primary"); ok {
					delete(m, k)
				}
				m["primary"] = true
				out[i] = m
				primaries++
			}
			continue
		}
		seen[key] = len(out)
		out = append(out, e)
		if isPrimary(e) {
			primaries++
		}
	}
	clear(list[len(out):])
	if primaries > 1 {
		return nil, BadRequest(TypeInvalidValue, `attribute %q: "primary": true may appear on at most one value (RFC 7643 §2.4)`, name)
	}
	return out, nil
}

// elemKey identifies an element of a multi-valued attribute for settleList: its type and value
// (for members, its value alone: every member is a User), else the element without primary.
func elemKey(a schema.CoreAttribute, e any) string {
	m, isMap := e.(map[string]any)
	if !isMap {
		return "=" + scalarString(e)
	}
	fold := func(sub string, v any) string {
		s := scalarString(v)
		if sa, ok := a.SubAttributes().ContainsAttribute(sub); ok && !sa.CaseExact() {
			s = strings.ToLower(s)
		}
		return s
	}
	if k, ok := keyFold(m, "value"); ok {
		v := fold("value", m[k])
		if strings.EqualFold(a.Name(), "members") {
			return "v" + v
		}
		t := ""
		if tk, ok := keyFold(m, "type"); ok {
			t = fold("type", m[tk])
		}
		return "v" + strconv.Itoa(len(t)) + ":" + t + v
	}
	cp := make(map[string]any, len(m))
	for k, v := range m {
		if !strings.EqualFold(k, "primary") {
			cp[k] = v
		}
	}
	b, _ := json.Marshal(cp) // keys sorted
	return "e" + string(b)
}

func isPrimary(e any) bool {
	m, _ := e.(map[string]any)
	if k, ok := keyFold(m, "primary"); ok {
		b, _ := m[k].(bool)
		return b
	}
	return false
}
