package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// A bridge's SQLite state moves into PostgreSQL with migrate-state, and a bridge on the
// database then serves what only the state held (an externalId, a deactivation) and shows the
// old audit log. The password never shows; a second move into the same database is refused.
func TestMigrateState(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 6})
	file := filepath.Join(t.TempDir(), "state.db")
	old := launchBridge(t, sim, bridgeOptions{env: map[string]string{"SCIMBRIDGE_STATE": file}})
	created := old.expect("POST", "/scim/v2/Users", `{"userName":"moved@example.com","externalId":"okta-00u1","active":true}`, http.StatusCreated)
	id := created["id"].(string)
	old.expect("PATCH", "/scim/v2/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, http.StatusOK)
	if err := old.stop(); err != nil {
		t.Fatal(err)
	}

	target := pgtest.URL(t)
	u, _ := url.Parse(target)
	pass, _ := u.User.Password()
	migrate := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"scimbridge", "migrate-state"}, args...),
			func(k string) string { return map[string]string{"SCIMBRIDGE_MIGRATE_TO": target}[k] }, &out, &errOut)
		if strings.Contains(out.String()+errOut.String(), pass) || (err != nil && strings.Contains(err.Error(), pass)) {
			t.Errorf("migrate-state showed the password")
		}
		return out.String(), err
	}
	out, err := migrate("--from", file)
	if err != nil {
		t.Fatalf("migrate-state: %v", err)
	}
	if !strings.Contains(out, "1 user records") || !strings.Contains(out, "audit events") {
		t.Errorf("migrate-state printed %q", out)
	}
	if _, err := migrate("--from", file); err == nil || !strings.Contains(err.Error(), "already holds state") {
		t.Errorf("a second move: %v", err)
	}
	if _, err := migrate("--from", file, "--to", filepath.Join(t.TempDir(), "other.db")); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("a move into a file: %v", err)
	}

	moved := launchBridge(t, sim, bridgeOptions{env: map[string]string{"SCIMBRIDGE_STATE": target}})
	got := moved.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)
	if got["externalId"] != "okta-00u1" || got["active"] != false {
		t.Errorf("after the move the user reads externalId %v, active %v", got["externalId"], got["active"])
	}
	var audit bytes.Buffer
	if err := run(context.Background(), []string{"scimbridge", "audit", "--state", target, "--user", id}, func(string) string { return "" }, &audit, &bytes.Buffer{}); err != nil {
		t.Fatalf("audit on the moved state: %v", err)
	}
	if !strings.Contains(audit.String(), "POST /v1/users") {
		t.Errorf("the moved audit log lacks the create:\n%s", audit.String())
	}
}
