package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/scim"
)

// baseEnv is the smallest valid serve configuration besides tokens.
func baseEnv(extra map[string]string) func(string) string {
	env := map[string]string{
		"SCIMBRIDGE_DOMO_CLIENT_ID":     "cid",
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": "secret",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestTokenSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// One token a line, as a mounted Secret or a rotated file holds them; CRLF and blank
	// lines tolerated.
	lines := write("tokens", "okta:okta-token-0123456789abcdef\r\n\nentra:entra-token-0123456789abcdef\n  bare-token-0123456789abcdef  \n")
	admin := write("admin", "oncall:admin-token-0123456789abcdef\n")

	type tok struct {
		name string
		role scim.Role
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    []tok
		wantErr string // from loadConfig or Validate
	}{
		{"file with one token a line", map[string]string{"SCIMBRIDGE_TOKEN_FILE": lines},
			[]tok{{"okta", scim.RoleProvision}, {"entra", scim.RoleProvision}, {"", scim.RoleProvision}}, ""},
		{"all three roles", map[string]string{
			"SCIMBRIDGE_TOKEN":            "okta:okta-token-0123456789abcdef",
			"SCIMBRIDGE_READONLY_TOKEN":   "grafana:ro-token-0123456789abcdef",
			"SCIMBRIDGE_ADMIN_TOKEN_FILE": admin,
		}, []tok{{"okta", scim.RoleProvision}, {"grafana", scim.RoleReadOnly}, {"oncall", scim.RoleOperator}}, ""},
		{"env and file both set", map[string]string{"SCIMBRIDGE_TOKEN": "x-token-0123456789abcdef", "SCIMBRIDGE_TOKEN_FILE": lines}, nil, "both set"},
		{"missing file", map[string]string{"SCIMBRIDGE_TOKEN_FILE": filepath.Join(dir, "nope")}, nil, "SCIMBRIDGE_TOKEN_FILE"},
		{"only an operator token", map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": "admin-token-0123456789abcdef"}, nil, "no bearer token"},
		{"short token in a file", map[string]string{"SCIMBRIDGE_TOKEN_FILE": write("short", "okta:0123456789abcdef\nentra:tooshort\n")}, nil, `"entra" is shorter than 16`},
		{"one secret in two roles", map[string]string{"SCIMBRIDGE_TOKEN": "same-token-0123456789abcdef", "SCIMBRIDGE_ADMIN_TOKEN": "same-token-0123456789abcdef"}, nil, "same secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig("serve", nil, baseEnv(tt.env))
			if err == nil {
				err = cfg.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "tooshort") {
					t.Fatalf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Tokens) != len(tt.want) {
				t.Fatalf("tokens %d, want %d", len(cfg.Tokens), len(tt.want))
			}
			for i, w := range tt.want {
				if got := cfg.Tokens[i]; got.Name != w.name || got.Role != w.role || strings.ContainsAny(got.Secret, " \r\n:") {
					t.Errorf("token %d: name %q role %v (secret trimmed: %v), want %q %v", i, got.Name, got.Role, !strings.ContainsAny(got.Secret, " \r\n:"), w.name, w.role)
				}
			}
		})
	}
}
