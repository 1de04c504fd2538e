package bridge

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

func scimStatus(err error) int {
	var se *scim.Error
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func TestUserLifecycle(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 7}), nil)
	id := tb.createUser(adaAttrs())
	did, _ := strconv.ParseInt(id, 10, 64)
	if u, ok := tb.sim.User(did); !ok || u.Email != "ada@example.com" || u.Role != "Participant" {
		t.Fatalf("Domo user after create: %+v", u)
	}

	got, err := tb.users.Get(tb.ctx(), id, scim.ReadOptions{})
	if err != nil || got["externalId"] != "ext-ada" || got["userName"] != "ada@example.com" {
		t.Fatalf("get: %v %v", got, err)
	}

	// A PATCH that changes nothing sends no PUT to Domo.
	before := tb.routeCount("PUT /v1/users/{id}")
	if _, err := tb.patch(tb.users, scim.UserType, id, `{"Operations":[{"op":"replace","path":"title","value":"Analyst"}]}`); err != nil {
		t.Fatal(err)
	}
	if n := tb.routeCount("PUT /v1/users/{id}"); n != before {
		t.Fatalf("no-op PATCH sent %d PUTs", n-before)
	}

	// Delete: then every operation on the id is 404.
	if err := tb.users.Delete(tb.ctx(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.users.Get(tb.ctx(), id, scim.ReadOptions{}); scimStatus(err) != http.StatusNotFound {
		t.Fatalf("get after delete: %v", err)
	}
	if err := tb.users.Delete(tb.ctx(), id); scimStatus(err) != http.StatusNotFound {
		t.Fatalf("delete after delete: %v", err)
	}
}

func TestOwnerIsProtected(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 8})
	tb := newTestBridge(t, sim, nil)
	owner := strconv.FormatInt(sim.OwnerID(), 10)
	if _, err := tb.users.Get(tb.ctx(), owner, scim.ReadOptions{}); scimStatus(err) != http.StatusNotFound {
		t.Fatalf("owner visible: %v", err)
	}
	page, err := tb.users.List(tb.ctx(), scim.Query{StartIndex: 1, Count: 100})
	if err != nil || page.TotalResults != 0 {
		t.Fatalf("list shows the owner: %+v %v", page, err)
	}
	if err := tb.users.Delete(tb.ctx(), owner); scimStatus(err) != http.StatusNotFound {
		t.Fatalf("owner deletable: %v", err)
	}
	if u, ok := sim.User(sim.OwnerID()); !ok || u.Deleted {
		t.Fatal("owner was deleted")
	}
}

func TestNonCanonicalIDsAre404WithoutDomo(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 9}})
	e.settle()
	before := e.sim.Stats().Requests
	for _, id := range []string{"010101001010101011001010101011", "00919288221112222", "-5", "abc", "0", ""} {
		if _, err := e.b.Users().Get(context.Background(), id, scim.ReadOptions{}); scimStatus(err) != http.StatusNotFound {
			t.Errorf("Get(%q): %v", id, err)
		}
	}
	e.settle()
	if n := e.sim.Stats().Requests - before; n != 0 {
		t.Fatalf("%d Domo calls for ids that cannot exist", n)
	}
}

