package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
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
	scimBase := fzStart(f)
	uid, gid := fzSetUp(f, scimBase)
	f.Fuzz(func(t *testing.T, m uint8, target string, body []byte) {
		target = strings.NewReplacer("{uid}", uid, "{gid}", gid).Replace(target)
		raw := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("{uid}"), []byte(uid)), []byte("{gid}"), []byte(gid))
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		method := fzMethods[int(m)%len(fzMethods)]
		req, err := http.NewRequest(method, scimBase+target, bytes.NewReader(raw))
		if err != nil {
			return // not a request a client can send
		}
		// A client would escape what the request line cannot carry; unescaped, Go's HTTP server
		// answers 400 before the bridge sees the request.
		req.URL.RawQuery = fzEscape(req.URL.RawQuery)
		req.Header.Set("Authorization", "Bearer "+fzToken)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
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

// fzToken is the fuzzed bridge's provisioning token.
const fzToken = "scimbridge-fuzz-token-0123456789"

// fzStart runs serve's bridge in front of a seeded simulator for the whole fuzz run and
// returns its SCIM base URL once it is ready. The breaker is off and the budget unbounded:
// fuzzed deactivations must not turn into deliberate 503s.
func fzStart(f *testing.F) string {
	f.Helper()
	sim := domosim.New(domosim.Options{Seed: 11})
	sim.SeedUsers(3)
	simSrv := httptest.NewServer(sim)
	f.Cleanup(simSrv.Close)
	opts := sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR":               "127.0.0.1:0",
		"SCIMBRIDGE_TOKEN":              "fuzz:" + fzToken,
		"SCIMBRIDGE_DOMO_API_URL":       simSrv.URL,
		"SCIMBRIDGE_DOMO_CLIENT_ID":     opts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret,
		"SCIMBRIDGE_STATE":              filepath.Join(f.TempDir(), "state.db"),
		"SCIMBRIDGE_BREAKER_MAX":        "0",
		"SCIMBRIDGE_DOMO_RATE_LIMIT":    "1000000",
	}
	cfg, err := loadConfig("serve", nil, func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		done <- serveWith(ctx, cfg, newLogger(cfg, io.Discard), io.Discard, func(a string) { addr <- a })
	}()
	f.Cleanup(func() { cancel(); <-done })
	var base string
	select {
	case base = <-addr:
	case err := <-done:
		f.Fatalf("bridge exited: %v", err)
	case <-time.After(30 * time.Second):
		f.Fatal("bridge did not listen")
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base + "/scim/v2"
			}
		}
		if time.Now().After(deadline) {
			f.Fatal("bridge never became ready")
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness wait
	}
}

// fzSetUp creates the user and the group that {uid} and {gid} name.
func fzSetUp(f *testing.F, scimBase string) (uid, gid string) {
	f.Helper()
	post := func(path string, body map[string]any) map[string]any {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, scimBase+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+fzToken)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
			f.Fatalf("POST %s = %d %v %v", path, resp.StatusCode, out, err)
		}
		return out
	}
	u := post("/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "fuzz.target@load.example",
		"name": map[string]any{"givenName": "Fuzz", "familyName": "Target"}, "active": true,
	})
	g := post("/Groups", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Fuzz Team", "members": []any{map[string]any{"value": u["id"]}},
	})
	uid, _ = u["id"].(string)
	gid, _ = g["id"].(string)
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
