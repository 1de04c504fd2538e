package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// Limits on a filter. A filter is evaluated against every resource of a scan, so its size and
// nesting are capped before filter-parser runs. Depth counts both how deeply parentheses,
// "not (" and value-path brackets nest as written, and how deeply and, or, not and value paths
// nest once parsed, where a chain of one operator (a or b or c) is one level.
const (
	MaxFilterLength = 4096 // bytes
	MaxFilterDepth  = 16   // nesting of and/or/not/parentheses/value paths
)

// Names of the IdP quirks ParseFilter rewrites before parsing, as Quirks reports them.
const (
	quirkUnquotedValue      = "unquoted-value"            // externalId eq jyoung (Entra docs, Microsoft's validator)
	quirkValuePathSubCmp    = "valuepath-subattr-compare" // emails[type eq "work"].value eq "x" (Entra)
	quirkSingleQuotedValue  = "single-quoted-value"       // userName eq 'x'
	quirkLowercaseHexEscape = "lowercase-unicode-escape"  // "\u00e9", which filter-parser rejects
)

// Filter is a parsed, schema-checked SCIM filter (RFC 7644 §3.4.2.2) for one resource type.
// It is immutable and safe for concurrent use.
//
// Semantics where the RFC leaves room, decided here:
//   - A multi-valued attribute matches when any of its values matches; "ne" is "not eq", so
//     it matches when no value equals the operand, including when the attribute is absent.
//   - A complex attribute compared without a sub-attribute (emails co "@x.com") compares its
//     "value" sub-attribute; one without a "value" sub-attribute (name, meta) supports only pr.
//   - "pr" means at least one non-empty value; "eq null" means the opposite and "ne null" is
//     pr. Other operators with null are invalid.
//   - co, sw and ew apply to strings (and references) only; gt, ge, lt and le apply to
//     strings, numbers and dateTimes, never to booleans or binary values.
//   - Strings compare case-insensitively (Unicode simple folding) unless the attribute is
//     caseExact; gt/lt order strings by code point after folding.
//   - A string attribute compared with a number or boolean literal (externalId eq 12345)
//     compares the literal's text; a boolean attribute accepts "true"/"false" strings; a
//     dateTime operand must be an RFC 3339 date-time (any fractional length; without an offset
//     it is taken as UTC).
//   - password (returned "never") cannot be filtered on.
type Filter struct {
	root   node
	group  bool // the resource type is Group, whose displayName is indexed
	quirks []string
}

// ParseFilter parses s for resource type rt. The forms Entra and Microsoft's validator send
// that the RFC grammar does not allow are rewritten first (see Quirks). Every attribute is
// resolved against rt's schemas. All failures are *Error 400 invalidFilter whose detail names
// the problem and the attribute; compare values are not echoed.
func ParseFilter(s string, rt *ResourceType) (*Filter, error) {
	return parseFilter(s, rt, false)
}

// parseFilter is ParseFilter; slowOnly makes every comparison go through filter-parser, so
// tests can check the fast path against it.
func parseFilter(s string, rt *ResourceType, slowOnly bool) (*Filter, error) {
	if len(s) > MaxFilterLength {
		return nil, filterErrorf("filter is %d bytes long; at most %d are allowed", len(s), MaxFilterLength)
	}
	if strings.TrimSpace(s) == "" {
		return nil, filterErrorf("filter is empty")
	}
	if !utf8.ValidString(s) {
		return nil, filterErrorf("filter is not valid UTF-8")
	}
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	w := rewriter{toks: toks.toks, quirks: toks.quirks}
	outer, err := w.rewrite()
	if err != nil {
		return nil, err
	}
	c := compiler{rt: rt, valuePaths: w.valuePaths, slowOnly: slowOnly}
	root, err := c.parse(outer, nil)
	if err != nil {
		return nil, err
	}
	if d := root.depth(); d > MaxFilterDepth {
		return nil, filterErrorf("filter nests %d levels deep; at most %d are allowed", d, MaxFilterDepth)
	}
	return &Filter{root: root, group: strings.EqualFold(rt.Schema.ID, URNGroup), quirks: w.quirks.list}, nil
}

// Match reports whether r satisfies the filter.
func (f *Filter) Match(r Resource) bool { return f.root.match(r) }

// Candidates returns index lookups such that every resource matching f satisfies at least one
// of them, so a caller may evaluate Match on their union instead of scanning. ok is false when
// the filter has no such shape. The lookups may over-approximate: Match must still be applied.
//
// Lookup values are the operands as sent. username and emails.value lookups must be at least
// as permissive as Match, which compares them with Unicode simple case folding
// (strings.EqualFold); id and externalId are case-exact.
func (f *Filter) Candidates() ([]Lookup, bool) {
	ls, ok := f.root.candidates(f.group)
	if !ok {
		return nil, false
	}
	return dedupLookups(ls), true
}

// String renders the filter canonically, after rewrites: canonical attribute names, lower-case
// operators, JSON-quoted strings. ParseFilter accepts it back.
func (f *Filter) String() string {
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}

// Quirks names the IdP quirks that were rewritten before parsing, in the order first met, for
// metrics: "unquoted-value", "valuepath-subattr-compare", "single-quoted-value",
// "lowercase-unicode-escape".
func (f *Filter) Quirks() []string { return append([]string(nil), f.quirks...) }

func filterErrorf(format string, args ...any) *Error {
	return BadRequest(TypeInvalidFilter, "filter: "+format, args...)
}

// --- lexing -------------------------------------------------------------------------------

type tokKind uint8

