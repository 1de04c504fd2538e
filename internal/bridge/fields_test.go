package bridge

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

func entraUser(userName string) []byte {
	return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"userName":%q,"active":true,"displayName":"Emp Loyee",
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E123","department":"Finance"}}`, userName)
}

const enterprisePath = "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// TestUndocumentedFieldsRefused: a tenant that answers 400 to employeeId and department gets
// the create again without them, once; from then on (also after a restart) they are never
// sent, and reads still give back what the IdP wrote, from the shadow, so the IdP sees no
// drift and a change of them alone costs no PUT.
func TestUndocumentedFieldsRefused(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 47, UndocumentedFields: "reject", PutMode: "replace"}})
	a := e.do("POST", "/Users", entraUser("emp@example.com"))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if got, _ := pointer(a.body, enterprisePath+"/employeeNumber"); got != "E123" {
		t.Fatalf("employeeNumber answered %v: %s", got, a.raw)
	}
	u, _ := e.sim.User(mustID(t, id))
	if u.EmployeeID != "" || u.Department != "" {
		t.Fatalf("Domo holds %q %q", u.EmployeeID, u.Department)
	}

	e.settle()
	before := e.sim.Stats().ByRoute
	if b := e.do("POST", "/Users", entraUser("emp2@example.com")); b.status != http.StatusCreated {
		t.Fatalf("second create: %d %s", b.status, b.raw)
	}
	e.settle()
	if n := e.sim.Stats().ByRoute["POST /v1/users"] - before["POST /v1/users"]; n != 1 {
		t.Fatalf("%d POSTs for the second create, want 1: the refusal was not learnt", n)
	}

	e.settle()
	puts := e.sim.Stats().ByRoute["PUT /v1/users/{id}"]
	p := e.do("PATCH", "/Users/"+id, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Audit"}]}`))
	if got, _ := pointer(p.body, enterprisePath+"/department"); p.status != http.StatusOK || got != "Audit" {
		t.Fatalf("PATCH department: %d %s", p.status, p.raw)
	}
	e.settle()
	if n := e.sim.Stats().ByRoute["PUT /v1/users/{id}"] - puts; n != 0 {
		t.Fatalf("%d PUTs for a change only the bridge can hold", n)
	}
	g := e.do("GET", "/Users/"+id, nil)
	if got, _ := pointer(g.body, enterprisePath+"/department"); got != "Audit" {
		t.Fatalf("department read back %v", got)
	}
	if got, _ := pointer(g.body, enterprisePath+"/employeeNumber"); got != "E123" {
		t.Fatalf("employeeNumber read back %v", got)
	}
	// A PUT of other fields in replace mode works, and does not resend them.
	if q := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"replace","path":"title","value":"Auditor"}]}`)); q.status != http.StatusOK {
		t.Fatalf("PATCH title: %d %s", q.status, q.raw)
	}

	cfg := e.b.cfg
	again, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.LoadSwitches(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !again.refusesUndocumented() {
		t.Fatal("the refusal was forgotten across a restart")
	}
}

// TestUndocumentedFieldsIgnored: a tenant that takes employeeId and department without
// storing them. The shadow gives them back, and the IdP's next identical write sends nothing.
func TestUndocumentedFieldsIgnored(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 48, UndocumentedFields: "ignore"}})
	a := e.do("POST", "/Users", entraUser("ign@example.com"))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	e.settle()
	writes := writeRoutes(e.sim.Stats().ByRoute)
	p := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"E123"}]}`))
	if got, _ := pointer(p.body, enterprisePath+"/employeeNumber"); p.status != http.StatusOK || got != "E123" {
		t.Fatalf("PATCH: %d %s", p.status, p.raw)
	}
	e.settle()
	if n := writeRoutes(e.sim.Stats().ByRoute) - writes; n != 0 {
		t.Fatalf("%d Domo writes for a no-op PATCH", n)
	}
	if e.b.refusesUndocumented() {
		t.Fatal("a tenant that ignores the fields was taken for one that refuses them")
	}
}
