package domosim

import (
	"encoding/json"
	"strings"
	"time"
)

// Options are the simulator's knobs. The zero value is a well-behaved tenant: Domo's documented
// behaviour, no faults, no rate limit. Every knob can be changed at runtime with SetOptions.
type Options struct {
	Customer     string        // tenant name; default "acmecompany"
	ClientID     string        // default "sim-client"
	ClientSecret string        // default "sim-secret"
	Scopes       []string      // scopes granted to the API client; default all, "user" included
	OwnerEmail   string        // the seeded Admin user who owns the API client; default "admin@<customer>.example"
	TokenTTL     time.Duration // token lifetime; default 3599s

	// RateLimit is the number of requests (token requests included) accepted in any sliding
	// RateWindow; past it the answer is 429 with X-RateLimit-* headers and no Retry-After.
	// 0 means unlimited.
	RateLimit  int
	RateWindow time.Duration // default 1 minute
	// RateLimitHeaders says where X-RateLimit-Limit/Remaining/Reset appear: "all" answers
	// (default), only "429" answers, or "none" (Domo documents no such headers).
	RateLimitHeaders string

	// Fail5xx is the probability that a /v1 or instance API request is answered 500, 502 or 503.
	Fail5xx float64
	// Fail5xxAfter is the share of those injected failures that happen after the request took
	// effect (the write is committed, the answer lost), as a gateway timeout does. 0 means every
	// injected failure happens before anything changed.
	Fail5xxAfter float64
	// DropAfterCommit is the probability that a /v1 or instance API write takes effect and
	// the connection is then closed without an answer.
	DropAfterCommit float64
	Latency         time.Duration // added to every request

	PutMode              string // "merge" (default): omitted fields unchanged; "replace": omitted optional fields cleared
	DuplicateEmailStatus int    // 400 (default) or 409, on create and on update
	LimitOver500         string // "reject" (default, 400) or "clamp"
	UnknownUserGetStatus int    // status of GET of an unknown user id: 404 (default) or 400
	// PutUserStrict requires name, email and role on PUT /v1/users/{id} (Domo's "all user
	// fields are required"). nil means true.
	PutUserStrict         *bool
	GroupUserIDsOnGet     bool          // GET /v1/groups/{id} includes userIds
	RemoveNonMemberStatus int           // DELETE of a non-member: 204 (default) or 404
	DeleteNonEmptyGroup   string        // "allow" (default) or "reject" (400)
	GroupNamesFoldCase    bool          // group name uniqueness ignores case
	RoleIDOnCreate        bool          // POST /v1/users honours roleId; by default it is ignored
	AcceptedRoles         []string      // role names v1 accepts; default the five system roles
	CustomRoles           []Role        // extra roles, reachable through roleId
	ErrorPath             bool          // add "path" to error envelopes
	ReadAfterWriteDelay   time.Duration // a created user is invisible to GET and lists this long
	// UndocumentedFields is what POST and PUT /v1/users do with employeeId and department,
	// which Domo's v1 docs do not list as writable (whether they are is open): "store"
	// (default), "ignore" (dropped, never changed by a write) or "reject" (400).
	UndocumentedFields string
	// ListRows is what GET /v1/users rows carry: "full" (default: every field but groups) or
	// "documented" (only id, name, email, role, title and phone, as Domo's docs example).
	ListRows string

	// The instance APIs ({instance}.domo.com/api/...: identity, user attributes, roles,
	// content groups), which share this tenant's users and groups with v1. See instance.go.

	// AccessToken is the access token (X-DOMO-Developer-Token) the instance APIs accept;
	// default "sim-access-token". AccessTokenRevoked makes it answer 401, as a token an admin
	// revoked or that expired.
	AccessToken        string
	AccessTokenRevoked bool
	// InstanceEndpoints are the API families the instance has, of "identity" (users and the
	// attribute catalogue), "roles" and "content" (groups); the others answer 404. nil means
	// all of them.
	InstanceEndpoints []string
	// InstanceGrants are the families the access token may call; the others answer 403, as
	// for a token made by a user without the grants. nil means all of them.
	InstanceGrants []string
	// AttributeKeys are the customer-defined user attribute keys the tenant has (Domo's own
	// keys always exist). nil means DefaultAttributeKeys; an empty list means none.
	AttributeKeys []string
	// MaxBatch is the most members one bulk membership call may carry (400 above); default
	// 1000. Domo documents no limit.
	MaxBatch int
	// BulkUnknownUser is what a bulk add does with an id that is not a live user: "reject"
	// (default: 400 for the whole call, nothing changes) or "skip" (the others are added).
	BulkUnknownUser string
	// GroupReadMaxIDs cuts the userIds of GET /api/content/v2/groups/{id} after this many
	// (memberCount stays right), as a tenant that pages long lists would; 0 lists them all.
	GroupReadMaxIDs int
	// InstanceRateLimit is RateLimit for the instance APIs, in RateWindow; 0 means unlimited.
	// The two are counted apart (Domo documents neither).
	InstanceRateLimit int
	InstanceLatency   time.Duration // added to every instance API request, on top of Latency

	// How the instance APIs answer where Domo's docs show one example and a tenant may answer
	// otherwise (shapes.go). The zero values answer as the docs' examples do;
	// OtherInstanceShapes sets every alternative at once.
	AttributeCatalogue  string // "served" (default) or "absent" (the catalogue endpoint answers 404)
	AttributeValues     string // "list" (default: lists of strings, ids as numbers), "numbers" (numeric values as JSON numbers) or "scalar" (a single value bare, numbers as numbers, and odd entries beside)
	InstanceIDs         string // "number" (default) or "string": user, role and group ids, roleId, userIds
	IdentityGet         string // "wrapped" (default: {"users":[user]}) or "bare" (the user object)
	IdentityPatchAnswer string // "user" (default), "wrapped" ({"users":[user]}), "empty" (200 without a body) or "204"
	RolesAnswer         string // "list" (default) or "wrapped" ({"roles":[…], "totalCount": n})
	BulkAnswer          string // "true" (default), "object" ({}), "empty" (200 without a body) or "204"
	BulkEmptyStatus     int    // status of a bulk change without members: 200 (default), 400 or 422
	InstanceErrors      string // "domo" (default: Domo's JSON envelope), "text" (text/plain) or "html"
	// InstanceContentType "strict" answers 415 to an instance request without Content-Type:
	// application/json, reads included (the docs' examples send it with every request);
	// "lenient" (default) does not look.
	InstanceContentType string

	Seed int64            // randomness for ids, faults and seeded data; 0 = time-based
	Now  func() time.Time // clock; default time.Now
}