const (
	tokWord   tokKind = iota // attribute path, operator, keyword, or an unquoted value
	tokString                // a JSON string literal, quotes included, ready for filter-parser
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the filter, for error details
}

type quirkSet struct{ list []string }

func (q *quirkSet) add(name string) {
	for _, n := range q.list {
		if n == name {
			return
		}
	}
	q.list = append(q.list, name)
}

type lexed struct {
	toks   []token
	quirks quirkSet
}

// lexFilter splits s into tokens. Quoted strings become JSON string literals filter-parser
// accepts: single-quoted ones are re-quoted and lower-case \u escapes upper-cased.
func lexFilter(s string) (lexed, error) {
	var out lexed
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
		case '(':
			out.toks = append(out.toks, token{tokLParen, "(", i})
			i++
		case ')':
			out.toks = append(out.toks, token{tokRParen, ")", i})
			i++
		case '[':
			out.toks = append(out.toks, token{tokLBrack, "[", i})
			i++
		case ']':
			out.toks = append(out.toks, token{tokRBrack, "]", i})
			i++
		case '"':
			lit, n, err := lexJSONString(s[i:], i, &out.quirks)
			if err != nil {
				return lexed{}, err
			}
			out.toks = append(out.toks, token{tokString, lit, i})
			i += n
		case '\'':
			lit, n, err := lexSingleQuoted(s[i:], i)
			if err != nil {
				return lexed{}, err
			}
			out.quirks.add(quirkSingleQuotedValue)
			out.toks = append(out.toks, token{tokString, lit, i})
			i += n
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()[]", rune(s[j])) {
				j++
			}
			out.toks = append(out.toks, token{tokWord, s[i:j], i})
			i = j
		}
	}
	return out, nil
}

// lexJSONString reads the JSON string at the start of s. It returns the literal (with \u
// escapes upper-cased, which filter-parser's grammar requires) and its length in s.
func lexJSONString(s string, pos int, q *quirkSet) (string, int, error) {
	var fixed []byte // a copy, made only when a lower-case hex escape needs fixing
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if fixed != nil {
				return string(fixed[:j+1]), j + 1, nil
			}
			return s[:j+1], j + 1, nil
		case c < 0x20:
			return "", 0, filterErrorf("at offset %d: control character in the quoted value starting at offset %d", pos+j, pos)
		case c == '\\':
			if j+1 >= len(s) {
				break
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(s) {
					return "", 0, filterErrorf("at offset %d: incomplete \\u escape", pos+j)
				}
				for k := j + 2; k < j+6; k++ {
					h := s[k]
					switch {
					case h >= '0' && h <= '9', h >= 'A' && h <= 'F':
					case h >= 'a' && h <= 'f':
						if fixed == nil {
							fixed = []byte(s)
						}
						fixed[k] = h - 'a' + 'A'
						q.add(quirkLowercaseHexEscape)
					default:
						return "", 0, filterErrorf("at offset %d: invalid \\u escape", pos+j)
					}
				}
				j += 5
			default:
				return "", 0, filterErrorf("at offset %d: invalid escape in a quoted value", pos+j)
			}
		}
	}
	return "", 0, filterErrorf("at offset %d: quoted value is not terminated", pos)
}

// lexSingleQuoted reads 'text' at the start of s, where \' and \\ are the only escapes, and
// returns it as a JSON string literal.
func lexSingleQuoted(s string, pos int) (string, int, error) {
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '\'':
			return jsonQuote(b.String()), j + 1, nil
		case c == '\\' && j+1 < len(s) && (s[j+1] == '\'' || s[j+1] == '\\'):
			b.WriteByte(s[j+1])
			j++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, filterErrorf("at offset %d: quoted value is not terminated", pos)
}

