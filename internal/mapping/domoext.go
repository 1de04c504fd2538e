package mapping

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/scimbridge/scimbridge/internal/domo"
)

// Schema URNs of Domo's own SCIM user extensions (Domo KB 000005241), which the bridge serves
// too, so that a tenant can move between Domo's SCIM and the bridge without changing its IdP
// mappings.
const (
	URNDomoUser   = "urn:ietf:params:scim:schemas:extension:domo:2.0:User"
	URNCustomUser = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
)

// Lower-case keys of the Domo extensions' attributes, as Values takes them.
const (
	domoPrefix           = "urn:ietf:params:scim:schemas:extension:domo:2.0:user:"
	domoHireDate         = domoPrefix + "hiredate"
	domoEmployeeLocation = domoPrefix + "employeelocation"
	customPrefix         = "urn:ietf:params:scim:schemas:extension:custom:2.0:user:"
	customAttributesKey  = customPrefix + "customattributes"
)

// schemaURNs lists the schemas a user resource carries: core, then each extension it has a
// value of.
func (u *User) schemaURNs() []any {
	out := []any{URNUser}
	if u.Enterprise != (Enterprise{}) {
		out = append(out, URNEnterprise)
	}
	if u.Domo != (DomoExt{}) {
		out = append(out, URNDomoUser)
	}
	if len(u.CustomAttributes) > 0 {
		out = append(out, URNCustomUser)
	}
	return out
}

func (u *User) domoAttr() map[string]any {
	if u.Domo == (DomoExt{}) {
		return nil
	}
	m := make(map[string]any, 2)
	putString(m, "hireDate", u.Domo.HireDate)
	putString(m, "employeeLocation", u.Domo.EmployeeLocation)
	return m
}

func (u *User) customAttr() map[string]any {
	if len(u.CustomAttributes) == 0 {
		return nil
	}
	m := map[string]any{}
	var list []any
	for _, a := range u.CustomAttributes {
		if a.Flat && len(a.Values) == 1 {
			m[a.Key] = a.Values[0]
			continue
		}
		vals := make([]any, len(a.Values))
		for j, v := range a.Values {
			vals[j] = v
		}
		list = append(list, map[string]any{"key": a.Key, "values": vals})
	}
	if len(list) > 0 {
		m["customAttributes"] = list
	}
	return m
}

// extensionObject reads an extension's object, merged with the URN-qualified top-level keys
// ("urn:…:User:hireDate") of Entra's path-less PATCH values.
func extensionObject(attrs map[string]any, urn string) (map[string]any, error) {
	ext, err := getObject(attrs, urn, urn)
	if err != nil {
		return nil, err
	}
	prefix := urn + ":"
	var qualified map[string]any
	for k, v := range attrs {
		if len(k) > len(prefix) && strings.EqualFold(k[:len(prefix)], prefix) {
			if qualified == nil {
				qualified = map[string]any{}
			}
			qualified[k[len(prefix):]] = v
		}
	}
	if qualified == nil {
		return ext, nil
	}
	merged := make(map[string]any, len(ext)+len(qualified))
	maps.Copy(merged, ext)
	maps.Copy(merged, qualified)
	return merged, nil
}

func domoFromAttributes(attrs map[string]any) (DomoExt, error) {
	var d DomoExt
	ext, err := extensionObject(attrs, URNDomoUser)
	if err != nil || ext == nil {
		return d, err
	}
	if d.HireDate, err = getString(ext, "hireDate", "hireDate"); err != nil {
		return d, err
	}
	d.EmployeeLocation, err = getString(ext, "employeeLocation", "employeeLocation")
	return d, err
}

// maxCustomAttributes and maxCustomValues bound what one user may carry: far above any real
// tenant's attribute list, far below what would make a PATCH body or the index heavy.
const (
	maxCustomAttributes = 200
	maxCustomValues     = 100
)