// Role is a Domo role: the five system roles and any custom ones.
type Role struct {
	ID   int64
	Name string
}

// SystemRoles are Domo's built-in roles with their observed ids.
var SystemRoles = []Role{{1, "Admin"}, {2, "Privileged"}, {3, "Editor"}, {4, "Participant"}, {5, "Social"}}

// DefaultAttributeKeys are the customer-defined attribute keys of a simulated tenant unless
// Options.AttributeKeys says otherwise.
var DefaultAttributeKeys = []string{"costCenter", "region", "businessUnit"}

// InstanceFamilies are the instance API families InstanceEndpoints and InstanceGrants name.
var InstanceFamilies = []string{"identity", "roles", "content"}

// AllScopes are the scopes an API client can be granted.
var AllScopes = []string{"account", "audit", "buzz", "dashboard", "data", "user", "workflow"}

func (o Options) withDefaults() Options {
	if o.Customer == "" {
		o.Customer = "acmecompany"
	}
	if o.ClientID == "" {
		o.ClientID = "sim-client"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sim-secret"
	}
	if o.Scopes == nil {
		o.Scopes = append([]string(nil), AllScopes...)
	}
	if o.OwnerEmail == "" {
		o.OwnerEmail = "admin@" + o.Customer + ".example"
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 3599 * time.Second
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.RateLimitHeaders == "" {
		o.RateLimitHeaders = "all"
	}
	if o.PutMode == "" {
		o.PutMode = "merge"
	}
	if o.DuplicateEmailStatus == 0 {
		o.DuplicateEmailStatus = 400
	}
	if o.LimitOver500 == "" {
		o.LimitOver500 = "reject"
	}
	if o.UnknownUserGetStatus == 0 {
		o.UnknownUserGetStatus = 404
	}
	if o.PutUserStrict == nil {
		t := true
		o.PutUserStrict = &t
	}
	if o.RemoveNonMemberStatus == 0 {
		o.RemoveNonMemberStatus = 204
	}
	if o.DeleteNonEmptyGroup == "" {
		o.DeleteNonEmptyGroup = "allow"
	}
	if o.AcceptedRoles == nil {
		for _, r := range SystemRoles {
			o.AcceptedRoles = append(o.AcceptedRoles, r.Name)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ListRows == "" {
		o.ListRows = "full"
	}
	if o.AccessToken == "" {
		o.AccessToken = "sim-access-token"
	}
	if o.AttributeKeys == nil {
		o.AttributeKeys = append([]string(nil), DefaultAttributeKeys...)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.BulkUnknownUser == "" {
		o.BulkUnknownUser = "reject"
	}
	o.BulkUnknownUser = strings.ToLower(o.BulkUnknownUser)
	o.instanceShapeDefaults()
	if o.UndocumentedFields == "" {
		o.UndocumentedFields = "store"
	}
	o.PutMode = strings.ToLower(o.PutMode)
	o.UndocumentedFields = strings.ToLower(o.UndocumentedFields)
	o.ListRows = strings.ToLower(o.ListRows)
	o.LimitOver500 = strings.ToLower(o.LimitOver500)
	o.DeleteNonEmptyGroup = strings.ToLower(o.DeleteNonEmptyGroup)
	return o
}

func (o Options) strictPut() bool { return o.PutUserStrict == nil || *o.PutUserStrict }

// undocumentedFields are the user fields v1 may not take (see UndocumentedFields).
var undocumentedFields = []string{"employeeId", "department"}

// screenUndocumented applies UndocumentedFields to a user body: it returns a message for a
// 400, or drops the fields from m.
func (o Options) screenUndocumented(m map[string]json.RawMessage) string {
	for _, k := range undocumentedFields {
		if _, ok := m[k]; !ok {
			continue
		}
		switch o.UndocumentedFields {
		case "reject":
			return "Unrecognized field: " + k
		case "ignore":
			delete(m, k)
		}
	}
	return ""
}

func (o Options) hasScope(s string) bool {
	for _, g := range o.Scopes {
		if g == s {
			return true
		}
	}
	return false
}

// roleByName finds an accepted role name (exact case, as Domo requires).
func (o Options) roleByName(name string) (Role, bool) {
	accepted := false
	for _, n := range o.AcceptedRoles {
		if n == name {
			accepted = true
			break
		}
	}
	if !accepted {
		return Role{}, false
	}
	for _, r := range SystemRoles {
		if r.Name == name {
			return r, true
		}
	}
	for _, r := range o.CustomRoles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

func (o Options) roleByID(id int64) (Role, bool) {
	for _, r := range SystemRoles {
		if r.ID == id {
			return r, true
		}
	}
	for _, r := range o.CustomRoles {
		if r.ID == id {
			return r, true
		}
	}
	return Role{}, false
}
