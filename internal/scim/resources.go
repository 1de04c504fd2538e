package scim

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// resources serves one resource type's endpoints (/Users or /Groups) over its backend.
type resources struct {
	rt            *ResourceType
	backend       Resources
	maxResults    int
	cursorTimeout time.Duration
}

// readOptions derives what the response needs from attributes/excludedAttributes, so a group's
// members are only read from Domo when they will be sent.
func (h *resources) readOptions(r *http.Request, membersByDefault bool) ReadOptions {
	q := r.URL.Query()
	attrs, excl := queryParam(q, "attributes"), queryParam(q, "excludedAttributes")
	if h.rt != GroupType {
		return ReadOptions{}
	}
	if !membersByDefault && attrs == "" {
		return ReadOptions{}
	}
	return ReadOptions{Members: Wants(h.rt, attrs, excl, "members")}
}

func (h *resources) respond(w http.ResponseWriter, r *http.Request, status int, res Attributes) {
	q := r.URL.Query()
	writeResource(w, status, SelectAttributes(h.rt, res, queryParam(q, "attributes"), queryParam(q, "excludedAttributes")))
}

// decodeBody reads the request body and decodes it with decode, noting IdP quirks. It answers
// the error itself and reports whether the handler should go on.
func decodeBody[T any](h *resources, w http.ResponseWriter, r *http.Request, decode func(*ResourceType, []byte) (T, Quirks, error)) (T, bool) {
	var zero T
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return zero, false
	}
	v, quirks, err := decode(h.rt, body)
	noteQuirks(r, quirks)
	if err != nil {
		writeError(w, r, err)
		return zero, false
	}
	return v, true
}

func (h *resources) create(w http.ResponseWriter, r *http.Request) {
	attrs, ok := decodeBody(h, w, r, DecodeResource)
	if !ok {
		return
	}
	res, err := h.backend.Create(r.Context(), attrs)
	if err != nil {
		writeError(w, r, err)
		return
	}
	h.respond(w, r, http.StatusCreated, res)
}

