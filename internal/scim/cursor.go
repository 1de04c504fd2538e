package scim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Cursor pagination (RFC 9865). A cursor names the resource a page ended with (or, for a
// previousCursor, began with) and its sortBy value, so that the next page is the resources
// that come after it in the query's order: a keyset on the index's stable order (sortBy, then
// id), not an offset, so that creating or deleting other resources between two pages neither
// skips nor repeats any. The token is base64url (RFC 3986 unreserved characters only) of a
// small JSON object that also binds it to its resource type and query (filter, sortBy,
// sortOrder) and to when it was issued; it carries nothing secret.

// Cursor is where a cursor query resumes (Query.Cursor).
type Cursor struct {
	// ID is the id of the resource the previous page ended with (began with, when Before);
	// "" asks for the first page.
	ID string
	// Value is that resource's sortBy value as a response showed it (string, bool or an RFC
	// 3339 string), nil when it had none or the query has no sortBy.
	Value any
	// Before asks for the page that ends right before the resource (a previousCursor).
	Before bool
}

// TypeInvalidCursor and TypeExpiredCursor are RFC 9865's error types.
const (
	TypeInvalidCursor = "invalidCursor"
	TypeExpiredCursor = "expiredCursor"
)

// cursorToken is a cursor as sent to the client.
type cursorToken struct {
	Version   int    `json:"v"`
	Type      string `json:"t"`
	Query     string `json:"q"`
	Issued    int64  `json:"at"`
	ID        string `json:"id"`
	Value     any    `json:"sv,omitempty"`
	Before    bool   `json:"b,omitempty"`
	HaveValue bool   `json:"hv,omitempty"`
}

// cursorFingerprint identifies the query a cursor belongs to: the client must repeat filter,
// sortBy and sortOrder; count and attributes may change between pages.
func cursorFingerprint(rt *ResourceType, req listRequest) string {
	h := fnv64(0)
	for _, s := range []string{rt.Name, strings.TrimSpace(req.filter), strings.ToLower(strings.TrimSpace(req.sortBy)), strings.ToLower(strings.TrimSpace(req.sortOrder))} {
		h = h.add(s)
	}
	return h.hex()
}

type fnv64 uint64

func (h fnv64) add(s string) fnv64 {
	if h == 0 {
		h = 14695981039346656037
	}
	for i := 0; i < len(s); i++ {
		h ^= fnv64(s[i])
		h *= 1099511628211
	}
	h ^= 0xff // field separator
	h *= 1099511628211
	return h
}

func (h fnv64) hex() string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[h&15]
		h >>= 4
	}
	return string(b[:])
}

func encodeCursor(t cursorToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCursorLen bounds what the bridge decodes; its own cursors are far shorter.
const maxCursorLen = 4096

// decodeCursor reads a cursor the client sent back: 400 invalidCursor when it is not one of
// the bridge's, belongs to another query or resource type, and 400 expiredCursor when it is
// older than timeout. "" is the first page.
func decodeCursor(s string, rt *ResourceType, req listRequest, timeout time.Duration, now time.Time) (*Cursor, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return &Cursor{}, nil
	}
	invalid := func(detail string) error {
		return Errorf(http.StatusBadRequest, TypeInvalidCursor, "cursor: %s; start again without one", detail)
	}
	if len(s) > maxCursorLen {
		return nil, invalid("not a cursor this server issued")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid("not a cursor this server issued")
	}
	var t cursorToken
	if err := json.Unmarshal(b, &t); err != nil || t.Version != 1 || t.ID == "" {
		return nil, invalid("not a cursor this server issued")
	}
	if t.Type != rt.Name || t.Query != cursorFingerprint(rt, req) {
		return nil, invalid("it belongs to another query (filter, sortBy and sortOrder must not change between pages)")
	}
	issued := time.Unix(t.Issued, 0)
	if issued.After(now.Add(time.Minute)) {
		return nil, invalid("not a cursor this server issued")
	}
	if now.Sub(issued) > timeout {
		return nil, Errorf(http.StatusBadRequest, TypeExpiredCursor, "cursor: issued more than %s ago, it has expired; start again without one", timeout)
	}
	c := &Cursor{ID: t.ID, Before: t.Before}
	if t.HaveValue {
		c.Value = t.Value
	}
	return c, nil
}

