package bridge

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// Issue 12, Bulk (RFC 7644 §3.7), over HTTP through the real handler, bridge, Domo client,
// state file and simulator.

const bulkSchemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]`

// bulkOps returns the operations of a bulk answer by position.
func bulkOps(t *testing.T, out map[string]any) []map[string]any {
	t.Helper()
	list, ok := out["Operations"].([]any)
	if !ok {
		t.Fatalf("no Operations in %v", out)
	}
	ops := make([]map[string]any, len(list))
	for i, o := range list {
		ops[i] = o.(map[string]any)
	}
	return ops
}

func TestBulkWithReferences(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 21}), nil)
	srv := serveSCIM(t, tb.b)
	// The group comes first but names users the next two operations create: it runs after them.
	status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{`+bulkSchemas+`,"Operations":[
		{"method":"POST","path":"/Groups","bulkId":"crew","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
			"displayName":"Crew","members":[{"value":"bulkId:ann","type":"User"},{"value":"bulkId:ben"}]}},
		{"method":"POST","path":"/Users","bulkId":"ann","data":{"userName":"ann@example.com","displayName":"Ann"}},
		{"method":"POST","path":"/Users","bulkId":"ben","data":{"userName":"ben@example.com","displayName":"Ben"}},
		{"method":"PATCH","path":"/Users/bulkId:ann","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"title","value":"Captain"}]}},
		{"method":"POST","path":"/Users","bulkId":"bad","data":{"userName":42}},
		{"method":"DELETE","path":"/Users/123456789"}
	]}`)
	if status != http.StatusOK {
		t.Fatalf("bulk: %d %v", status, out)
	}
	if fmt.Sprint(out["schemas"]) != "[urn:ietf:params:scim:api:messages:2.0:BulkResponse]" {
		t.Errorf("schemas %v", out["schemas"])
	}
	ops := bulkOps(t, out)
	want := []struct{ method, bulkID, status string }{
		{"POST", "crew", "201"}, {"POST", "ann", "201"}, {"POST", "ben", "201"}, {"PATCH", "", "200"}, {"POST", "bad", "400"}, {"DELETE", "", "404"},
	}
	if len(ops) != len(want) {
		t.Fatalf("%d results: %v", len(ops), ops)
	}
	ids := map[string]string{}
	for i, w := range want {
		o := ops[i]
		if o["method"] != w.method || fmt.Sprint(o["bulkId"]) != fmt.Sprint(map[bool]any{true: w.bulkID, false: nil}[w.bulkID != ""]) || o["status"] != w.status {
			t.Errorf("operation %d = %v; want %+v", i+1, o, w)
		}
		loc, _ := o["location"].(string)
		if w.status < "300" {
			if !strings.HasPrefix(loc, srv.url+"/scim/v2/") || o["version"] == nil || o["response"] != nil {
				t.Errorf("operation %d: location %q version %v response %v", i+1, loc, o["version"], o["response"])
			}
			ids[w.bulkID] = loc[strings.LastIndex(loc, "/")+1:]
		} else if r, _ := o["response"].(map[string]any); r == nil || r["status"] != w.status {
			t.Errorf("operation %d: a failure must carry its response: %v", i+1, o)
		}
	}
	if r := ops[4]["response"].(map[string]any); r["scimType"] != "invalidValue" {
		t.Errorf("bad POST response %v", r)
	}
	// location is required for every operation but a failed POST (RFC 7644 §3.7.3).
	if ops[4]["location"] != nil || ops[5]["location"] != srv.url+"/scim/v2/Users/123456789" {
		t.Errorf("locations of failures: POST %v, DELETE %v", ops[4]["location"], ops[5]["location"])
	}
	gid, _ := strconv.ParseInt(ids["crew"], 10, 64)
	members := tb.sim.Members(gid)
	slices.Sort(members)
	var wantMembers []int64
	for _, k := range []string{"ann", "ben"} {
		id, _ := strconv.ParseInt(ids[k], 10, 64)
		wantMembers = append(wantMembers, id)
	}
	slices.Sort(wantMembers)
	if !slices.Equal(members, wantMembers) {
		t.Errorf("Domo group members %v; want %v", members, wantMembers)
	}
	_, ann := srv.do(http.MethodGet, "/scim/v2/Users/"+ids["ann"], "")
	if ann["title"] != "Captain" {
		t.Errorf("ann after the bulk PATCH: %v", ann)
	}
}

