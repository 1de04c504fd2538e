package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestCheck runs `scimbridge check` through run() against the simulator: a sound set-up passes
// with a readable report, and each kind of problem fails with a non-zero exit and a line that
// says what to fix, never a secret.
func TestCheck(t *testing.T) {
	analyst := domosim.Role{ID: 2097317660, Name: "Analyst"}
	tests := []struct {
		name     string
		sim      domosim.Options
		analysts int // users with the custom role
		env      map[string]string
		wantOK   bool
		want     []string // lines the report must hold
	}{
		{"sound", domosim.Options{}, 0, nil, true, []string{
			"ok    configuration (1 bearer token(s), deprovision policy mark", "ok    Domo token obtained (customer \"acmecompany\"",
			"ok    4 Domo users readable", "ok    every user's role is a known role with the right id", "ok    2 Domo groups readable", "all checks passed"}},
		{"custom role declared", domosim.Options{CustomRoles: []domosim.Role{analyst}}, 2, map[string]string{"SCIMBRIDGE_ROLES": "Analyst=2097317660"}, true, []string{
			"ok    every user's role is a known role with the right id"}},
		{"custom role not declared", domosim.Options{CustomRoles: []domosim.Role{analyst}}, 2, nil, false, []string{
			`FAIL  roles not in the catalogue, add them to SCIMBRIDGE_ROLES as Name=id: "Analyst" (2 users)`}},
		{"custom role with the wrong id", domosim.Options{CustomRoles: []domosim.Role{analyst}}, 1, map[string]string{"SCIMBRIDGE_ROLES": "Analyst=42"}, false, []string{
			`FAIL  role ids differ from Domo's, fix SCIMBRIDGE_ROLES: "Analyst" is id 2097317660 in Domo, 42 in the catalogue`}},
		{"wrong client secret", domosim.Options{}, 0, map[string]string{"SCIMBRIDGE_DOMO_CLIENT_SECRET": "not-the-secret"}, false, []string{
			"FAIL  Domo token from http://"}},
		{"API client without the user scope", domosim.Options{Scopes: []string{"data"}}, 0, nil, false, []string{"FAIL  Domo token", "Invalid scope: user"}},
		{"instance APIs", domosim.Options{CustomRoles: []domosim.Role{analyst}}, 0, map[string]string{"SCIMBRIDGE_ROLES": "Analyst=2097317660",
			"SCIMBRIDGE_DOMO_INSTANCE_URL": "@sim", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "sim-access-token"}, true, []string{
			"ok    Domo instance capability attributes available", "ok    Domo instance capability bulk-membership available",
			"ok    Domo instance capability group-read available", "Analyst (2097317660)", "costCenter, region", "ok    membership batch: 100"}},
		{"instance APIs answering in the other shapes, without the attribute catalogue", otherShapes(domosim.Options{CustomRoles: []domosim.Role{analyst}}), 0, map[string]string{"SCIMBRIDGE_ROLES": "Analyst=2097317660",
			"SCIMBRIDGE_DOMO_INSTANCE_URL": "@sim", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "sim-access-token"}, true, []string{
			"ok    Domo instance capability attributes available", "ok    Domo instance capability roles available",
			"ok    Domo instance capability bulk-membership available", "ok    Domo instance capability group-read available",
			"Analyst (2097317660)", "ok    Domo attribute catalogue not available (the instance does not have this API, status 404)"}},
		{"instance access token revoked", domosim.Options{AccessTokenRevoked: true}, 0, map[string]string{
			"SCIMBRIDGE_DOMO_INSTANCE_URL": "@sim", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "sim-access-token"}, false, []string{
			"FAIL  Domo instance capability attributes unavailable", "the access token is refused"}},
		{"instance without the content API", domosim.Options{InstanceEndpoints: []string{"identity", "roles"}}, 0, map[string]string{
			"SCIMBRIDGE_DOMO_INSTANCE_URL": "@sim", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "sim-access-token"}, false, []string{
			"ok    Domo instance capability attributes available", "FAIL  Domo instance capability bulk-membership unavailable", "the instance does not have this API"}},
		{"no instance APIs", domosim.Options{}, 0, nil, true, []string{"ok    Domo instance APIs not configured"}},
		{"bad configuration, every problem listed", domosim.Options{}, 0, map[string]string{"SCIMBRIDGE_TOKEN": "short", "SCIMBRIDGE_DEPROVISION": "shred"}, false, []string{
			"FAIL  configuration: bearer token \"token1\" is shorter than 16", "FAIL  configuration: SCIMBRIDGE_DEPROVISION \"shred\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sim.Seed = 13
			sim := domosim.New(tt.sim)
			sim.SeedUsers(3)
			for i := 0; i < tt.analysts; i++ {
				sim.AddUser(domosim.SimUser{Name: "Ana Lyst", Email: strings.Repeat("a", i+1) + "@example.com", Role: analyst.Name, RoleID: analyst.ID})
			}
			sim.AddGroup("Finance")
			srv := httptest.NewServer(sim)
			defer srv.Close()
			opts := sim.Options()
			env := map[string]string{
				"SCIMBRIDGE_TOKEN":              testToken,
				"SCIMBRIDGE_DOMO_API_URL":       srv.URL,
				"SCIMBRIDGE_DOMO_CLIENT_ID":     opts.ClientID,
				"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret,
				"SCIMBRIDGE_STATE":              filepath.Join(t.TempDir(), "state.db"),
			}
			for k, v := range tt.env {
				if v == "@sim" {
					v = srv.URL
				}
				env[k] = v
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"scimbridge", "check"}, func(k string) string { return env[k] }, &out, io.Discard)
			report := out.String()
			if (err == nil) != tt.wantOK {
				t.Fatalf("check returned %v, want ok=%v\n%s", err, tt.wantOK, report)
			}
			if !tt.wantOK && (!strings.Contains(err.Error(), "problem(s) found") || strings.Contains(report, "all checks passed")) {
				t.Fatalf("failing check: %v\n%s", err, report)
			}
			for _, w := range tt.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q:\n%s", w, report)
				}
			}
			for _, secret := range []string{opts.ClientSecret, "not-the-secret", testToken, opts.AccessToken} {
				if strings.Contains(report, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Fatalf("report leaks %q:\n%s", secret, report)
				}
			}
		})
	}
}

// otherShapes is o with every instance API answering in its other shape (no catalogue).
func otherShapes(o domosim.Options) domosim.Options {
	o.OtherInstanceShapes()
	return o
}
