package scim

import "context"

// Attributes is a SCIM resource as JSON-shaped data: core attributes at the top level under
// their canonical names, extension attributes nested under the extension URN, plus "schemas",
// "id" and "meta" on resources the backends return. Values are string, bool, json.Number or
// int64, []any and map[string]any, as encoding/json produces with UseNumber.
type Attributes = map[string]any

// ApplyFunc turns the current SCIM view of a resource into the desired one. The bridge calls it
// inside its per-resource lock, on a fresh read, so PATCH semantics stay here in scim while
// the read-merge-write against Domo stays in the bridge.
type ApplyFunc func(current Attributes) (Attributes, error)

// ReadOptions tell a backend which parts of a resource the response needs, so that it can skip
// costly reads (a group's members) the client excluded.
type ReadOptions struct {
	Members bool // include a group's members
	// Replace marks a PUT: the ApplyFunc replaces the resource instead of patching it.
	Replace bool
	// MembersUntouched marks an update that cannot change a group's members (a PATCH whose
	// operations never name them, such as Okta's re-sent rename), so the backend may take the
	// current members from its index instead of paging them from Domo.
	MembersUntouched bool
}

// Resources is what the HTTP layer needs from the store of one resource type. Every method
// returns *Error for failures the client caused or must hear about (404, 409, 429, 503...);
// anything else becomes a 500 without detail. PUT and PATCH both go through Update: the
// handler passes an ApplyFunc that either replaces the resource (PUT) or applies operations
// to it (PATCH), so both share one locked read-merge-write in the backend.
type Resources interface {
	Create(ctx context.Context, attrs Attributes) (Attributes, error)
	Get(ctx context.Context, id string, opt ReadOptions) (Attributes, error)
	Update(ctx context.Context, id string, apply ApplyFunc, opt ReadOptions) (Attributes, error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context, q Query) (Page, error)
}

// Users is the backend of /Users.
type Users interface{ Resources }

// Groups is the backend of /Groups.
type Groups interface{ Resources }

// Query is a parsed list request: GET /Users?filter=…&startIndex=…&count=…&sortBy=…, or the
// same as POST /.search.
type Query struct {
	Filter     *Filter // nil: every resource
	SortBy     *AttrPath
	Descending bool
	StartIndex int // 1-based, at least 1
	Count      int // at least 0; 0 asks for totalResults only
	// Cursor, when set, asks for a page by cursor (RFC 9865) instead of StartIndex: the
	// resources right after (or before) the one it names, in the query's order; see
	// CursorWindow and CursorCompare.
	Cursor *Cursor
	ReadOptions
}

// Page is one page of a list answer.
type Page struct {
	TotalResults int
	Resources    []Attributes
	// For a cursor query: whether resources come before the page's first and after its last,
	// which decides whether the answer carries previousCursor and nextCursor.
	Earlier, More bool
}

// Resource is a read-only view of one user or group that filters and sorting evaluate against
// without building its full attribute map.
type Resource interface {
	// Values returns the values at key (AttrPath.Key: the lower-case canonical attribute name,
	// URN-qualified for extension attributes) and sub (a lower-case sub-attribute name, or "").
	// A multi-valued attribute yields one value per element; an absent one yields none. Values
	// are string, bool, int64 or time.Time; a complex attribute asked for without sub yields one
	// map[string]any per element, keyed by lower-case sub-attribute names.
	Values(key, sub string) []any
}

// Lookup is an equality on an indexed attribute: Key is "id", "username", "externalid",
// "emails.value" or "displayname".
type Lookup struct {
	Key   string
	Value string
}

// StringValuer is an optional fast path of Resource. A filter evaluated over a scan of 100,000
// users calls Values once per user, and Values allocates a slice and boxes its string; a
// resource that also implements StringValuer answers without either.
type StringValuer interface {
	// StringValue returns (v, true) when Values(key, sub) would return no value (v is "") or
	// exactly one value, the non-empty string v. It returns false for anything else, and the
	// caller then uses Values.
	StringValue(key, sub string) (v string, ok bool)
}

// ElementValuer is an optional fast path of Resource for multi-valued complex attributes
// (emails, addresses, groups...), which Values would return as one map per element. A
// value-path filter such as emails[type eq "work" and value co "@x.com"], or a comparison on
// a sub-attribute such as emails.value co "@x.com", then reads each element as a Resource.
type ElementValuer interface {
	// Elements returns the elements of the multi-valued complex attribute key, in the order of
	// Values(key, ""), each answering Values(sub, "") with what that element's map holds under
	// sub (nothing, or a one-value slice). ok is false when the resource offers no such view
	// of key; the caller then uses Values. The slice and the elements may be reused by the
	// resource's next call, so callers must not keep them.
	Elements(key string) (elems []Resource, ok bool)
}
