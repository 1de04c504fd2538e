package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestDriftCommand: changes made in Domo while the bridge was down show in the report of its
// next load: in `scimbridge drift` as a table and as JSON, and in /metrics.
func TestDriftCommand(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 31})
	state := filepath.Join(t.TempDir(), "state.db")
	env := map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken, "SCIMBRIDGE_STATE": state}
	b := startBridge(t, sim, env)
	created := b.expect("POST", "/scim/v2/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "ada@example.com", "title": "Analyst",
		"name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
	}, http.StatusCreated)
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(created["id"].(string), 10, 64)
	if err := sim.EditUser(id, func(u *domosim.SimUser) { u.Title = "Chief Analyst" }); err != nil {
		t.Fatal(err)
	}
	stranger := sim.AddUser(domosim.SimUser{Name: "Stranger", Email: "stranger@example.com"})

	restarted := time.Now()
	b2 := startBridge(t, sim, env)
	cli := map[string]string{"SCIMBRIDGE_ADMIN_URL": b2.base, "SCIMBRIDGE_ADMIN_TOKEN": "oncall:" + adminToken}
	// The restart serves its snapshot at once and loads behind it; wait for that load's report.
	var report bridge.DriftReport
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := runAdmin(t, cli, "drift", "--json")
		if err == nil {
			if err := json.Unmarshal([]byte(out), &report); err != nil {
				t.Fatalf("drift --json: %v\n%s", err, out)
			}
			if !report.At.Before(restarted.Add(-time.Second)) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no drift report from the restarted bridge's load: %v %s", err, out)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a readiness wait
	}
	if report.Counts[bridge.DriftChangedUsers] != 1 || report.Counts[bridge.DriftUnmanagedUsers] != 1 ||
		len(report.ChangedUsers) != 1 || report.ChangedUsers[0].Fields[0].Field != "title" || report.UnmanagedUsers[0].ID != stranger {
		t.Fatalf("report = %+v", report)
	}
	table, err := runAdmin(t, cli, "drift")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			counts[f[0]] = f[1]
		}
	}
	if counts["changed_users"] != "1" || counts["unmanaged_users"] != "1" || counts["foreign_members"] != "0" {
		t.Errorf("drift table counts = %v:\n%s", counts, table)
	}
	for _, want := range []string{"Analyst", "Chief Analyst", "stranger@example.com", "title"} {
		if !strings.Contains(table, want) {
			t.Errorf("drift table lacks %q:\n%s", want, table)
		}
	}
	resp, err := http.Get(b2.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`scimbridge_drift_resources{kind="changed_users"} 1`, `scimbridge_drift_resources{kind="unmanaged_users"} 1`, `scimbridge_drift_resources{kind="foreign_members"} 0`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
