package mapping

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Readers of the canonical attribute map. The SCIM layer canonicalises keys and types before
// the map gets here, but the map is client input all the same: keys are matched
// case-insensitively, numbers stand in for strings, "True" for true, a lone object for a
// one-element list, and a wrong shape is a ValueError, never a panic.

// get returns m[key], matching the key case-insensitively. JSON null counts as absent.
func get(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, v != nil
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, v != nil
		}
	}
	return nil, false
}

// getString reads a string-valued attribute; attr names it in errors.
func getString(m map[string]any, key, attr string) (string, error) {
	v, ok := get(m, key)
	if !ok {
		return "", nil
	}
	return toString(v, attr)
}

func toString(v any, attr string) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", valueErr(attr, "must be a string")
}

// getBool reads a boolean attribute. Entra sends "True" and "False" as strings.
func getBool(m map[string]any, key, attr string, def bool) (bool, error) {
	v, ok := get(m, key)
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(x))); err == nil {
			return b, nil
		}
	}
	return false, valueErr(attr, "must be a boolean")
}

// getPrimary reads the primary sub-attribute of an element: true, false as written, or absent.
func getPrimary(el map[string]any, attr string) (primary, primaryFalse bool, err error) {
	if _, ok := get(el, "primary"); !ok {
		return false, false, nil
	}
	b, err := getBool(el, "primary", attr, false)
	return b, err == nil && !b, err
}

// putPrimary writes primary as the client wrote it: true, false, or not at all.
func putPrimary(m map[string]any, primary, primaryFalse bool) {
	switch {
	case primary:
		m["primary"] = true
	case primaryFalse:
		m["primary"] = false
	}
}

// getObject reads a complex attribute.
func getObject(m map[string]any, key, attr string) (map[string]any, error) {
	v, ok := get(m, key)
	if !ok {
		return nil, nil
	}
	if o, ok := v.(map[string]any); ok {
		return o, nil
	}
	return nil, valueErr(attr, "must be an object")
}

// getList reads a multi-valued attribute as a list of elements; a single element stands for a
// list of one.
func getList(m map[string]any, key, attr string) ([]any, error) {
	v, ok := get(m, key)
	if !ok {
		return nil, nil
	}
	switch x := v.(type) {
	case []any:
		return x, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case map[string]any, string:
		return []any{x}, nil
	}
	return nil, valueErr(attr, "must be a list")
}

// getMultis reads emails, phoneNumbers and the like. A bare string element is its value.
func getMultis(m map[string]any, key, attr string) ([]Multi, error) {
	list, err := getList(m, key, attr)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := make([]Multi, 0, len(list))
	for _, e := range list {
		var x Multi
		switch el := e.(type) {
		case nil:
			continue
		case string:
			x.Value = el
		case map[string]any:
			var err error
			if x.Value, err = getString(el, "value", attr); err != nil {
				return nil, err
			}
			if x.Display, err = getString(el, "display", attr); err != nil {
				return nil, err
			}
			if x.Type, err = getString(el, "type", attr); err != nil {
				return nil, err
			}
			if x.Primary, x.PrimaryFalse, err = getPrimary(el, attr); err != nil {
				return nil, err
			}
		default:
			return nil, valueErr(attr, "elements must be objects")
		}
		if x != (Multi{PrimaryFalse: x.PrimaryFalse}) { // primary:false alone says nothing
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func getAddresses(m map[string]any) ([]Address, error) {
	const attr = "addresses"
	list, err := getList(m, attr, attr)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	out := make([]Address, 0, len(list))
	for _, e := range list {
		el, ok := e.(map[string]any)
		if !ok {
			if e == nil {
				continue
			}
			return nil, valueErr(attr, "elements must be objects")
		}
		var a Address
		for _, f := range []struct {
			key string
			dst *string
		}{
			{"formatted", &a.Formatted}, {"streetAddress", &a.StreetAddress}, {"locality", &a.Locality},
			{"region", &a.Region}, {"postalCode", &a.PostalCode}, {"country", &a.Country}, {"type", &a.Type},
		} {
			if *f.dst, err = getString(el, f.key, attr); err != nil {
				return nil, err
			}
		}
		if a.Primary, a.PrimaryFalse, err = getPrimary(el, attr); err != nil {
			return nil, err
		}
		if a != (Address{PrimaryFalse: a.PrimaryFalse}) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// Builders of the attribute map: they leave empty values out, so that a response never
// carries nulls or empty strings.

func putString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

func multisAttr(list []Multi) []any {
	out := make([]any, 0, len(list))
	for _, e := range list {
		o := make(map[string]any, 4)
		putString(o, "value", e.Value)
		putString(o, "display", e.Display)
		putString(o, "type", e.Type)
		putPrimary(o, e.Primary, e.PrimaryFalse)
		out = append(out, o)
	}
	return out
}

func addressesAttr(list []Address) []any {
	out := make([]any, 0, len(list))
	for _, a := range list {
		o := make(map[string]any, 8)
		putString(o, "formatted", a.Formatted)
		putString(o, "streetAddress", a.StreetAddress)
		putString(o, "locality", a.Locality)
		putString(o, "region", a.Region)
		putString(o, "postalCode", a.PostalCode)
		putString(o, "country", a.Country)
		putString(o, "type", a.Type)
		putPrimary(o, a.Primary, a.PrimaryFalse)
		out = append(out, o)
	}
	return out
}
