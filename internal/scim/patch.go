package scim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// PatchOp is one operation of a PATCH request (RFC 7644 §3.5.2), as ParsePatch read it: Op is
// lower-case, Path is the raw path ("" when absent) and Value is the JSON value as decoded (nil
// when absent or null).
type PatchOp struct {
	Op    string // "add" | "remove" | "replace"
	Path  string // raw, "" when absent
	Value any
}

// ParsePatch reads a PATCH body and checks its structure and paths against rt.
//
// Lenient where IdPs deviate harmlessly: member names are case-insensitive ("operations",
// "Op", "Path"); ops are case-insensitive ("Replace"); extra members ("name":"addMember", a
// top-level "id") are ignored; "schemas" may be absent or lack the PatchOp URN (Okta's rename
// sends none), which is reported as a quirk rather than refused, but when present it must be an
// array of strings.
//
// Errors are 400 *Error: invalidSyntax for a body that is not a JSON object, a missing or empty
// Operations array, an operation that is not an object or has an unknown op; invalidPath for a
// path that does not parse or names an unknown attribute (also the keys of a path-less value);
// noTarget for a remove without a path; invalidValue for an add or replace without a value, or
// a path-less one whose value is not an object. Value types and mutability are checked by
// ApplyPatch, which knows the attribute each value lands on and the current resource.
//
// Its Quirks are those only the raw body shows (op case, the schemas list); ApplyPatch reports
// the rest, so the two lists never overlap.
func ParsePatch(rt *ResourceType, body []byte) ([]PatchOp, Quirks, error) {
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
	var schemas, operations any
	var haveSchemas, haveOps bool
	for _, k := range keysSorted(obj) {
		switch strings.ToLower(k) {
		case "schemas":
			if haveSchemas {
				return nil, nil, BadRequest(TypeInvalidSyntax, `"schemas" is given more than once`)
			}
			schemas, haveSchemas = obj[k], true
		case "operations":
			if haveOps {
				return nil, nil, BadRequest(TypeInvalidSyntax, `"Operations" is given more than once`)
			}
			operations, haveOps = obj[k], true
		}
	}
	if err := checkSchemasList(schemas); err != nil {
		return nil, nil, err
	}
	if !hasPatchOpSchema(schemas) {
		q.add(QuirkPatchOpSchema)
	}
	list, ok := operations.([]any)
	if !ok || len(list) == 0 {
		return nil, nil, BadRequest(TypeInvalidSyntax, `"Operations" must be a non-empty array of operations`)
	}
	ops := make([]PatchOp, 0, len(list))
	for i, e := range list {
		n := i + 1
		m, ok := e.(map[string]any)
		if !ok {
			return nil, nil, BadRequest(TypeInvalidSyntax, "operation %d is not a JSON object", n)
		}
		op, hasValue, err := readOp(m, n, &q)
		if err != nil {
			return nil, nil, err
		}
		if (op.Op == "add" || op.Op == "replace") && !hasValue {
			return nil, nil, BadRequest(TypeInvalidValue, "%s: a value is required", opLabel(n, op))
		}
		v, nerr := jsonShape(op.Value)
		if nerr != nil {
			return nil, nil, BadRequest(TypeInvalidValue, "%s: the value is not JSON", opLabel(n, op))
		}
		// Path quirks are ApplyPatch's to report, so that the two never count one twice.
		var pathQuirks Quirks
		if _, err := resolveOp(rt, op.Op, op.Path, v, n, &pathQuirks); err != nil {
			return nil, nil, err
		}
		ops = append(ops, op)
	}
	return ops, q, nil
}

func hasPatchOpSchema(v any) bool {
	arr, _ := v.([]any)
	for _, s := range arr {
		if s, ok := s.(string); ok && strings.EqualFold(s, URNPatchOp) {
			return true
		}
	}
	return false
}

// readOp reads the members of one operation object, case-insensitively.
func readOp(m map[string]any, n int, q *Quirks) (PatchOp, bool, *Error) {
	var op PatchOp
	var haveOp, hasValue bool
	for _, k := range keysSorted(m) {
		v := m[k]
		switch strings.ToLower(k) {
		case "op":
			s, ok := v.(string)
			if !ok {
				return op, false, BadRequest(TypeInvalidSyntax, `operation %d: "op" must be a string`, n)
			}
			if haveOp {
				return op, false, BadRequest(TypeInvalidSyntax, `operation %d: "op" is given more than once`, n)
			}
			op.Op, haveOp = s, true
		case "path":
			if v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return op, false, BadRequest(TypeInvalidPath, `operation %d: "path" must be a string`, n)
			}
			op.Path = s
		case "value":
			op.Value, hasValue = v, true
		}
	}
	if !haveOp {
		return op, false, BadRequest(TypeInvalidSyntax, `operation %d has no "op"`, n)
	}
	name, err := opName(op.Op, n, q)
	if err != nil {
		return op, false, err
	}
	op.Op = name
	return op, hasValue, nil
}

