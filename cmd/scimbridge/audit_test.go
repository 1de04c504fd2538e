package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/store"
)

func TestParseWhen(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"", time.Time{}, false},
		{"2025-06-01T08:30:00Z", time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC), false},
		{"2025-06-01T10:30:00+02:00", time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC), false},
		{"2025-06-01", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"-5m", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"2025-13-01", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseWhen(tt.in, now)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// runAudit runs `scimbridge audit` through run() and returns its output.
func runAudit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"scimbridge", "audit"}, args...), func(string) string { return "" }, &out, io.Discard)
	return out.String(), err
}

func decodeAuditLines(t *testing.T, out string) []auditJSON {
	t.Helper()
	var evs []auditJSON
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e auditJSON
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit --json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestAuditCommand drives writes through the bridge, then reads the audit log with
// `scimbridge audit` beside the running bridge: every Domo write, with token, request id,
// SCIM request, Domo call and field names, filterable by time, user, group and token.
func TestAuditCommand(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 10})
	sim.SeedUsers(1)
	b := startBridge(t, sim, map[string]string{
		"SCIMBRIDGE_TOKEN": "okta:" + testToken + ",entra:entra-token-0123456789abcdef",
	})
	state := b.env["SCIMBRIDGE_STATE"]
	before := time.Now()

	created := b.expect("POST", "/scim/v2/Users", map[string]any{
		"userName": "grace@example.com", "name": map[string]any{"givenName": "Grace", "familyName": "Hopper"},
		"emails": []any{map[string]any{"value": "grace@example.com", "primary": true}},
	}, http.StatusCreated)
	uid := created["id"].(string)
	b.expect("PATCH", "/scim/v2/Users/"+uid, map[string]any{
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Rear Admiral"}},
	}, http.StatusOK)
	group := b.expect("POST", "/scim/v2/Groups", map[string]any{"displayName": "Navy"}, http.StatusCreated)
	gid := group["id"].(string)
	b.expect("PATCH", "/scim/v2/Groups/"+gid, map[string]any{
		"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": uid}}}},
	}, http.StatusOK)

	// Entra's token writes once, so the token filter has something to tell apart.
	req, _ := http.NewRequest("PATCH", b.base+"/scim/v2/Users/"+uid, strings.NewReader(`{"Operations":[{"op":"replace","path":"title","value":"Commodore"}]}`))
	req.Header.Set("Authorization", "Bearer entra-token-0123456789abcdef")
	req.Header.Set("X-Request-Id", "entra-req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("entra PATCH: %d", resp.StatusCode)
	}

	out, err := runAudit(t, "--state", state, "--json")
	if err != nil {
		t.Fatal(err)
	}
	all := decodeAuditLines(t, out)
	calls := []string{}
	for _, e := range all {
		calls = append(calls, e.DomoCall)
		if e.Time.Before(before.Add(-time.Second)) || e.Outcome != "ok" || e.RequestID == "" || e.Operation == "" {
			t.Errorf("event %+v", e)
		}
	}
	want := []string{"POST /v1/users", "PUT /v1/users/" + uid, "POST /v1/groups", "PUT /v1/groups/" + gid + "/users/" + uid, "PUT /v1/users/" + uid}
	if strings.Join(calls, " | ") != strings.Join(want, " | ") {
		t.Fatalf("audit calls (oldest first):\n got %v\nwant %v", calls, want)
	}
	if e := all[1]; e.Token != "okta" || e.Operation != "PATCH /scim/v2/Users/"+uid || e.Resource != "User" || e.ResourceID != uid || strings.Join(e.Fields, ",") != "title" {
		t.Fatalf("PATCH event: %+v", e)
	}
	if e := all[4]; e.Token != "entra" || e.RequestID != "entra-req-1" {
		t.Fatalf("entra event: %+v", e)
	}
	if strings.Contains(out, "Rear Admiral") || strings.Contains(out, testToken) {
		t.Fatal("the audit log holds a value or a token")
	}

	filtered := []struct {
		name string
		args []string
		want []string
	}{
		{"user, memberships included", []string{"--user", uid}, []string{"POST /v1/users", "PUT /v1/users/" + uid, "PUT /v1/groups/" + gid + "/users/" + uid, "PUT /v1/users/" + uid}},
		{"group", []string{"--group", gid}, []string{"POST /v1/groups", "PUT /v1/groups/" + gid + "/users/" + uid}},
		{"token", []string{"--token", "entra"}, []string{"PUT /v1/users/" + uid}},
		{"user and token", []string{"--user", uid, "--token", "okta", "--limit", "2"}, []string{"PUT /v1/users/" + uid, "PUT /v1/groups/" + gid + "/users/" + uid}},
		{"newest two", []string{"--limit", "2"}, []string{"PUT /v1/groups/" + gid + "/users/" + uid, "PUT /v1/users/" + uid}},
		{"since the future", []string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
		{"until before the start", []string{"--until", before.Add(-time.Minute).UTC().Format(time.RFC3339)}, nil},
		{"since an age", []string{"--since", "1h", "--token", "entra"}, []string{"PUT /v1/users/" + uid}},
	}
	for _, tt := range filtered {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runAudit(t, append([]string{"--state", state, "--json"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range decodeAuditLines(t, out) {
				got = append(got, e.DomoCall)
			}
			if strings.Join(got, " | ") != strings.Join(tt.want, " | ") {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}

	// The table a person reads.
	table, err := runAudit(t, "--state", state, "--user", uid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, "TIME (UTC)") || !strings.Contains(table, "PATCH /scim/v2/Users/"+uid) || !strings.Contains(table, "entra-req-1") || strings.Count(table, "\n") != 5 {
		t.Fatalf("table:\n%s", table)
	}
	if none, _ := runAudit(t, "--state", state, "--token", "nobody"); !strings.Contains(none, "no audit events match") {
		t.Fatalf("empty table: %q", none)
	}
}

func TestAuditCommandErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no state file", []string{"--state", missing}, "missing.db"},
		{"bad time", []string{"--state", missing, "--since", "soon"}, "--since"},
		{"bad user", []string{"--state", missing, "--user", "bob@example.com"}, "--user"},
		{"user and group", []string{"--state", missing, "--user", "1", "--group", "2"}, "exclude"},
		{"zero limit", []string{"--state", missing, "--limit", "0"}, "--limit"},
		{"since after until", []string{"--state", missing, "--since", "2025-06-02", "--until", "2025-06-01"}, "before --until"},
		{"stray argument", []string{"--state", missing, "extra"}, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runAudit(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("audit created a state file")
	}
}

// TestAuditScanPages: a user filter scans page by page; events sharing an instant across a
// page boundary are neither lost nor repeated.
func TestAuditScanPages(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := 0; i < 40; i++ {
		// Three events per instant; every fourth event is user 7's.
		e := store.AuditEvent{Time: base.Add(time.Duration(i/3) * time.Second), Token: "okta", RequestID: fmt.Sprint(i),
			DomoCall: fmt.Sprintf("PUT /v1/users/%d", 100+i), Resource: "User", ResourceID: fmt.Sprint(100 + i), Outcome: "ok"}
		if i%4 == 0 {
			e.DomoCall, e.ResourceID = "PUT /v1/users/7", "7"
			want = append(want, fmt.Sprint(i))
		}
		if err := st.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, page := range []int{1, 2, 3, 4, 7, 1000} {
		evs, err := auditEvents(ctx, st, auditOptions{user: "7", limit: 100, page: page})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append([]string{e.RequestID}, got...) // newest first -> oldest first
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("page %d: got %v, want %v", page, got, want)
		}
	}
}

// TestAuditNonDomoEvents: events without a Domo call (an operator's switch, a deactivation
// under mark, a refused deprovision) are listed like writes, with "-" for the Domo call, found
// by user and token, and kept empty in JSON.
func TestAuditNonDomoEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.AuditEvent{
		{Token: "oncall", RequestID: "r1", Operation: "POST /admin/v1/pause", Resource: "Bridge", Fields: []string{"paused"}, Outcome: "ok: INC-42"},
		{Token: "okta", RequestID: "r2", Operation: "PATCH /Users/77", Resource: "User", ResourceID: "77", Fields: []string{"active"}, Outcome: "ok"},
		{Token: "okta", RequestID: "r3", Operation: "PATCH /Users/78", Resource: "User", ResourceID: "78", Fields: []string{"active"}, Outcome: "refused: breaker open"},
	} {
		if err := st.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, err := runAudit(t, "--state", path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s\nwant a header and 3 events", out)
	}
	if f := strings.Fields(lines[1]); len(f) < 8 || f[2] != "oncall" || f[6] != "-" || f[8] != "ok:" {
		t.Errorf("pause row = %q, want token oncall and Domo call -", lines[1])
	}
	out, err = runAudit(t, "--state", path, "--user", "78", "--json")
	if err != nil {
		t.Fatal(err)
	}
	evs := decodeAuditLines(t, out)
	if len(evs) != 1 || evs[0].RequestID != "r3" || evs[0].DomoCall != "" || evs[0].Outcome != "refused: breaker open" {
		t.Errorf("--user 78 = %+v, want the refused deprovision with an empty domoCall", evs)
	}
	out, err = runAudit(t, "--state", path, "--token", "oncall", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if evs := decodeAuditLines(t, out); len(evs) != 1 || evs[0].Operation != "POST /admin/v1/pause" {
		t.Errorf("--token oncall = %+v, want the pause", evs)
	}
}
