package bridge

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
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
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 9}), nil)
	before := tb.sim.Stats().Requests
	for _, id := range []string{"010101001010101011001010101011", "00919288221112222", "-5", "abc", "0", ""} {
		if _, err := tb.users.Get(tb.ctx(), id, scim.ReadOptions{}); scimStatus(err) != http.StatusNotFound {
			t.Errorf("Get(%q): %v", id, err)
		}
	}
	if n := tb.sim.Stats().Requests - before; n != 0 {
		t.Fatalf("%d Domo calls for ids that cannot exist", n)
	}
}
