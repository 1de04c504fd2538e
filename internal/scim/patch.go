package scim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

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
// a path-less one whose value is not an object; tooMany for more than MaxPatchOperations
// operations. Value types and mutability are checked by
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
	if len(list) > MaxPatchOperations {
		return nil, nil, tooManyOps(len(list))
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
