package bridge

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// TestBreakerCountsEveryAccessRemoval: a demotion by PATCH of roles, removals from a group and
// the deletion of a group all count against the breaker, like deactivations and deletions; the
// request that would cross the limit changes nothing, and what it refused is audited.
func TestBreakerCountsEveryAccessRemoval(t *testing.T) {
	e := newCrashEnv(t, crashScenario{bridge: func(c *Config) { c.BreakerMax, c.BreakerWindow = 4, time.Hour }})
	threeUsers(e) // a, b and c; group g holds a and b

	if a := e.do(request{"PATCH", "/Users/${c}", `{"Operations":[{"op":"replace","path":"roles","value":[{"value":"Social"}]}]}`}); a.status != http.StatusOK {
		t.Fatalf("demotion within budget: %d %s", a.status, a.raw)
	}
	if a := e.do(request{"PATCH", "/Users/${c}", `{"Operations":[{"op":"replace","path":"roles","value":[{"value":"Admin"}]}]}`}); a.status != http.StatusOK {
		t.Fatalf("promotion: %d %s", a.status, a.raw)
	}
	if a := e.do(request{"PATCH", "/Groups/${g}", `{"Operations":[{"op":"remove","path":"members","value":[{"value":"${a}"},{"value":"${b}"}]}]}`}); a.status >= 300 {
		t.Fatalf("two removals within budget: %d %s", a.status, a.raw)
	}
	if n, _ := e.proc.store.BreakerCount(context.Background(), time.Now().Add(-time.Hour)); n != 3 {
		t.Fatalf("breaker counted %d, want 3 (a demotion, two removals; the promotion does not count)", n)
	}
	e.must(request{"PATCH", "/Groups/${g}", `{"Operations":[{"op":"add","path":"members","value":[{"value":"${a}"},{"value":"${b}"}]}]}`}, "")
	members := func() int { return len(e.sim.Members(mustID(t, e.vars["g"]))) }

	// Deleting the group takes access from both members: 3 + 2 > 4.
	if a := e.do(request{"DELETE", "/Groups/${g}", ""}); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("group deletion past the limit: %d %s", a.status, a.raw)
	}
	if members() != 2 {
		t.Fatalf("the refused deletion changed Domo: %d members", members())
	}
	// Open now: even one removal is refused.
	if a := e.do(request{"PATCH", "/Groups/${g}", `{"Operations":[{"op":"remove","path":"members[value eq \"${a}\"]"}]}`}); a.status != http.StatusServiceUnavailable {
		t.Fatalf("removal while open: %d %s", a.status, a.raw)
	}
	events, err := e.proc.store.AuditEvents(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var refused, opened int
	for _, ev := range events {
		if ev.DomoCall == "" && ev.Token == "idp" && len(ev.Fields) == 1 && (ev.Fields[0] == breakerDeleteGroup || ev.Fields[0] == breakerLeaveGroup) && ev.Outcome == "refused: the deprovision breaker is open" {
			refused++
		}
		if ev.Resource == kindBridge && ev.ResourceID == "breaker" && slices.Equal(ev.Fields, []string{"open"}) {
			opened++
		}
	}
	if refused != 3 || opened != 1 {
		t.Fatalf("audit: %d refused events (want 3: two for the group's members, one removal), %d openings (want 1)", refused, opened)
	}
}

// TestBreakerWindowSurvivesRestart: the window's count is kept in the store, so a restart does
// not give the IdP a fresh budget.
func TestBreakerWindowSurvivesRestart(t *testing.T) {
	e := newCrashEnv(t, crashScenario{bridge: func(c *Config) { c.BreakerMax, c.BreakerWindow = 2, time.Hour }})
	for _, n := range []string{"a", "b", "c"} {
		e.must(request{"POST", "/Users", crashUserBody(n+"@example.com", "Participant")}, n)
	}
	e.must(request{"PATCH", "/Users/${a}", deactivateOp}, "")
	e.must(request{"DELETE", "/Users/${b}", ""}, "")
	e.restart()
	if a := e.do(request{"PATCH", "/Users/${c}", deactivateOp}); a.status != http.StatusServiceUnavailable {
		t.Fatalf("third deprovision after a restart: %d %s", a.status, a.raw)
	}
	e.restart()
	if st, err := e.proc.b.Status(context.Background()); err != nil || st["breaker"].(map[string]any)["open"] != true {
		t.Fatalf("the open breaker did not survive a restart: %v %v", st, err)
	}
}

