package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// userBody is a SCIM user with custom attributes (key=value pairs) and, when not empty, a
// manager.
func userBody(email, manager string, custom ...string) []byte {
	attrs := []any{}
	for _, kv := range custom {
		k, v, _ := strings.Cut(kv, "=")
		attrs = append(attrs, map[string]any{"key": k, "values": []any{v}})
	}
	u := map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": email, "name": map[string]any{"givenName": "Cat", "familyName": "Alogue"},
		"emails": []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"urn:ietf:params:scim:schemas:extension:custom:2.0:User": map[string]any{"customAttributes": attrs},
	}
	if manager != "" {
		u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = map[string]any{"manager": map[string]any{"value": manager}}
	}
	b, _ := json.Marshal(u)
	return b
}

// TestAttributesWithoutCatalogue: a tenant whose instance APIs have no attribute catalogue
// (an outside fake built from Domo's identity API page has none) still gets custom attributes:
// the capability is the identity API, the catalogue is reported apart, and a key Domo does not
// have is refused by Domo's answer to the identity PATCH, as a 400 invalidValue naming that
// key, with nothing written: an update sends that PATCH before its v1 PUT, and a create
// deletes the user it just made. Run with Domo's error envelope and with plain-text errors
// (then Domo's message cannot name the key; the bridge still does).
func TestAttributesWithoutCatalogue(t *testing.T) {
	for _, errs := range []string{"domo", "text"} {
		t.Run(errs, func(t *testing.T) {
			t.Parallel()
			sim := domosim.New(domosim.Options{Seed: 31, AttributeKeys: []string{"costCenter", "region"}, AttributeCatalogue: "absent", InstanceErrors: errs})
			tb := newTestBridge(t, sim, withInstance(t, sim, nil))
			front := newSCIMFront(t, tb)
			in := tb.b.cfg.Instance

			if !in.Available(domo.CapAttributes) {
				t.Fatalf("attributes unavailable without the catalogue: %+v", in.Capabilities())
			}
			st := tb.b.InstanceStatus()
			if st.Degraded || st.Catalogue.Available || st.Catalogue.Status != http.StatusNotFound {
				t.Fatalf("status %+v", st)
			}
			_, ready := tb.b.Ready(context.Background())
			if note := fmt.Sprint(ready["domoInstance"].(map[string]any)["attributeCatalogue"]); !strings.Contains(note, "not available") || !strings.Contains(note, "404") {
				t.Fatalf("/readyz catalogue note %q", note)
			}

			// A key the tenant has reaches Domo.
			status, res := front.do(http.MethodPost, "/Users", userBody("known@example.com", "", "costCenter=CC-1"))
			if status != http.StatusCreated {
				t.Fatalf("create: %d %v", status, res)
			}
			id, _ := strconv.ParseInt(res["id"].(string), 10, 64)
			if got := sim.Attributes(id)["costCenter"]; !slices.Equal(got, []string{"CC-1"}) {
				t.Fatalf("Domo holds costCenter %v", got)
			}

			// An update with a key the tenant lacks: 400 naming it (not costCenter, which Domo
			// took before), and neither the title nor any attribute is written.
			before, _ := sim.User(id)
			sim.ResetStats()
			patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"title","value":"Must Not Land"},
				{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:custom:2.0:User:customAttributes","value":[
					{"key":"costCenter","values":["CC-2"]},{"key":"shoeSize","values":["44"]}]}]}`
			status, res = front.do(http.MethodPatch, "/Users/"+strconv.FormatInt(id, 10), []byte(patch))
			detail := fmt.Sprint(res["detail"])
			if status != http.StatusBadRequest || res["scimType"] != "invalidValue" || !strings.Contains(detail, `"shoeSize"`) || strings.Contains(detail, `"costCenter"`) {
				t.Fatalf("update with an unknown key: %d %v", status, res)
			}
			after, _ := sim.User(id)
			if after.Title != before.Title || !slices.Equal(sim.Attributes(id)["costCenter"], []string{"CC-1"}) || sim.Attributes(id)["shoeSize"] != nil {
				t.Fatalf("a refused update wrote: title %q, attributes %v", after.Title, sim.Attributes(id))
			}
			if n := writeRoutes(sim.Stats().Accepted); n != 0 {
				t.Fatalf("%d writes Domo took: %v", n, sim.Stats().Accepted)
			}
			if ins, err := tb.store.Intents(context.Background()); err != nil || len(ins) != 0 {
				t.Fatalf("intents left: %v %+v", err, ins)
			}
			status, res = front.do(http.MethodGet, "/Users/"+strconv.FormatInt(id, 10), nil)
			if status != http.StatusOK || res["title"] != nil || !strings.Contains(fmt.Sprint(res), "CC-1") {
				t.Fatalf("GET after the refusal: %d %v", status, res)
			}

			// A create with a key the tenant lacks: 400 naming it, and no user is left in Domo
			// nor in the bridge (the create's user is deleted again; an IdP's retry creates
			// nothing either).
			for attempt := range 2 {
				status, res = front.do(http.MethodPost, "/Users", userBody("unknown@example.com", "", "costCenter=CC-3", "shoeSize=44"))
				detail = fmt.Sprint(res["detail"])
				if status != http.StatusBadRequest || res["scimType"] != "invalidValue" || !strings.Contains(detail, `"shoeSize"`) || strings.Contains(detail, `"costCenter"`) {
					t.Fatalf("create %d with an unknown key: %d %v", attempt, status, res)
				}
				if u, ok := sim.UserByEmail("unknown@example.com"); ok {
					t.Fatalf("the refused create left user %d in Domo", u.ID)
				}
				if _, ok := tb.index.UserByUserName("unknown@example.com"); ok {
					t.Fatal("the refused create is in the index")
				}
				if ins, err := tb.store.Intents(context.Background()); err != nil || len(ins) != 0 {
					t.Fatalf("intents left: %v %+v", err, ins)
				}
			}
			status, res = front.do(http.MethodGet, `/Users?filter=userName%20eq%20%22unknown@example.com%22`, nil)
			if status != http.StatusOK || res["totalResults"] != float64(0) {
				t.Fatalf("filter after the refused create: %d %v", status, res)
			}
			// The same user without the bad key is created.
			status, res = front.do(http.MethodPost, "/Users", userBody("unknown@example.com", "", "costCenter=CC-3"))
			if status != http.StatusCreated {
				t.Fatalf("create without the unknown key: %d %v", status, res)
			}
		})
	}
}

// TestCreateUndoRetried: when the delete that undoes a refused create fails, the IdP gets a
// 503 (not a 201 for a user whose attributes Domo refused), the intent stays, and the retry
// deletes the user and answers 400.
func TestCreateUndoRetried(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 32, AttributeCatalogue: "absent"})
	tb := newGroupBridge(t, sim, withInstance(t, sim, nil)) // 2 attempts per Domo call
	front := newSCIMFront(t, tb)
	sim.InjectFault(domosim.Fault{Method: http.MethodDelete, Route: "/v1/users/{id}", Status: 503, Times: 2})
	status, res := front.do(http.MethodPost, "/Users", userBody("undo@example.com", "", "shoeSize=44"))
	if status != http.StatusServiceUnavailable {
		t.Fatalf("create whose undo failed: %d %v", status, res)
	}
	u, ok := sim.UserByEmail("undo@example.com")
	if !ok {
		t.Fatal("the user is gone although its delete failed")
	}
	if ins, err := tb.store.Intents(context.Background()); err != nil || len(ins) != 1 || ins[0].Kind != intentUserCreate {
		t.Fatalf("intents %v %+v", err, ins)
	}
	status, res = front.do(http.MethodPost, "/Users", userBody("undo@example.com", "", "shoeSize=44"))
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(res["detail"]), `"shoeSize"`) {
		t.Fatalf("retry: %d %v", status, res)
	}
	if _, ok := sim.UserByEmail("undo@example.com"); ok {
		t.Fatalf("user %d still in Domo after the retry", u.ID)
	}
	if ins, err := tb.store.Intents(context.Background()); err != nil || len(ins) != 0 {
		t.Fatalf("intents left: %v %+v", err, ins)
	}
}

// TestUnmappableManagerLeavesReportsTo: a manager the bridge cannot map to one of its users
// (Okta's managerId, a number that is no user) is kept and read back, and Domo's reportsTo,
// which an admin may have set, is left as it is; a mapped manager is written, and removing the
// manager clears what the bridge wrote.
func TestUnmappableManagerLeavesReportsTo(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 33})
	seeded := sim.SeedUsers(2)
	tb := newTestBridge(t, sim, withInstance(t, sim, nil))
	front := newSCIMFront(t, tb)
	status, res := front.do(http.MethodPost, "/Users", userBody("report@example.com", strconv.FormatInt(seeded[0], 10)))
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, res)
	}
	sid := res["id"].(string)
	id, _ := strconv.ParseInt(sid, 10, 64)
	if su, _ := sim.User(id); su.ReportsTo != seeded[0] {
		t.Fatalf("reportsTo %d, want %d", su.ReportsTo, seeded[0])
	}
	// An admin sets another manager in Domo.
	if err := sim.EditUser(id, func(u *domosim.SimUser) { u.ReportsTo = seeded[1] }); err != nil {
		t.Fatal(err)
	}
	for _, manager := range []string{"00u8notadomoid", "987654321987", "-4"} {
		sim.ResetStats()
		body := `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"` + manager + `"}}]}`
		status, res = front.do(http.MethodPatch, "/Users/"+sid, []byte(body))
		if status != http.StatusOK {
			t.Fatalf("manager %s: %d %v", manager, status, res)
		}
		ent, _ := res["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
		if m, _ := ent["manager"].(map[string]any); m["value"] != manager {
			t.Fatalf("manager %s not kept: %v", manager, res)
		}
		if su, _ := sim.User(id); su.ReportsTo != seeded[1] {
			t.Fatalf("manager %s: Domo's reportsTo changed to %d", manager, su.ReportsTo)
		}
		if n := sim.Stats().ByRoute["PATCH /api/identity/v1/users/{id}"]; n != 0 {
			t.Fatalf("manager %s: %d identity PATCHes", manager, n)
		}
		status, res = front.do(http.MethodGet, "/Users/"+sid, nil)
		if status != http.StatusOK || !strings.Contains(fmt.Sprint(res), manager) {
			t.Fatalf("GET: %d %v", status, res)
		}
	}
	// A manager the bridge has is written.
	body := `{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"` + strconv.FormatInt(seeded[1], 10) + `"}}]}`
	if status, res = front.do(http.MethodPatch, "/Users/"+sid, []byte(body)); status != http.StatusOK {
		t.Fatalf("mapped manager: %d %v", status, res)
	}
	if su, _ := sim.User(id); su.ReportsTo != seeded[1] {
		t.Fatalf("reportsTo %d", su.ReportsTo)
	}
	// Removing the manager clears it.
	if status, res = front.do(http.MethodPatch, "/Users/"+sid, []byte(`{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`)); status != http.StatusOK {
		t.Fatalf("remove manager: %d %v", status, res)
	}
	if su, _ := sim.User(id); su.ReportsTo != 0 {
		t.Fatalf("reportsTo %d after the IdP removed the manager", su.ReportsTo)
	}
}

// TestBulkUnusableAtFirstUseFallsBackInRequest: a tenant that refuses the empty probe change
// (422) passes the probe; when its first real bulk call is refused too (415, 422, or 400 for
// each member alone), that very request moves to v1: the IdP gets 200, Domo holds every
// member, and the capability is reported unavailable.
func TestBulkUnusableAtFirstUseFallsBackInRequest(t *testing.T) {
	for _, status := range []int{415, 422, 400} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			sim := domosim.New(domosim.Options{Seed: 34, BulkEmptyStatus: 422})
			users := sim.SeedUsers(20)
			tb := newGroupBridge(t, sim, withInstance(t, sim, nil))
			if !tb.b.can(domo.CapBulkMembership) {
				t.Fatalf("probe: %+v", tb.b.InstanceStatus())
			}
			front := newSCIMFront(t, tb)
			gid := sim.AddGroup("First Use")
			sim.InjectFault(domosim.Fault{Method: http.MethodPut, Route: "/api/content/v2/groups/{id}/user", Status: status, Times: 100})
			code, res := front.do(http.MethodPatch, "/Groups/"+strconv.FormatInt(gid, 10), membersBody("add", users))
			if code != http.StatusOK || len(sim.Members(gid)) != len(users) {
				t.Fatalf("PATCH: %d %v; %d members", code, res, len(sim.Members(gid)))
			}
			if tb.b.can(domo.CapBulkMembership) || tb.b.InstanceStatus().Capabilities[2].Fallbacks == 0 {
				t.Fatalf("status %+v", tb.b.InstanceStatus())
			}
			if n := sim.Stats().ByRoute["PUT /api/content/v2/groups/{id}/user"]; n > 10 {
				t.Fatalf("%d bulk calls before falling back", n)
			}
		})
	}
}