// Each operation of a bulk request gets exactly what it would get alone: the same Domo calls
// and the same audit entries.
func TestBulkOperationsAsAlone(t *testing.T) {
	type op struct{ method, path, body string }
	setup := func(t *testing.T) (*testBridge, *scimServer, string) {
		tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 22}), nil)
		srv := serveSCIM(t, tb.b)
		status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"old@example.com","title":"T"}`)
		if status != http.StatusCreated {
			t.Fatalf("seed: %d %v", status, out)
		}
		tb.sim.ResetStats()
		return tb, srv, out["id"].(string)
	}
	ops := func(old string) []op {
		return []op{
			{"POST", "/Users", `{"userName":"new@example.com","title":"N"}`},
			{"PUT", "/Users/" + old, `{"userName":"old@example.com","title":"Put"}`},
			{"PATCH", "/Users/" + old, `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
			{"POST", "/Groups", `{"displayName":"G"}`},
			{"DELETE", "/Users/" + old, ``},
		}
	}
	audit := func(t *testing.T, tb *testBridge) []string {
		evs, err := tb.store.AuditEvents(context.Background(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			call := e.DomoCall
			if i := strings.LastIndex(call, "/"); i > 0 && strings.Trim(call[i+1:], "0123456789") == "" {
				call = call[:i+1] + "{id}"
			}
			out = append(out, strings.Join([]string{e.Token, strings.Fields(e.Operation)[0], call, e.Resource, strings.Join(e.Fields, ","), e.Outcome}, " "))
		}
		slices.Sort(out)
		return out
	}
	// Alone.
	tb1, srv1, old1 := setup(t)
	for _, o := range ops(old1) {
		if o.method == http.MethodDelete {
			if s := srv1.status(o.method, "/scim/v2"+o.path); s != http.StatusNoContent {
				t.Fatalf("DELETE alone: %d", s)
			}
			continue
		}
		if status, out := srv1.do(o.method, "/scim/v2"+o.path, o.body); status >= 300 {
			t.Fatalf("%s %s alone: %d %v", o.method, o.path, status, out)
		}
	}
	aloneCalls := tb1.sim.Stats().ByRoute
	aloneAudit := audit(t, tb1)
	// In one bulk request.
	tb2, srv2, old2 := setup(t)
	var parts []string
	for i, o := range ops(old2) {
		p := fmt.Sprintf(`{"method":%q,"path":%q,"bulkId":"op%d"`, o.method, o.path, i)
		if o.body != "" {
			p += `,"data":` + o.body
		}
		parts = append(parts, p+"}")
	}
	status, out := srv2.do(http.MethodPost, "/scim/v2/Bulk", `{`+bulkSchemas+`,"Operations":[`+strings.Join(parts, ",")+`]}`)
	if status != http.StatusOK {
		t.Fatalf("bulk: %d %v", status, out)
	}
	for i, o := range bulkOps(t, out) {
		if s, _ := strconv.Atoi(fmt.Sprint(o["status"])); s >= 300 {
			t.Fatalf("operation %d: %v", i+1, o)
		}
	}
	bulkCalls := tb2.sim.Stats().ByRoute
	if !maps.Equal(aloneCalls, bulkCalls) {
		t.Errorf("Domo calls alone %v\nin a bulk  %v", aloneCalls, bulkCalls)
	}
	if bulkAudit := audit(t, tb2); !slices.Equal(aloneAudit, bulkAudit) || len(bulkAudit) < 5 {
		t.Errorf("audit alone %q\nin a bulk  %q", aloneAudit, bulkAudit)
	}
	// The operations' audit entries name their own SCIM operation and a request id that
	// names the bulk request.
	evs, _ := tb2.store.AuditEvents(context.Background(), store.AuditFilter{})
	deletes := 0
	for _, e := range evs {
		if strings.HasPrefix(e.Operation, "DELETE /scim/v2/Users/") {
			deletes++
			if !strings.HasSuffix(e.RequestID, ".5") {
				t.Errorf("audit entry of the bulk's fifth operation: request id %q", e.RequestID)
			}
		}
	}
	if deletes != 1 {
		t.Errorf("%d audit entries for the bulk DELETE", deletes)
	}
}

