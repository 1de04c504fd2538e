package scim

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// ApplyPatch applies ops in order to a deep copy of current and returns the copy; current is
// never modified, and on any error nothing is returned (all or nothing). The result is the
// complete desired view: an attribute missing from it has no value (a multi-valued attribute
// left without elements is removed, never left as an empty array).
//
// Semantics (RFC 7644 §3.5.2, plus what Okta and Entra send):
//   - add on a multi-valued attribute appends the values not already there; a value already
//     there (members: the same value; others: the same type and value) takes the
//     sub-attributes given. One object counts as a one-element list. add or replace on a
//     single-valued attribute sets it.
//   - add and replace on a complex single-valued attribute set the sub-attributes given and
//     keep the others (RFC 7644 §3.5.2.3: "Sub-attributes that are not specified in the value
//     parameter are left unchanged"); a null sub-attribute removes it. Changing manager.value
//     drops the readOnly manager.displayName that described the old manager.
//   - replace on a multi-valued attribute without a filter replaces the whole list; replace with
//     null removes the attribute.
//   - A path-less value is an object of attributes whose keys may be plain, dotted, URN-qualified
//     or an extension URN holding an object; each key is applied as if it were the path. "schemas"
//     and "meta" keys are ignored, also inside an extension's object (and in the value of a path
//     naming a whole extension); an "id" equal to the current id is ignored (Okta's rename),
//     another id is a mutability error.
//   - attr[filter].sub: add and replace set sub on every matching element; with none matching
//     they create one element holding sub and every sub-attribute the filter pins with eq
//     (Entra's emails[type eq "work"].value on a user with no work email). When the filter pins
//     nothing there is nothing to create: 400 noTarget, as the RFC says.
//   - attr[filter]: replace replaces the matching elements with the value object, add merges it
//     into them; with none matching the value is appended. Sub-attributes the filter pins with eq
//     are filled in when the value lacks them, so the next identical PATCH finds the element.
//   - remove: without a value the attribute goes; attr[filter] removes the matching elements (none
//     matching is a success); a multi-valued attribute with a value removes only the listed
//     elements (Entra's members removal; matched by "value" when the listed element has one,
//     else by equality). A single-valued attribute with a value is removed whatever the value
//     (Entra's manager removal).
//   - Setting primary to true on elements clears it on the other elements (RFC 7644 §3.5.2).
//     Afterwards every multi-valued attribute the operations touched is settled as a POST body
//     is (settleList): exact duplicates collapse, at most one value is primary, at most
//     MaxMultiValues values.
//
// Cost is linear in the operations and the values they carry plus the size of current: lists
// are indexed by value and by the sub-attributes filters compare with eq, removed elements are
// left as holes until the end, and no operation walks a whole list unless it names every
// element (attr.sub without a filter, a filter other than sub eq "literal", or setting
// primary, which must clear the others).
//
// Errors are 400 *Error: invalidPath and invalidSyntax as for ParsePatch; invalidValue for a
// value of the wrong type or an empty required attribute; mutability for a readOnly target (id,
// meta, groups), an immutable value that would change, or removing a required attribute
// (userName, a group's displayName); noTarget as above; tooMany past MaxPatchOperations
// operations or MaxMultiValues values.
func ApplyPatch(rt *ResourceType, current Attributes, ops []PatchOp) (Attributes, Quirks, error) {
	if len(ops) > MaxPatchOperations {
		return nil, nil, tooManyOps(len(ops))
	}
	res := deepCopyAttrs(current)
	var q Quirks
	st := &patchState{lists: map[string]*listState{}}
	for i, op := range ops {
		if err := applyOp(rt, res, op, i+1, &q, st); err != nil {
			return nil, nil, err
		}
	}
	if err := st.settle(res); err != nil {
		return nil, nil, err
	}
	return res, q, nil
}

func tooManyOps(n int) *Error {
	return BadRequest(TypeTooMany, "the PATCH has %d operations; at most %d are accepted", n, MaxPatchOperations)
}

func applyOp(rt *ResourceType, res Attributes, op PatchOp, n int, q *Quirks, st *patchState) *Error {
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
	a := applier{res: res, op: name, label: opLabel(n, op), c: coercer{q: q, patch: true}, st: st}
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
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, BadRequest(TypeInvalidValue, "%s: without a path, the value must be an object of attributes, not %s", label, jsonKind(v))
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
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, BadRequest(TypeInvalidValue, "%s: the value of an extension must be an object, not %s", label, jsonKind(v))
		}
		return pathlessTargets(rt, map[string]any{pp.ext: obj}, label, q)
	}
	return []patchTarget{{path: pp.path, filter: pp.filter, value: v}}, nil
}

