package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/index"
)

// bridgeState is everything a failed operation must leave as it was: the stored shadows and
// the index's users.
type bridgeState struct {
	shadows map[int64]string
	users   []index.User
}

func (e *replayEnv) state() bridgeState {
	e.t.Helper()
	st := bridgeState{shadows: map[int64]string{}, users: e.index.Export().Users}
	for sh, err := range e.store.UserShadows(context.Background()) {
		if err != nil {
			e.t.Fatal(err)
		}
		st.shadows[sh.ID] = sh.ExternalID + "|" + string(sh.Data)
	}
	return st
}

const faultUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fault@example.com",
 "externalId":"ext-fault","name":{"givenName":"Fay","familyName":"Ult"},"title":"Tester","active":true,
 "emails":[{"value":"fault@example.com","type":"work","primary":true}]}`

// TestDomoFaultsBecomeRetryableAnswers: whatever Domo does wrong during a user operation
// (5xx, 429, no answer in time, credentials refused), the IdP gets 429 or 503 with
// Retry-After, never a 500 or a 4xx that would make it give up on the user, and the bridge's
// shadow store and index stay exactly as they were.
func TestDomoFaultsBecomeRetryableAnswers(t *testing.T) {
	type op struct {
		name   string
		method string
		path   string // ${id} is the seeded user
		body   string
		route  string // the Domo call the fault hits
		first  bool   // that call is the operation's first
	}
	ops := []op{
		{"create", "POST", "/Users", `{"userName":"new@example.com","name":{"givenName":"N","familyName":"U"}}`, "POST /v1/users", true},
		{"get", "GET", "/Users/${id}", "", "GET /v1/users/{id}", true},
		{"put: the read fails", "PUT", "/Users/${id}", faultUserWith("title", "Lead"), "GET /v1/users/{id}", true},
		{"put: the write fails", "PUT", "/Users/${id}", faultUserWith("title", "Lead"), "PUT /v1/users/{id}", false},
		{"patch", "PATCH", "/Users/${id}", `{"Operations":[{"op":"replace","path":"title","value":"Lead"}]}`, "PUT /v1/users/{id}", false},
		{"deactivate", "PATCH", "/Users/${id}", `{"Operations":[{"op":"replace","value":{"active":false}}]}`, "GET /v1/users/{id}", true},
		{"delete", "DELETE", "/Users/${id}", "", "DELETE /v1/users/{id}", true},
	}
	type fault struct {
		name       string
		wantStatus int
		inject     func(e *replayEnv, o op)
	}
	faults := []fault{
		{"5xx", http.StatusServiceUnavailable, func(e *replayEnv, o op) {
			method, tmpl := splitRoute(o.route)
			e.sim.InjectFault(domosim.Fault{Method: method, Route: tmpl, Status: http.StatusBadGateway, Times: 10})
		}},
		{"connection dropped", http.StatusServiceUnavailable, func(e *replayEnv, o op) {
			method, tmpl := splitRoute(o.route)
			e.sim.InjectFault(domosim.Fault{Method: method, Route: tmpl, Drop: true, Times: 10})
		}},
		{"429", http.StatusTooManyRequests, func(e *replayEnv, o op) {
			e.sim.SetOptions(func(o *domosim.Options) { o.RateLimit, o.RateWindow = 1, time.Minute })
			if o.first {
				// The one request the window admits goes elsewhere.
				if _, err := e.b.domo.GetUser(context.Background(), e.sim.OwnerID()); err != nil {
					e.t.Fatal(err)
				}
			}
		}},
		{"no answer in time", http.StatusServiceUnavailable, func(e *replayEnv, o op) {
			if !o.first {
				e.t.Skip("latency slows every call; the first one times out")
			}
			e.sim.SetOptions(func(o *domosim.Options) { o.Latency = 5 * time.Second })
		}},
		{"credentials refused", http.StatusServiceUnavailable, func(e *replayEnv, o op) {
			if !o.first {
				e.t.Skip("the first call meets the refused credentials")
			}
			e.sim.SetOptions(func(o *domosim.Options) { o.ClientSecret = "rotated-behind-our-back" })
			e.sim.ExpireTokens()
		}},
	}
	for _, o := range ops {
		for _, f := range faults {
			t.Run(o.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 11}, timeout: 1500 * time.Millisecond})
				seed := e.do("POST", "/Users", []byte(faultUser))
				if seed.status != http.StatusCreated {
					t.Fatalf("seed: %d %s", seed.status, seed.raw)
				}
				e.vars["id"] = seed.body["id"].(string)
				before := e.state()
				domoBefore, _ := e.sim.User(mustID(t, e.vars["id"]))

				f.inject(e, o)
				var body []byte
				if o.body != "" {
					body = []byte(o.body)
				}
				a := e.do(o.method, e.expand(o.path), body)
				if a.status != f.wantStatus {
					t.Fatalf("answered %d, want %d: %s", a.status, f.wantStatus, a.raw)
				}
				if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("Retry-After %q, want a number of seconds", a.header.Get("Retry-After"))
				}
				if after := e.state(); !reflect.DeepEqual(before, after) {
					t.Errorf("the failed %s changed the bridge's state:\nbefore %+v\nafter  %+v", o.name, before, after)
				}
				if domoAfter, _ := e.sim.User(domoBefore.ID); domoAfter != domoBefore {
					t.Errorf("Domo user changed: %+v -> %+v", domoBefore, domoAfter)
				}
			})
		}
	}
}

func faultUserWith(key, value string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(faultUser), &m)
	m[key] = value
	b, _ := json.Marshal(m)
	return string(b)
}

func splitRoute(route string) (method, tmpl string) {
	for i := range route {
		if route[i] == ' ' {
			return route[:i], route[i+1:]
		}
	}
	return "", route
}

func mustID(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