// TestAuditRecordsWhatNoDomoCallShows: a deactivation under mark writes nothing to Domo, and
// the operator's switches are no Domo calls either; all of them are audited with the acting
// token's name.
func TestAuditRecordsWhatNoDomoCallShows(t *testing.T) {
	e := newReplayEnv(t, envOptions{})
	a := e.do("POST", "/Users", []byte(`{"userName":"mark@example.com"}`))
	id := a.body["id"].(string)
	if p := e.do("PATCH", "/Users/"+id, []byte(deactivateOp)); p.status != http.StatusOK {
		t.Fatalf("deactivate: %d %s", p.status, p.raw)
	}
	for _, path := range []string{"/admin/v1/pause", "/admin/v1/resume", "/admin/v1/breaker/reset"} {
		if r := e.do("POST", path, nil); r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
	}
	events, err := e.store.AuditEvents(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"User " + id:    "idp ok: active false (policy mark)",
		"Bridge pause":  "ops paused: paused by operator",
		"Bridge resume": "ops resumed",
		"Bridge reset":  "ops reset",
	}
	for _, ev := range events {
		if ev.DomoCall != "" {
			continue
		}
		key := ev.Resource + " " + ev.ResourceID
		if ev.Resource == kindBridge && ev.Outcome == "resumed" {
			key = "Bridge resume"
		}
		if ev.Resource == kindBridge && ev.Outcome == "reset" {
			key = "Bridge reset"
		}
		if w, ok := want[key]; ok && w == ev.Token+" "+ev.Outcome {
			delete(want, key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("not audited: %v (events: %+v)", want, events)
	}
}

// TestFinishingNeverUndoesALaterChange: a create whose role could not be set is left
// unfinished; a refresh shows the user to the IdP, which changes its role. Finishing the
// create afterwards must not put back the role the create asked for, nor its record.
func TestFinishingNeverUndoesALaterChange(t *testing.T) {
	e := newReplayEnv(t, envOptions{sim: domosim.Options{Seed: 61}})
	e.sim.InjectFault(domosim.Fault{Method: "PUT", Route: "/v1/users/{id}", Status: http.StatusServiceUnavailable, Times: 2})
	a := e.do("POST", "/Users", []byte(`{"userName":"late@example.com","title":"First","roles":[{"value":"Editor"}]}`))
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("create whose role PUT fails: %d %s", a.status, a.raw)
	}
	if err := e.b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "late@example.com"`), nil)
	res, _ := f.body["Resources"].([]any)
	if len(res) != 1 {
		t.Fatalf("the refresh did not show the user: %s", f.raw)
	}
	id := res[0].(map[string]any)["id"].(string)
	if p := e.do("PATCH", "/Users/"+id, []byte(`{"Operations":[{"op":"replace","path":"roles","value":[{"value":"Admin"}]},{"op":"replace","path":"title","value":"Second"}]}`)); p.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", p.status, p.raw)
	}
	if _, left, err := e.b.FinishIntents(context.Background(), 0); err != nil || left != 0 {
		t.Fatalf("FinishIntents: %d left, %v", left, err)
	}
	u, _ := e.sim.User(mustID(t, id))
	g := e.do("GET", "/Users/"+id, nil)
	if u.Role != "Admin" || u.Title != "Second" || g.body["title"] != "Second" {
		t.Fatalf("finishing the create undid the later change: Domo %s %q, SCIM %s", u.Role, u.Title, g.raw)
	}
}
