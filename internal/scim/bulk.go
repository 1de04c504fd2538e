package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// TypeTooLarge is the error type of a bulk request past maxOperations or maxPayloadSize.
const TypeTooLarge = "tooLarge"

// bulk serves POST /Bulk (RFC 7644 §3.7). Each operation is dispatched as a request of its own
// through the same handler that serves single requests, so it gets exactly what it would get
// alone: authentication by the bulk request's token, the same role, pause and availability
// rules, the same body checks, the same backend call with its Domo calls, audit entry and
// breaker accounting, its own access-log line (naming the bulk request) and metrics. Its
// Domo calls also count towards the bulk request's.
//
// bulkId references ("bulkId:qwerty" as a value anywhere in an operation's data, or as the id
// in its path) are resolved to the id the POST with that bulkId created; an operation whose
// references come later in the request runs after them. Circular references are refused
// (409), as RFC 7644 allows, and so is a reference to an unknown bulkId or to one whose
// operation failed (400 invalidValue), each without running the operation. failOnErrors stops
// the request once that many operations failed; the operations not run are not reported.
type bulk struct {
	handler http.Handler // the whole SCIM handler; set once routes are built
	maxOps  int
	maxBody int64
}

type bulkOp struct {
	n       int // 1-based position in the request
	method  string
	path    string
	bulkID  string
	version string
	data    any
	hasData bool
	refs    []string // bulkIds referenced
	err     *Error   // refused before running
}

type bulkResult struct {
	Location string         `json:"location,omitempty"`
	Method   string         `json:"method"`
	BulkID   string         `json:"bulkId,omitempty"`
	Version  string         `json:"version,omitempty"`
	Status   string         `json:"status"`
	Response map[string]any `json:"response,omitempty"`
}

// tooLarge is the 413 of a bulk request past its limits.
func tooLarge(format string, args ...any) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, TypeTooLarge, format, args...)
}

func (b *bulk) serve(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		if e := asError(err); e.Status == http.StatusRequestEntityTooLarge {
			err = tooLarge("the bulk request is larger than maxPayloadSize (%d bytes)", b.maxBody)
		}
		writeError(w, r, err)
		return
	}
	ops, failOnErrors, err := b.parse(body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	results := make([]*bulkResult, len(ops))
	created := map[string]string{} // bulkId -> the id its POST created
	producer := map[string]int{}
	for i, op := range ops {
		if op.bulkID != "" && op.method == http.MethodPost {
			producer[op.bulkID] = i
		}
	}
	markCycles(ops, producer)
	errors, stop := 0, false
	var run func(i int) *bulkResult
	run = func(i int) *bulkResult {
		if results[i] != nil || stop {
			return results[i]
		}
		op := ops[i]
		e := op.err
		for _, ref := range op.refs {
			if e != nil {
				break
			}
			p, ok := producer[ref]
			if !ok {
				e = BadRequest(TypeInvalidValue, "operation %d: bulkId %q is not the bulkId of a POST in this request", op.n, clipDetail(ref))
				break
			}
			if run(p) == nil {
				return nil // stopped by failOnErrors
			}
			if created[ref] == "" {
				e = BadRequest(TypeInvalidValue, "operation %d: bulkId %q names an operation that failed; nothing was done", op.n, clipDetail(ref))
			}
		}
		if stop {
			return nil
		}
		res := &bulkResult{Method: op.method, BulkID: op.bulkID}
		if e != nil {
			res.Status, res.Response = strconv.Itoa(e.Status), errorBody(e)
		} else {
			res = b.dispatch(r, op, created, res)
		}
		if op.method == http.MethodPost && op.bulkID != "" {
			if id := createdID(res); id != "" {
				created[op.bulkID] = id
			}
		}
		results[i] = res
		if status, _ := strconv.Atoi(res.Status); status >= 400 {
			errors++
			stop = failOnErrors > 0 && errors >= failOnErrors
		}
		return res
	}
	for i := range ops {
		run(i)
	}
	out := make([]any, 0, len(ops))
	for _, res := range results {
		if res != nil {
			out = append(out, res)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{URNBulkResp}, "Operations": out})
}

