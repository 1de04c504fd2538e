package scim

import (
	"net/http"
	"strings"
	"time"

	"github.com/elimity-com/scim/schema"
	"github.com/go-chi/chi/v5"
)

// discovery serves /ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4) from the
// same schema definitions the bridge validates and filters with.
type discovery struct {
	types         []*ResourceType
	maxResults    int
	maxBody       int64
	bulkMaxOps    int
	cursorTimeout time.Duration
	roleNames     func() []string // canonical values of roles[].value; nil declares none
}

// noFilter refuses a filter on the discovery endpoints, which do not filter (RFC 7644 §4:
// "If a filter is provided, the service provider SHOULD respond with HTTP status code 403"),
// so that a client never takes an unfiltered answer for a filtered one.
func noFilter(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if queryParam(r.URL.Query(), "filter") != "" {
			writeError(w, r, Errorf(http.StatusForbidden, "", "the discovery endpoints do not filter"))
			return
		}
		next(w, r)
	}
}

func (d *discovery) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	base := RequestInfo(r.Context()).BaseURL
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{URNSPConfig},
		"documentationUri": "https://github.com/scimbridge/scimbridge#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": d.bulkMaxOps, "maxPayloadSize": d.maxBody},
		"filter":           map[string]any{"supported": true, "maxResults": d.maxResults},
		// RFC 9865: cursors are keysets on the index's stable order; startIndex stays the
		// default, as Okta and Entra page by index.
		"pagination": map[string]any{
			"cursor":                  true,
			"index":                   true,
			"defaultPaginationMethod": "index",
			"defaultPageSize":         d.maxResults,
			"maxPageSize":             d.maxResults,
			"cursorTimeout":           int(d.cursorTimeout / time.Second),
		},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "Bearer token",
			"description": "A long-lived bearer token configured in scimbridge (SCIMBRIDGE_TOKEN), sent as Authorization: Bearer <token>.",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     base + "/ServiceProviderConfig",
		},
	})
}

func (d *discovery) resourceType(rt *ResourceType, base string) map[string]any {
	exts := []any{}
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	return map[string]any{
		"schemas":          []string{URNResType},
		"id":               rt.Name,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Schema.Description.Value(),
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta": map[string]any{
			"resourceType": "ResourceType",
			"location":     base + "/ResourceTypes/" + rt.Name,
		},
	}
}

func (d *discovery) resourceTypes(w http.ResponseWriter, r *http.Request) {
	base := RequestInfo(r.Context()).BaseURL
	out := []any{}
	for _, rt := range d.types {
		out = append(out, d.resourceType(rt, base))
	}
	writeJSON(w, http.StatusOK, listResponse(out))
}

func (d *discovery) resourceTypeByName(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	for _, rt := range d.types {
		if strings.EqualFold(rt.Name, name) {
			writeJSON(w, http.StatusOK, d.resourceType(rt, RequestInfo(r.Context()).BaseURL))
			return
		}
	}
	writeError(w, r, NotFound("ResourceType", name))
}

func (d *discovery) schemas() []schema.Schema {
	var out []schema.Schema
	seen := map[string]bool{}
	for _, rt := range d.types {
		for _, s := range append([]schema.Schema{rt.Schema}, rt.Extensions...) {
			if !seen[s.ID] {
				seen[s.ID] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func (d *discovery) schemaResource(s schema.Schema, base string) map[string]any {
	m := s.ToMap()
	m["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + s.ID}
	if s.ID == URNUser && d.roleNames != nil {
		if names := d.roleNames(); len(names) > 0 {
			setCanonicalValues(m, "roles", "value", names)
		}
	}
	return m
}

// setCanonicalValues declares the canonical values of sub-attribute sub of attr in a rendered
// schema.
func setCanonicalValues(schemaMap map[string]any, attr, sub string, values []string) {
	attrs, _ := schemaMap["attributes"].([]map[string]any)
	for _, a := range attrs {
		if name, _ := a["name"].(string); !strings.EqualFold(name, attr) {
			continue
		}
		subs, _ := a["subAttributes"].([]map[string]any)
		for _, sa := range subs {
			if name, _ := sa["name"].(string); strings.EqualFold(name, sub) {
				sa["canonicalValues"] = append([]string(nil), values...)
			}
		}
	}
}

func (d *discovery) schemaList(w http.ResponseWriter, r *http.Request) {
	base := RequestInfo(r.Context()).BaseURL
	out := []any{}
	for _, s := range d.schemas() {
		out = append(out, d.schemaResource(s, base))
	}
	writeJSON(w, http.StatusOK, listResponse(out))
}

func (d *discovery) schemaByID(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	for _, s := range d.schemas() {
		if strings.EqualFold(s.ID, id) {
			writeJSON(w, http.StatusOK, d.schemaResource(s, RequestInfo(r.Context()).BaseURL))
			return
		}
	}
	writeError(w, r, NotFound("Schema", id))
}

func listResponse(resources []any) map[string]any {
	return map[string]any{
		"schemas":      []string{URNListResp},
		"totalResults": len(resources),
		"startIndex":   1,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
}