// opName checks an op and returns it in lower case.
func opName(op string, n int, q *Quirks) (string, *Error) {
	name := strings.ToLower(strings.TrimSpace(op))
	switch name {
	case "add", "remove", "replace":
	default:
		return "", BadRequest(TypeInvalidSyntax, "operation %d: unknown op %q (want add, remove or replace)", n, clipDetail(op))
	}
	if name != op {
		q.add(QuirkOpCase)
	}
	return name, nil
}

func opLabel(n int, op PatchOp) string {
	if op.Path == "" {
		return fmt.Sprintf("operation %d (%s)", n, op.Op)
	}
	return fmt.Sprintf("operation %d (%s %s)", n, op.Op, clipDetail(strings.TrimSpace(op.Path)))
}

// clipDetail shortens client text echoed in an error detail.
func clipDetail(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ApplyPatch applies ops in order to a deep copy of current and returns the copy; current is
// never modified, and on any error nothing is returned (all or nothing). The result is the
// complete desired view: an attribute missing from it has no value (a multi-valued attribute
// left without elements is removed, never left as an empty array).
//
// Semantics (RFC 7644 §3.5.2, plus what Okta and Entra send):
//   - add on a multi-valued attribute appends the elements not already there (members are the
//     same when their value is; other elements when equal); one object counts as a one-element
//     list. add or replace on a single-valued attribute sets it.
//   - add and replace on a complex single-valued attribute set the sub-attributes given and
//     keep the others (RFC 7644 §3.5.2.3: "Sub-attributes that are not specified in the value
//     parameter are left unchanged"); a null sub-attribute removes it. Changing manager.value
//     drops the readOnly manager.displayName that described the old manager.
//   - replace on a multi-valued attribute without a filter replaces the whole list; replace with
//     null removes the attribute.
//   - A path-less value is an object of attributes whose keys may be plain, dotted, URN-qualified
//     or an extension URN holding an object; each key is applied as if it were the path. "schemas"
//     and "meta" keys are ignored; an "id" equal to the current id is ignored (Okta's rename),
//     another id is a mutability error.
//   - attr[filter].sub: add and replace set sub on every matching element; with none matching
//     they create one element holding sub and every sub-attribute the filter pins with eq
//     (Entra's emails[type eq "work"].value on a user with no work email). When the filter pins
//     nothing there is nothing to create: 400 noTarget, as the RFC says.
//   - attr[filter]: replace replaces the matching elements with the value object, add merges it
//     into them; with none matching the value is appended. Sub-attributes the filter pins with eq
//     are filled in when the value lacks them, so the next identical PATCH finds the element. A
//     one-element array value is unwrapped.
//   - remove: without a value the attribute goes; attr[filter] removes the matching elements (none
//     matching is a success); a multi-valued attribute with a value removes only the listed
//     elements (Entra's members removal; matched by "value" when the listed element has one,
//     else by equality). A single-valued attribute with a value is removed whatever the value
//     (Entra's manager removal).
//   - Setting primary to true on elements clears it on the other elements (RFC 7644 §3.5.2).
//
// Errors are 400 *Error: invalidPath and invalidSyntax as for ParsePatch; invalidValue for a
// value of the wrong type or an empty required attribute; mutability for a readOnly target (id,
// meta, groups), an immutable value that would change, or removing a required attribute
// (userName, a group's displayName); noTarget as above.
func ApplyPatch(rt *ResourceType, current Attributes, ops []PatchOp) (Attributes, Quirks, error) {
	res := deepCopyAttrs(current)
	var q Quirks
	for i, op := range ops {
		if err := applyOp(rt, res, op, i+1, &q); err != nil {
			return nil, nil, err
		}
	}
	return res, q, nil
}

func applyOp(rt *ResourceType, res Attributes, op PatchOp, n int, q *Quirks) *Error {
	name, err := opName(op.Op, n, q)
	if err != nil {
		return err
	}
	op.Op = name
	v, nerr := jsonShape(op.Value)
	if nerr != nil {
		return BadRequest(TypeInvalidValue, "%s: the value is not JSON", opLabel(n, op))
	}
	targets, err := resolveOp(rt, name, op.Path, v, n, q)
	if err != nil {
		return err
	}
	a := applier{res: res, op: name, label: opLabel(n, op), c: coercer{q: q}}
	for _, t := range targets {
		if err := a.apply(t); err != nil {
			return err
		}
	}
	return nil
}

// patchTarget is one attribute an operation acts on: the path's, or one key of a path-less
// value.
type patchTarget struct {
	path   AttrPath
	filter patchFilter // zero without a value filter
	ext    string      // the whole extension object under this URN is the target
	value  any
}

// resolveOp turns an operation into its targets, checking the path or the keys of a path-less
// value against rt.
func resolveOp(rt *ResourceType, op, rawPath string, v any, n int, q *Quirks) ([]patchTarget, *Error) {
	label := opLabel(n, PatchOp{Op: op, Path: rawPath})
	path := strings.TrimSpace(rawPath)
	if path == "" {
		if op == "remove" {
			return nil, BadRequest(TypeNoTarget, "%s: a remove needs a path", label)
		}
		if v == nil {
			return nil, nil // a null value sets nothing
		}
		obj, err := pathlessObject(v, q)
		if err != nil {
			return nil, BadRequest(TypeInvalidValue, "%s: without a path, the value must be an object of attributes", label)
		}
		return pathlessTargets(rt, obj, label, q)
	}
	pp, detail := parsePatchPath(rt, path, q)
	if detail != "" {
		return nil, BadRequest(TypeInvalidPath, "%s: %s", label, detail)
	}
	if pp.ext != "" {
		if op == "remove" || v == nil {
			return []patchTarget{{ext: pp.ext}}, nil
		}
		obj, err := pathlessObject(v, q)
		if err != nil {
			return nil, BadRequest(TypeInvalidValue, "%s: the value of an extension must be an object", label)
		}
		return pathlessTargets(rt, map[string]any{pp.ext: obj}, label, q)
	}
	return []patchTarget{{path: pp.path, filter: pp.filter, value: v}}, nil
}

// pathlessObject returns the object of a path-less value; a one-element array holding one is
// unwrapped.
func pathlessObject(v any, q *Quirks) (map[string]any, error) {
	if arr, ok := v.([]any); ok && len(arr) == 1 {
		if m, ok := arr[0].(map[string]any); ok {
			q.add(QuirkValueArrayUnwrap)
			return m, nil
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}

// pathlessTargets resolves each key of a path-less value.
func pathlessTargets(rt *ResourceType, obj map[string]any, label string, q *Quirks) ([]patchTarget, *Error) {
	targets := make([]patchTarget, 0, len(obj))
	for _, k := range keysSorted(obj) {
		v := obj[k]
		if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
			continue // Okta and Entra echo these; they are the server's
		}
		if urn, ok := rt.IsExtension(k); ok {
			if v == nil {
				targets = append(targets, patchTarget{ext: urn})
				continue
			}
			inner, ok := v.(map[string]any)
			if !ok {
				return nil, BadRequest(TypeInvalidValue, "%s: %q must be an object", label, urn)
			}
			for _, ik := range keysSorted(inner) {
				p, err := rt.Resolve(urn+":"+ik, "")
				if err != nil {
					return nil, BadRequest(TypeInvalidPath, "%s: %s", label, clipDetail(err.Error()))
				}
				if p.Sub != nil {
					q.add(QuirkDottedKey)
				}
				targets = append(targets, patchTarget{path: p, value: inner[ik]})
			}
			continue
		}
		p, err := rt.Resolve(k, "")
		if err != nil {
			return nil, BadRequest(TypeInvalidPath, "%s: %s", label, clipDetail(err.Error()))
		}
		if p.Sub != nil {
			q.add(QuirkDottedKey)
		}
		if p.URN != "" {
			q.add(QuirkFlatExtensionKey)
		}
		targets = append(targets, patchTarget{path: p, value: v})
	}
	return targets, nil
}

// applier applies targets of one operation to res.
type applier struct {
	res   Attributes
	op    string
	label string
	c     coercer
}

func (a applier) errorf(typ scimerrors.ScimType, format string, args ...any) *Error {
	return BadRequest(typ, "%s: %s", a.label, fmt.Sprintf(format, args...))
}

func (a applier) apply(t patchTarget) *Error {
	if t.ext != "" {
		if a.op == "add" && t.value == nil {
			return nil
		}
		if key, ok := keyFold(a.res, t.ext); ok {
			delete(a.res, key)
		}
		return nil
	}
	p := t.path
	if p.Attr.Mutability() == "readOnly" {
		return a.readOnly(p, t.value)
	}
	if p.Sub != nil && p.Sub.Mutability() == "readOnly" {
		return a.errorf(TypeMutability, "attribute %q is readOnly", p.String())
	}
	container := attrContainer(a.res, p.URN, a.op != "remove" && t.value != nil)
	if container == nil {
		return nil // nothing to remove from an extension the resource does not have
	}
	key := p.Attr.Name()
	if k, ok := keyFold(container, key); ok && k != key {
		container[key] = container[k]
		delete(container, k)
	}
	var err *Error
	switch {
	case t.filter.expr != nil:
		err = a.filtered(container, p, t.filter, t.value)
	case p.Sub != nil && p.Attr.MultiValued():
		err = a.subOfEach(container, p, t.value)
	case p.Sub != nil:
		err = a.sub(container, p, t.value)
	default:
		err = a.whole(container, p, t.value)
	}
	if err != nil {
		return err
	}
	if l, ok := container[key].([]any); ok && len(l) == 0 {
		delete(container, key)
	}
	if p.URN != "" && len(container) == 0 {
		delete(a.res, p.URN)
	}
	return nil
}

// readOnly handles a target the client may not write. Okta's rename sends the group's own id,
// which is accepted as a no-op; anything else is a mutability error.
func (a applier) readOnly(p AttrPath, v any) *Error {
	if p.URN == "" && p.Sub == nil && p.Attr.Name() == "id" && a.op != "remove" {
		if cur, ok := a.res["id"]; ok && v != nil && scalarString(v) == scalarString(cur) {
			a.c.q.add(QuirkIDInValue)
			return nil
		}
	}
	return a.errorf(TypeMutability, "attribute %q is readOnly", p.String())
}

// whole handles a path naming a whole attribute.
func (a applier) whole(container map[string]any, p AttrPath, v any) *Error {
	attr := p.Attr
	key := attr.Name()
	cur, exists := container[key]
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		if attr.Required() {
			return a.errorf(TypeMutability, "attribute %q is required and cannot be removed", p.String())
		}
		if v != nil && attr.MultiValued() {
			a.c.q.add(QuirkRemoveValueList)
			return a.removeListed(container, p, v)
		}
		if v != nil {
			a.c.q.add(QuirkRemoveWithValue)
		}
		if exists && attr.Mutability() == "immutable" {
			return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
		}
		delete(container, key)
		return nil
	}
	if v == nil {
		return nil // add null: nothing to add
	}
	if attr.MultiValued() {
		cv, _, err := a.c.value(attr, v, p.String())
		if err != nil {
			return a.wrap(err)
		}
		vals, _ := cv.([]any)
		if a.op == "replace" {
			return a.set(container, p, vals, exists, cur)
		}
		list, touched := appendNew(attr, listOf(cur), vals)
		fixPrimary(attr, list, touched)
		return a.set(container, p, list, exists, cur)
	}
	if attr.AttributeType() == "complex" {
		m, _ := cur.(map[string]any)
		merged, err := a.mergeComplex(attr, m, v, p.String())
		if err != nil {
			return err
		}
		if len(merged) == 0 {
			delete(container, key)
			return nil
		}
		return a.set(container, p, merged, exists, cur)
	}
	cv, ok, err := a.c.value(attr, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	if !ok {
		return nil
	}
	if s, isStr := cv.(string); isStr && attr.Required() && strings.TrimSpace(s) == "" {
		return a.errorf(TypeInvalidValue, "attribute %q is required and cannot be empty", p.String())
	}
	return a.set(container, p, cv, exists, cur)
}

// set stores v, refusing to change an immutable value that is already there.
func (a applier) set(container map[string]any, p AttrPath, v any, exists bool, cur any) *Error {
	if exists && p.Attr.Mutability() == "immutable" && !jsonEqual(cur, v) {
		return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
	}
	container[p.Attr.Name()] = v
	return nil
}

// mergeComplex sets the sub-attributes given in v on a copy of cur; null removes one.
func (a applier) mergeComplex(attr schema.CoreAttribute, cur map[string]any, v any, name string) (map[string]any, *Error) {
	out := make(map[string]any, len(cur)+1)
	for k, e := range cur {
		out[k] = e
	}
	if arr, ok := v.([]any); ok && len(arr) == 1 {
		a.c.q.add(QuirkValueArrayUnwrap)
		v = arr[0]
	}
	raw, ok := v.(map[string]any)
	if !ok {
		cv, ok, err := a.c.complex(attr, v, name)
		if err != nil {
			return nil, a.wrap(err)
		}
		if !ok {
			return out, nil
		}
		raw = cv.(map[string]any)
	}
	oldValue, hadValue := out["value"]
	for _, k := range keysSorted(raw) {
		sub, ok := a.c.subFor(attr, raw, k)
		if !ok || sub.Mutability() == "readOnly" {
			continue
		}
		if sk, ok := keyFold(out, sub.Name()); ok && sk != sub.Name() {
			out[sub.Name()] = out[sk]
			delete(out, sk)
		}
		sv, ok, err := a.c.value(sub, raw[k], name+"."+sub.Name())
		if err != nil {
			return nil, a.wrap(err)
		}
		if !ok {
			delete(out, sub.Name())
			continue
		}
		out[sub.Name()] = sv
	}
	if newValue, has := out["value"]; has && (!hadValue || !jsonEqual(oldValue, newValue)) {
		dropReadOnlySubs(attr, out)
	}
	return out, nil
}

// dropReadOnlySubs removes the server-derived sub-attributes (manager.displayName) that
// described a value the client has just changed.
func dropReadOnlySubs(attr schema.CoreAttribute, m map[string]any) {
	for _, sub := range attr.SubAttributes() {
		if sub.Mutability() == "readOnly" {
			if k, ok := keyFold(m, sub.Name()); ok {
				delete(m, k)
			}
		}
	}
}

// sub handles attr.sub on a single-valued complex attribute (name.givenName).
func (a applier) sub(container map[string]any, p AttrPath, v any) *Error {
	key := p.Attr.Name()
	cur, _ := container[key].(map[string]any)
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		if cur == nil {
			return nil
		}
		sk, ok := keyFold(cur, p.Sub.Name())
		if !ok {
			return nil
		}
		if p.Sub.Mutability() == "immutable" {
			return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
		}
		m := deepCopyValue(cur).(map[string]any)
		delete(m, sk)
		if len(m) == 0 {
			delete(container, key)
		} else {
			container[key] = m
		}
		return nil
	}
	if v == nil {
		return nil
	}
	merged, err := a.mergeComplex(p.Attr, cur, map[string]any{p.Sub.Name(): v}, p.Attr.Name())
	if err != nil {
		return err
	}
	if p.Sub.Mutability() == "immutable" && cur != nil {
		if old, ok := cur[p.Sub.Name()]; ok && !jsonEqual(old, merged[p.Sub.Name()]) {
			return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
		}
	}
	if len(merged) == 0 {
		delete(container, key)
		return nil
	}
	container[key] = merged
	return nil
}

// subOfEach handles attr.sub on a multi-valued attribute without a filter: the sub-attribute of
// every element.
func (a applier) subOfEach(container map[string]any, p AttrPath, v any) *Error {
	list := listOf(container[p.Attr.Name()])
	all := make([]int, len(list))
	for i := range all {
		all[i] = i
	}
	return a.setSubOn(container, p, list, all, v, true, nil)
}

// filtered handles attr[filter] and attr[filter].sub.
func (a applier) filtered(container map[string]any, p AttrPath, f patchFilter, v any) *Error {
	key := p.Attr.Name()
	list := listOf(container[key])
	var matched []int
	for i, e := range list {
		if f.match(p.Attr, e) {
			matched = append(matched, i)
		}
	}
	if p.Sub != nil {
		pinned := f.pinned(p.Attr)
		return a.setSubOn(container, p, list, matched, v, pinned != nil, pinned)
	}
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		container[key] = withoutIndices(list, matched)
		return nil
	}
	if v == nil {
		return nil
	}
	if arr, ok := v.([]any); ok {
		if len(arr) != 1 {
			return a.errorf(TypeInvalidValue, "the value of a filtered path must be one object; got an array of %d", len(arr))
		}
		a.c.q.add(QuirkValueArrayUnwrap)
		v = arr[0]
	}
	cv, ok, err := a.c.single(p.Attr, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	if !ok {
		return nil
	}
	elem, _ := cv.(map[string]any)
	for sub, pv := range f.pinned(p.Attr) {
		if _, has := elem[sub]; !has {
			elem[sub] = pv
		}
	}
	if len(matched) == 0 {
		list = append(list, elem)
		matched = []int{len(list) - 1}
	} else {
		for _, i := range matched {
			if a.op == "replace" {
				list[i] = deepCopyValue(elem)
				continue
			}
			merged, err := a.mergeComplex(p.Attr, mapOf(list[i]), elem, p.String())
			if err != nil {
				return err
			}
			list[i] = merged
		}
	}
	fixPrimary(p.Attr, list, matched)
	container[key] = list
	return nil
}

// setSubOn sets, or removes, p.Sub on the elements of list at idx. With no element to set it
// on, it creates one holding pinned (the sub-attributes a filter pins) when create is set, and
// fails with noTarget otherwise.
func (a applier) setSubOn(container map[string]any, p AttrPath, list []any, idx []int, v any, create bool, pinned map[string]any) *Error {
	key := p.Attr.Name()
	subName := p.Sub.Name()
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		for _, i := range idx {
			m := mapOf(list[i])
			sk, ok := keyFold(m, subName)
			if !ok {
				continue
			}
			if p.Sub.Mutability() == "immutable" {
				return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
			}
			m = deepCopyValue(m).(map[string]any)
			delete(m, sk)
			list[i] = m
		}
		container[key] = dropEmptyElems(list)
		return nil
	}
	if v == nil {
		return nil
	}
	sv, ok, err := a.c.value(*p.Sub, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	if !ok {
		return nil
	}
	created := false
	if len(idx) == 0 {
		if !create {
			return a.errorf(TypeNoTarget, "no value of %q matches the filter, which pins no sub-attribute to create one with", p.Attr.Name())
		}
		elem := map[string]any{}
		for k, pv := range pinned {
			elem[k] = pv
		}
		elem[subName] = sv
		list = append(list, elem)
		idx = []int{len(list) - 1}
		created = true
	} else {
		for _, i := range idx {
			m := deepCopyValue(mapOf(list[i])).(map[string]any)
			if sk, ok := keyFold(m, subName); ok {
				if p.Sub.Mutability() == "immutable" && !jsonEqual(m[sk], sv) {
					return a.errorf(TypeMutability, "attribute %q is immutable", p.String())
				}
				delete(m, sk)
			}
			m[subName] = sv
			list[i] = m
		}
	}
	if b, _ := sv.(bool); created || b && strings.EqualFold(subName, "primary") {
		fixPrimary(p.Attr, list, idx)
	}
	container[key] = list
	return nil
}

// removeListed removes the elements listed in v from a multi-valued attribute: by "value" when
// the listed element has one, else by equality. Listing an absent element is not an error.
func (a applier) removeListed(container map[string]any, p AttrPath, v any) *Error {
	cv, _, err := a.c.value(p.Attr, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	gone, _ := cv.([]any)
	list := listOf(container[p.Attr.Name()])
	var drop []int
	for i, e := range list {
		for _, g := range gone {
			if sameElement(p.Attr, e, g) {
				drop = append(drop, i)
				break
			}
		}
	}
	container[p.Attr.Name()] = withoutIndices(list, drop)
	return nil
}

// sameElement reports whether list element e is the one listed as g.
func sameElement(attr schema.CoreAttribute, e, g any) bool {
	gm, gIsMap := g.(map[string]any)
	if gIsMap {
		if gv, ok := gm["value"]; ok {
			em := mapOf(e)
			k, ok := keyFold(em, "value")
			return ok && equalStrings(attr, "value", scalarString(em[k]), scalarString(gv))
		}
	}
	return jsonEqual(e, g)
}

// equalStrings compares two values of sub-attribute sub of attr with its caseExact.
func equalStrings(attr schema.CoreAttribute, sub, x, y string) bool {
	if s, ok := attr.SubAttributes().ContainsAttribute(sub); ok && !s.CaseExact() {
		return strings.EqualFold(x, y)
	}
	return x == y
}

// appendNew appends the values not already in list and returns the indices it appended.
// Group members are the same member when their value is; other elements when they are equal.
func appendNew(attr schema.CoreAttribute, list, vals []any) ([]any, []int) {
	var touched []int
	byValue := strings.EqualFold(attr.Name(), "members")
	for _, v := range vals {
		dup := false
		for _, e := range list {
			if (byValue && sameElement(attr, e, v)) || jsonEqual(e, v) {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, v)
			touched = append(touched, len(list)-1)
		}
	}
	return list, touched
}

// fixPrimary keeps "primary": true on at most the touched elements: when one of them is primary,
// every other element stops being so (RFC 7644 §3.5.2).
func fixPrimary(attr schema.CoreAttribute, list []any, touched []int) {
	if _, ok := attr.SubAttributes().ContainsAttribute("primary"); !ok {
		return
	}
	isTouched := make(map[int]bool, len(touched))
	newPrimary := false
	for _, i := range touched {
		isTouched[i] = true
		if b, _ := mapOf(list[i])["primary"].(bool); b {
			newPrimary = true
		}
	}
	if !newPrimary {
		return
	}
	for i, e := range list {
		m := mapOf(e)
		if isTouched[i] || m == nil {
			continue
		}
		if k, ok := keyFold(m, "primary"); ok {
			if b, _ := m[k].(bool); b {
				m = deepCopyValue(m).(map[string]any)
				m[k] = false
				list[i] = m
			}
		}
	}
}

// withoutIndices returns list minus the elements at the (ascending) indices drop.
func withoutIndices(list []any, drop []int) []any {
	if len(drop) == 0 {
		return list
	}
	out := make([]any, 0, len(list)-len(drop))
	j := 0
	for i, e := range list {
		if j < len(drop) && drop[j] == i {
			j++
			continue
		}
		out = append(out, e)
	}
	return out
}

// dropEmptyElems removes elements left without sub-attributes.
func dropEmptyElems(list []any) []any {
	out := list[:0:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && len(m) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// listOf reads a multi-valued attribute of the current resource; a stray single value counts
// as one element.
func listOf(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// mapOf reads a complex value; anything else reads as no sub-attributes.
func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// wrap prefixes a coercion error with the operation.
func (a applier) wrap(err *Error) *Error {
	e := *err
	e.Detail = a.label + ": " + err.Detail
	return &e
}

// maxPatchPathLen bounds the length of a PATCH path.
const maxPatchPathLen = 1024

// patchPath is a PATCH path resolved against a resource type.
type patchPath struct {
	path   AttrPath
	filter patchFilter
	ext    string // the path is an extension URN: the whole extension object
}

// parsePatchPath parses and resolves a trimmed, non-empty PATCH path. It returns a detail for
// the invalidPath error, or "".
//
// Paths without a value filter are resolved directly by rt.Resolve, which accepts exactly the
// attribute names the schema has (dotted, URN-qualified, any case): running filter-parser on
// them would only cost time (about 0.1 ms a parse). Paths with a filter are parsed by
// filter-parser, except the one shape IdPs send all the time (attr[sub op "literal"] with an
// optional .sub), which a small scanner reads into the same AST; a test holds the two equal.
// Entra's unquoted or single-quoted values (members[value eq 7f4b…]) are quoted and re-parsed.
func parsePatchPath(rt *ResourceType, path string, q *Quirks) (patchPath, string) {
	if len(path) > maxPatchPathLen {
		// filter-parser spends some 20µs a byte; no real path comes near this.
		return patchPath{}, fmt.Sprintf("the path is longer than %d characters", maxPatchPathLen)
	}
	if urn, ok := rt.IsExtension(path); ok {
		return patchPath{ext: urn}, ""
	}
	if !strings.ContainsAny(path, "[]") {
		p, err := rt.Resolve(path, "")
		if err != nil {
			return patchPath{}, clipDetail(err.Error())
		}
		return patchPath{path: p}, ""
	}
	fp, ok := scanValuePath(path)
	if !ok {
		var err error
		fp, err = parseFilterPath(path)
		if err != nil {
			quoted, changed := quoteBareValues(path)
			if !changed {
				return patchPath{}, fmt.Sprintf("%q is not a valid path", clipDetail(path))
			}
			if fp, err = parseFilterPath(quoted); err != nil {
				return patchPath{}, fmt.Sprintf("%q is not a valid path", clipDetail(path))
			}
			q.add(QuirkUnquotedFilter)
		}
	}
	if fp.AttributePath.SubAttribute != nil {
		return patchPath{}, fmt.Sprintf("%q: a sub-attribute goes after the filter, not before it", clipDetail(path))
	}
	name := fp.AttributePath.AttributeName
	if uri := fp.AttributePath.URI(); uri != "" {
		name = uri + ":" + name
	}
	p, err := rt.Resolve(name, fp.SubAttributeName())
	if err != nil {
		return patchPath{}, clipDetail(err.Error())
	}
	if !p.Attr.MultiValued() || p.Attr.AttributeType() != "complex" {
		return patchPath{}, fmt.Sprintf("attribute %q is not a multi-valued complex attribute and takes no filter", p.Attr.Name())
	}
	f := patchFilter{expr: fp.ValueExpression}
	if detail := f.check(p.Attr); detail != "" {
		return patchPath{}, detail
	}
	return patchPath{path: p, filter: f}, ""
}

// parseFilterPath runs filter-parser, which must never take the server down.
func parseFilterPath(path string) (fp filter.Path, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("filter parser failed on %q: %v", path, r)
		}
	}()
	return filter.ParsePath([]byte(path))
}

// scanValuePath reads attr[sub op "literal"] and attr[sub op "literal"].sub, the shapes Okta
// and Entra send, into the AST filter-parser would build. Anything else reports false.
func scanValuePath(s string) (filter.Path, bool) {
	attr, rest, ok := scanAttrName(s)
	if !ok || !strings.HasPrefix(rest, "[") {
		return filter.Path{}, false
	}
	sub, rest, ok := scanAttrName(rest[1:])
	if !ok || !strings.HasPrefix(rest, " ") {
		return filter.Path{}, false
	}
	op, rest, ok := strings.Cut(rest[1:], " ")
	if !ok || !vfIsOp(op) || len(rest) < 2 || rest[0] != '"' {
		return filter.Path{}, false
	}
	end := strings.IndexByte(rest[1:], '"') + 1
	if end < 1 {
		return filter.Path{}, false
	}
	lit := rest[1:end]
	for i := 0; i < len(lit); i++ {
		if lit[i] < 0x20 || lit[i] == '\\' || lit[i] >= 0x7f {
			return filter.Path{}, false
		}
	}
	rest = rest[end+1:]
	if !strings.HasPrefix(rest, "]") {
		return filter.Path{}, false
	}
	rest = rest[1:]
	p := filter.Path{
		AttributePath: filter.AttributePath{AttributeName: attr},
		ValueExpression: &filter.AttributeExpression{
			AttributePath: filter.AttributePath{AttributeName: sub},
			Operator:      filter.CompareOperator(strings.ToLower(op)),
			CompareValue:  lit,
		},
	}
	if rest == "" {
		return p, true
	}
	if rest[0] != '.' {
		return filter.Path{}, false
	}
	after, rest, ok := scanAttrName(rest[1:])
	if !ok || rest != "" {
		return filter.Path{}, false
	}
	p.SubAttribute = &after
	return p, true
}

// scanAttrName reads an RFC 7643 ATTRNAME (ALPHA *(ALPHA / DIGIT / "-" / "_")).
func scanAttrName(s string) (name, rest string, ok bool) {
	i := 0
	for i < len(s) {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(alpha || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_')) {
			break
		}
		i++
	}
	return s[:i], s[i:], i > 0
}

func vfIsOp(op string) bool {
	switch strings.ToLower(op) {
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		return true
	}
	return false
}

// bareFilterValue finds a comparison whose value is unquoted (eq 7f4b) or single-quoted (eq '7f4b').
var bareFilterValue = regexp.MustCompile(`(?i)(\s(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)(?:'([^'"\\]*)'|([^\s"'\[\]()]+))`)

// quoteBareValues double-quotes the values bareFilterValue finds, leaving true, false, null and
// numbers alone.
func quoteBareValues(path string) (string, bool) {
	changed := false
	out := bareFilterValue.ReplaceAllStringFunc(path, func(m string) string {
		g := bareFilterValue.FindStringSubmatch(m)
		word := g[3]
		if g[3] == "" {
			word = g[2]
		} else {
			switch strings.ToLower(word) {
			case "true", "false", "null":
				return m
			}
			if _, err := strconv.ParseFloat(word, 64); err == nil {
				return m
			}
		}
		changed = true
		return g[1] + strconv.Quote(word)
	})
	return out, changed
}

// patchFilter is the filter of a value path (emails[type eq "work"]), evaluated against the
// elements of one multi-valued attribute.
type patchFilter struct {
	expr filter.Expression
}

// check makes sure that every attribute the filter names is a sub-attribute of attr, and
// unescapes string literals (filter-parser keeps JSON escapes as written).
func (f patchFilter) check(attr schema.CoreAttribute) string {
	var walk func(e filter.Expression) string
	walk = func(e filter.Expression) string {
		switch x := e.(type) {
		case *filter.AttributeExpression:
			if _, ok := vfSub(attr, x.AttributePath); !ok {
				return fmt.Sprintf("the filter of %q names %q, which is not one of its sub-attributes", attr.Name(), clipDetail(x.AttributePath.String()))
			}
			if s, ok := x.CompareValue.(string); ok && strings.Contains(s, `\`) {
				var u string
				if err := json.Unmarshal([]byte(`"`+s+`"`), &u); err == nil {
					x.CompareValue = u
				}
			}
			return ""
		case *filter.LogicalExpression:
			if d := walk(x.Left); d != "" {
				return d
			}
			return walk(x.Right)
		case *filter.NotExpression:
			return walk(x.Expression)
		}
		return fmt.Sprintf("the filter of %q is not supported in a path", attr.Name())
	}
	return walk(f.expr)
}

// vfSub resolves an attribute named in a value filter: "type", or tolerated, "emails.type".
func vfSub(attr schema.CoreAttribute, p filter.AttributePath) (schema.CoreAttribute, bool) {
	if p.URIPrefix != nil {
		return schema.CoreAttribute{}, false
	}
	name := p.AttributeName
	if p.SubAttribute != nil {
		if !strings.EqualFold(name, attr.Name()) {
			return schema.CoreAttribute{}, false
		}
		name = *p.SubAttribute
	}
	return attr.SubAttributes().ContainsAttribute(name)
}

// match reports whether element e of attr passes the filter.
func (f patchFilter) match(attr schema.CoreAttribute, e any) bool {
	return vfMatch(attr, mapOf(e), f.expr)
}

func vfMatch(attr schema.CoreAttribute, m map[string]any, e filter.Expression) bool {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		sub, ok := vfSub(attr, x.AttributePath)
		if !ok {
			return false
		}
		var v any
		if k, ok := keyFold(m, sub.Name()); ok {
			v = m[k]
		}
		return vfCompare(sub, v, strings.ToLower(string(x.Operator)), x.CompareValue)
	case *filter.LogicalExpression:
		if strings.EqualFold(string(x.Operator), "or") {
			return vfMatch(attr, m, x.Left) || vfMatch(attr, m, x.Right)
		}
		return vfMatch(attr, m, x.Left) && vfMatch(attr, m, x.Right)
	case *filter.NotExpression:
		return !vfMatch(attr, m, x.Expression)
	}
	return false
}

// vfCompare applies a filter operator to an element's value v (RFC 7644 §3.4.2.2), with the
// sub-attribute's caseExact for strings.
func vfCompare(sub schema.CoreAttribute, v any, op string, want any) bool {
	if op == "pr" {
		switch x := v.(type) {
		case nil:
			return false
		case string:
			return x != ""
		}
		return true
	}
	if want == nil || v == nil {
		return (op == "eq" && want == nil && v == nil) || (op == "ne" && (want == nil) != (v == nil))
	}
	if wb, ok := want.(bool); ok {
		vb, ok := v.(bool)
		switch op {
		case "eq":
			return ok && vb == wb
		case "ne":
			return !ok || vb != wb
		}
		return false
	}
	if wf, ok := jsonFloat(want); ok {
		if vf, ok := jsonFloat(v); ok {
			return vfOrderHolds(op, vfCmpFloat(vf, wf))
		}
		// Entra may write an id unquoted: members[value eq 42] against "42".
		want = strconv.FormatFloat(wf, 'f', -1, 64)
	}
	ws, wok := want.(string)
	vs, vok := v.(string)
	if !wok || !vok {
		return op == "ne"
	}
	if !sub.CaseExact() {
		ws, vs = strings.ToLower(ws), strings.ToLower(vs)
	}
	switch op {
	case "co":
		return strings.Contains(vs, ws)
	case "sw":
		return strings.HasPrefix(vs, ws)
	case "ew":
		return strings.HasSuffix(vs, ws)
	}
	return vfOrderHolds(op, strings.Compare(vs, ws))
}

func vfCmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func vfOrderHolds(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// pinned returns the sub-attribute values the filter fixes with eq through a chain of "and"
// (type eq "work" and primary eq true), typed for their sub-attributes; nil when none.
func (f patchFilter) pinned(attr schema.CoreAttribute) map[string]any {
	out := map[string]any{}
	var walk func(e filter.Expression)
	walk = func(e filter.Expression) {
		switch x := e.(type) {
		case *filter.AttributeExpression:
			if !strings.EqualFold(string(x.Operator), "eq") {
				return
			}
			sub, ok := vfSub(attr, x.AttributePath)
			if !ok {
				return
			}
			switch w := x.CompareValue.(type) {
			case string:
				if sub.AttributeType() != "boolean" {
					out[sub.Name()] = w
				}
			case bool:
				if sub.AttributeType() == "boolean" {
					out[sub.Name()] = w
				}
			case float64:
				if sub.AttributeType() == "string" {
					out[sub.Name()] = strconv.FormatFloat(w, 'f', -1, 64)
				}
			}
		case *filter.LogicalExpression:
			if strings.EqualFold(string(x.Operator), "and") {
				walk(x.Left)
				walk(x.Right)
			}
		}
	}
	walk(f.expr)
	if len(out) == 0 {
		return nil
	}
	return out
}
