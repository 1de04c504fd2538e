package scim

import (
	"strings"

	"github.com/elimity-com/scim/schema"
)

// SelectAttributes applies the attributes and excludedAttributes query parameters (RFC 7644
// §3.4.2.5, §3.9; both comma-separated) to res and returns a new map. Values that are kept
// whole are shared with res; sub-attribute selections are copies.
//
// Rules, by each attribute's "returned" characteristic (RFC 7643 §7):
//   - "schemas" and attributes returned "always" (id) are always kept; excludedAttributes never
//     removes them.
//   - Attributes returned "never" (password) are always dropped.
//   - With attributes given, only the named attributes are kept, plus the always-returned ones.
//     meta is returned "default", so it is dropped unless named, as the RFC says. Attributes
//     returned "request" appear only when named.
//   - excludedAttributes drops the named attributes from what remains; with both parameters
//     given, attributes selects first and excludedAttributes then removes.
//   - Names are case-insensitive and may be URN-qualified ("urn:…:User:department"), an
//     extension URN (the whole extension object) or dotted ("name.givenName" keeps or drops only
//     that sub-attribute, of every element of a multi-valued attribute).
//   - A value filter is ignored: "emails[type eq \"work\"]" is "emails", and
//     "emails[type eq \"work\"].value" is "emails.value" (Microsoft sends the former and
//     expects the emails back).
//   - Unknown names are ignored. Keys of res the schema does not know are kept only when no
//     attributes parameter is given.
//
// With both parameters empty, res comes back whole but for returned-never attributes.
func SelectAttributes(rt *ResourceType, res Attributes, attributes, excludedAttributes string) Attributes {
	inc := parseSelection(rt, attributes)
	exc := parseSelection(rt, excludedAttributes)
	out := make(Attributes, len(res))
	for k, v := range res {
		if strings.EqualFold(k, "schemas") {
			out[k] = v
			continue
		}
		if urn, ok := rt.IsExtension(k); ok {
			if m := selectExtension(rt, urn, mapOf(v), inc, exc); len(m) > 0 {
				out[k] = m
			}
			continue
		}
		a, ok := topLevelAttr(rt, k)
		if !ok {
			if !inc.given {
				out[k] = v
			}
			continue
		}
		if sv, ok := selectAttr(a, attrSelKey{"", a.Name()}, v, inc, exc); ok {
			out[k] = sv
		}
	}
	return out
}

// topLevelAttr finds a core or common attribute by its top-level key. It is Resolve without the
// URN and dot handling a resource's own keys do not need, and without its allocations.
func topLevelAttr(rt *ResourceType, key string) (schema.CoreAttribute, bool) {
	if a, ok := rt.Schema.Attributes.ContainsAttribute(key); ok {
		return a, true
	}
	return commonAttributes.ContainsAttribute(key)
}

// Wants reports whether attr (a name as in the attributes parameter, e.g. "members") will be
// part of a response selected by attributes and excludedAttributes, so that a backend can skip
// reading what the client excluded (Entra's excludedAttributes=members on group lookups). It
// agrees with SelectAttributes on a resource that has every attribute.
func Wants(rt *ResourceType, attributes, excludedAttributes, attr string) bool {
	inc := parseSelection(rt, attributes)
	exc := parseSelection(rt, excludedAttributes)
	attr = strings.TrimSpace(attr)
	if strings.EqualFold(attr, "schemas") {
		return true
	}
	if urn, ok := rt.IsExtension(attr); ok {
		for _, ext := range rt.Extensions {
			if ext.ID != urn {
				continue
			}
			for _, a := range ext.Attributes {
				if wantsPath(AttrPath{URN: urn, Attr: a}, inc, exc) {
					return true
				}
			}
		}
		return false
	}
	p, err := rt.Resolve(stripValueFilters(attr), "")
	if err != nil {
		return !inc.given
	}
	return wantsPath(p, inc, exc)
}

// wantsPath is Wants for a resolved attribute or sub-attribute.
func wantsPath(p AttrPath, inc, exc attrSelection) bool {
	switch p.Attr.Returned() {
	case "never":
		return false
	case "always":
		return true
	}
	key := attrSelKey{p.URN, p.Attr.Name()}
	if p.URN != "" && exc.exts[p.URN] || exc.whole[key] {
		return false
	}
	whole := !inc.given || inc.whole[key] || p.URN != "" && inc.exts[p.URN]
	if !whole && len(inc.subs[key]) == 0 {
		return false
	}
	if !inc.given && p.Attr.Returned() == "request" {
		return false
	}
	kept := func(sub schema.CoreAttribute) bool {
		if sub.Returned() == "never" {
			return false
		}
		if sub.Returned() == "always" {
			return true
		}
		return (whole || inc.subs[key][sub.Name()]) && !exc.subs[key][sub.Name()]
	}
	if p.Sub != nil {
		return kept(*p.Sub)
	}
	if p.Attr.AttributeType() != "complex" || len(p.Attr.SubAttributes()) == 0 {
		return true
	}
	for _, sub := range p.Attr.SubAttributes() {
		if kept(sub) {
			return true
		}
	}
	return false
}

