package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fzMethods are the methods a fuzzed request may use.
var fzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fzFilters are filters IdPs and test suites send, for GET seeds.
var fzFilters = []string{
	`userName eq "ada@example.com"`, `userName eq "ADA@EXAMPLE.COM"`, `externalId eq jyoung`,
	`emails[type eq "work"].value eq "ada@example.com"`, `displayName eq "Team"`,
	`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
	`userName sw O`, `meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, `id eq "{uid}"`,
	`members[value eq "{uid}"]`, `not (active eq false)`, `title pr`, `userName eq`,
}

// FuzzSCIMRequest sends any method, path and body to a running bridge in front of the Domo
// simulator (the full stack: routing, auth, decoding, filters, PATCH, mapping, the Domo
// client): whatever the input, the answer is never a 500 (or another 5xx but 501), and every
// error is a SCIM error whose status string matches the HTTP status. {uid} and {gid} in the
// path or body stand for a user and a group that exist when the run starts.
func FuzzSCIMRequest(f *testing.F) {
	for _, s := range fzSeeds(f) {
		f.Add(s.method, s.target, s.body)
	}
	ctx := context.Background()
	r, err := startLoad(ctx, loadOptions{
		users: 1, groups: 1, seedUsers: 3, concurrency: 2, deprovision: "mark",
		seed: 11, attempts: 1, maxRetryWait: time.Second, timeout: time.Hour,
	}, noEnv)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(r.close)
	uid, gid := fzSetUp(f, r)
	f.Fuzz(func(t *testing.T, m uint8, target string, body []byte) {
		target = strings.NewReplacer("{uid}", uid, "{gid}", gid).Replace(target)
		raw := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("{uid}"), []byte(uid)), []byte("{gid}"), []byte(gid))
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		method := fzMethods[int(m)%len(fzMethods)]
		req, err := http.NewRequest(method, r.d.scim+target, bytes.NewReader(raw))
		if err != nil {
			return // not a request a client can send
		}
		// A client would escape what the request line cannot carry; unescaped, Go's HTTP server
		// answers 400 before the bridge sees the request.
		req.URL.RawQuery = fzEscape(req.URL.RawQuery)
		req.Header.Set("Authorization", "Bearer "+loadToken)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := r.d.hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: no answer: %v", method, target, err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the answer: %v", method, target, err)
		}
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s %s with body %q answered %d: %s", method, target, raw, resp.StatusCode, answer)
		}
		if resp.StatusCode < 400 {
			return
		}
		var e struct {
			Schemas []string `json:"schemas"`
			Status  string   `json:"status"`
		}
		if err := json.Unmarshal(answer, &e); err != nil || e.Status != strconv.Itoa(resp.StatusCode) ||
			!slices.Contains(e.Schemas, "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Fatalf("%s %s answered %d with %q; want a SCIM error with status %q", method, target, resp.StatusCode, answer, strconv.Itoa(resp.StatusCode))
		}
	})
}

type fzSeed struct {
	method uint8
	target string
	body   []byte
}

func fzMethod(name string) uint8 { return uint8(slices.Index(fzMethods, name)) }

// fzSeeds are the recorded Okta, Entra and Microsoft-collection bodies of internal/scim's
// testdata aimed at the endpoints they were sent to, plus the IdPs' filters.
func fzSeeds(f *testing.F) []fzSeed {
	var seeds []fzSeed
	read := func(dir string) map[string][]byte {
		files, err := filepath.Glob(filepath.Join("..", "..", "internal", "scim", "testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			f.Fatalf("no seed bodies in internal/scim/testdata/%s (%v)", dir, err)
		}
		out := map[string][]byte{}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			out[filepath.Base(name)] = b
		}
		return out
	}
	for name, b := range read("decode") {
		resource, id := "Users", "{uid}"
		if strings.Contains(name, "group") {
			resource, id = "Groups", "{gid}"
		}
		if strings.Contains(name, "-put-") {
			seeds = append(seeds, fzSeed{fzMethod(http.MethodPut), "/" + resource + "/" + id, b})
		} else {
			seeds = append(seeds, fzSeed{fzMethod(http.MethodPost), "/" + resource, b})
		}
	}
	for name, b := range read("patch") {
		target := "/Users/{uid}"
		if strings.Contains(name, "group") {
			target = "/Groups/{gid}"
		}
		seeds = append(seeds, fzSeed{fzMethod(http.MethodPatch), target, b})
	}
	for _, flt := range fzFilters {
		for _, resource := range []string{"Users", "Groups"} {
			seeds = append(seeds, fzSeed{fzMethod(http.MethodGet), "/" + resource + "?filter=" + strings.ReplaceAll(flt, " ", "%20"), nil})
		}
	}
	seeds = append(seeds,
		fzSeed{fzMethod(http.MethodGet), "/Users?startIndex=0&count=-1&attributes=emails[type eq \"work\"]", nil},
		fzSeed{fzMethod(http.MethodGet), "/Users/{uid}?excludedAttributes=members,name.givenName", nil},
		fzSeed{fzMethod(http.MethodGet), "/Groups/{gid}?attributes=members.value", nil},
		fzSeed{fzMethod(http.MethodGet), "/users/00919288221112222", nil},
		fzSeed{fzMethod(http.MethodDelete), "/Groups/99999999999999999999", nil},
		fzSeed{fzMethod(http.MethodPost), "/Users/.search", []byte(`{"filter":"userName sw \"a\"","startIndex":1,"count":2}`)},
		fzSeed{fzMethod(http.MethodPut), "/Groups/{gid}", []byte(`{"displayName":"Team {gid}","members":[{"value":"{uid}"}]}`)},
		fzSeed{fzMethod(http.MethodPost), "/.search", []byte(`{"filter":"displayName pr","sortBy":"displayName","startIndex":2,"count":3}`)},
		fzSeed{fzMethod(http.MethodGet), "/Users?cursor=&count=1&sortBy=userName", nil},
		fzSeed{fzMethod(http.MethodPost), "/Bulk", []byte(`{"failOnErrors":2,"Operations":[` +
			`{"method":"POST","path":"/Users","bulkId":"b1","data":{"userName":"bulk.fuzz@example.com"}},` +
			`{"method":"PATCH","path":"/Groups/{gid}","data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:b1"}]}]}},` +
			`{"method":"PUT","path":"/Users/bulkId:b2","data":{"userName":"x"}},` +
			`{"method":"DELETE","path":"/Users/bulkId:b1"}]}`)},
	)
	return seeds
}

// fzSetUp creates the user and the group that {uid} and {gid} name.
func fzSetUp(f *testing.F, r *loadRun) (uid, gid string) {
	ctx := context.Background()
	u, err := r.d.do(ctx, "POST /Users", http.MethodPost, "/Users", map[string]any{
		"schemas": []string{urnUser}, "userName": "fuzz.target@" + loadDomain,
		"name": map[string]any{"givenName": "Fuzz", "familyName": "Target"}, "active": true,
	})
	if err != nil || u.status != http.StatusCreated {
		f.Fatalf("create the fuzz user: %d %v", u.status, err)
	}
	g, err := r.d.do(ctx, "POST /Groups", http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{urnGroup}, "displayName": "Fuzz Team", "members": []any{map[string]any{"value": u.body["id"]}},
	})
	if err != nil || g.status != http.StatusCreated {
		f.Fatalf("create the fuzz group: %d %v", g.status, err)
	}
	uid, _ = u.body["id"].(string)
	gid, _ = g.body["id"].(string)
	return uid, gid
}

// fzEscape percent-encodes the bytes a request line cannot carry.
func fzEscape(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
