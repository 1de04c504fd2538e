package bridge

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/store"
)

// testClock is a settable clock for the bridge.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tableCase is one Domo answer, produced by the simulator, met by one SCIM request. Its
// expectations are written out here, not read from the table, so that the table cannot drift
// from what the IdP must get.
type tableCase struct {
	name    string
	kind    domo.Kind // the table row it exercises
	opts    domosim.Options
	timeout time.Duration // the SCIM request timeout; default 10s
	inject  func(e *replayEnv, s *seeded)
	method  string
	path    string // ${user}, ${other}, ${group} are the seeded ids
	body    string
	status  int
	typ     string
	retry   bool   // a Retry-After is sent
	gone    string // "user" or "group": the answer drops the seeded resource from the index
}

// seeded is what every case starts from: two users, a group holding the first, all written
// through the bridge, and a token the Domo client holds.
type seeded struct {
	user, other, group int64
}

const (
	invalidGrant = `{"error":"invalid_grant","error_description":"The client credentials are invalid"}`
	invalidScope = `{"error":"invalid_scope","error_description":"The requested scope is invalid"}`
)

func tokenFault(status int, body string) func(e *replayEnv, s *seeded) {
	return func(e *replayEnv, _ *seeded) {
		e.sim.ExpireTokens() // the bridge's token is refused, so it asks the token endpoint
		e.sim.InjectFault(domosim.Fault{Route: domosim.TokenRoute, Status: status, Body: body, Times: 1000})
	}
}

func apiFault(f domosim.Fault) func(e *replayEnv, s *seeded) {
	return func(e *replayEnv, _ *seeded) {
		if f.Times == 0 {
			f.Times = 1000
		}
		e.sim.InjectFault(f)
	}
}

