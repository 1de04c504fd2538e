package bridge

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Issue 12, cursor pagination (RFC 9865) on /Users and /Groups, over HTTP through the real
// handler and bridge: keyset pages stable under concurrent writes, answered from the index.

func (s *scimServer) cursorPage(path string) (ids []string, next, prev string, total int) {
	s.t.Helper()
	status, out := s.do(http.MethodGet, path, "")
	if status != http.StatusOK {
		s.t.Fatalf("GET %s: %d %v", path, status, out)
	}
	if _, has := out["startIndex"]; has {
		s.t.Fatalf("GET %s: startIndex in a cursor answer: %v", path, out)
	}
	for _, r := range out["Resources"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	if n := fmt.Sprint(out["itemsPerPage"]); n != fmt.Sprint(len(ids)) {
		s.t.Fatalf("itemsPerPage %s for %d resources", n, len(ids))
	}
	next, _ = out["nextCursor"].(string)
	prev, _ = out["previousCursor"].(string)
	for _, c := range []string{next, prev} {
		if strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
			s.t.Fatalf("cursor %q has characters outside RFC 3986's unreserved set", c)
		}
	}
	fmt.Sscan(fmt.Sprint(out["totalResults"]), &total)
	return ids, next, prev, total
}

func TestCursorPagination(t *testing.T) {
	tb := seededBridge(t, 9, nil)
	srv := serveSCIM(t, tb.b)
	all := srv.list(http.MethodGet, "/scim/v2/Users?startIndex=1&count=100", "").ids
	if len(all) != 9 {
		t.Fatalf("%d users", len(all))
	}
	before := tb.sim.Stats().Requests

	// The first page: no previousCursor.
	p1, next, prev, total := srv.cursorPage("/scim/v2/Users?cursor=&count=3")
	if !slices.Equal(p1, all[:3]) || next == "" || prev != "" || total != 9 {
		t.Fatalf("first page %v next %q prev %q total %d; want %v", p1, next, prev, total, all[:3])
	}
	// A user of the first page is deleted meanwhile: an offset would now skip all[3].
	if status := srv.status(http.MethodDelete, "/scim/v2/Users/"+all[0]); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", status)
	}
	domoBefore := tb.sim.Stats().Requests
	p2, next2, prev2, total := srv.cursorPage("/scim/v2/Users?count=3&cursor=" + next)
	if !slices.Equal(p2, all[3:6]) || next2 == "" || prev2 == "" || total != 8 {
		t.Fatalf("second page %v (total %d); want %v", p2, total, all[3:6])
	}
	// previousCursor: the page right before this one's first user.
	back, _, backPrev, _ := srv.cursorPage("/scim/v2/Users?count=3&cursor=" + prev2)
	if !slices.Equal(back, all[1:3]) || backPrev != "" {
		t.Fatalf("previous page %v prev %q; want %v and no previousCursor", back, backPrev, all[1:3])
	}
	p3, next3, _, _ := srv.cursorPage("/scim/v2/Users?count=3&cursor=" + next2)
	if !slices.Equal(p3, all[6:9]) || next3 != "" {
		t.Fatalf("last page %v next %q; want %v and no nextCursor", p3, next3, all[6:9])
	}
	if n := tb.sim.Stats().Requests - domoBefore; n != 0 {
		t.Fatalf("cursor pages made %d Domo calls", n)
	}
	_ = before

	// A filtered, sorted listing by cursor: the same users, in the same order, as by index.
	q := "filter=" + url.QueryEscape(`userName pr`) + "&sortBy=userName&sortOrder=descending"
	want := srv.list(http.MethodGet, "/scim/v2/Users?count=100&"+q, "").ids
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("no end")
		}
		ids, next, _, _ := srv.cursorPage("/scim/v2/Users?count=2&" + q + "&cursor=" + cursor)
		got = append(got, ids...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || len(got) != 8 {
		t.Fatalf("sorted by cursor %v; by index %v", got, want)
	}
	// The same through POST /.search.
	status, out := srv.do(http.MethodPost, "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":2,"cursor":""}`)
	if status != http.StatusOK || out["nextCursor"] == nil || out["startIndex"] != nil {
		t.Fatalf(".search with a cursor: %d %v", status, out)
	}
	status, out = srv.do(http.MethodPost, "/scim/v2/Users/.search", `{"count":2,"cursor":"`+out["nextCursor"].(string)+`"}`)
	if ids := resourceIDs(out); status != http.StatusOK || !slices.Equal(ids, all[3:5]) {
		t.Fatalf(".search second page: %d %v; want %v", status, ids, all[3:5])
	}

	// Index paging is unchanged: startIndex, no cursors.
	status, out = srv.do(http.MethodGet, "/scim/v2/Users?startIndex=2&count=2", "")
	if status != http.StatusOK || fmt.Sprint(out["startIndex"]) != "2" || out["nextCursor"] != nil || !slices.Equal(resourceIDs(out), all[2:4]) {
		t.Fatalf("index page: %d %v", status, out)
	}

	// Groups.
	for _, name := range []string{"G1", "G2", "G3"} {
		if status, out := srv.do(http.MethodPost, "/scim/v2/Groups", `{"displayName":"`+name+`"}`); status != http.StatusCreated {
			t.Fatalf("create group: %d %v", status, out)
		}
	}
	g1, gnext, _, gtotal := srv.cursorPage("/scim/v2/Groups?count=2&cursor=")
	g2, gnext2, _, _ := srv.cursorPage("/scim/v2/Groups?count=2&cursor=" + gnext)
	if len(g1) != 2 || len(g2) != 1 || gtotal != 3 || gnext2 != "" || slices.Contains(g1, g2[0]) {
		t.Fatalf("group pages %v %v (total %d)", g1, g2, gtotal)
	}
}

// status sends a request without a body and returns the status only.
func (s *scimServer) status(method, path string) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func resourceIDs(out map[string]any) []string {
	var ids []string
	rs, _ := out["Resources"].([]any)
	for _, r := range rs {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

func TestCursorErrors(t *testing.T) {
	tb := seededBridge(t, 4, nil)
	srv := serveSCIM(t, tb.b)
	// ServiceProviderConfig advertises both methods (RFC 9865 §4), index by default.
	_, spc := srv.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "")
	p, _ := spc["pagination"].(map[string]any)
	if p["cursor"] != true || p["index"] != true || p["defaultPaginationMethod"] != "index" ||
		fmt.Sprint(p["maxPageSize"]) != "500" || fmt.Sprint(p["cursorTimeout"]) != "3600" {
		t.Fatalf("pagination in ServiceProviderConfig: %v", spc["pagination"])
	}
	_, next, _, _ := srv.cursorPage("/scim/v2/Users?count=1&cursor=")
	forged := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	raw, _ := base64.RawURLEncoding.DecodeString(next)
	expired := strings.Replace(string(raw), `"at":`, `"at":1,"x":`, 1)
	cases := []struct {
		name, path, typ string
	}{
		{"garbage", "/scim/v2/Users?cursor=not-a-cursor", "invalidCursor"},
		{"not JSON", "/scim/v2/Users?cursor=" + forged("{"), "invalidCursor"},
		{"another query", "/scim/v2/Users?cursor=" + next + "&filter=" + url.QueryEscape(`userName pr`), "invalidCursor"},
		{"another resource type", "/scim/v2/Groups?cursor=" + next, "invalidCursor"},
		{"expired", "/scim/v2/Users?cursor=" + forged(expired), "expiredCursor"},
		{"with startIndex", "/scim/v2/Users?startIndex=1&cursor=" + next, "invalidValue"},
	}
	for _, c := range cases {
		status, out := srv.do(http.MethodGet, c.path, "")
		if status != http.StatusBadRequest || out["scimType"] != c.typ || out["status"] != "400" {
			t.Errorf("%s: %d %v; want 400 %s", c.name, status, out, c.typ)
		}
	}
}