// TestDomoDuplicateTheIndexDidNotPredict: a user created in Domo's UI after the index loaded.
// Domo's "email taken" (400, or 409 on some tenants) is 409 uniqueness, and the bridge learns
// the user, so the IdP's next lookup finds and links it instead of POSTing forever.
func TestDomoDuplicateTheIndexDidNotPredict(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusConflict} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 21, DuplicateEmailStatus: status}})
			uiID := e.sim.AddUser(domosim.SimUser{Name: "Ui Made", Email: "ui.made@example.com"})
			other := e.do("POST", "/Users", []byte(`{"userName":"other@example.com"}`))
			if other.status != http.StatusCreated {
				t.Fatalf("seed: %d %s", other.status, other.raw)
			}

			a := e.do("POST", "/Users", []byte(`{"userName":"UI.Made@example.com","name":{"givenName":"Ui","familyName":"Made"}}`))
			if a.status != http.StatusConflict || a.body["scimType"] != "uniqueness" {
				t.Fatalf("create of a Domo-only email: %d %s", a.status, a.raw)
			}
			l := e.do("GET", "/Users?filter="+queryEscape(`userName eq "ui.made@example.com"`), nil)
			if l.body["totalResults"] != float64(1) {
				t.Fatalf("the IdP's lookup after the 409 does not find the user: %s", l.raw)
			}
			if got, _ := pointer(l.body, "/Resources/0/id"); got != strconv.FormatInt(uiID, 10) {
				t.Fatalf("lookup found %v, want %d", got, uiID)
			}

			// Renaming another user onto an address only Domo knows is the same conflict.
			e.sim.AddUser(domosim.SimUser{Name: "Ui Two", Email: "ui.two@example.com"})
			p := e.do("PATCH", "/Users/"+other.body["id"].(string), []byte(`{"Operations":[{"op":"replace","path":"userName","value":"ui.two@example.com"}]}`))
			if p.status != http.StatusConflict || p.body["scimType"] != "uniqueness" {
				t.Fatalf("rename onto a Domo-only email: %d %s", p.status, p.raw)
			}
			if u, _ := e.sim.UserByEmail("other@example.com"); u.ID == 0 {
				t.Fatal("the refused rename changed Domo")
			}
		})
	}
}

// TestCreateWhoseAnswerIsLost: Domo creates the user and the answer is lost (a 5xx after the
// commit). The bridge finds the user it made instead of making a second one.
func TestCreateWhoseAnswerIsLost(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 22}})
	e.sim.InjectFault(domosim.Fault{Method: "POST", Route: "/v1/users", Status: http.StatusGatewayTimeout, After: true})
	a := e.do("POST", "/Users", []byte(`{"userName":"lost@example.com","externalId":"x-lost"}`))
	if a.status != http.StatusCreated || a.body["externalId"] != "x-lost" {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	n := 0
	for _, u := range e.sim.Users() {
		if u.Email == "lost@example.com" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Domo users with the email, want 1", n)
	}
}