// jsonQuote quotes s as a JSON string that filter-parser accepts: it escapes only '"', '\\'
// and control characters, with upper-case hex (encoding/json writes lower-case, which
// filter-parser rejects).
func jsonQuote(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// --- rewriting ----------------------------------------------------------------------------

// rewriter walks the tokens along the RFC grammar, reports structural errors with offsets,
// applies the IdP rewrites, and emits text for filter-parser. Each value path is lifted out:
// its inner filter is emitted separately and replaced by a placeholder "$vpN pr", because
// filter-parser's value-filter grammar is narrower than the RFC's (at most two comparisons,
// no parentheses), and the Entra form attr[f].sub op v needs "(f) and sub op v" inside.
type rewriter struct {
	toks       []token
	i          int
	quirks     quirkSet
	valuePaths []liftedValuePath
	nesting    int // current parentheses/brackets nesting
}

// liftedValuePath is one value path taken out of the filter text.
type liftedValuePath struct {
	attr  string // as written, e.g. "emails" or "urn:…:User:manager"
	inner string // the inner filter text, for filter-parser
}

const valuePathPlaceholder = "$vp" // "$" cannot start a top-level attribute name

func (w *rewriter) rewrite() (string, error) {
	var b strings.Builder
	if err := w.expr(&b, false); err != nil {
		return "", err
	}
	if t, ok := w.peek(); ok {
		return "", filterErrorf("at offset %d: unexpected %s", t.pos, describe(t))
	}
	return b.String(), nil
}

func (w *rewriter) peek() (token, bool) {
	if w.i < len(w.toks) {
		return w.toks[w.i], true
	}
	return token{}, false
}

func (w *rewriter) next() (token, bool) {
	t, ok := w.peek()
	if ok {
		w.i++
	}
	return t, ok
}

func (w *rewriter) peekIs(k tokKind) bool {
	t, ok := w.peek()
	return ok && t.kind == k
}

func (w *rewriter) open(pos int) error {
	w.nesting++
	if w.nesting > MaxFilterDepth {
		return filterErrorf("at offset %d: filter nests more than %d levels deep", pos, MaxFilterDepth)
	}
	return nil
}

// expr handles: operand (("and"|"or") operand)*, with parentheses and not, up to the end of
// the tokens, or up to "]" inside a value path.
func (w *rewriter) expr(b *strings.Builder, inValuePath bool) error {
	open := 0
	for {
		for w.peekIs(tokLParen) {
			t, _ := w.next()
			if err := w.open(t.pos); err != nil {
				return err
			}
			b.WriteString("(")
			open++
		}
		t, ok := w.next()
		if !ok {
			return filterErrorf("filter ends where an attribute name was expected")
		}
		if t.kind != tokWord {
			return filterErrorf("at offset %d: expected an attribute name, found %s", t.pos, describe(t))
		}
		if strings.EqualFold(t.text, "not") && !w.peekIs(tokLBrack) {
			p, ok := w.next()
			if !ok || p.kind != tokLParen {
				return filterErrorf("at offset %d: \"not\" must be followed by a filter in parentheses", t.pos)
			}
			if err := w.open(p.pos); err != nil {
				return err
			}
			b.WriteString("not (")
			open++
			continue
		}
		if err := w.comparison(b, t, inValuePath); err != nil {
			return err
		}
		for w.peekIs(tokRParen) && open > 0 {
			w.next()
			w.nesting--
			open--
			b.WriteString(")")
		}
		t, ok = w.peek()
		if !ok || (inValuePath && t.kind == tokRBrack) {
			if open > 0 {
				return filterErrorf("filter has %d unclosed parentheses", open)
			}
			return nil
		}
		if t.kind == tokWord && (strings.EqualFold(t.text, "and") || strings.EqualFold(t.text, "or")) {
			w.next()
			b.WriteString(" " + strings.ToLower(t.text) + " ")
			continue
		}
		if t.kind == tokRParen {
			return filterErrorf("at offset %d: \")\" has no matching \"(\"", t.pos)
		}
		return filterErrorf("at offset %d: expected \"and\", \"or\" or the end of the filter, found %s", t.pos, describe(t))
	}
}

// comparison handles attrPath "pr", attrPath op value, and value paths attr[filter], including
// Entra's attr[filter].sub op value.
func (w *rewriter) comparison(b *strings.Builder, attr token, inValuePath bool) error {
	if strings.HasPrefix(attr.text, valuePathPlaceholder[:1]) && !inValuePath {
		return filterErrorf("unknown attribute %q", truncate(attr.text))
	}
	if err := checkAttrPath(attr); err != nil {
		return err
	}
	if !w.peekIs(tokLBrack) {
		return w.operatorAndValue(b, attr)
	}
	if inValuePath {
		return filterErrorf("at offset %d: value paths cannot be nested", w.toks[w.i].pos)
	}
	lb, _ := w.next()
	if err := w.open(lb.pos); err != nil {
		return err
	}
	var inner strings.Builder
	if err := w.expr(&inner, true); err != nil {
		return err
	}
	if rb, ok := w.next(); !ok || rb.kind != tokRBrack {
		return filterErrorf("at offset %d: \"[\" has no matching \"]\"", lb.pos)
	}
	w.nesting--
	text := inner.String()
	if t, ok := w.peek(); ok && t.kind == tokWord && strings.HasPrefix(t.text, ".") {
		w.next()
		sub := token{tokWord, t.text[1:], t.pos + 1}
		if !isAttrName(sub.text) {
			return filterErrorf("at offset %d: expected a sub-attribute name after \"]\"", t.pos)
		}
		var cmp strings.Builder
		if err := w.operatorAndValue(&cmp, sub); err != nil {
			return err
		}
		text = "(" + text + ") and " + cmp.String()
		w.quirks.add(quirkValuePathSubCmp)
	}
	fmt.Fprintf(b, "%s%d pr", valuePathPlaceholder, len(w.valuePaths))
	w.valuePaths = append(w.valuePaths, liftedValuePath{attr: attr.text, inner: text})
	return nil
}

func (w *rewriter) operatorAndValue(b *strings.Builder, attr token) error {
	op, ok := w.next()
	if !ok {
		return filterErrorf("filter ends where an operator was expected after %q", truncate(attr.text))
	}
	if op.kind != tokWord {
		return filterErrorf("at offset %d: expected an operator after %q, found %s", op.pos, truncate(attr.text), describe(op))
	}
	lop := strings.ToLower(op.text)
	if lop == "pr" {
		b.WriteString(attr.text + " pr")
		return nil
	}
	if !isCompareOp(lop) {
		return filterErrorf("at offset %d: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after %q", op.pos, truncate(attr.text))
	}
	v, ok := w.next()
	if !ok || (v.kind != tokWord && v.kind != tokString) {
		return filterErrorf("at offset %d: missing value after %q %s", op.pos, truncate(attr.text), lop)
	}
	lit := v.text
	if v.kind == tokWord {
		switch {
		case strings.EqualFold(lit, "true"), strings.EqualFold(lit, "false"), strings.EqualFold(lit, "null"):
			lit = strings.ToLower(lit)
		case isJSONNumber(lit):
		default:
			lit = jsonQuote(lit)
			w.quirks.add(quirkUnquotedValue)
		}
	}
	b.WriteString(attr.text + " " + lop + " " + lit)
	return nil
}

// checkAttrPath checks the shape of an attribute path, [urn:...:]name[.sub], so that a bad
// one gets a clear detail rather than filter-parser's generic syntax error.
func checkAttrPath(t token) error {
	// The longest real path, an extension URN and a sub-attribute, is under 100 bytes; a longer
	// one is rejected before it costs a parse or fills an error detail.
	const maxLen = 256
	if len(t.text) > maxLen {
		return filterErrorf("at offset %d: attribute path is longer than %d bytes", t.pos, maxLen)
	}
	rest := t.text
	ok := true
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		for _, seg := range strings.Split(rest[:i], ":") {
			ok = ok && seg != "" && strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
		}
		rest = rest[i+1:]
	}
	parts := strings.Split(rest, ".")
	ok = ok && len(parts) <= 2
	for _, p := range parts {
		ok = ok && isAttrName(p)
	}
	if !ok {
		return filterErrorf("at offset %d: %q is not an attribute path such as name.givenName", t.pos, truncate(t.text))
	}
	return nil
}