func TestBulkRefusals(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 23}), nil)
	srv := serveSCIM(t, tb.b)
	writes := domoWrites(tb.sim)

	// Circular references: each user names the other; neither is created.
	status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{"Operations":[
		{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"a@example.com","externalId":"bulkId:b"}},
		{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"b@example.com","externalId":"bulkId:a"}},
		{"method":"POST","path":"/Users","bulkId":"self","data":{"userName":"s@example.com","nickName":"bulkId:self"}},
		{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:a"}]}},
		{"method":"POST","path":"/Groups","bulkId":"h","data":{"displayName":"H","members":[{"value":"bulkId:nobody"}]}},
		{"method":"PUT","path":"/Bulk","data":{}},
		{"method":"GET","path":"/Users"}
	]}`)
	if status != http.StatusOK {
		t.Fatalf("bulk: %d %v", status, out)
	}
	ops := bulkOps(t, out)
	for i, want := range []string{"409", "409", "409", "400", "400", "400", "400"} {
		if ops[i]["status"] != want {
			t.Errorf("operation %d: %v; want %s", i+1, ops[i], want)
		}
	}
	if n := domoWrites(tb.sim) - writes; n != 0 {
		t.Errorf("%d Domo writes for refused operations", n)
	}

	// failOnErrors: the request stops after that many failures; later operations do not run
	// and are not reported.
	status, out = srv.do(http.MethodPost, "/scim/v2/Bulk", `{"failOnErrors":1,"Operations":[
		{"method":"POST","path":"/Users","bulkId":"x","data":{"userName":7}},
		{"method":"POST","path":"/Users","bulkId":"y","data":{"userName":"y@example.com"}}
	]}`)
	if ops := bulkOps(t, out); status != http.StatusOK || len(ops) != 1 || ops[0]["status"] != "400" {
		t.Fatalf("failOnErrors: %d %v", status, out)
	}
	if _, ok := tb.index.UserByUserName("y@example.com"); ok {
		t.Fatal("an operation after failOnErrors ran")
	}

	// maxOperations and maxPayloadSize, as ServiceProviderConfig advertises them: 413.
	_, spc := srv.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "")
	b := spc["bulk"].(map[string]any)
	maxOps, _ := strconv.Atoi(fmt.Sprint(b["maxOperations"]))
	maxPayload, _ := strconv.Atoi(fmt.Sprint(b["maxPayloadSize"]))
	if b["supported"] != true || maxOps < 1 || maxPayload < 1 {
		t.Fatalf("bulk in ServiceProviderConfig: %v", b)
	}
	many := strings.TrimSuffix(strings.Repeat(`{"method":"DELETE","path":"/Users/1"},`, maxOps+1), ",")
	if status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{"Operations":[`+many+`]}`); status != http.StatusRequestEntityTooLarge || out["scimType"] != "tooLarge" {
		t.Errorf("past maxOperations: %d %v", status, out)
	}
	big := `{"Operations":[{"method":"POST","path":"/Users","bulkId":"big","data":{"userName":"` + strings.Repeat("x", maxPayload) + `"}}]}`
	if status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", big); status != http.StatusRequestEntityTooLarge || out["scimType"] != "tooLarge" {
		t.Errorf("past maxPayloadSize: %d %v", status, out)
	}
	if status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{"Operations":[{"method":"POST","path":"/Users","bulkId":"d","data":{}},{"method":"POST","path":"/Users","bulkId":"d","data":{}}]}`); status != http.StatusBadRequest {
		t.Errorf("a bulkId given twice: %d %v", status, out)
	}
}

// A Domo throttle in the middle of a bulk request is reported per operation, with its status
// and response; the operations before it stand.
func TestBulkThrottledMidway(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 24, RateWindow: time.Minute})
	tb := buildBridge(t, sim, func(c *domo.Config) { c.MaxAttempts, c.MaxWait = 2, 50*time.Millisecond }, nil)
	tb.t = t
	srv := serveSCIM(t, tb.b)
	sim.SetOptions(func(o *domosim.Options) { o.RateLimit = 1 }) // one more Domo request this minute
	status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{"Operations":[
		{"method":"POST","path":"/Users","bulkId":"one","data":{"userName":"one@example.com"}},
		{"method":"POST","path":"/Users","bulkId":"two","data":{"userName":"two@example.com"}},
		{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"G","members":[{"value":"bulkId:two"}]}}
	]}`)
	if status != http.StatusOK {
		t.Fatalf("bulk: %d %v", status, out)
	}
	ops := bulkOps(t, out)
	if ops[0]["status"] != "201" || ops[1]["status"] != "429" || ops[2]["status"] != "400" {
		t.Fatalf("results %v", ops)
	}
	r := ops[1]["response"].(map[string]any)
	if r["status"] != "429" || fmt.Sprint(r["schemas"]) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
		t.Fatalf("throttled operation's response %v", r)
	}
	if _, ok := sim.UserByEmail("one@example.com"); !ok {
		t.Fatal("the operation before the throttle was lost")
	}
}

// The deprovision breaker counts bulk operations as it counts single requests.
func TestBulkBreaker(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 25}), func(c *Config) { c.BreakerMax = 1 })
	srv := serveSCIM(t, tb.b)
	var ops []string
	for i := range 3 {
		status, out := srv.do(http.MethodPost, "/scim/v2/Users", fmt.Sprintf(`{"userName":"d%d@example.com"}`, i))
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
		ops = append(ops, fmt.Sprintf(`{"method":"PATCH","path":"/Users/%s","data":{"Operations":[{"op":"replace","path":"active","value":false}]}}`, out["id"]))
	}
	status, out := srv.do(http.MethodPost, "/scim/v2/Bulk", `{"Operations":[`+strings.Join(ops, ",")+`]}`)
	if status != http.StatusOK {
		t.Fatalf("bulk: %d %v", status, out)
	}
	got := bulkOps(t, out)
	if got[0]["status"] != "200" || got[1]["status"] != "503" || got[2]["status"] != "503" {
		t.Fatalf("a breaker allowing one deprovision per window: %v", got)
	}
}