const tableUserPut = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com",
 "name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Countess","active":true,
 "emails":[{"value":"ada@example.com","type":"work","primary":true}]}`

func tableCases() []tableCase {
	patchTitle := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Countess"}]}`
	addOther := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"${other}"}]}]}`
	renameGroup := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Renamed"}]}`
	return []tableCase{
		// 404: only Domo's answer about the resource itself.
		{name: "GET user deleted in Domo", kind: domo.KindNotFound,
			inject: func(e *replayEnv, s *seeded) { must(e.t, e.sim.DeleteUserDirect(s.user)) },
			method: "GET", path: "/Users/${user}", status: 404, gone: "user"},
		{name: "PATCH user deleted in Domo, tenant answering 400 for unknown ids", kind: domo.KindNotFound,
			opts:   domosim.Options{UnknownUserGetStatus: 400},
			inject: func(e *replayEnv, s *seeded) { must(e.t, e.sim.DeleteUserDirect(s.user)) },
			method: "PATCH", path: "/Users/${user}", body: patchTitle, status: 404, gone: "user"},
		{name: "GET group deleted in Domo", kind: domo.KindNotFound,
			inject: func(e *replayEnv, s *seeded) { must(e.t, e.b.domo.DeleteGroup(context.Background(), s.group)) },
			method: "GET", path: "/Groups/${group}", status: 404, gone: "group"},
		{name: "DELETE group deleted in Domo", kind: domo.KindNotFound,
			inject: func(e *replayEnv, s *seeded) { must(e.t, e.b.domo.DeleteGroup(context.Background(), s.group)) },
			method: "DELETE", path: "/Groups/${group}", status: 404, gone: "group"},

		// 409: Domo says the identity is taken.
		{name: "PUT user to the email of a user made in Domo's UI", kind: domo.KindConflict,
			inject: func(e *replayEnv, _ *seeded) {
				e.sim.AddUser(domosim.SimUser{Name: "Made In Domo", Email: "ui@example.com", Role: "Participant"})
			},
			method: "PUT", path: "/Users/${user}", body: strings.ReplaceAll(tableUserPut, "ada@example.com", "ui@example.com"),
			status: 409, typ: "uniqueness"},
		{name: "POST group with a name Domo holds", kind: domo.KindConflict,
			inject: func(e *replayEnv, _ *seeded) { e.sim.AddGroup("Made In Domo") },
			method: "POST", path: "/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Made In Domo"}`,
			status: 409, typ: "uniqueness"},

		// 400: Domo refuses the write's content.
		{name: "PATCH user, Domo refuses the PUT with 400", kind: domo.KindRejected,
			inject: apiFault(domosim.Fault{Method: "PUT", Route: "/v1/users/{id}", Status: 400, Times: 1}),
			method: "PATCH", path: "/Users/${user}", body: patchTitle, status: 400, typ: "invalidValue"},

		// 409 without scimType: Domo will not delete the resource as it is.
		{name: "DELETE user who owns content", kind: domo.KindRefused,
			inject: func(e *replayEnv, s *seeded) { e.sim.SetUserOwnsContent(s.user, true) },
			method: "DELETE", path: "/Users/${user}", status: 409},

		// 503 + Retry-After: credentials. The exact regression first: GET, PATCH and PUT of an
		// existing user while the token endpoint answers RFC 6749 400s.
		{name: "GET user, token endpoint 400 invalid_grant", kind: domo.KindCredentials,
			inject: tokenFault(400, invalidGrant), method: "GET", path: "/Users/${user}", status: 503, retry: true},
		{name: "PATCH user, token endpoint 400 invalid_grant", kind: domo.KindCredentials,
			inject: tokenFault(400, invalidGrant), method: "PATCH", path: "/Users/${user}", body: patchTitle, status: 503, retry: true},
		{name: "PUT user, token endpoint 400 invalid_grant", kind: domo.KindCredentials,
			inject: tokenFault(400, invalidGrant), method: "PUT", path: "/Users/${user}", body: tableUserPut, status: 503, retry: true},
		{name: "GET user, token endpoint 400 invalid_scope, tenant answering 400 for unknown ids", kind: domo.KindCredentials,
			opts:   domosim.Options{UnknownUserGetStatus: 400},
			inject: tokenFault(400, invalidScope), method: "GET", path: "/Users/${user}", status: 503, retry: true},
		{name: "PUT user, token endpoint 400 invalid_scope, tenant answering 400 for unknown ids", kind: domo.KindCredentials,
			opts:   domosim.Options{UnknownUserGetStatus: 400},
			inject: tokenFault(400, invalidScope), method: "PUT", path: "/Users/${user}", body: tableUserPut, status: 503, retry: true},
		{name: "DELETE user, client secret rotated (token endpoint 401)", kind: domo.KindCredentials,
			inject: func(e *replayEnv, _ *seeded) {
				e.sim.SetOptions(func(o *domosim.Options) { o.ClientSecret = "rotated-behind-our-back" })
				e.sim.ExpireTokens()
			},
			method: "DELETE", path: "/Users/${user}", status: 503, retry: true},
		{name: "GET group, token endpoint 404 (wrong API URL)", kind: domo.KindCredentials,
			inject: tokenFault(404, ""), method: "GET", path: "/Groups/${group}", status: 503, retry: true},
		{name: "GET user, Domo answers 403 to a fresh token", kind: domo.KindCredentials,
			inject: apiFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Status: 403}),
			method: "GET", path: "/Users/${user}", status: 503, retry: true},
		{name: "PATCH group members, Domo answers 403", kind: domo.KindCredentials,
			inject: apiFault(domosim.Fault{Method: "PUT", Route: "/v1/groups/{id}/users/{userId}", Status: 403}),
			method: "PATCH", path: "/Groups/${group}", body: addOther, status: 503, retry: true},
		{name: "DELETE group, Domo answers 401 to a fresh token", kind: domo.KindCredentials,
			inject: apiFault(domosim.Fault{Method: "DELETE", Route: "/v1/groups/{id}", Status: 401}),
			method: "DELETE", path: "/Groups/${group}", status: 503, retry: true},

		// 429.
		{name: "GET user, Domo answers 429", kind: domo.KindRateLimited,
			inject: apiFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Status: 429}),
			method: "GET", path: "/Users/${user}", status: 429, retry: true},
		{name: "PATCH group, token endpoint answers 429", kind: domo.KindRateLimited,
			inject: tokenFault(429, ""), method: "PATCH", path: "/Groups/${group}", body: renameGroup, status: 429, retry: true},

		// 503 + Retry-After: Domo failing.
		{name: "GET user, Domo answers 502", kind: domo.KindUnavailable,
			inject: apiFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Status: 502}),
			method: "GET", path: "/Users/${user}", status: 503, retry: true},
		{name: "PUT user, connection reset on the write", kind: domo.KindUnavailable,
			inject: apiFault(domosim.Fault{Method: "PUT", Route: "/v1/users/{id}", Drop: true}),
			method: "PUT", path: "/Users/${user}", body: tableUserPut, status: 503, retry: true},
		{name: "PATCH group rename, connection reset", kind: domo.KindUnavailable,
			inject: apiFault(domosim.Fault{Method: "PUT", Route: "/v1/groups/{id}", Drop: true}),
			method: "PATCH", path: "/Groups/${group}", body: renameGroup, status: 503, retry: true},
		{name: "GET group, token endpoint drops the connection", kind: domo.KindUnavailable,
			inject: func(e *replayEnv, _ *seeded) {
				e.sim.ExpireTokens()
				e.sim.InjectFault(domosim.Fault{Route: domosim.TokenRoute, Drop: true, Times: 1000})
			},
			method: "GET", path: "/Groups/${group}", status: 503, retry: true},
		{name: "DELETE user, token endpoint 503", kind: domo.KindUnavailable,
			inject: tokenFault(503, ""), method: "DELETE", path: "/Users/${user}", status: 503, retry: true},

		// 503 + Retry-After: no answer in time.
		{name: "GET user, Domo slower than the request's deadline", kind: domo.KindTimeout, timeout: 300 * time.Millisecond,
			inject: func(e *replayEnv, _ *seeded) {
				e.sim.SetOptions(func(o *domosim.Options) { o.Latency = 2 * time.Second })
			},
			method: "GET", path: "/Users/${user}", status: 503, retry: true},

		// 503 + Retry-After: a create whose outcome nobody knows.
		{name: "POST user, Domo answers 502 to every create", kind: domo.KindUnknownOutcome,
			inject: apiFault(domosim.Fault{Method: "POST", Route: "/v1/users", Status: 502}),
			method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new@example.com","name":{"givenName":"N","familyName":"U"}}`,
			status: 503, retry: true},

		// 502: an answer the bridge cannot use.
		{name: "GET user, Domo's answer cannot be decoded", kind: domo.KindBadAnswer,
			inject: apiFault(domosim.Fault{Method: "GET", Route: "/v1/users/{id}", Body: `{"id":`}),
			method: "GET", path: "/Users/${user}", status: 502, retry: true},
		{name: "GET group, Domo answers 418", kind: domo.KindBadAnswer,
			inject: apiFault(domosim.Fault{Method: "GET", Route: "/v1/groups/{id}", Status: 418}),
			method: "GET", path: "/Groups/${group}", status: 502, retry: true},
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrorTable walks the error table: every row is met by at least one Domo answer the
// simulator produces, driven by a real SCIM request through the HTTP handler, the bridge and
// the Domo client. The IdP must get the status, scimType and Retry-After the case states (and
// the table agrees), the index and the store must change only where the answer says the
// resource is gone, and the seeded user and group must stay filterable otherwise.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	cases := tableCases()
	for _, row := range errorClasses {
		n := 0
		for _, tc := range cases {
			if tc.kind == row.kind {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no case walks the row for %v", row.kind)
		}
	}
	for _, k := range domo.Kinds() {
		if _, ok := classOf(kindError(k)); !ok && k != domo.KindOther {
			t.Errorf("kind %v has no row in the error table", k)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row, ok := classOf(kindError(tc.kind))
			if !ok {
				t.Fatalf("no row for %v", tc.kind)
			}
			if row.status != tc.status || string(row.typ) != tc.typ || (row.retry > 0 || row.status == 429) != tc.retry || (row.gone != (tc.gone != "")) {
				t.Fatalf("the table's row for %v (%d %q retry %s gone %v) disagrees with the case", tc.kind, row.status, row.typ, row.retry, row.gone)
			}
			clock := newTestClock(time.Now())
			opts := tc.opts
			opts.Seed = 71
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			e := newReplayEnv(t, envOptions{sim: opts, timeout: timeout, bridge: func(c *Config) { c.Now = clock.Now }})
			s := seedTable(e)
			// Past the bridge's read-after-write grace: a 404 is Domo's final word at once.
			clock.Advance(time.Hour)
			userBefore, groupBefore := indexedUser(e, s.user), indexedGroup(e, s.group)
			shadowsBefore := storedShadows(t, e.store)

			tc.inject(e, s)
			var body []byte
			if tc.body != "" {
				body = []byte(expandIDs(tc.body, s))
			}
			a := e.do(tc.method, expandIDs(tc.path, s), body)
			if a.status != tc.status {
				t.Fatalf("answered %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if got := a.body["status"]; got != strconv.Itoa(tc.status) {
				t.Errorf("error body status %v, want %q", got, strconv.Itoa(tc.status))
			}
			if got, _ := a.body["scimType"].(string); got != tc.typ {
				t.Errorf("scimType %q, want %q", got, tc.typ)
			}
			ra := a.header.Get("Retry-After")
			if n, err := strconv.Atoi(ra); tc.retry && (err != nil || n < 1) {
				t.Errorf("Retry-After %q, want a number of seconds", ra)
			} else if !tc.retry && ra != "" {
				t.Errorf("Retry-After %q on a %d", ra, tc.status)
			}

			userAfter, groupAfter := indexedUser(e, s.user), indexedGroup(e, s.group)
			switch tc.gone {
			case "user":
				if userAfter != nil {
					t.Errorf("the user Domo says is gone is still indexed")
				}
			case "group":
				if groupAfter != nil {
					t.Errorf("the group Domo says is gone is still indexed")
				}
			}
			if tc.gone != "user" {
				if !reflect.DeepEqual(userBefore, userAfter) {
					t.Errorf("the user's index entry changed:\nbefore %+v\nafter  %+v", userBefore, userAfter)
				}
				if l := e.do("GET", `/Users?filter=userName+eq+"ada@example.com"`, nil); l.status != 200 || l.body["totalResults"] != float64(1) {
					t.Errorf("the user is not filterable: %d %s", l.status, l.raw)
				}
				if got := storedShadows(t, e.store)[s.user]; got != shadowsBefore[s.user] {
					t.Errorf("the user's stored state changed:\nbefore %s\nafter  %s", shadowsBefore[s.user], got)
				}
			}
			if tc.gone == "" && !reflect.DeepEqual(groupBefore, groupAfter) {
				t.Errorf("the group's index entry changed:\nbefore %+v\nafter  %+v", groupBefore, groupAfter)
			}
			if tc.gone != "group" {
				if l := e.do("GET", `/Groups?filter=displayName+eq+"Team"`, nil); l.status != 200 || l.body["totalResults"] != float64(1) {
					t.Errorf("the group is not filterable: %d %s", l.status, l.raw)
				}
			}
		})
	}
}