// isAttrName reports whether s is an ATTRNAME of RFC 7644 (plus "$ref"'s leading "$").
func isAttrName(s string) bool {
	s = strings.TrimPrefix(s, "$")
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z') && !('0' <= c && c <= '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isCompareOp(op string) bool {
	switch op {
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
		return true
	}
	return false
}

// isJSONNumber reports whether s is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// describe names a token for an error detail without echoing what may be a value.
func describe(t token) string {
	switch t.kind {
	case tokString:
		return "a quoted value"
	case tokWord:
		if isCompareOp(strings.ToLower(t.text)) || strings.EqualFold(t.text, "pr") ||
			strings.EqualFold(t.text, "and") || strings.EqualFold(t.text, "or") || strings.EqualFold(t.text, "not") {
			return fmt.Sprintf("%q", strings.ToLower(t.text))
		}
		return "a word"
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func truncate(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	for i := limit; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// --- compiling ----------------------------------------------------------------------------

type compiler struct {
	rt         *ResourceType
	valuePaths []liftedValuePath
	slowOnly   bool // tests: always go through filter-parser
}

// simpleComparison matches the one shape almost every IdP lookup has, `attr op "value"` or
// `attr.sub op "value"` (as the rewriter prints it), which parse builds without filter-parser:
// that parser costs hundreds of microseconds and thousands of allocations per filter, and an
// Okta import sends one such filter per user.
var simpleComparison = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)(?:\.([A-Za-z$][A-Za-z0-9_$-]*))? (eq|ne|co|sw|ew|gt|ge|lt|le) "((?:[^"\\]|\\.)*)"$`)

// parse runs filter-parser on text and compiles the result. parent is the value path's
// attribute when text is the inner filter of one.
func (c *compiler) parse(text string, parent *AttrPath) (node, error) {
	if m := simpleComparison.FindStringSubmatch(text); m != nil && !c.slowOnly {
		e := &filter.AttributeExpression{
			AttributePath: filter.AttributePath{AttributeName: m[1]},
			Operator:      filter.CompareOperator(m[3]),
			CompareValue:  m[4], // raw, escapes included, as filter-parser hands it over
		}
		if m[2] != "" {
			sub := m[2]
			e.AttributePath.SubAttribute = &sub
		}
		return c.comparison(e, parent)
	}
	e, err := parseFilterText(text)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Type: TypeInvalidFilter, Detail: "filter: syntax error", Err: err}
	}
	return c.compile(e, parent)
}

// parseFilterText runs filter-parser. The rewriter has checked the grammar already, so its
// errors are unexpected; a panic in it, a third-party parser, must still end as a 400.
func parseFilterText(text string) (e filter.Expression, err error) {
	defer func() {
		if p := recover(); p != nil {
			e, err = nil, fmt.Errorf("filter-parser panicked: %v", p)
		}
	}()
	return filter.ParseFilterNumber([]byte(text))
}

func (c *compiler) compile(e filter.Expression, parent *AttrPath) (node, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.compile(e.Left, parent)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(e.Right, parent)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.AND {
			kids := slices.Concat(andKids(l), andKids(r))
			return &andNode{kids: kids, eval: cheapFirst(kids)}, nil
		}
		kids := slices.Concat(orKids(l), orKids(r))
		return &orNode{kids: kids, eval: cheapFirst(kids)}, nil
	case *filter.NotExpression:
		k, err := c.compile(e.Expression, parent)
		if err != nil {
			return nil, err
		}
		return &notNode{kid: k}, nil
	case *filter.ValuePath:
		// The rewriter lifts value paths out, so filter-parser never sees one; compiled anyway
		// so that this does not depend on that.
		return c.valuePath(e.AttributePath.String(), e.ValueFilter, parent)
	case *filter.AttributeExpression:
		ap := e.AttributePath
		if parent == nil && ap.URIPrefix == nil && ap.SubAttribute == nil && strings.HasPrefix(ap.AttributeName, valuePathPlaceholder) {
			n, err := strconv.Atoi(ap.AttributeName[len(valuePathPlaceholder):])
			if err != nil || n < 0 || n >= len(c.valuePaths) {
				return nil, filterErrorf("unknown attribute %q", ap.AttributeName)
			}
			lv := c.valuePaths[n]
			return c.valuePath(lv.attr, lv.inner, nil)
		}
		return c.comparison(e, parent)
	default:
		return nil, filterErrorf("unsupported expression")
	}
}

// andKids and orKids flatten chains of one operator, which filter-parser nests to the left,
// so that a long "or" of lookups is one node, not a deep tree.
func andKids(n node) []node {
	if a, ok := n.(*andNode); ok {
		return a.kids
	}
	return []node{n}
}

func orKids(n node) []node {
	if o, ok := n.(*orNode); ok {
		return o.kids
	}
	return []node{n}
}

