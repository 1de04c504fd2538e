package scim

import (
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Quirks names the IdP quirks a request needed normalising (the Quirk* constants), in order of
// first appearance and without repeats, so that metrics can count who sends what.
type Quirks []string

// DecodeResource reads a POST or PUT body into the canonical Attributes of rt.
//
// It is lenient where IdPs differ from the RFC and strict where a value would be ambiguous:
//   - keys match the schema case-insensitively and come out canonical ("Primary" -> "primary");
//   - extension attributes may be nested under their URN (any case) or flat as
//     "urn:…:User:department" keys; they come out nested under the canonical URN;
//   - a dotted key ("name.givenName") sets that sub-attribute;
//   - null means absent; a complex value whose sub-attributes are all null is absent;
//   - an empty array is kept as an empty []any: a PUT with "members":[] means "no members",
//     which the caller must not mistake for "members not given";
//   - unknown attributes and readOnly ones (id, meta, groups, manager.displayName) are dropped;
//   - "schemas" is optional; when present it must be an array of strings naming rt's core
//     schema and nothing but rt's schemas and the IdP URNs in idpSchemaURNs (ignored); it is
//     not returned;
//   - every value has its attribute's type (see coercer): a number for a string, a string or an
//     object for a list are refused; multi-valued attributes hold at most MaxMultiValues (a group's members MaxGroupMembers)
//     values, exact duplicates collapse and at most one is primary (settleList);
//   - the writeOnly password is kept (the bridge decides what to do with it);
//   - IdP quirks are normalised and reported (see coercer).
//
// Errors are *Error with status 400: invalidSyntax for a body that is not one JSON object or
// names an attribute twice, invalidValue for a value of the wrong type, a schemas list that
// does not fit rt, more than one primary value, or a required attribute (userName, a group's
// displayName) missing or empty, tooMany for more than MaxMultiValues values.
func DecodeResource(rt *ResourceType, body []byte) (Attributes, Quirks, error) {
	var raw any
	if err := decodeStrict(body, &raw); err != nil {
		e := BadRequest(TypeInvalidSyntax, "request body is not valid JSON")
		e.Err = err
		return nil, nil, e
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, BadRequest(TypeInvalidSyntax, "request body is not a JSON object")
	}
	var q Quirks
	c := coercer{q: &q}
	out := Attributes{}
	for _, k := range keysSorted(obj) {
		v := obj[k]
		if strings.EqualFold(k, "schemas") {
			if err := checkResourceSchemas(rt, v); err != nil {
				return nil, nil, err
			}
			continue
		}
		if urn, isExt := rt.IsExtension(k); isExt {
			if err := decodeExtension(rt, c, out, urn, v); err != nil {
				return nil, nil, err
			}
			continue
		}
		p, err := rt.Resolve(k, "")
		if err != nil {
			continue // unknown attributes are ignored (RFC 7644 §3.3 leaves it to the server)
		}
		if p.URN != "" {
			q.add(QuirkFlatExtensionKey)
		}
		if err := decodeAttr(c, out, p, v); err != nil {
			return nil, nil, err
		}
	}
	for _, ext := range rt.Extensions {
		if m, ok := out[ext.ID].(map[string]any); ok && len(m) == 0 {
			delete(out, ext.ID)
		}
	}
	if err := settleLists(rt, out); err != nil {
		return nil, nil, err
	}
	if err := checkRequiredAttrs(rt, out); err != nil {
		return nil, nil, err
	}
	return out, q, nil
}

// decodeExtension reads the object nested under an extension URN.
func decodeExtension(rt *ResourceType, c coercer, out Attributes, urn string, v any) *Error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return BadRequest(TypeInvalidValue, "%q must be an object", urn)
	}
	for _, k := range keysSorted(m) {
		p, err := rt.Resolve(urn+":"+k, "")
		if err != nil {
			continue
		}
		if err := decodeAttr(c, out, p, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// decodeAttr coerces v for p and stores it, merging sub-attributes given separately ("name"
// and "name.familyName") and refusing the same value given twice.
func decodeAttr(c coercer, out Attributes, p AttrPath, v any) *Error {
	if p.Attr.Mutability() == "readOnly" || (p.Sub != nil && p.Sub.Mutability() == "readOnly") {
		return nil
	}
	if p.Sub != nil {
		c.q.add(QuirkDottedKey)
		if !p.Attr.MultiValued() {
			sv, ok, err := c.value(*p.Sub, v, p.String())
			if err != nil || !ok {
				return err
			}
			return mergeDecoded(attrContainer(out, p.URN, true), p, map[string]any{p.Sub.Name(): sv})
		}
		// "emails.value" names no element; take it as a one-element list.
		v = map[string]any{p.Sub.Name(): v}
	}
	cv, ok, err := c.value(p.Attr, v, p.String())
	if err != nil || !ok {
		return err
	}
	return mergeDecoded(attrContainer(out, p.URN, true), p, cv)
}

func mergeDecoded(container map[string]any, p AttrPath, v any) *Error {
	name := p.Attr.Name()
	old, exists := container[name]
	if !exists {
		container[name] = v
		return nil
	}
	om, oldIsMap := old.(map[string]any)
	nm, newIsMap := v.(map[string]any)
	if oldIsMap && newIsMap {
		for k, sv := range nm {
			if _, dup := om[k]; dup {
				return BadRequest(TypeInvalidSyntax, "attribute %q is given more than once", name+"."+k)
			}
			om[k] = sv
		}
		return nil
	}
	return BadRequest(TypeInvalidSyntax, "attribute %q is given more than once", p.Attr.Name())
}

// checkSchemasList accepts an absent schemas list but not a malformed one.
func checkSchemasList(v any) *Error {
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		return BadRequest(TypeInvalidSyntax, `"schemas" must be an array of strings`)
	}
	for _, e := range arr {
		if _, ok := e.(string); !ok {
			return BadRequest(TypeInvalidSyntax, `"schemas" must be an array of strings`)
		}
	}
	return nil
}

// settleLists runs settleList on every multi-valued attribute of a decoded resource.
func settleLists(rt *ResourceType, out Attributes) *Error {
	settle := func(attrs schema.Attributes, container map[string]any, prefix string) *Error {
		for _, a := range attrs {
			list, ok := container[a.Name()].([]any)
			if !ok || !a.MultiValued() {
				continue
			}
			settled, err := settleList(a, list, prefix+a.Name())
			if err != nil {
				return err
			}
			container[a.Name()] = settled
		}
		return nil
	}
	if err := settle(rt.Schema.Attributes, out, ""); err != nil {
		return err
	}
	for _, ext := range rt.Extensions {
		if m, ok := out[ext.ID].(map[string]any); ok {
			if err := settle(ext.Attributes, m, ext.ID+":"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkResourceSchemas checks the schemas list of a POST or PUT body against rt (RFC 7643 §3):
// absent or empty is tolerated; otherwise it must name rt's core schema, and every URN in it
// must be rt's core schema, one of rt's extensions, or an IdP URN known to carry nothing the
// bridge serves (ignored).
func checkResourceSchemas(rt *ResourceType, v any) *Error {
	if err := checkSchemasList(v); err != nil {
		return err
	}
	arr, _ := v.([]any)
	core := false
	for _, e := range arr {
		urn := e.(string)
		switch _, isExt := rt.IsExtension(urn); {
		case strings.EqualFold(urn, rt.Schema.ID):
			core = true
		case isExt:
		case idpSchemaURNs[strings.ToLower(urn)] == rt:
		default:
			return BadRequest(TypeInvalidValue, "schemas: %q is not a schema of a %s (want %s%s)", clipDetail(urn), rt.Name, rt.Schema.ID, extList(rt))
		}
	}
	if len(arr) > 0 && !core {
		return BadRequest(TypeInvalidValue, "schemas must include %q", rt.Schema.ID)
	}
	return nil
}

func extList(rt *ResourceType) string {
	s := ""
	for _, e := range rt.Extensions {
		s += " or " + e.ID
	}
	return s
}

// checkRequiredAttrs reports the first required, client-writable attribute that is absent or empty.
func checkRequiredAttrs(rt *ResourceType, out Attributes) *Error {
	check := func(attrs schema.Attributes, container map[string]any, prefix string) *Error {
		for _, a := range attrs {
			if !a.Required() || a.Mutability() == "readOnly" {
				continue
			}
			v, ok := container[a.Name()]
			if s, isStr := v.(string); !ok || (isStr && strings.TrimSpace(s) == "") {
				return BadRequest(TypeInvalidValue, "%s%s is required", prefix, a.Name())
			}
		}
		return nil
	}
	if err := check(rt.Schema.Attributes, out, ""); err != nil {
		return err
	}
	for _, ext := range rt.Extensions {
		m, given := out[ext.ID].(map[string]any)
		if !given {
			continue // an extension the client did not use need not be complete
		}
		if err := check(ext.Attributes, m, ext.ID+":"); err != nil {
			return err
		}
	}
	return nil
}