// attrSelKey names a top-level attribute: its extension URN ("" for core) and canonical name.
type attrSelKey struct{ urn, name string }

// attrSelection is one parsed attributes or excludedAttributes parameter.
type attrSelection struct {
	given bool                           // the parameter names something, known or not
	whole map[attrSelKey]bool            // attributes named whole
	subs  map[attrSelKey]map[string]bool // attributes named by sub-attribute (canonical names)
	exts  map[string]bool                // extension URNs named whole
}

func parseSelection(rt *ResourceType, param string) attrSelection {
	s := attrSelection{whole: map[attrSelKey]bool{}, subs: map[attrSelKey]map[string]bool{}, exts: map[string]bool{}}
	for _, name := range splitAttrList(param) {
		name = stripValueFilters(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		s.given = true
		if urn, ok := rt.IsExtension(name); ok {
			s.exts[urn] = true
			continue
		}
		p, err := rt.Resolve(name, "")
		if err != nil {
			continue
		}
		key := attrSelKey{p.URN, p.Attr.Name()}
		if p.Sub == nil {
			s.whole[key] = true
			continue
		}
		if s.subs[key] == nil {
			s.subs[key] = map[string]bool{}
		}
		s.subs[key][p.Sub.Name()] = true
	}
	return s
}

// splitAttrList splits a comma-separated list, ignoring commas inside a value filter.
func splitAttrList(param string) []string {
	var out []string
	depth, inQuote, start := 0, false, 0
	for i := 0; i < len(param); i++ {
		switch c := param[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			out = append(out, param[start:i])
			start = i + 1
		}
	}
	return append(out, param[start:])
}

// stripValueFilters removes value filters from a name: emails[type eq "work"].value -> emails.value.
func stripValueFilters(name string) string {
	if !strings.Contains(name, "[") {
		return name
	}
	var b strings.Builder
	depth, inQuote := 0, false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case depth > 0 && inQuote && c == '\\':
			i++
		case depth > 0 && c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// selectExtension selects within the object of one extension.
func selectExtension(rt *ResourceType, urn string, m map[string]any, inc, exc attrSelection) map[string]any {
	if m == nil || exc.exts[urn] {
		return nil
	}
	var attrs schema.Attributes
	for _, ext := range rt.Extensions {
		if ext.ID == urn {
			attrs = ext.Attributes
		}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		a, ok := attrs.ContainsAttribute(k)
		if !ok {
			if !inc.given || inc.exts[urn] {
				out[k] = v
			}
			continue
		}
		if sv, ok := selectAttr(a, attrSelKey{urn, a.Name()}, v, inc, exc); ok {
			out[k] = sv
		}
	}
	return out
}

// selectAttr decides whether attribute a (value v) is returned, and with which sub-attributes.
func selectAttr(a schema.CoreAttribute, key attrSelKey, v any, inc, exc attrSelection) (any, bool) {
	switch a.Returned() {
	case "never":
		return nil, false
	case "always":
		return v, true
	}
	projected := false
	if inc.given {
		if !inc.whole[key] && !(key.urn != "" && inc.exts[key.urn]) {
			subs := inc.subs[key]
			if len(subs) == 0 {
				return nil, false
			}
			v, projected = projectSubs(a, v, func(sub schema.CoreAttribute) bool { return subs[sub.Name()] || sub.Returned() == "always" }), true
		}
	} else if a.Returned() == "request" {
		return nil, false
	}
	if exc.whole[key] || key.urn != "" && exc.exts[key.urn] {
		return nil, false
	}
	if subs := exc.subs[key]; len(subs) > 0 {
		v, projected = projectSubs(a, v, func(sub schema.CoreAttribute) bool { return !subs[sub.Name()] || sub.Returned() == "always" }), true
	}
	if hasNeverSub(a) {
		v, projected = projectSubs(a, v, func(sub schema.CoreAttribute) bool { return sub.Returned() != "never" }), true
	}
	// A value left empty by a sub-attribute selection is not returned; one that was empty
	// to begin with is the backend's to send.
	return v, !projected || !emptyJSON(v)
}

func hasNeverSub(a schema.CoreAttribute) bool {
	for _, s := range a.SubAttributes() {
		if s.Returned() == "never" {
			return true
		}
	}
	return false
}

// projectSubs copies a complex value (or each element of a multi-valued one) keeping the
// sub-attributes keep accepts. Keys the schema does not know are dropped.
func projectSubs(a schema.CoreAttribute, v any, keep func(schema.CoreAttribute) bool) any {
	one := func(e any) any {
		m, ok := e.(map[string]any)
		if !ok {
			return e
		}
		out := make(map[string]any, len(m))
		for k, sv := range m {
			if sub, ok := a.SubAttributes().ContainsAttribute(k); ok && keep(sub) {
				out[k] = sv
			}
		}
		return out
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if pe := one(e); !emptyJSON(pe) {
				out = append(out, pe)
			}
		}
		return out
	case []map[string]any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if pe := one(e); !emptyJSON(pe) {
				out = append(out, pe)
			}
		}
		return out
	}
	return one(v)
}

func emptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