// valuePath compiles attr[inner]; inner is either the lifted filter text or, defensively, an
// expression filter-parser produced.
func (c *compiler) valuePath(attr string, inner any, parent *AttrPath) (node, error) {
	if parent != nil {
		return nil, filterErrorf("value paths cannot be nested")
	}
	p, err := c.rt.Resolve(attr, "")
	if err != nil {
		return nil, filterErrorf("%v", err)
	}
	if p.Sub != nil || p.Attr.AttributeType() != "complex" {
		return nil, filterErrorf("%s[...] needs a complex attribute such as emails; %s is not one", p, p)
	}
	var kid node
	switch in := inner.(type) {
	case string:
		kid, err = c.parse(in, &p)
	case filter.Expression:
		kid, err = c.compile(in, &p)
	}
	if err != nil {
		return nil, err
	}
	return &valuePathNode{path: p, key: p.Key(), inner: kid}, nil
}

// Operand types a comparison is evaluated as, from the schema attribute's type.
type valType uint8

const (
	vtString   valType = iota // string and reference
	vtBinary                  // compared as a case-exact string, eq/ne/pr only
	vtBoolean                 // eq/ne/pr only
	vtDateTime                // instants
	vtNumber                  // integer and decimal
	vtComplex                 // a complex attribute without a "value" sub-attribute: pr only
)

type opKind uint8

const (
	opPr opKind = iota
	opEq
	opCo
	opSw
	opEw
	opGt
	opGe
	opLt
	opLe
)

func (c *compiler) comparison(e *filter.AttributeExpression, parent *AttrPath) (node, error) {
	ap := e.AttributePath
	var p AttrPath
	var err error
	if parent != nil {
		if ap.URIPrefix != nil || ap.SubAttribute != nil {
			return nil, filterErrorf("inside %s[...], name a sub-attribute of %s, not %q", parent, parent, ap.String())
		}
		p, err = c.rt.Resolve(parent.String(), ap.AttributeName)
	} else {
		name := ap.AttributeName
		if ap.URIPrefix != nil {
			name = *ap.URIPrefix + ":" + name
		}
		p, err = c.rt.Resolve(name, ap.SubAttributeName())
	}
	if err != nil {
		return nil, filterErrorf("%v", err)
	}
	leaf := p.Attr
	if p.Sub != nil {
		leaf = *p.Sub
	}
	if leaf.Returned() == "never" {
		return nil, filterErrorf("attribute %s cannot be used in a filter", p)
	}
	op := strings.ToLower(string(e.Operator))
	n := &cmpNode{path: p, inElem: parent != nil, opText: op, raw: e.CompareValue}
	if leaf.AttributeType() == "complex" {
		// A complex attribute compared as a whole compares its "value" (emails co "@x.com").
		if v, ok := leaf.SubAttributes().ContainsAttribute("value"); ok && op != "pr" {
			p.Sub = &v
			n.path = p
			leaf = v
		}
	}
	n.key, n.sub = p.Key(), p.SubKey()
	n.elems = parent == nil && n.sub != "" && p.Attr.MultiValued() && p.Attr.AttributeType() == "complex"
	n.caseExact = leaf.CaseExact()
	switch leaf.AttributeType() {
	case "boolean":
		n.typ = vtBoolean
	case "binary":
		n.typ, n.caseExact = vtBinary, true
	case "dateTime":
		n.typ = vtDateTime
	case "integer", "decimal":
		n.typ = vtNumber
	case "complex":
		n.typ = vtComplex
	default:
		n.typ = vtString
	}
	if err := n.setOperator(op); err != nil {
		return nil, err
	}
	return n, nil
}

// setOperator checks the operator against the attribute type and converts the operand once,
// so that evaluation does no parsing and no allocation.
func (n *cmpNode) setOperator(op string) error {
	bad := func(why string) error {
		return filterErrorf("%s %s: %s", n.path, op, why)
	}
	switch op {
	case "pr":
		n.op = opPr
		return nil
	case "eq":
		n.op = opEq
	case "ne":
		n.op, n.negate = opEq, true
	case "co":
		n.op = opCo
	case "sw":
		n.op = opSw
	case "ew":
		n.op = opEw
	case "gt":
		n.op = opGt
	case "ge":
		n.op = opGe
	case "lt":
		n.op = opLt
	case "le":
		n.op = opLe
	default:
		return bad("unknown operator")
	}
	if n.raw == nil {
		if n.op != opEq {
			return bad("null can only be compared with eq or ne")
		}
		// eq null: absent; ne null: present.
		n.op, n.negate = opPr, !n.negate
		return nil
	}
	if n.typ == vtComplex {
		return bad("a complex attribute without a value sub-attribute supports only pr and null comparisons; compare one of its sub-attributes")
	}
	ordering := n.op >= opGt
	substring := n.op >= opCo && n.op <= opEw
	switch n.typ {
	case vtString, vtBinary:
		if n.typ == vtBinary && (ordering || substring) {
			return bad("binary attributes support only eq, ne and pr")
		}
		switch v := n.raw.(type) {
		case string:
			s, err := unescapeJSON(v)
			if err != nil {
				return bad("invalid escape in the value")
			}
			n.str, n.raw = s, s
		case json.Number:
			n.str = string(v)
		case bool:
			n.str = strconv.FormatBool(v)
		}
	case vtBoolean:
		if ordering || substring {
			return bad("booleans support only eq, ne and pr")
		}
		switch v := n.raw.(type) {
		case bool:
			n.b = v
		case string:
			b, ok := asBool(v)
			if !ok {
				return bad("the value must be true or false")
			}
			n.b = b
		default:
			return bad("the value must be true or false")
		}
	case vtDateTime:
		if substring {
			return bad("dateTime attributes support only eq, ne, gt, ge, lt, le and pr")
		}
		s, ok := n.raw.(string)
		if !ok {
			return bad("the value must be an RFC 3339 date-time in quotes")
		}
		s, err := unescapeJSON(s)
		t, ok := parseDateTime(s)
		if err != nil || !ok {
			return bad("the value is not an RFC 3339 date-time such as \"2015-10-10T14:38:21Z\"")
		}
		n.t, n.raw = t, s
	case vtNumber:
		if substring {
			return bad("numbers support only eq, ne, gt, ge, lt, le and pr")
		}
		var text string
		switch v := n.raw.(type) {
		case json.Number:
			text = string(v)
		case string:
			text = v
		default:
			return bad("the value must be a number")
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("the value must be a finite number")
		}
		n.num = f
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			n.int, n.isInt = i, true
		}
	}
	return nil
}