// customFromAttributes reads customAttributes: a list of {key, values}. values may be a list
// or one value; numbers and booleans are taken as their text. A key is required, and may
// appear once. Any other member of the extension is a key of its own with one value (the
// form Okta and Entra write a custom attribute in).
func customFromAttributes(attrs map[string]any) ([]CustomAttribute, error) {
	ext, err := extensionObject(attrs, URNCustomUser)
	if err != nil || ext == nil {
		return nil, err
	}
	flat, err := flatCustom(ext)
	if err != nil {
		return nil, err
	}
	list, err := getList(ext, "customAttributes", "customAttributes")
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return flat, nil
	}
	if len(list) > maxCustomAttributes {
		return nil, valueErr("customAttributes", "more than "+strconv.Itoa(maxCustomAttributes)+" attributes")
	}
	out := make([]CustomAttribute, 0, len(list))
	for _, e := range list {
		o, ok := e.(map[string]any)
		if !ok {
			return nil, valueErr("customAttributes", "each element must be an object with key and values")
		}
		key, err := getString(o, "key", "customAttributes.key")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(key) == "" || key != strings.TrimSpace(key) {
			return nil, valueErr("customAttributes.key", "a key is required, without surrounding spaces")
		}
		if slices.ContainsFunc(out, func(a CustomAttribute) bool { return a.Key == key }) {
			return nil, valueErr("customAttributes.key", "key "+strconv.Quote(key)+" appears twice")
		}
		a := CustomAttribute{Key: key}
		if raw, ok := get(o, "values"); ok {
			vals, isList := raw.([]any)
			if !isList {
				vals = []any{raw}
			}
			if len(vals) > maxCustomValues {
				return nil, valueErr("customAttributes.values", "more than "+strconv.Itoa(maxCustomValues)+" values for key "+strconv.Quote(key))
			}
			for _, v := range vals {
				if v == nil {
					continue
				}
				s, err := toString(v, "customAttributes.values")
				if err != nil {
					return nil, err
				}
				a.Values = append(a.Values, s)
			}
		}
		out = append(out, a)
	}
	// A key may come both ways: a PATCH of one form applied to a view holding the other.
	// ResolveCustom decides which is the IdP's.
	return append(out, flat...), nil
}

// ResolveCustom settles keys a user carries both as an element of customAttributes and as a
// key of their own, which happens when an IdP writes one form of a key the bridge showed in
// the other: the form whose values differ from what the IdP wrote before (prev) is the new
// one. Equal values keep the element. A key both forms change, or that a create gives twice
// with different values, is a ValueError.
func ResolveCustom(list, prev []CustomAttribute) ([]CustomAttribute, error) {
	before := customMap(prev)
	out := make([]CustomAttribute, 0, len(list))
	for i, a := range list {
		j := slices.IndexFunc(list, func(b CustomAttribute) bool { return b.Key == a.Key && b.Flat != a.Flat })
		if j < 0 {
			out = append(out, a)
			continue
		}
		if j < i {
			continue // decided with its twin
		}
		elem, flat := a, list[j]
		if elem.Flat {
			elem, flat = flat, elem
		}
		switch {
		case slices.Equal(elem.Values, flat.Values), !slices.Equal(elem.Values, before[a.Key]) && slices.Equal(flat.Values, before[a.Key]):
			out = append(out, elem)
		case slices.Equal(elem.Values, before[a.Key]):
			out = append(out, flat)
		default:
			return nil, valueErr("customAttributes.key", "key "+strconv.Quote(a.Key)+" is given twice, with different values")
		}
	}
	return out, nil
}

// flatCustom reads the keys written directly under the custom extension, in key order.
func flatCustom(ext map[string]any) ([]CustomAttribute, error) {
	var out []CustomAttribute
	for _, k := range slices.Sorted(maps.Keys(ext)) {
		if strings.EqualFold(k, "customAttributes") {
			continue
		}
		v := ext[k]
		if v == nil {
			continue
		}
		s, err := toString(v, k)
		if err != nil {
			return nil, err
		}
		a := CustomAttribute{Key: k, Flat: true}
		if s != "" {
			a.Values = []string{s}
		}
		out = append(out, a)
	}
	if len(out) > maxCustomAttributes {
		return nil, valueErr("customAttributes", "more than "+strconv.Itoa(maxCustomAttributes)+" attributes")
	}
	return out, nil
}