// newCursor is the token that resumes after res (before it, when before is set).
func newCursor(rt *ResourceType, req listRequest, q Query, res Attributes, before bool, now time.Time) string {
	id, _ := res["id"].(string)
	t := cursorToken{Version: 1, Type: rt.Name, Query: cursorFingerprint(rt, req), Issued: now.Unix(), ID: id, Before: before}
	if q.SortBy != nil {
		if v := sortValueGetter(sortPath(*q.SortBy))(attrsResource{res}); v != nil {
			t.Value, t.HaveValue = cursorValue(v), true
		}
	}
	return encodeCursor(t)
}

// cursorValue turns a sort value into what JSON keeps of it exactly.
func cursorValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case json.Number:
		return string(x)
	}
	return v
}

// CursorCompare returns, for a cursor query, how a resource compares with the cursor's
// resource by the query's sortBy and sortOrder: negative when it comes before, positive
// after, 0 when they tie (the caller then compares ids, ascending). Without sortBy every
// resource ties.
func (q Query) CursorCompare() func(r Resource) int {
	if q.SortBy == nil || q.Cursor == nil {
		return func(Resource) int { return 0 }
	}
	p := sortPath(*q.SortBy)
	order := Comparator(p)
	b := cursorBoundary{p: p, v: q.Cursor.Value}
	return func(r Resource) int {
		c := order(r, b)
		if q.Descending {
			c = -c
		}
		return c
	}
}

// CursorWindow returns the part [from, to) of n resources, sorted in the query's order (ties
// by ascending id), that a cursor query selects; cmp(i) compares resource i with the cursor's
// resource in that order (negative before it, positive after, 0 for the resource itself).
// earlier and more report whether resources come before from and after to.
func (q Query) CursorWindow(n int, cmp func(i int) int) (from, to int, earlier, more bool) {
	c := q.Cursor
	switch {
	case c == nil || c.ID == "":
		from, to = 0, min(n, q.Count)
	case !c.Before:
		from = sort.Search(n, func(i int) bool { return cmp(i) > 0 })
		to = min(n, from+q.Count)
	default:
		to = sort.Search(n, func(i int) bool { return cmp(i) >= 0 })
		from = max(0, to-q.Count)
	}
	return from, to, from > 0, to < n
}

// sortPath is the attribute Comparator really sorts by: a complex attribute named without a
// sub-attribute sorts by its value.
func sortPath(p AttrPath) AttrPath {
	if p.Sub == nil && p.Attr.AttributeType() == "complex" {
		if v, ok := p.Attr.SubAttributes().ContainsAttribute("value"); ok {
			p.Sub = &v
		}
	}
	return p
}

// cursorBoundary is the cursor's resource as Comparator sees it: only its sortBy value.
type cursorBoundary struct {
	p AttrPath
	v any
}

func (b cursorBoundary) Values(key, sub string) []any {
	if b.v == nil || key != b.p.Key() {
		return nil
	}
	if b.p.Attr.MultiValued() && b.p.Attr.AttributeType() == "complex" && b.p.Sub != nil {
		if sub == "" {
			return []any{map[string]any{b.p.SubKey(): b.v, "primary": true}}
		}
	}
	if sub == b.p.SubKey() {
		return []any{b.v}
	}
	return nil
}

// attrsResource lets filters and sorting read a resource in its Attributes form (keys as the
// schema spells them, extensions nested under their URN).
type attrsResource struct{ a Attributes }

func (r attrsResource) Values(key, sub string) []any {
	container := map[string]any(r.a)
	name := key
	if strings.HasPrefix(key, "urn:") {
		i := strings.LastIndex(key, ":")
		k, ok := keyFold(r.a, key[:i])
		if !ok {
			return nil
		}
		container, _ = r.a[k].(map[string]any)
		name = key[i+1:]
	}
	k, ok := keyFold(container, name)
	if !ok {
		return nil
	}
	var out []any
	one := func(v any) {
		if v == nil {
			return
		}
		m, isMap := v.(map[string]any)
		switch {
		case !isMap && sub == "":
			out = append(out, v)
		case isMap && sub == "":
			lower := make(map[string]any, len(m))
			for mk, mv := range m {
				lower[strings.ToLower(mk)] = mv
			}
			out = append(out, lower)
		case isMap:
			if sk, ok := keyFold(m, sub); ok && m[sk] != nil {
				out = append(out, m[sk])
			}
		}
	}
	switch v := container[k].(type) {
	case []any:
		for _, e := range v {
			one(e)
		}
	default:
		one(v)
	}
	return out
}