// unescapeJSON resolves the JSON escapes filter-parser leaves in compare values.
func unescapeJSON(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

// parseDateTime accepts RFC 3339 date-times with any number of fractional digits, lower-case
// 't'/'z', and (leniently) without an offset, taken as UTC.
func parseDateTime(s string) (time.Time, bool) {
	if strings.ContainsAny(s, "tz") {
		s = strings.ToUpper(s)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// --- evaluation ---------------------------------------------------------------------------

// node is a compiled filter. match evaluates against a resource; matchElem against one element
// of a complex attribute (inside a value path), keyed by lower-case sub-attribute names.
type node interface {
	match(r Resource) bool
	matchElem(m map[string]any) bool
	matchIn(e Resource) bool // matchElem for an element an ElementValuer gave
	candidates(group bool) ([]Lookup, bool)
	depth() int
	write(b *strings.Builder)
}

// andNode and orNode keep their operands as written, for String, and in evaluation order:
// comparisons before value paths, which read element maps, so that short-circuiting skips
// the costly ones. Evaluation has no side effects, so the order cannot change a result.
type andNode struct{ kids, eval []node }

func cheapFirst(kids []node) []node {
	cost := func(n node) int {
		switch n.(type) {
		case *cmpNode:
			return 0
		case *valuePathNode:
			return 2
		}
		return 1
	}
	eval := slices.Clone(kids)
	slices.SortStableFunc(eval, func(a, b node) int { return cost(a) - cost(b) })
	return eval
}

func (n *andNode) match(r Resource) bool {
	for _, k := range n.eval {
		if !k.match(r) {
			return false
		}
	}
	return true
}

func (n *andNode) matchElem(m map[string]any) bool {
	for _, k := range n.eval {
		if !k.matchElem(m) {
			return false
		}
	}
	return true
}

func (n *andNode) matchIn(e Resource) bool {
	for _, k := range n.eval {
		if !k.matchIn(e) {
			return false
		}
	}
	return true
}

// candidates of a conjunction: any conjunct's lookups cover it; the shortest list is cheapest.
func (n *andNode) candidates(group bool) ([]Lookup, bool) {
	var best []Lookup
	found := false
	for _, k := range n.kids {
		if ls, ok := k.candidates(group); ok && (!found || len(ls) < len(best)) {
			best, found = ls, true
		}
	}
	return best, found
}

func (n *andNode) depth() int { return 1 + maxDepth(n.kids) }

func (n *andNode) write(b *strings.Builder) {
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(" and ")
		}
		if _, ok := k.(*orNode); ok {
			b.WriteString("(")
			k.write(b)
			b.WriteString(")")
		} else {
			k.write(b)
		}
	}
}

type orNode struct{ kids, eval []node }

func (n *orNode) match(r Resource) bool {
	for _, k := range n.eval {
		if k.match(r) {
			return true
		}
	}
	return false
}

func (n *orNode) matchElem(m map[string]any) bool {
	for _, k := range n.eval {
		if k.matchElem(m) {
			return true
		}
	}
	return false
}

func (n *orNode) matchIn(e Resource) bool {
	for _, k := range n.eval {
		if k.matchIn(e) {
			return true
		}
	}
	return false
}

// candidates of a disjunction: the union, and only when every disjunct has lookups.
func (n *orNode) candidates(group bool) ([]Lookup, bool) {
	var all []Lookup
	for _, k := range n.kids {
		ls, ok := k.candidates(group)
		if !ok {
			return nil, false
		}
		all = append(all, ls...)
	}
	return all, true
}

func (n *orNode) depth() int { return 1 + maxDepth(n.kids) }

func (n *orNode) write(b *strings.Builder) {
	for i, k := range n.kids {
		if i > 0 {
			b.WriteString(" or ")
		}
		k.write(b)
	}
}

type notNode struct{ kid node }

func (n *notNode) match(r Resource) bool            { return !n.kid.match(r) }
func (n *notNode) matchElem(m map[string]any) bool  { return !n.kid.matchElem(m) }
func (n *notNode) matchIn(e Resource) bool          { return !n.kid.matchIn(e) }
func (n *notNode) candidates(bool) ([]Lookup, bool) { return nil, false }
func (n *notNode) depth() int                       { return 1 + n.kid.depth() }
func (n *notNode) write(b *strings.Builder) {
	b.WriteString("not (")
	n.kid.write(b)
	b.WriteString(")")
}
func maxDepth(ns []node) (d int) {
	for _, n := range ns {
		d = max(d, n.depth())
	}
	return d
}

// valuePathNode is attr[inner]: some element of attr satisfies inner as a whole.
type valuePathNode struct {
	path  AttrPath
	key   string
	inner node
}

func (n *valuePathNode) match(r Resource) bool {
	if ev, ok := r.(ElementValuer); ok {
		if elems, ok := ev.Elements(n.key); ok {
			for _, e := range elems {
				if n.inner.matchIn(e) {
					return true
				}
			}
			return false
		}
	}
	for _, v := range r.Values(n.key, "") {
		if m, ok := v.(map[string]any); ok && n.inner.matchElem(m) {
			return true
		}
	}
	return false
}

func (n *valuePathNode) matchElem(map[string]any) bool { return false } // never nested
func (n *valuePathNode) matchIn(Resource) bool         { return false }

// candidates: an element satisfying inner satisfies one of inner's lookups, whose keys are
// already those of attr.sub (emails.value).
func (n *valuePathNode) candidates(group bool) ([]Lookup, bool) { return n.inner.candidates(group) }

func (n *valuePathNode) depth() int { return 1 + n.inner.depth() }

func (n *valuePathNode) write(b *strings.Builder) {
	b.WriteString(n.path.String())
	b.WriteString("[")
	n.inner.write(b)
	b.WriteString("]")
}

// cmpNode is one attribute comparison with its operand converted at parse time.
type cmpNode struct {
	path      AttrPath
	key, sub  string
	inElem    bool // inside a value path: evaluated against one element, by sub
	elems     bool // a sub-attribute of a multi-valued complex attribute (emails.value)
	typ       valType
	op        opKind
	negate    bool // ne, and eq null
	caseExact bool

	str   string    // vtString, vtBinary
	b     bool      // vtBoolean
	t     time.Time // vtDateTime
	num   float64   // vtNumber
	int   int64     // vtNumber, when the operand is an integer
	isInt bool

	opText string // as parsed, for String
	raw    any    // the operand as parsed (string unescaped), for String
}

func (n *cmpNode) match(r Resource) bool {
	if n.elems {
		if ev, ok := r.(ElementValuer); ok {
			if elems, ok := ev.Elements(n.key); ok {
				hit := false
				for _, e := range elems {
					if n.hit(e, n.sub, "") {
						hit = true
						break
					}
				}
				return hit != n.negate
			}
		}
	}
	return n.hit(r, n.key, n.sub) != n.negate
}

func (n *cmpNode) matchElem(m map[string]any) bool {
	v, ok := m[n.sub]
	hit := ok && n.test(v)
	return hit != n.negate
}

func (n *cmpNode) matchIn(e Resource) bool { return n.hit(e, n.sub, "") != n.negate }

// hit reports whether some value of r at key and sub satisfies the operator (before negation).
func (n *cmpNode) hit(r Resource, key, sub string) bool {
	if sv, ok := r.(StringValuer); ok {
		if s, ok := sv.StringValue(key, sub); ok {
			switch {
			case s == "":
				return false
			case n.op == opPr:
				return true
			case n.typ == vtString || n.typ == vtBinary:
				return n.testStr(s)
			}
			return n.test(s)
		}
	}
	for _, v := range r.Values(key, sub) {
		if n.test(v) {
			return true
		}
	}
	return false
}

// test applies the (positive) operator to one value.
func (n *cmpNode) test(v any) bool {
	if n.op == opPr {
		return present(v)
	}
	switch n.typ {
	case vtString, vtBinary:
		return n.testString(v)
	case vtBoolean:
		b, ok := asBool(v)
		return ok && b == n.b
	case vtDateTime:
		t, ok := asTime(v)
		return ok && n.op.holds(t.Compare(n.t))
	case vtNumber:
		return n.testNumber(v)
	}
	return false
}

func (n *cmpNode) testString(v any) bool {
	switch v := v.(type) {
	case string:
		return n.testStr(v)
	case json.Number:
		return n.testStr(string(v))
	case int64:
		// Ids may come as integers.
		var buf [20]byte
		return n.testStr(string(strconv.AppendInt(buf[:0], v, 10)))
	case bool:
		return n.testStr(strconv.FormatBool(v))
	}
	return false
}

func (n *cmpNode) testStr(s string) bool {
	if n.caseExact {
		switch n.op {
		case opEq:
			return s == n.str
		case opCo:
			return strings.Contains(s, n.str)
		case opSw:
			return strings.HasPrefix(s, n.str)
		case opEw:
			return strings.HasSuffix(s, n.str)
		default:
			return n.op.holds(strings.Compare(s, n.str))
		}
	}
	switch n.op {
	case opEq:
		return strings.EqualFold(s, n.str)
	case opCo:
		return foldContains(s, n.str)
	case opSw:
		return foldHasPrefix(s, n.str)
	case opEw:
		return foldHasSuffix(s, n.str)
	default:
		return n.op.holds(foldCompare(s, n.str))
	}
}

func (n *cmpNode) testNumber(v any) bool {
	if i, ok := v.(int64); ok && n.isInt {
		switch {
		case i < n.int:
			return n.op.holds(-1)
		case i > n.int:
			return n.op.holds(1)
		}
		return n.op.holds(0)
	}
	f, ok := asFloat(v)
	if !ok {
		return false
	}
	switch {
	case f < n.num:
		return n.op.holds(-1)
	case f > n.num:
		return n.op.holds(1)
	case f == n.num:
		return n.op.holds(0)
	}
	return false // NaN
}

func (o opKind) holds(cmp int) bool {
	switch o {
	case opEq:
		return cmp == 0
	case opGt:
		return cmp > 0
	case opGe:
		return cmp >= 0
	case opLt:
		return cmp < 0
	case opLe:
		return cmp <= 0
	}
	return false
}

// candidates of one comparison: eq on an indexed attribute.
func (n *cmpNode) candidates(group bool) ([]Lookup, bool) {
	if n.op != opEq || n.negate || n.typ != vtString {
		return nil, false
	}
	var key string
	switch {
	case n.sub == "" && (n.key == "username" || n.key == "externalid" || n.key == "id"):
		key = n.key
	case n.sub == "" && n.key == "displayname" && group:
		key = n.key
	case n.key == "emails" && n.sub == "value":
		key = "emails.value"
	default:
		return nil, false
	}
	return []Lookup{{Key: key, Value: n.str}}, true
}

func (n *cmpNode) depth() int { return 0 }

func (n *cmpNode) write(b *strings.Builder) {
	if n.inElem {
		b.WriteString(n.path.Sub.Name())
	} else {
		b.WriteString(n.path.String())
	}
	b.WriteString(" ")
	b.WriteString(n.opText)
	if n.opText == "pr" {
		return
	}
	b.WriteString(" ")
	switch v := n.raw.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(jsonQuote(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(string(v))
	default:
		fmt.Fprint(b, v)
	}
}

func dedupLookups(ls []Lookup) []Lookup {
	out := make([]Lookup, 0, len(ls))
	seen := make(map[Lookup]bool, len(ls))
	for _, l := range ls {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// --- values -------------------------------------------------------------------------------

// present reports whether v is a non-empty value: a complex value is present when any of its
// sub-attributes is.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case time.Time:
		return !v.IsZero()
	case map[string]any:
		for _, s := range v {
			if present(s) {
				return true
			}
		}
		return false
	case []any:
		for _, s := range v {
			if present(s) {
				return true
			}
		}
		return false
	}
	return true
}

func asBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch {
		case strings.EqualFold(v, "true"):
			return true, true
		case strings.EqualFold(v, "false"):
			return false, true
		}
	}
	return false, false
}

func asTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, !v.IsZero()
	case string:
		return parseDateTime(v)
	}
	return time.Time{}, false
}

func asFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// --- case-insensitive string operations without allocation ---------------------------------
//
// They use Unicode simple case folding, like strings.EqualFold, rune by rune, so that
// evaluating a filter over a scan of the index allocates nothing.

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func runeEqualFold(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// foldHasPrefix reports whether s begins with prefix, ignoring case.
func foldHasPrefix(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		if c1, c2 := s[0], prefix[0]; c1 < utf8.RuneSelf && c2 < utf8.RuneSelf {
			if lowerASCII(c1) != lowerASCII(c2) {
				return false
			}
			s, prefix = s[1:], prefix[1:]
			continue
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(prefix)
		if !runeEqualFold(r1, r2) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

// foldHasSuffix reports whether s ends with suffix, ignoring case.
func foldHasSuffix(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		if c1, c2 := s[len(s)-1], suffix[len(suffix)-1]; c1 < utf8.RuneSelf && c2 < utf8.RuneSelf {
			if lowerASCII(c1) != lowerASCII(c2) {
				return false
			}
			s, suffix = s[:len(s)-1], suffix[:len(suffix)-1]
			continue
		}
		r1, n1 := utf8.DecodeLastRuneInString(s)
		r2, n2 := utf8.DecodeLastRuneInString(suffix)
		if !runeEqualFold(r1, r2) {
			return false
		}
		s, suffix = s[:len(s)-n1], suffix[:len(suffix)-n2]
	}
	return true
}

// foldContains reports whether sub occurs in s, ignoring case. ASCII positions whose byte
// cannot start a match are skipped without a call; a non-ASCII rune may fold to an ASCII one
// (KELVIN SIGN to k), so those are always tried.
func foldContains(s, sub string) bool {
	if sub == "" {
		return true
	}
	c0 := sub[0]
	anyFirst := c0 >= utf8.RuneSelf
	lo, up := lowerASCII(c0), upperASCII(c0)
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if (anyFirst || c == lo || c == up) && foldHasPrefix(s[i:], sub) {
				return true
			}
			i++
			continue
		}
		if foldHasPrefix(s[i:], sub) {
			return true
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return false
}

// foldCompare orders a and b by code point after case folding; it returns 0 exactly when
// strings.EqualFold(a, b).
func foldCompare(a, b string) int {
	for a != "" && b != "" {
		var r1, r2 rune
		if c1, c2 := a[0], b[0]; c1 < utf8.RuneSelf && c2 < utf8.RuneSelf {
			r1, r2 = rune(lowerASCII(c1)), rune(lowerASCII(c2))
			a, b = a[1:], b[1:]
		} else {
			var n1, n2 int
			r1, n1 = utf8.DecodeRuneInString(a)
			r2, n2 = utf8.DecodeRuneInString(b)
			r1, r2 = foldKey(r1), foldKey(r2)
			a, b = a[n1:], b[n2:]
		}
		if r1 != r2 {
			if r1 < r2 {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// foldKey maps r to one representative of its case-folding orbit: the lower case of the
// orbit's smallest member, which for ASCII letters is the ASCII lower case.
func foldKey(r rune) rune {
	if r < utf8.RuneSelf {
		return rune(lowerASCII(byte(r)))
	}
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		low = min(low, f)
	}
	if low < utf8.RuneSelf {
		return rune(lowerASCII(byte(low)))
	}
	// Not unicode.ToLower(low): that can leave the fold orbit (İ lower-cases to i, yet
	// strings.EqualFold("İ", "i") is false), so the smallest member of the orbit is the key.
	return low
}