// kindError is an error of kind k, to look its row up.
func kindError(k domo.Kind) error {
	switch k {
	case domo.KindNotFound:
		return domo.ErrNotFound
	case domo.KindConflict:
		return domo.ErrConflict
	case domo.KindCredentials:
		return domo.ErrUnauthorized
	case domo.KindUnavailable:
		return domo.ErrUnavailable
	case domo.KindBadAnswer:
		return domo.ErrBadAnswer
	case domo.KindRateLimited:
		return &domo.RateLimitError{RetryAfter: time.Second}
	case domo.KindTimeout:
		return context.DeadlineExceeded
	}
	return &domo.APIError{Kind: k}
}

func seedTable(e *replayEnv) *seeded {
	e.t.Helper()
	id := func(a answer) int64 {
		e.t.Helper()
		if a.status != http.StatusCreated {
			e.t.Fatalf("seed: %d %s", a.status, a.raw)
		}
		return mustID(e.t, a.body["id"].(string))
	}
	s := &seeded{}
	s.user = id(e.do("POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com",
 "externalId":"ext-ada","name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Analyst","active":true,
 "emails":[{"value":"ada@example.com","type":"work","primary":true}]}`)))
	s.other = id(e.do("POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com",
 "name":{"givenName":"Bob","familyName":"Other"},"active":true}`)))
	s.group = id(e.do("POST", "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team",
 "members":[{"value":"`+strconv.FormatInt(s.user, 10)+`"}]}`)))
	return s
}

func expandIDs(s string, ids *seeded) string {
	return strings.NewReplacer("${user}", strconv.FormatInt(ids.user, 10), "${other}", strconv.FormatInt(ids.other, 10),
		"${group}", strconv.FormatInt(ids.group, 10)).Replace(s)
}

func indexedUser(e *replayEnv, id int64) *index.User {
	if u, ok := e.index.User(id); ok {
		c := *u
		return &c
	}
	return nil
}

func indexedGroup(e *replayEnv, id int64) *index.Group {
	if g, ok := e.index.Group(id); ok {
		c := *g
		return &c
	}
	return nil
}

func storedShadows(t testing.TB, st store.Store) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for sh, err := range st.UserShadows(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out[sh.ID] = sh.ExternalID + "|" + string(sh.Data) + "|" + sh.Updated.String()
	}
	return out
}
