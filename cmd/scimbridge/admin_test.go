package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

const adminToken = "admin-token-0123456789abcdef"

// runAdmin runs an admin command through run() with the given environment.
func runAdmin(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"scimbridge"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), err
}

func deactivate(id string) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	}
}

// TestAdminCommands drives a running bridge with `scimbridge pause/status/resume/breaker-reset`
// the way an operator would during an incident.
func TestAdminCommands(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 11})
	sim.SeedUsers(3)
	b := startBridge(t, sim, map[string]string{
		"SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken,
		"SCIMBRIDGE_BREAKER_MAX": "1",
	})
	// The operator's environment: the same variable as the bridge's, name included.
	env := map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base, "SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken}
	newUser := map[string]any{"userName": "lin@example.com", "name": map[string]any{"givenName": "Lin", "familyName": "Ng"}}

	out, err := runAdmin(t, env, "status")
	if err != nil || !strings.Contains(out, "paused    no") || !strings.Contains(out, "breaker   closed: 0 of 1") || !strings.Contains(out, "3 users") {
		t.Fatalf("status: %v\n%s", err, out)
	}

	// Pause: writes get 503 + Retry-After, reads go on.
	out, err = runAdmin(t, env, "pause", "--reason", "INC-42 wrong Okta group assigned")
	if err != nil || !strings.Contains(out, "provisioning paused") || !strings.Contains(out, "YES since") || !strings.Contains(out, "INC-42") {
		t.Fatalf("pause: %v\n%s", err, out)
	}
	status, body, hdr := b.do("POST", "/scim/v2/Users", newUser)
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || body["status"] != "503" {
		t.Fatalf("write while paused: %d %v %v", status, body, hdr)
	}
	b.expect("GET", "/scim/v2/Users?count=1", nil, http.StatusOK)
	out, err = runAdmin(t, env, "status", "--json")
	var st map[string]any
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st["paused"] != true || st["pauseReason"] != "INC-42 wrong Okta group assigned" {
		t.Fatalf("status --json: %v\n%s", err, out)
	}

	// Resume: the IdP's retry goes through.
	out, err = runAdmin(t, env, "resume")
	if err != nil || !strings.Contains(out, "provisioning resumed") || !strings.Contains(out, "paused    no") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	b.expect("POST", "/scim/v2/Users", newUser, http.StatusCreated)

	// The breaker: one deprovision allowed, the second halted until an operator resets it.
	list := b.expect("GET", "/scim/v2/Users?count=2", nil, http.StatusOK)["Resources"].([]any)
	first, second := list[0].(map[string]any)["id"].(string), list[1].(map[string]any)["id"].(string)
	b.expect("PATCH", "/scim/v2/Users/"+first, deactivate(first), http.StatusOK)
	if status, body, hdr := b.do("PATCH", "/scim/v2/Users/"+second, deactivate(second)); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("second deprovision: %d %v", status, body)
	}
	out, err = runAdmin(t, env, "status")
	if err != nil || !strings.Contains(out, "breaker   OPEN since") {
		t.Fatalf("status with the breaker open: %v\n%s", err, out)
	}
	out, err = runAdmin(t, env, "breaker-reset")
	if err != nil || !strings.Contains(out, "breaker reset") || !strings.Contains(out, "breaker   closed") {
		t.Fatalf("breaker-reset: %v\n%s", err, out)
	}
	b.expect("PATCH", "/scim/v2/Users/"+second, deactivate(second), http.StatusOK)

	// The operator's token from a file; its secret never shows in the bridge's log.
	tokFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runAdmin(t, map[string]string{}, "status", "--url", b.base, "--token-file", tokFile); err != nil || !strings.Contains(out, "bridge    "+b.base) {
		t.Fatalf("status with --token-file: %v\n%s", err, out)
	}
	if strings.Contains(b.stderr.String(), adminToken) {
		t.Fatal("the operator token reached the log")
	}
	if len(logLines(t, b, "token", "oncall")) < 5 {
		t.Fatal("the access log does not name the operator token")
	}
}

func TestAdminCommandErrors(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 12})
	sim.SeedUsers(1)
	b := startBridge(t, sim, map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": adminToken})
	closed := httpURLOfClosedPort(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base}, []string{"pause"}, "no operator token"},
		{"IdP token cannot pause", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base, "SCIMBRIDGE_ADMIN_TOKEN": testToken}, []string{"pause"}, "403"},
		{"wrong token", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base, "SCIMBRIDGE_ADMIN_TOKEN": "wrong-token-0123456789abcdef"}, []string{"status"}, "401"},
		{"bridge not there", map[string]string{"SCIMBRIDGE_ADMIN_URL": closed, "SCIMBRIDGE_ADMIN_TOKEN": adminToken}, []string{"status"}, "cannot reach the bridge"},
		{"SCIM URL instead of the base", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base + "/scim/v2", "SCIMBRIDGE_ADMIN_TOKEN": adminToken}, []string{"status"}, "without /scim/v2"},
		{"bad URL", map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": adminToken}, []string{"status", "--url", "127.0.0.1:8080"}, "must be an http(s) URL"},
		{"missing token file", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base}, []string{"resume", "--token-file", filepath.Join(t.TempDir(), "nope")}, "operator token"},
		{"reason is pause's only", map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base, "SCIMBRIDGE_ADMIN_TOKEN": adminToken}, []string{"resume", "--reason", "x"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runAdmin(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, secret := range []string{adminToken, testToken, "wrong-token-0123456789abcdef"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks a token: %v", err)
				}
			}
		})
	}
	// None of the refused calls changed anything.
	if out, err := runAdmin(t, map[string]string{"SCIMBRIDGE_ADMIN_URL": b.base, "SCIMBRIDGE_ADMIN_TOKEN": adminToken}, "status"); err != nil || !strings.Contains(out, "paused    no") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// httpURLOfClosedPort is a loopback URL nothing listens on.
func httpURLOfClosedPort(t *testing.T) string {
	t.Helper()
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