// markCycles refuses, with 409, every operation whose bulkId references lead back to itself:
// RFC 7644 §3.7.2 lets a server stop at circular references, and the bridge has nothing that
// needs them (a group's members are users, and users reference nothing).
func markCycles(ops []*bulkOp, producer map[string]int) {
	for i, op := range ops {
		seen := make([]bool, len(ops))
		stack := []int{i}
		for len(stack) > 0 && op.err == nil {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, ref := range ops[j].refs {
				p, ok := producer[ref]
				if !ok || seen[p] {
					continue
				}
				if p == i {
					op.err = Errorf(http.StatusConflict, "", "operation %d: its bulkId references lead back to it (circular references are refused)", op.n)
					break
				}
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
}

// createdID is the id a successful POST answered with, read from its location.
func createdID(res *bulkResult) string {
	if res == nil || res.Status != strconv.Itoa(http.StatusCreated) || res.Location == "" {
		return ""
	}
	return res.Location[strings.LastIndex(res.Location, "/")+1:]
}

// errorBody is the SCIM error response of e, as a bulk operation's "response".
func errorBody(e *Error) map[string]any {
	m := map[string]any{"schemas": []string{URNError}, "status": strconv.Itoa(e.Status), "detail": e.Detail}
	if e.Type != "" {
		m["scimType"] = string(e.Type)
	}
	return m
}

// parse reads a bulk request: the whole request is refused for a malformed body, more than
// maxOperations operations (413) or a bulkId given twice; a malformed operation fails alone.
func (b *bulk) parse(body []byte) ([]*bulkOp, int, error) {
	var raw any
	if err := decodeStrict(body, &raw); err != nil {
		return nil, 0, BadRequest(TypeInvalidSyntax, "request body is not valid JSON")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, 0, BadRequest(TypeInvalidSyntax, "request body is not a JSON object")
	}
	var list []any
	failOnErrors := 0
	for _, k := range keysSorted(obj) {
		switch strings.ToLower(k) {
		case "schemas":
			if err := checkSchemasList(obj[k]); err != nil {
				return nil, 0, err
			}
		case "operations":
			l, ok := obj[k].([]any)
			if !ok {
				return nil, 0, BadRequest(TypeInvalidSyntax, `"Operations" must be an array of operations`)
			}
			list = l
		case "failonerrors":
			if obj[k] == nil {
				continue
			}
			n, ok := obj[k].(json.Number)
			v, err := n.Int64()
			if !ok || err != nil || v < 1 {
				return nil, 0, BadRequest(TypeInvalidValue, `"failOnErrors" must be an integer of at least 1`)
			}
			failOnErrors = int(min(v, 1<<30))
		}
	}
	if len(list) == 0 {
		return nil, 0, BadRequest(TypeInvalidSyntax, `"Operations" must be a non-empty array of operations`)
	}
	if len(list) > b.maxOps {
		return nil, 0, tooLarge("the bulk request has %d operations; at most %d are accepted (maxOperations)", len(list), b.maxOps)
	}
	ops := make([]*bulkOp, len(list))
	bulkIDs := map[string]bool{}
	for i, e := range list {
		op := &bulkOp{n: i + 1}
		ops[i] = op
		m, ok := e.(map[string]any)
		if !ok {
			return nil, 0, BadRequest(TypeInvalidSyntax, "operation %d is not a JSON object", i+1)
		}
		for _, k := range keysSorted(m) {
			v := m[k]
			str := func(name string, dst *string) {
				s, ok := v.(string)
				if v != nil && !ok && op.err == nil {
					op.err = BadRequest(TypeInvalidValue, "operation %d: %q must be a string", op.n, name)
				}
				*dst = s
			}
			switch strings.ToLower(k) {
			case "method":
				str("method", &op.method)
			case "path":
				str("path", &op.path)
			case "bulkid":
				str("bulkId", &op.bulkID)
			case "version":
				str("version", &op.version)
			case "data":
				op.data, op.hasData = v, v != nil
			}
		}
		op.method = strings.ToUpper(strings.TrimSpace(op.method))
		if op.bulkID != "" {
			if bulkIDs[op.bulkID] {
				return nil, 0, BadRequest(TypeInvalidValue, "bulkId %q is given to more than one operation", clipDetail(op.bulkID))
			}
			bulkIDs[op.bulkID] = true
		}
		if op.err == nil {
			op.err = op.check()
		}
		op.refs = bulkRefs(op)
	}
	return ops, failOnErrors, nil
}

// check validates an operation's method, path and data.
func (op *bulkOp) check() *Error {
	switch op.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return BadRequest(TypeInvalidValue, "operation %d: method must be POST, PUT, PATCH or DELETE, not %q", op.n, clipDetail(op.method))
	}
	segs := strings.Split(strings.Trim(op.path, "/"), "/")
	if !strings.HasPrefix(op.path, "/") || strings.ContainsAny(op.path, "?#") ||
		!(strings.EqualFold(segs[0], "Users") || strings.EqualFold(segs[0], "Groups")) {
		return BadRequest(TypeInvalidValue, "operation %d: path must be /Users or /Groups, or one of their resources; got %q", op.n, clipDetail(op.path))
	}
	if op.method == http.MethodPost {
		if len(segs) != 1 {
			return BadRequest(TypeInvalidValue, "operation %d: a POST's path is /Users or /Groups", op.n)
		}
		if op.bulkID == "" {
			return BadRequest(TypeInvalidValue, "operation %d: a POST needs a bulkId (RFC 7644 §3.7)", op.n)
		}
	} else if len(segs) != 2 || segs[1] == "" {
		return BadRequest(TypeInvalidValue, "operation %d: a %s's path names one resource, as /Users/{id}", op.n, op.method)
	}
	if op.method != http.MethodDelete && !op.hasData {
		return BadRequest(TypeInvalidValue, "operation %d: a %s needs data", op.n, op.method)
	}
	return nil
}

const bulkIDPrefix = "bulkId:"

// bulkRefs lists the bulkIds an operation references, in its path and its data.
func bulkRefs(op *bulkOp) []string {
	var refs []string
	add := func(s string) {
		if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok && ref != "" {
			for _, r := range refs {
				if r == ref {
					return
				}
			}
			refs = append(refs, ref)
		}
	}
	for _, seg := range strings.Split(op.path, "/") {
		add(seg)
	}
	walkStrings(op.data, func(s string) string { add(s); return s })
	return refs
}

// walkStrings calls fn on every string value in v (not on keys) and replaces it with the result.
func walkStrings(v any, fn func(string) string) any {
	switch x := v.(type) {
	case string:
		return fn(x)
	case map[string]any:
		for k, e := range x {
			x[k] = walkStrings(e, fn)
		}
	case []any:
		for i, e := range x {
			x[i] = walkStrings(e, fn)
		}
	}
	return v
}

// dispatch runs one operation through the SCIM handler as a request of its own.
func (b *bulk) dispatch(parent *http.Request, op *bulkOp, created map[string]string, res *bulkResult) *bulkResult {
	resolve := func(s string) string {
		if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok {
			if id, ok := created[ref]; ok {
				return id
			}
		}
		return s
	}
	segs := strings.Split(op.path, "/")
	for i := range segs {
		segs[i] = resolve(segs[i])
	}
	path := strings.Join(segs, "/")
	var body []byte
	if op.hasData {
		body, _ = json.Marshal(walkStrings(deepCopyValue(op.data), resolve))
	}
	// The operation is routed afresh: without the bulk request's chi routing state, but in its
	// context (deadline, cancellation, request Info).
	ctx := context.WithValue(parent.Context(), chi.RouteCtxKey, nil)
	sub, err := http.NewRequestWithContext(ctx, op.method, Prefix+path, bytes.NewReader(body))
	if err != nil {
		res.Status = strconv.Itoa(http.StatusBadRequest)
		res.Response = errorBody(BadRequest(TypeInvalidValue, "operation %d: path %q is not a valid URL path", op.n, clipDetail(op.path)))
		return res
	}
	sub.Host, sub.TLS, sub.RemoteAddr = parent.Host, parent.TLS, parent.RemoteAddr
	for _, h := range []string{"Authorization", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For", "User-Agent"} {
		if v := parent.Header.Get(h); v != "" {
			sub.Header.Set(h, v)
		}
	}
	if op.hasData {
		sub.Header.Set("Content-Type", "application/scim+json")
	}
	if op.version != "" {
		sub.Header.Set("If-Match", op.version)
	}
	if id := RequestInfo(parent.Context()).ID + "." + strconv.Itoa(op.n); saneRequestID(id) {
		sub.Header.Set("X-Request-Id", id)
	}
	rec := &recorder{header: http.Header{}}
	b.handler.ServeHTTP(rec, sub)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	res.Status = strconv.Itoa(rec.status)
	res.Version = rec.header.Get("ETag")
	res.Location = rec.header.Get("Location")
	if op.method != http.MethodPost {
		// RFC 7644 §3.7.3: location is required but for a failed POST.
		res.Location = RequestInfo(parent.Context()).BaseURL + path
	}
	if rec.status >= 300 {
		var m map[string]any
		if err := json.Unmarshal(rec.body.Bytes(), &m); err == nil {
			res.Response = m
		} else {
			res.Response = errorBody(&Error{Status: rec.status, Detail: http.StatusText(rec.status)})
		}
	}
	return res
}

// recorder collects the answer to one bulk operation.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(p []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	return rc.body.Write(p)
}
