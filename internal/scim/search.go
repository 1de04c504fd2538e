package scim

import (
	"net/http"
	"slices"
)

// rootSearch serves POST /.search at the root (RFC 7644 §3.4.3): one query over every resource
// type. The filter, sortBy, attributes and excludedAttributes are read against each type's
// schema; a type whose schema lacks an attribute the filter or sortBy names matches nothing
// (userName eq "x" finds Users only), and the query is refused only when no type can answer
// it. Results are Users, then Groups, each in its listing order, unless sortBy orders them
// all; startIndex and count page through the whole. Cursors page one resource type and are
// refused here.
type rootSearch struct {
	types      []*resources
	maxResults int
}

type searchPart struct {
	h *resources
	q Query
}

func (s *rootSearch) search(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	req, err := listRequestFromBody(body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.cursor != nil {
		writeError(w, r, BadRequest(TypeInvalidValue, "cursor pagination pages one resource type: search /Users/.search or /Groups/.search"))
		return
	}
	var parts []searchPart
	var firstErr error
	var sortBy *AttrPath
	var desc bool
	for _, h := range s.types {
		q, err := req.query(h.rt, s.maxResults)
		if err != nil && req.sortBy != "" {
			// A type without the sortBy attribute still answers; its resources have no value
			// to sort by, so they come last (first when descending).
			unsorted := req
			unsorted.sortBy = ""
			if uq, uerr := unsorted.query(h.rt, s.maxResults); uerr == nil {
				q, err = uq, nil
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if q.Filter != nil {
			noteQuirks(r, q.Filter.Quirks())
		}
		if h.rt == GroupType {
			q.Members = Wants(h.rt, req.attributes, req.excluded, "members")
		}
		if q.SortBy != nil && sortBy == nil {
			sortBy, desc = q.SortBy, q.Descending
		}
		parts = append(parts, searchPart{h: h, q: q})
	}
	if len(parts) == 0 {
		writeError(w, r, firstErr)
		return
	}
	start, count := parts[0].q.StartIndex, parts[0].q.Count
	type item struct {
		rt  *ResourceType
		res Attributes
	}
	var items []item
	total := 0
	if sortBy == nil {
		// Users, then Groups: each type is asked for the part of the page that falls in it.
		offset, remaining := start-1, count
		for _, p := range parts {
			p.q.StartIndex, p.q.Count = offset+1, remaining
			page, err := p.h.backend.List(r.Context(), p.q)
			if err != nil {
				writeError(w, r, err)
				return
			}
			total += page.TotalResults
			for _, res := range page.Resources[:min(len(page.Resources), remaining)] {
				items = append(items, item{p.h.rt, res})
			}
			remaining -= min(len(page.Resources), remaining)
			offset = max(0, offset-page.TotalResults)
		}
	} else {
		// Sorted across types: each type's first start-1+count in that order, merged.
		need := start - 1 + count
		for _, p := range parts {
			p.q.StartIndex, p.q.Count = 1, need
			page, err := p.h.backend.List(r.Context(), p.q)
			if err != nil {
				writeError(w, r, err)
				return
			}
			total += page.TotalResults
			for _, res := range page.Resources {
				items = append(items, item{p.h.rt, res})
			}
		}
		order := Comparator(*sortBy)
		slices.SortStableFunc(items, func(a, b item) int {
			c := order(attrsResource{a.res}, attrsResource{b.res})
			if desc {
				c = -c
			}
			return c
		})
		items = items[min(len(items), start-1):min(len(items), need)]
	}
	out := make([]Attributes, 0, len(items))
	for _, it := range items {
		out = append(out, SelectAttributes(it.rt, it.res, req.attributes, req.excluded))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{URNListResp},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(out),
		"Resources":    out,
	})
}
