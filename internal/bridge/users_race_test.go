package bridge

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestConcurrentPatchesAllSurvive: 50 PATCHes of different attributes of one user, sent at
// once. Each is a GET-merge-PUT on Domo; without the per-user lock, one PATCH's PUT would
// carry the record it read before another's PUT and undo it. Every change must survive, in
// the SCIM view and, for the attributes Domo holds, in Domo.
func TestConcurrentPatchesAllSurvive(t *testing.T) {
	for _, mode := range []string{"merge", "replace"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 31, PutMode: mode}})
			id := createBusyUser(t, e)
			changes := fiftyChanges(t)
			patchAtOnce(t, []*replayEnv{e}, id, changes)
			checkChanges(t, e, id, changes)
		})
	}
}

// raceChange is one PATCH operation of a concurrent batch, and where its value reads back.
type raceChange struct {
	op   string // one PATCH operation
	ptr  string // where it reads back: a JSON pointer, or a multi-valued attribute's name
	want any
}

func createBusyUser(t *testing.T, e *replayEnv) string {
	t.Helper()
	a := e.do("POST", "/Users", []byte(`{"userName":"busy@example.com","name":{"givenName":"B","familyName":"Z"},"active":true}`))
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	return a.body["id"].(string)
}

// fiftyChanges are 50 PATCHes of different attributes of one user.
func fiftyChanges(t *testing.T) []raceChange {
	t.Helper()
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	var changes []raceChange
	scalar := func(path, ptr string, v string) {
		changes = append(changes, raceChange{fmt.Sprintf(`{"op":"replace","path":%q,"value":%q}`, path, v), ptr, v})
	}
	scalar("displayName", "/displayName", "Busy Bee")
	scalar("nickName", "/nickName", "Bee")
	scalar("profileUrl", "/profileUrl", "https://example.com/bee")
	scalar("title", "/title", "Keeper")
	scalar("userType", "/userType", "Employee")
	scalar("preferredLanguage", "/preferredLanguage", "fr-CA")
	scalar("locale", "/locale", "fr-CA")
	scalar("timezone", "/timezone", "America/Toronto")
	scalar("name.givenName", "/name/givenName", "Busy")
	scalar("name.familyName", "/name/familyName", "Bee")
	scalar("name.middleName", "/name/middleName", "Q")
	scalar("name.honorificPrefix", "/name/honorificPrefix", "Dr.")
	scalar("name.honorificSuffix", "/name/honorificSuffix", "III")
	scalar("externalId", "/externalId", "ext-busy")
	for _, f := range []string{"employeeNumber", "costCenter", "organization", "division", "department"} {
		scalar(ent+":"+f, "/"+ent+"/"+f, "v-"+f)
	}
	changes = append(changes, raceChange{fmt.Sprintf(`{"op":"add","path":%q,"value":"4242"}`, ent+":manager"), "/" + ent + "/manager/value", "4242"})
	multi := func(attr string, n int, value func(i int) string) {
		for i := range n {
			v := value(i)
			changes = append(changes, raceChange{
				fmt.Sprintf(`{"op":"add","path":"%s[type eq \"t%d\"].value","value":%q}`, attr, i, v),
				attr, v,
			})
		}
	}
	multi("phoneNumbers", 10, func(i int) string { return fmt.Sprintf("+1 555 01%02d", i) })
	multi("emails", 5, func(i int) string { return fmt.Sprintf("busy.%d@example.org", i) })
	multi("ims", 5, func(i int) string { return fmt.Sprintf("busy%d", i) })
	multi("entitlements", 5, func(i int) string { return fmt.Sprintf("ent-%d", i) })
	multi("photos", 2, func(i int) string { return fmt.Sprintf("https://example.com/p%d.png", i) })
	multi("x509Certificates", 2, func(i int) string { return fmt.Sprintf("MIIcert%d", i) })
	changes = append(changes, raceChange{`{"op":"add","path":"addresses[type eq \"work\"].locality","value":"Lyon"}`, "/addresses/0/locality", "Lyon"})
	if len(changes) != 50 {
		t.Fatalf("%d changes, want 50", len(changes))
	}
	return changes
}

// patchAtOnce sends every change at once, spread over the replicas in turn.
func patchAtOnce(t *testing.T, replicas []*replayEnv, id string, changes []raceChange) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(changes))
	for i, c := range changes {
		e := replicas[i%len(replicas)]
		wg.Go(func() {
			r := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[`+c.op+`]}`))
			if r.status != http.StatusOK {
				errs <- fmt.Sprintf("%s: %d %s", c.op, r.status, r.raw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// checkChanges checks that every change survived, in the SCIM view read through e and, for
// the attributes Domo holds, in Domo.
func checkChanges(t *testing.T, e *replayEnv, id string, changes []raceChange) {
	t.Helper()
	g := e.do("GET", "/Users/"+id, nil)
	for _, c := range changes {
		if !strings.HasPrefix(c.ptr, "/") { // a multi-valued attribute: the value is among its elements
			if !hasValue(g.body[c.ptr], c.want) {
				t.Errorf("%s: lost (%v)", c.op, g.body[c.ptr])
			}
			continue
		}
		if got, _ := pointer(g.body, c.ptr); got != c.want {
			t.Errorf("%s: %s reads %v", c.op, c.ptr, got)
		}
	}
	d, _ := e.sim.User(mustID(t, id))
	if d.Name != "Busy Bee" || d.Title != "Keeper" || d.Locale != "fr-CA" || d.Timezone != "America/Toronto" ||
		d.Department != "v-department" || d.EmployeeID != "v-employeeNumber" || d.Location != "Lyon" ||
		!strings.HasPrefix(d.Phone, "+1 555 01") || !strings.HasPrefix(d.AlternateEmail, "busy.") {
		t.Errorf("Domo lost a change: %+v", d)
	}
}

func hasValue(list any, want any) bool {
	l, _ := list.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok && m["value"] == want {
			return true
		}
	}
	return false
}
