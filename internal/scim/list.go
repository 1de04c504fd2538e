package scim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// DefaultMaxResults is the largest page the bridge returns (advertised as filter.maxResults).
// Every page is answered from the index, so the bound only protects response size.
const DefaultMaxResults = 500

// listRequest is a list query as the client sent it, from a query string or a .search body.
type listRequest struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex *int
	count      *int
	cursor     *string // RFC 9865; "" asks for the first page
	attributes string
	excluded   string
}

// queryParam reads a query parameter by name, case-insensitively: SCIM parameter names are
// camelCase but some clients send them lower-cased.
func queryParam(q url.Values, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// queryParamPtr is queryParam telling a parameter given empty from one not given.
func queryParamPtr(q url.Values, name string) *string {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			s := queryParam(q, name)
			return &s
		}
	}
	return nil
}

func listRequestFromQuery(q url.Values) (listRequest, error) {
	req := listRequest{
		cursor:     queryParamPtr(q, "cursor"),
		filter:     queryParam(q, "filter"),
		sortBy:     queryParam(q, "sortBy"),
		sortOrder:  queryParam(q, "sortOrder"),
		attributes: queryParam(q, "attributes"),
		excluded:   queryParam(q, "excludedAttributes"),
	}
	for _, p := range []struct {
		name string
		dst  **int
	}{{"startIndex", &req.startIndex}, {"count", &req.count}} {
		s := strings.TrimSpace(queryParam(q, p.name))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return listRequest{}, BadRequest(TypeInvalidValue, "%s must be an integer, got %q", p.name, s)
		}
		*p.dst = &n
	}
	return req, nil
}

func listRequestFromBody(body []byte) (listRequest, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return listRequest{}, BadRequest(TypeInvalidSyntax, "request body is not a JSON object")
	}
	get := func(name string) (json.RawMessage, bool) {
		for k, v := range raw {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return nil, false
	}
	var req listRequest
	if v, ok := get("cursor"); ok && string(v) != "null" {
		var c string
		if err := json.Unmarshal(v, &c); err != nil {
			return listRequest{}, BadRequest(TypeInvalidValue, "cursor must be a string")
		}
		req.cursor = &c
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"filter", &req.filter}, {"sortBy", &req.sortBy}, {"sortOrder", &req.sortOrder}} {
		if v, ok := get(f.name); ok && string(v) != "null" {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return listRequest{}, BadRequest(TypeInvalidValue, "%s must be a string", f.name)
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"attributes", &req.attributes}, {"excludedAttributes", &req.excluded}} {
		v, ok := get(f.name)
		if !ok || string(v) == "null" {
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err == nil {
			*f.dst = strings.Join(list, ",")
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return listRequest{}, BadRequest(TypeInvalidValue, "%s must be an array of strings", f.name)
		}
	}
	for _, f := range []struct {
		name string
		dst  **int
	}{{"startIndex", &req.startIndex}, {"count", &req.count}} {
		v, ok := get(f.name)
		if !ok || string(v) == "null" {
			continue
		}
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return listRequest{}, BadRequest(TypeInvalidValue, "%s must be an integer", f.name)
		}
		*f.dst = &n
	}
	return req, nil
}

// query validates the request against the resource type (RFC 7644 §3.4.2): startIndex below 1
// counts as 1, count below 0 as 0, count above max as max; sortOrder is ascending or
// descending.
func (req listRequest) query(rt *ResourceType, maxResults int) (Query, error) {
	q := Query{StartIndex: 1, Count: maxResults}
	if req.startIndex != nil && *req.startIndex > 1 {
		q.StartIndex = *req.startIndex
	}
	if req.cursor != nil && req.startIndex != nil {
		return Query{}, BadRequest(TypeInvalidValue, "startIndex and cursor cannot be used together: page by index or by cursor")
	}
	if req.count != nil {
		q.Count = min(max(*req.count, 0), maxResults)
	}
	if strings.TrimSpace(req.filter) != "" {
		f, err := ParseFilter(req.filter, rt)
		if err != nil {
			return Query{}, err
		}
		q.Filter = f
	}
	if s := strings.TrimSpace(req.sortBy); s != "" {
		p, err := rt.Resolve(s, "")
		if err != nil {
			return Query{}, BadRequest(TypeInvalidValue, "sortBy: %v", err)
		}
		q.SortBy = &p
	}
	switch strings.ToLower(strings.TrimSpace(req.sortOrder)) {
	case "", "ascending":
	case "descending":
		q.Descending = true
	default:
		return Query{}, BadRequest(TypeInvalidValue, "sortOrder must be \"ascending\" or \"descending\", got %q", req.sortOrder)
	}
	return q, nil
}