// TestExpiredTokenIsRenewedTransparently: Domo's token expiring between requests costs one
// token request, not a failed operation.
func TestExpiredTokenIsRenewedTransparently(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 23}})
	a := e.do("POST", "/Users", []byte(`{"userName":"tok@example.com"}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	e.sim.ExpireTokens()
	before := e.sim.Stats().Tokens
	p := e.do("PATCH", "/Users/"+a.body["id"].(string), []byte(`{"Operations":[{"op":"replace","path":"title","value":"Renewed"}]}`))
	if p.status != http.StatusOK || p.body["title"] != "Renewed" {
		t.Fatalf("patch after expiry: %d %s", p.status, p.raw)
	}
	if n := e.sim.Stats().Tokens - before; n != 1 {
		t.Fatalf("%d tokens issued, want 1", n)
	}
}

// TestUserDeletedInDomoIs404: a user an admin deleted in Domo reads back deleted:true; every
// operation on it is 404 and the index forgets it.
func TestUserDeletedInDomoIs404(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 24}})
	a := e.do("POST", "/Users", []byte(`{"userName":"gone@example.com"}`))
	id := a.body["id"].(string)
	if err := e.sim.DeleteUserDirect(mustID(t, id)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, body string }{
		{"GET", ""}, {"PATCH", `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`},
		{"PUT", `{"userName":"gone@example.com"}`}, {"DELETE", ""},
	} {
		var body []byte
		if r.body != "" {
			body = []byte(r.body)
		}
		if got := e.do(r.method, "/Users/"+id, body); got.status != http.StatusNotFound {
			t.Errorf("%s after the Domo delete: %d %s", r.method, got.status, got.raw)
		}
	}
	if _, ok := e.index.User(mustID(t, id)); ok {
		t.Error("the index still has the user")
	}
	if l := e.do("GET", "/Users?filter="+queryEscape(`userName eq "gone@example.com"`), nil); l.body["totalResults"] != float64(0) {
		t.Errorf("the deleted user is still listed: %s", l.raw)
	}
}

// TestRolesTravelAsDomoAcceptsThem: Domo documents only Admin, Privileged and Participant as
// role names; any other role (Editor, Social, custom) is sent as its roleId with a documented
// name, and a POST that ignores roleId is followed by one PUT. A tenant whose POST honours
// roleId costs no PUT.
func TestRolesTravelAsDomoAcceptsThem(t *testing.T) {
	for _, tc := range []struct {
		name     string
		honoured bool
		role     string
		wantID   int64
		wantPuts int64
	}{
		{"documented name", false, "privileged", 2, 0},
		{"Editor, roleId ignored on POST", false, "Editor", 3, 1},
		{"custom, roleId ignored on POST", false, "Analyst Plus", 2097317660, 1},
		{"custom, roleId honoured on POST", true, "analyst PLUS", 2097317660, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newReplayEnv(t, envOptions{
				sim: domosim.Options{Seed: 25, RoleIDOnCreate: tc.honoured, AcceptedRoles: []string{"Admin", "Privileged", "Participant"},
					CustomRoles: []domosim.Role{{ID: 2097317660, Name: "Analyst Plus"}}},
				bridge: func(c *Config) {
					c.Mapping.Roles = mapping.NewRoles([]mapping.Role{{ID: 2097317660, Name: "Analyst Plus"}})
				},
			})
			var a answer
			calls := callsOf(e, func() {
				a = e.do("POST", "/Users", []byte(`{"userName":"r@example.com","roles":[{"value":"`+tc.role+`","primary":true}]}`))
			})
			if a.status != http.StatusCreated {
				t.Fatalf("create: %d %s", a.status, a.raw)
			}
			if got, _ := pointer(a.body, "/roles/0/value"); got != tc.role {
				t.Errorf("roles read back %v, want %q as sent", got, tc.role)
			}
			u, _ := e.sim.UserByEmail("r@example.com")
			if u.RoleID != tc.wantID || calls["PUT /v1/users/{id}"] != tc.wantPuts {
				t.Fatalf("Domo role %d after %s, want %d with %d PUTs", u.RoleID, formatCalls(calls), tc.wantID, tc.wantPuts)
			}
			// Later writes of the user keep working and keep the role.
			p := e.do("PATCH", "/Users/"+a.body["id"].(string), []byte(`{"Operations":[{"op":"replace","path":"title","value":"T"}]}`))
			if u, _ := e.sim.UserByEmail("r@example.com"); p.status != http.StatusOK || u.RoleID != tc.wantID || u.Title != "T" {
				t.Fatalf("patch: %d %s; Domo %+v", p.status, p.raw, u)
			}
		})
	}
}

// TestSendInviteFollowsConfiguration: Domo emails an invitation only when the operator asked
// for it; the default is off.
func TestSendInviteFollowsConfiguration(t *testing.T) {
	for _, invite := range []bool{false, true} {
		t.Run(strconv.FormatBool(invite), func(t *testing.T) {
			t.Parallel()
			e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 26}, bridge: func(c *Config) { c.SendInvite = invite }})
			if a := e.do("POST", "/Users", []byte(`{"userName":"invite@example.com"}`)); a.status != http.StatusCreated {
				t.Fatalf("create: %d %s", a.status, a.raw)
			}
			if got := len(e.sim.Invites()); got != map[bool]int{false: 0, true: 1}[invite] {
				t.Fatalf("%d invites sent", got)
			}
		})
	}
}
