package scim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Comparator orders resources by the attribute at p for sortBy (RFC 7644 §3.4.2.3), in
// ascending order. Resources without a value sort last; a caller sorting in descending order
// reverses the whole order, which puts them first, as the RFC asks ("ordered last if
// ascending and first if descending").
//
// Values compare by the schema type: strings case-insensitively unless the attribute is
// caseExact, dateTimes as instants, booleans false before true, numbers numerically. A complex
// attribute named without a sub-attribute sorts by its "value" (emails). A multi-valued
// attribute sorts by its primary element's value, else by the first element that has one.
// A value of the wrong type (a dateTime that does not parse) counts as no value.
func Comparator(p AttrPath) func(a, b Resource) int {
	leaf := p.Attr
	if p.Sub != nil {
		leaf = *p.Sub
	} else if v, ok := p.Attr.SubAttributes().ContainsAttribute("value"); ok && p.Attr.AttributeType() == "complex" {
		p.Sub, leaf = &v, v
	}
	get := sortValueGetter(p)
	var cmp func(a, b any) (int, bool, bool)
	switch leaf.AttributeType() {
	case "boolean":
		cmp = sortBy(asBool, func(a, b bool) int {
			switch {
			case a == b:
				return 0
			case !a:
				return -1
			}
			return 1
		})
	case "dateTime":
		cmp = sortBy(asTime, time.Time.Compare)
	case "integer", "decimal":
		cmp = sortBy(asFloat, func(a, b float64) int {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		})
	case "complex":
		// A complex attribute without a value sub-attribute (name, meta) has no order.
		cmp = func(any, any) (int, bool, bool) { return 0, false, false }
	default:
		order := foldCompare
		if leaf.CaseExact() || leaf.AttributeType() == "binary" {
			order = strings.Compare
		}
		cmp = sortBy(asSortString, order)
	}
	slow := func(a, b Resource) int {
		c, okA, okB := cmp(get(a), get(b))
		return presentFirst(c, okA, okB)
	}
	if p.Attr.MultiValued() || leaf.AttributeType() == "complex" || leaf.AttributeType() == "boolean" ||
		leaf.AttributeType() == "dateTime" || leaf.AttributeType() == "integer" || leaf.AttributeType() == "decimal" {
		return slow
	}
	// A single-valued string: compared without boxing when both resources are StringValuers,
	// which is what makes sorting a scan's matches cheap.
	key, sub := p.Key(), p.SubKey()
	order := foldCompare
	if leaf.CaseExact() || leaf.AttributeType() == "binary" {
		order = strings.Compare
	}
	return func(a, b Resource) int {
		if sa, ok := a.(StringValuer); ok {
			if sb, ok := b.(StringValuer); ok {
				x, okA := sa.StringValue(key, sub)
				y, okB := sb.StringValue(key, sub)
				if okA && okB {
					if x != "" && y != "" {
						return order(x, y)
					}
					return presentFirst(0, x != "", y != "")
				}
			}
		}
		return slow(a, b)
	}
}

// presentFirst is the order of two values given whether each was present, c when both were:
// a resource without a value sorts after one with.
func presentFirst(c int, okA, okB bool) int {
	switch {
	case okA && okB:
		return c
	case okA:
		return -1
	case okB:
		return 1
	}
	return 0
}

// sortBy adapts a typed conversion and order to values of any type; the booleans report
// whether each side had a usable value.
func sortBy[T any](conv func(any) (T, bool), order func(a, b T) int) func(a, b any) (int, bool, bool) {
	return func(a, b any) (int, bool, bool) {
		x, okA := conv(a)
		y, okB := conv(b)
		if okA && okB {
			return order(x, y), true, true
		}
		return 0, okA, okB
	}
}

func asSortString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return string(v), v != ""
	case int64:
		return strconv.FormatInt(v, 10), true // ids may come as integers
	}
	return "", false
}

// sortValueGetter returns the one value a resource sorts by, or nil.
func sortValueGetter(p AttrPath) func(Resource) any {
	key, sub := p.Key(), p.SubKey()
	if !p.Attr.MultiValued() {
		return func(r Resource) any { return firstPresent(r.Values(key, sub)) }
	}
	if sub == "" || p.Attr.AttributeType() != "complex" {
		return func(r Resource) any { return firstPresent(r.Values(key, "")) }
	}
	return func(r Resource) any {
		elems := r.Values(key, "")
		for _, e := range elems {
			if m, ok := e.(map[string]any); ok {
				if primary, _ := asBool(m["primary"]); primary && present(m[sub]) {
					return m[sub]
				}
			}
		}
		for _, e := range elems {
			if m, ok := e.(map[string]any); ok && present(m[sub]) {
				return m[sub]
			}
		}
		return nil
	}
}

func firstPresent(vs []any) any {
	for _, v := range vs {
		if present(v) {
			return v
		}
	}
	return nil
}
