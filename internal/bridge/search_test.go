package bridge

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// Issue 12, search: POST /.search at the root searches every resource type (RFC 7644 §3.4.3),
// and .search is matched case-insensitively like the other routes.
func TestRootSearch(t *testing.T) {
	tb := newTestBridge(t, domosim.New(domosim.Options{Seed: 9}), nil)
	srv := serveSCIM(t, tb.b)
	for _, u := range []string{"zed", "amy", "Team"} {
		if status, out := srv.do(http.MethodPost, "/scim/v2/Users", `{"userName":"`+u+`@example.com","displayName":"`+u+`"}`); status != http.StatusCreated {
			t.Fatalf("create user: %d %v", status, out)
		}
	}
	for _, g := range []string{"Team", "Crew"} {
		if status, out := srv.do(http.MethodPost, "/scim/v2/Groups", `{"displayName":"`+g+`"}`); status != http.StatusCreated {
			t.Fatalf("create group: %d %v", status, out)
		}
	}
	types := func(out map[string]any) []string {
		var ts []string
		for _, r := range out["Resources"].([]any) {
			ts = append(ts, fmt.Sprint(r.(map[string]any)["meta"].(map[string]any)["resourceType"]))
		}
		return ts
	}
	names := func(out map[string]any) []string {
		var ns []string
		for _, r := range out["Resources"].([]any) {
			ns = append(ns, fmt.Sprint(r.(map[string]any)["displayName"]))
		}
		return ns
	}
	before := tb.sim.Stats().Requests
	cases := []struct {
		name, path, body string
		total            string
		types            []string
		names            []string
	}{
		{"everything", "/scim/v2/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`, "5",
			[]string{"User", "User", "User", "Group", "Group"}, nil},
		{"a User attribute finds Users only", "/scim/v2/.search", `{"filter":"userName sw \"amy\""}`, "1", []string{"User"}, []string{"amy"}},
		{"a common attribute finds both", "/scim/v2/.SEARCH", `{"filter":"displayName eq \"team\""}`, "2", []string{"User", "Group"}, []string{"Team", "Team"}},
		{"by resource type", "/scim/v2/.search", `{"filter":"meta.resourceType eq \"Group\""}`, "2", []string{"Group", "Group"}, nil},
		{"paged across types", "/scim/v2/.search", `{"startIndex":3,"count":2}`, "5", []string{"User", "Group"}, nil},
		{"sorted across types", "/scim/v2/.search", `{"sortBy":"displayName","attributes":["displayName","meta.resourceType"]}`, "5",
			[]string{"User", "Group", "User", "Group", "User"}, []string{"amy", "Crew", "Team", "Team", "zed"}},
		{"sortBy only Users have: Groups last", "/scim/v2/.search", `{"sortBy":"userName","count":4}`, "5",
			[]string{"User", "User", "User", "Group"}, []string{"amy", "Team", "zed", "Team"}},
		{"and first when descending", "/scim/v2/.search", `{"sortBy":"userName","sortOrder":"descending","count":3}`, "5",
			[]string{"Group", "Group", "User"}, []string{"Team", "Crew", "zed"}},
		{"resource .search in another case", "/scim/v2/users/.SEARCH", `{"filter":"userName pr"}`, "3", []string{"User", "User", "User"}, nil},
	}
	for _, c := range cases {
		status, out := srv.do(http.MethodPost, c.path, c.body)
		if status != http.StatusOK || fmt.Sprint(out["totalResults"]) != c.total || !slices.Equal(types(out), c.types) ||
			c.names != nil && !slices.Equal(names(out), c.names) {
			t.Errorf("%s: %d total %v types %v names %v; want %s %v %v", c.name, status, out["totalResults"], types(out), names(out), c.total, c.types, c.names)
		}
	}
	if status, out := srv.do(http.MethodPost, "/scim/v2/.search", `{"filter":"nosuch eq 1"}`); status != http.StatusBadRequest || out["scimType"] != "invalidFilter" {
		t.Errorf("unknown attribute: %d %v", status, out)
	}
	if status, out := srv.do(http.MethodPost, "/scim/v2/.search", `{"cursor":""}`); status != http.StatusBadRequest || out["scimType"] != "invalidValue" {
		t.Errorf("cursor at the root: %d %v", status, out)
	}
	if n := tb.sim.Stats().Requests - before; n != 0 {
		t.Errorf("searches made %d Domo calls", n)
	}
}