func (h *resources) get(w http.ResponseWriter, r *http.Request) {
	res, err := h.backend.Get(r.Context(), chi.URLParam(r, "id"), h.readOptions(r, true))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, version(res)) {
		w.Header().Set("ETag", version(res))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// update runs apply on the current resource inside the backend's locked read-merge-write,
// after checking If-Match, and answers 200 with the result.
func (h *resources) update(w http.ResponseWriter, r *http.Request, opt ReadOptions, apply ApplyFunc) {
	ifMatch := r.Header.Get("If-Match")
	res, err := h.backend.Update(r.Context(), chi.URLParam(r, "id"), func(cur Attributes) (Attributes, error) {
		if err := checkIfMatch(ifMatch, cur); err != nil {
			return nil, err
		}
		return apply(cur)
	}, opt)
	if err != nil {
		writeError(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// replace is PUT: the body replaces every writable attribute of the resource.
func (h *resources) replace(w http.ResponseWriter, r *http.Request) {
	attrs, ok := decodeBody(h, w, r, DecodeResource)
	if !ok {
		return
	}
	opt := h.readOptions(r, true)
	opt.Replace = true
	h.update(w, r, opt, func(Attributes) (Attributes, error) { return attrs, nil })
}

// patch is PATCH. It answers 200 with the whole resource (RFC 7644 §3.5.2; Okta and most
// testers want it), a group's members included unless attributes/excludedAttributes leave
// them out. A PATCH that cannot change members (Okta's re-sent rename) takes them from the
// index, so answering with them costs no Domo call.
func (h *resources) patch(w http.ResponseWriter, r *http.Request) {
	ops, ok := decodeBody(h, w, r, ParsePatch)
	if !ok {
		return
	}
	opt := h.readOptions(r, true)
	opt.MembersUntouched = h.rt == GroupType && !touchesMembers(ops)
	h.update(w, r, opt, func(cur Attributes) (Attributes, error) {
		next, quirks, err := ApplyPatch(h.rt, cur, ops)
		noteQuirks(r, quirks)
		return next, err
	})
}

func (h *resources) delete(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" {
		cur, err := h.backend.Get(r.Context(), id, ReadOptions{})
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := checkIfMatch(ifMatch, cur); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if err := h.backend.Delete(r.Context(), id); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *resources) list(w http.ResponseWriter, r *http.Request) {
	req, err := listRequestFromQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	h.serveList(w, r, req)
}

// search is POST /.search (RFC 7644 §3.4.3): the same query in a body, so long filters and
// personal data stay out of URLs and logs.
func (h *resources) search(w http.ResponseWriter, r *http.Request) {
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
	h.serveList(w, r, req)
}

func (h *resources) serveList(w http.ResponseWriter, r *http.Request, req listRequest) {
	q, err := req.query(h.rt, h.maxResults)
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := time.Now()
	if req.cursor != nil {
		if q.Cursor, err = decodeCursor(*req.cursor, h.rt, req, h.cursorTimeout, now); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if q.Filter != nil {
		noteQuirks(r, q.Filter.Quirks())
	}
	if h.rt == GroupType {
		// Lists answer from the index, members included (they are returned by default, RFC
		// 7643 §4.2) unless attributes/excludedAttributes leave them out, as Entra's lookups do.
		q.Members = Wants(h.rt, req.attributes, req.excluded, "members")
	}
	page, err := h.backend.List(r.Context(), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]Attributes, 0, len(page.Resources))
	for _, res := range page.Resources {
		out = append(out, SelectAttributes(h.rt, res, req.attributes, req.excluded))
	}
	answer := map[string]any{
		"schemas":      []string{URNListResp},
		"totalResults": page.TotalResults,
		"itemsPerPage": len(out),
		"Resources":    out,
	}
	if q.Cursor == nil {
		answer["startIndex"] = q.StartIndex
	} else if n := len(page.Resources); n > 0 {
		// RFC 9865: nextCursor on every page but the last (its absence ends the listing),
		// previousCursor on every page but the first.
		if page.More {
			answer["nextCursor"] = newCursor(h.rt, req, q, page.Resources[n-1], false, now)
		}
		if page.Earlier {
			answer["previousCursor"] = newCursor(h.rt, req, q, page.Resources[0], true, now)
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// touchesMembers reports whether any operation may change a group's members: a path that
// starts with members, or a path-less value that names them.
func touchesMembers(ops []PatchOp) bool {
	for _, op := range ops {
		if op.Path == "" {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return true
			}
			for k := range m {
				if strings.EqualFold(k, "members") || strings.HasPrefix(strings.ToLower(k), "members.") || strings.HasPrefix(strings.ToLower(k), "members[") {
					return true
				}
			}
			continue
		}
		p := strings.ToLower(strings.TrimSpace(op.Path))
		if i := strings.LastIndex(p, ":"); i >= 0 && !strings.Contains(p[:i], "[") {
			p = p[i+1:]
		}
		if strings.HasPrefix(p, "members") {
			return true
		}
	}
	return false
}

func noteQuirks(r *http.Request, quirks []string) {
	if len(quirks) > 0 {
		info := RequestInfo(r.Context())
		info.quirks = append(info.quirks, quirks...)
	}
}

func version(res Attributes) string {
	if meta, ok := res["meta"].(map[string]any); ok {
		v, _ := meta["version"].(string)
		return v
	}
	return ""
}

// checkIfMatch enforces an If-Match precondition (RFC 7644 §3.14) against the current
// resource: a mismatch is 412, so a client never overwrites a change it has not seen.
func checkIfMatch(ifMatch string, cur Attributes) error {
	if ifMatch == "" || etagMatches(ifMatch, version(cur)) {
		return nil
	}
	return Errorf(http.StatusPreconditionFailed, "", "resource version does not match If-Match")
}

// etagMatches compares an If-Match/If-None-Match header with a version, weakly (RFC 7232):
// "*" matches anything, W/ prefixes are ignored.
func etagMatches(header, v string) bool {
	if v == "" {
		return false
	}
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strip(t) == strip(v) {
			return true
		}
	}
	return false
}