// customEqual compares two attribute lists as sets of keys with their values in order, and
// the form each was written in.
func customEqual(a, b []CustomAttribute) bool {
	return maps.EqualFunc(customMap(a), customMap(b), slices.Equal[[]string]) && maps.Equal(flatKeys(a), flatKeys(b))
}

func flatKeys(list []CustomAttribute) map[string]bool {
	m := map[string]bool{}
	for _, a := range list {
		if a.Flat && len(a.Values) > 0 {
			m[a.Key] = true
		}
	}
	return m
}

// customMap indexes attributes by key; an attribute without values is absent.
func customMap(list []CustomAttribute) map[string][]string {
	m := make(map[string][]string, len(list))
	for _, a := range list {
		if len(a.Values) > 0 {
			m[a.Key] = a.Values
		}
	}
	return m
}

// cloneCustom copies a list deeply, dropping attributes without values.
func cloneCustom(list []CustomAttribute) []CustomAttribute {
	var out []CustomAttribute
	for _, a := range list {
		if len(a.Values) > 0 {
			out = append(out, CustomAttribute{Key: a.Key, Values: slices.Clone(a.Values), Flat: a.Flat})
		}
	}
	return out
}

func customValues(list []CustomAttribute, sub string) []any {
	var out []any
	for _, a := range list {
		if a.Flat {
			continue // read through its own key
		}
		switch sub {
		case "":
			vals := make([]any, len(a.Values))
			for i, v := range a.Values {
				vals[i] = v
			}
			out = append(out, map[string]any{"key": a.Key, "values": vals})
		case "key":
			out = append(out, a.Key)
		case "values":
			for _, v := range a.Values {
				out = append(out, v)
			}
		}
	}
	return out
}

// IdentityAttributes are the Domo identity attributes u asks for, by key: reportsTo from the
// enterprise manager when its value is a user id (a SCIM id, which is the Domo id), hireDate,
// organization when the tenant has such a key (has reports which keys exist), and every
// custom attribute. A key mapped to no value is absent. A custom key that fights one of
// those is a ValueError.
func IdentityAttributes(u User, has func(key string) bool) (map[string][]string, error) {
	out := customMap(u.CustomAttributes)
	for k := range out {
		if k == domo.AttrReportsTo || k == domo.AttrHireDate {
			// Written through their SCIM attributes; a custom one of the same key would fight.
			return nil, valueErr("customAttributes.key", "key "+strconv.Quote(k)+" is set through "+map[string]string{domo.AttrReportsTo: "manager", domo.AttrHireDate: "hireDate"}[k])
		}
	}
	// A manager that is not a user's id (Okta's managerId may be anything) cannot be Domo's
	// reportsTo: it stays the bridge's, and reportsTo is left to Domo.
	if v := strings.TrimSpace(u.Enterprise.Manager.Value); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 && strconv.FormatInt(id, 10) == v && id != u.ID {
			out[domo.AttrReportsTo] = []string{v}
		}
	}
	if v := strings.TrimSpace(u.Domo.HireDate); v != "" {
		out[domo.AttrHireDate] = []string{v}
	}
	if v := strings.TrimSpace(u.Enterprise.Organization); v != "" && has != nil && has(domo.AttrOrganization) {
		if _, custom := out[domo.AttrOrganization]; !custom {
			out[domo.AttrOrganization] = []string{v}
		}
	}
	return out, nil
}

// AttributeChanges lists the attributes to PATCH so that Domo, holding have, holds want: each
// key whose values differ, and each key of have that want lacks (with no values: cleared).
// Sorted by key.
func AttributeChanges(want, have map[string][]string) []domo.Attribute {
	var out []domo.Attribute
	for k, v := range want {
		if !slices.Equal(v, have[k]) {
			out = append(out, domo.Attribute{Key: k, Values: slices.Clone(v)})
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			out = append(out, domo.Attribute{Key: k, Values: []string{}})
		}
	}
	slices.SortFunc(out, func(a, b domo.Attribute) int { return strings.Compare(a.Key, b.Key) })
	return out
}
