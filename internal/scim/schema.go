package scim

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Schema URNs the bridge serves or understands.
const (
	URNUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNListResp   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	URNSearch     = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	URNSPConfig   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResType    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// ResourceType is one kind of resource the bridge serves (User or Group): its endpoint, its
// core schema and its extensions. Attribute definitions come from the elimity schema package,
// so that discovery, validation, filtering and PATCH all read the same source.
type ResourceType struct {
	Name       string // "User"
	Endpoint   string // "/Users"
	Schema     schema.Schema
	Extensions []schema.Schema
}

// UserType and GroupType are the two resource types the bridge serves.
var (
	UserType = &ResourceType{
		Name:       "User",
		Endpoint:   "/Users",
		Schema:     schema.CoreUserSchema(),
		Extensions: []schema.Schema{schema.ExtensionEnterpriseUser(), DomoUserExtension(), CustomUserExtension()},
	}
	GroupType = &ResourceType{
		Name:     "Group",
		Endpoint: "/Groups",
		Schema:   schema.CoreGroupSchema(),
	}
)

// commonAttributes are id, externalId and meta, which every resource has but which the
// elimity schemas leave out of their attribute lists.
var commonAttributes = func() schema.Attributes {
	var out schema.Attributes
	for _, a := range schema.CommonAttributes() {
		if a.Name() != "schemas" {
			out = append(out, a)
		}
	}
	return out
}()

// AttrPath is an attribute reference resolved against a resource type: a top-level attribute
// of the core schema, a common attribute, or an extension attribute, plus an optional
// sub-attribute. Names are the schema's canonical spellings.
type AttrPath struct {
	URN  string // the extension schema URN, or "" for core and common attributes
	Attr schema.CoreAttribute
	Sub  *schema.CoreAttribute // nil when the path names the whole attribute
}

// Key is the canonical lower-case key of the top-level attribute, as Resource.Values takes it:
// "emails", or "urn:…:enterprise:2.0:user:department" for an extension attribute.
func (p AttrPath) Key() string {
	if p.URN != "" {
		return strings.ToLower(p.URN + ":" + p.Attr.Name())
	}
	return strings.ToLower(p.Attr.Name())
}

// SubKey is the lower-case sub-attribute name, or "".
func (p AttrPath) SubKey() string {
	if p.Sub == nil {
		return ""
	}
	return strings.ToLower(p.Sub.Name())
}

// String renders the path canonically, e.g. "name.givenName".
func (p AttrPath) String() string {
	s := p.Attr.Name()
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	if p.Sub != nil {
		s += "." + p.Sub.Name()
	}
	return s
}

// Resolve finds the attribute named by path, which may be URN-qualified ("urn:…:User:manager"),
// dotted ("name.givenName") or both, in any case. sub, when not empty, is a sub-attribute given
// separately (filter-parser splits them so). It reports an error for unknown names.
func (rt *ResourceType) Resolve(path, sub string) (AttrPath, error) {
	urn, rest := rt.splitURN(path)
	name, dotted, hasDot := strings.Cut(rest, ".")
	if hasDot {
		if sub != "" {
			return AttrPath{}, fmt.Errorf("attribute %q has too many parts", path+"."+sub)
		}
		sub = dotted
	}
	var attrs schema.Attributes
	switch {
	case urn == "":
		// Core attributes first, then id, externalId and meta; searched in place, because
		// Resolve runs for every filter and PATCH path.
		if a, ok := rt.Schema.Attributes.ContainsAttribute(name); ok {
			return rt.withSub(AttrPath{Attr: a}, sub)
		}
		attrs = commonAttributes
	case strings.EqualFold(urn, rt.Schema.ID):
		urn = ""
		attrs = rt.Schema.Attributes
	default:
		for _, ext := range rt.Extensions {
			if strings.EqualFold(urn, ext.ID) {
				urn = ext.ID
				attrs = ext.Attributes
			}
		}
		if attrs == nil {
			return AttrPath{}, fmt.Errorf("unknown schema %q", urn)
		}
	}
	a, ok := attrs.ContainsAttribute(name)
	if !ok && urn == URNCustomUser {
		a, ok = flatCustomAttribute(name)
	}
	if !ok {
		return AttrPath{}, fmt.Errorf("unknown attribute %q", path)
	}
	return rt.withSub(AttrPath{URN: urn, Attr: a}, sub)
}

// withSub resolves the sub-attribute part of a path.
func (rt *ResourceType) withSub(p AttrPath, sub string) (AttrPath, error) {
	if sub != "" {
		s, ok := p.Attr.SubAttributes().ContainsAttribute(sub)
		if !ok {
			return AttrPath{}, fmt.Errorf("unknown attribute %q", p.Attr.Name()+"."+sub)
		}
		p.Sub = &s
	}
	return p, nil
}

// splitURN separates a schema URN prefix from the attribute part of a path. URNs contain
// colons and may contain dots ("2.0"), so the split is on the known schema ids; an unknown
// "urn:" prefix is cut at its last colon so that the caller can report the schema.
func (rt *ResourceType) splitURN(path string) (urn, rest string) {
	if !strings.HasPrefix(strings.ToLower(path), "urn:") {
		return "", path
	}
	for _, id := range append([]string{rt.Schema.ID}, rt.extensionIDs()...) {
		if len(path) > len(id) && strings.EqualFold(path[:len(id)], id) && path[len(id)] == ':' {
			return id, path[len(id)+1:]
		}
	}
	i := strings.LastIndex(path, ":")
	return path[:i], path[i+1:]
}

func (rt *ResourceType) extensionIDs() []string {
	ids := make([]string, len(rt.Extensions))
	for i, e := range rt.Extensions {
		ids[i] = e.ID
	}
	return ids
}

// IsExtension reports whether urn names one of the resource type's extension schemas, and
// returns its canonical spelling.
func (rt *ResourceType) IsExtension(urn string) (string, bool) {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e.ID, true
		}
	}
	return "", false
}