// serverKey reports whether a key of a path-less value (or of an extension's object in one)
// names what the server keeps, which Okta and Entra echo back: schemas and meta are ignored.
func serverKey(k string) bool { return strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") }

// pathlessTargets resolves each key of a path-less value.
func pathlessTargets(rt *ResourceType, obj map[string]any, label string, q *Quirks) ([]patchTarget, *Error) {
	targets := make([]patchTarget, 0, len(obj))
	for _, k := range keysSorted(obj) {
		v := obj[k]
		if serverKey(k) {
			continue
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
				if serverKey(ik) {
					continue
				}
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

// patchState is what ApplyPatch keeps across the operations of one PATCH: the multi-valued
// attributes they touched, with the indexes that spare each operation a walk of the list.
type patchState struct {
	lists map[string]*listState // by AttrPath.Key()
}

// listState tracks one multi-valued attribute during a PATCH. Removed elements become nil
// holes, so that removing costs nothing per remaining element; settle closes them. The
// indexes hold candidates (stale entries are dropped by re-checking the element), so an
// update only ever adds entries.
type listState struct {
	urn   string
	attr  schema.CoreAttribute
	name  string
	holes int
	byKey map[string][]int            // elemKey -> element indices; nil until needed
	bySub map[string]map[string][]int // sub -> folded string value -> indices; built lazily per sub
}

// list returns the state of p's attribute, recording that the PATCH touched it.
func (st *patchState) list(p AttrPath) *listState {
	k := p.Key()
	ls, ok := st.lists[k]
	if !ok {
		ls = &listState{urn: p.URN, attr: p.Attr, name: p.String()}
		st.lists[k] = ls
	}
	return ls
}

// reset forgets the indexes after a change that may have moved or rewritten any element.
func (ls *listState) reset() {
	ls.byKey, ls.bySub, ls.holes = nil, nil, 0
}

// indexed records element i of list in every index built so far.
func (ls *listState) indexed(list []any, i int) {
	e := list[i]
	if e == nil {
		return
	}
	if ls.byKey != nil {
		k := elemKey(ls.attr, e)
		ls.byKey[k] = append(ls.byKey[k], i)
	}
	for sub, idx := range ls.bySub {
		if k, ok := ls.subKey(e, sub); ok {
			idx[k] = append(idx[k], i)
		}
	}
}

// withKey returns the live elements of list whose elemKey is k.
func (ls *listState) withKey(list []any, k string) []int {
	if ls.byKey == nil {
		ls.byKey = make(map[string][]int, len(list))
		for i, e := range list {
			if e != nil {
				ek := elemKey(ls.attr, e)
				ls.byKey[ek] = append(ls.byKey[ek], i)
			}
		}
	}
	var out []int
	for _, i := range ls.byKey[k] {
		if i < len(list) && list[i] != nil && elemKey(ls.attr, list[i]) == k && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// subKey is the index key of element e under sub: its string value there, folded when the
// sub-attribute is not caseExact.
func (ls *listState) subKey(e any, sub string) (string, bool) {
	m := mapOf(e)
	k, ok := keyFold(m, sub)
	if !ok {
		return "", false
	}
	s, ok := m[k].(string)
	if !ok {
		return "", false
	}
	if sa, ok := ls.attr.SubAttributes().ContainsAttribute(sub); ok && !sa.CaseExact() {
		s = strings.ToLower(s)
	}
	return s, true
}

// candidates returns, in ascending order, the indices of the live elements that may pass f,
// using the index of the one comparison sub eq "literal" a filter may be; all live elements
// for any other filter.
func (ls *listState) candidates(list []any, f patchFilter) []int {
	if x, ok := f.expr.(*filter.AttributeExpression); ok && strings.EqualFold(string(x.Operator), "eq") {
		if want, ok := x.CompareValue.(string); ok {
			if sub, ok := vfSub(ls.attr, x.AttributePath); ok {
				name := sub.Name()
				if ls.bySub == nil {
					ls.bySub = map[string]map[string][]int{}
				}
				idx, built := ls.bySub[name]
				if !built {
					idx = make(map[string][]int, len(list))
					for i, e := range list {
						if k, ok := ls.subKey(e, name); ok {
							idx[k] = append(idx[k], i)
						}
					}
					ls.bySub[name] = idx
				}
				if !sub.CaseExact() {
					want = strings.ToLower(want)
				}
				out := slices.Clone(idx[want])
				slices.Sort(out)
				return slices.Compact(out)
			}
		}
	}
	out := make([]int, 0, len(list))
	for i, e := range list {
		if e != nil {
			out = append(out, i)
		}
	}
	return out
}

// remove makes holes of the elements at idx.
func (ls *listState) remove(list []any, idx []int) {
	for _, i := range idx {
		if list[i] != nil {
			list[i] = nil
			ls.holes++
		}
	}
}

// settle closes the holes of every touched list, drops lists left empty, and settles the
// values as a POST body's (settleList).
func (st *patchState) settle(res Attributes) *Error {
	for _, k := range slices.Sorted(maps.Keys(st.lists)) {
		ls := st.lists[k]
		container := attrContainer(res, ls.urn, false)
		if container == nil {
			continue
		}
		list, ok := container[ls.attr.Name()].([]any)
		if !ok {
			continue
		}
		if ls.holes > 0 {
			list = slices.DeleteFunc(list, func(e any) bool { return e == nil })
		}
		list, err := settleList(ls.attr, list, ls.name)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			delete(container, ls.attr.Name())
			if ls.urn != "" && len(container) == 0 {
				delete(res, ls.urn)
			}
			continue
		}
		container[ls.attr.Name()] = list
	}
	return nil
}

// applier applies targets of one operation to res.
type applier struct {
	res   Attributes
	op    string
	label string
	c     coercer
	st    *patchState
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
		for k, ls := range a.st.lists {
			if ls.urn == t.ext {
				delete(a.st.lists, k)
			}
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
	case p.Attr.MultiValued():
		ls := a.st.list(p)
		switch {
		case t.filter.expr != nil:
			err = a.filtered(container, p, ls, t.filter, t.value)
		case p.Sub != nil:
			err = a.subOfEach(container, p, ls, t.value)
		default:
			err = a.wholeList(container, p, ls, t.value)
		}
	case p.Sub != nil:
		err = a.sub(container, p, t.value)
	default:
		err = a.whole(container, p, t.value)
	}
	if err != nil {
		return err
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

// whole handles a path naming a whole single-valued attribute.
func (a applier) whole(container map[string]any, p AttrPath, v any) *Error {
	attr := p.Attr
	key := attr.Name()
	cur, exists := container[key]
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		if attr.Required() {
			return a.errorf(TypeMutability, "attribute %q is required and cannot be removed", p.String())
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

// wholeList handles a path naming a whole multi-valued attribute.
func (a applier) wholeList(container map[string]any, p AttrPath, ls *listState, v any) *Error {
	attr := p.Attr
	key := attr.Name()
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		if attr.Required() {
			return a.errorf(TypeMutability, "attribute %q is required and cannot be removed", p.String())
		}
		if v != nil {
			a.c.q.add(QuirkRemoveValueList)
			return a.removeListed(container, p, ls, v)
		}
		delete(container, key)
		ls.reset()
		return nil
	}
	if v == nil {
		return nil // add null: nothing to add
	}
	cv, _, err := a.c.value(attr, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	vals, _ := cv.([]any)
	if a.op == "replace" {
		container[key] = vals
		ls.reset()
		return nil
	}
	list, touched, err := a.appendNew(p, ls, listOf(container[key]), vals)
	if err != nil {
		return err
	}
	container[key] = list
	a.fixPrimary(attr, ls, list, touched)
	return nil
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
		if sub.Mutability() == "immutable" && cur != nil {
			if old, had := cur[sub.Name()]; had && !jsonEqual(old, sv) {
				return nil, a.errorf(TypeMutability, "attribute %q is immutable", name+"."+sub.Name())
			}
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
	if len(merged) == 0 {
		delete(container, key)
		return nil
	}
	container[key] = merged
	return nil
}

// subOfEach handles attr.sub on a multi-valued attribute without a filter: the sub-attribute of
// every element.
func (a applier) subOfEach(container map[string]any, p AttrPath, ls *listState, v any) *Error {
	list := listOf(container[p.Attr.Name()])
	all := make([]int, 0, len(list))
	for i, e := range list {
		if e != nil {
			all = append(all, i)
		}
	}
	return a.setSubOn(container, p, ls, list, all, v, true, nil)
}

// filtered handles attr[filter] and attr[filter].sub.
func (a applier) filtered(container map[string]any, p AttrPath, ls *listState, f patchFilter, v any) *Error {
	key := p.Attr.Name()
	list := listOf(container[key])
	var matched []int
	for _, i := range ls.candidates(list, f) {
		if list[i] != nil && f.match(p.Attr, list[i]) {
			matched = append(matched, i)
		}
	}
	if p.Sub != nil {
		pinned := f.pinned(p.Attr)
		return a.setSubOn(container, p, ls, list, matched, v, pinned != nil, pinned)
	}
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		ls.remove(list, matched)
		return nil
	}
	if v == nil {
		return nil
	}
	if _, isArr := v.([]any); isArr {
		return a.errorf(TypeInvalidValue, "the value of a filtered path must be one object, not an array")
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
	container[key] = list
	for _, i := range matched {
		ls.indexed(list, i)
	}
	a.fixPrimary(p.Attr, ls, list, matched)
	return nil
}

// setSubOn sets, or removes, p.Sub on the elements of list at idx. With no element to set it
// on, it creates one holding pinned (the sub-attributes a filter pins) when create is set, and
// fails with noTarget otherwise.
func (a applier) setSubOn(container map[string]any, p AttrPath, ls *listState, list []any, idx []int, v any, create bool, pinned map[string]any) *Error {
	key := p.Attr.Name()
	subName := p.Sub.Name()
	if a.op == "remove" || (a.op == "replace" && v == nil) {
		var emptied []int
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
			if len(m) == 0 {
				emptied = append(emptied, i)
			}
		}
		ls.remove(list, emptied) // an element left without sub-attributes is gone
		container[key] = list
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
	container[key] = list
	for _, i := range idx {
		ls.indexed(list, i)
	}
	if b, _ := sv.(bool); created || b && strings.EqualFold(subName, "primary") {
		a.fixPrimary(p.Attr, ls, list, idx)
	}
	return nil
}

// removeListed removes the elements listed in v from a multi-valued attribute: by "value" when
// the listed element has one, else by equality. Listing an absent element is not an error.
func (a applier) removeListed(container map[string]any, p AttrPath, ls *listState, v any) *Error {
	cv, _, err := a.c.value(p.Attr, v, p.String())
	if err != nil {
		return a.wrap(err)
	}
	gone, _ := cv.([]any)
	list := listOf(container[p.Attr.Name()])
	byValue := map[string]bool{}
	var whole []any
	for _, g := range gone {
		if gm, ok := g.(map[string]any); ok {
			if gv, ok := gm["value"]; ok {
				byValue[foldSub(p.Attr, "value", scalarString(gv))] = true
				continue
			}
		}
		whole = append(whole, g)
	}
	var drop []int
	for i, e := range list {
		if e == nil {
			continue
		}
		em := mapOf(e)
		if k, ok := keyFold(em, "value"); ok && byValue[foldSub(p.Attr, "value", scalarString(em[k]))] {
			drop = append(drop, i)
			continue
		}
		for _, g := range whole {
			if jsonEqual(e, g) {
				drop = append(drop, i)
				break
			}
		}
	}
	ls.remove(list, drop)
	container[p.Attr.Name()] = list
	return nil
}

// foldSub folds a value of sub-attribute sub of attr as its caseExact says.
func foldSub(attr schema.CoreAttribute, sub, s string) string {
	if sa, ok := attr.SubAttributes().ContainsAttribute(sub); ok && !sa.CaseExact() {
		return strings.ToLower(s)
	}
	return s
}

// appendNew adds vals to list: a value already there (same elemKey: members by value, other
// elements by type and value) takes the sub-attributes given, anything else is appended. It
// returns the list and the indices it touched.
func (a applier) appendNew(p AttrPath, ls *listState, list, vals []any) ([]any, []int, *Error) {
	var touched []int
	for _, v := range vals {
		existing := ls.withKey(list, elemKey(p.Attr, v))
		if len(existing) == 0 {
			list = append(list, v)
			i := len(list) - 1
			ls.indexed(list, i)
			touched = append(touched, i)
			continue
		}
		i := existing[0]
		if vm, ok := v.(map[string]any); ok {
			merged, err := a.mergeComplex(p.Attr, mapOf(list[i]), vm, p.String())
			if err != nil {
				return nil, nil, err
			}
			list[i] = merged
			ls.indexed(list, i)
		}
		touched = append(touched, i)
	}
	return list, touched, nil
}

// fixPrimary keeps "primary": true on at most the touched elements: when one of them is primary,
// every other element stops being so (RFC 7644 §3.5.2). Only then does it walk the list.
func (a applier) fixPrimary(attr schema.CoreAttribute, ls *listState, list []any, touched []int) {
	if _, ok := attr.SubAttributes().ContainsAttribute("primary"); !ok {
		return
	}
	if !slices.ContainsFunc(touched, func(i int) bool { return isPrimary(list[i]) }) {
		return
	}
	isTouched := make(map[int]bool, len(touched))
	for _, i := range touched {
		isTouched[i] = true
	}
	for i, e := range list {
		if e == nil || isTouched[i] || !isPrimary(e) {
			continue
		}
		m := deepCopyValue(mapOf(e)).(map[string]any)
		k, _ := keyFold(m, "primary")
		m[k] = false
		list[i] = m
		ls.indexed(list, i)
	}
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
