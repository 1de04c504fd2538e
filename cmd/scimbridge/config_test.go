package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configTable renders the README's configuration reference from the settings list.
func configTable() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		def := "`" + s.def + "`"
		if s.def == "" {
			def = "(none)"
		}
		env := "`" + s.env + "`"
		if s.secret {
			env += " (or `" + s.env + "_FILE`)"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | %s | %s |\n", s.flag, env, def, s.help)
	}
	return b.String()
}

// TestREADMEConfigTable keeps the README's configuration table equal to the code's settings.
// Run with SCIMBRIDGE_UPDATE_README=1 to rewrite it.
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- config-table:start", "<!-- config-table:end -->"
	s := string(raw)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no config-table markers")
	}
	i += strings.Index(s[i:], "\n") + 1
	want := configTable()
	if s[i:j] == want {
		return
	}
	if os.Getenv("SCIMBRIDGE_UPDATE_README") != "" {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md configuration table is out of date; run SCIMBRIDGE_UPDATE_README=1 go test ./cmd/scimbridge -run TestREADMEConfigTable")
}

func TestLoadConfigPrecedenceAndValidation(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("  file-secret \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SCIMBRIDGE_TOKEN":                   " okta:0123456789abcdef0123 , entra:abcdef0123456789abcd ",
		"SCIMBRIDGE_DOMO_CLIENT_ID":          "cid",
		"SCIMBRIDGE_DOMO_CLIENT_SECRET_FILE": secretFile,
		"SCIMBRIDGE_ADDR":                    ":9999",
		"SCIMBRIDGE_BREAKER_WINDOW":          "5m",
	}
	cfg, err := loadConfig("serve", []string{"--addr", "127.0.0.1:7000"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:7000" || cfg.DomoSecret != "file-secret" || cfg.BreakerWindow != 5*time.Minute || cfg.DomoRateLimit != 3000 {
		t.Fatalf("config: %+v", cfg)
	}
	if len(cfg.Tokens) != 2 || cfg.Tokens[0].Name != "okta" || cfg.Tokens[1].Secret != "abcdef0123456789abcd" {
		t.Fatalf("tokens: %+v", cfg.Tokens)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}

	// Every problem is reported at once.
	bad := map[string]string{"SCIMBRIDGE_DEPROVISION": "shred", "SCIMBRIDGE_DOMO_RATE_LIMIT": "5", "SCIMBRIDGE_DEFAULT_ROLE": "Overlord"}
	cfg, err = loadConfig("serve", nil, func(k string) string { return bad[k] })
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	for _, want := range []string{"no bearer token", "no Domo client id", "no Domo client secret", "SCIMBRIDGE_DEPROVISION", "SCIMBRIDGE_DOMO_RATE_LIMIT", "SCIMBRIDGE_DEFAULT_ROLE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}

	// A malformed value names the variable, and a secret's value never appears.
	_, err = loadConfig("serve", nil, func(k string) string {
		return map[string]string{"SCIMBRIDGE_REFRESH_INTERVAL": "soon"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "SCIMBRIDGE_REFRESH_INTERVAL") {
		t.Fatalf("bad duration: %v", err)
	}
}

// TestSnapshotMaxAgeSetting: unset, the snapshot bound is the refresh interval (a running
// bridge serves data that old anyway); 0 never serves a snapshot; a negative one is refused.
func TestSnapshotMaxAgeSetting(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    time.Duration
		invalid bool
	}{
		{map[string]string{}, 10 * time.Minute, false},
		{map[string]string{"SCIMBRIDGE_REFRESH_INTERVAL": "30m"}, 30 * time.Minute, false},
		{map[string]string{"SCIMBRIDGE_REFRESH_INTERVAL": "0"}, 0, false},
		{map[string]string{"SCIMBRIDGE_SNAPSHOT_MAX_AGE": "0"}, 0, false},
		{map[string]string{"SCIMBRIDGE_SNAPSHOT_MAX_AGE": "2h", "SCIMBRIDGE_REFRESH_INTERVAL": "30m"}, 2 * time.Hour, false},
		{map[string]string{"SCIMBRIDGE_SNAPSHOT_MAX_AGE": "-1m"}, -time.Minute, true},
	} {
		cfg, err := loadConfig("serve", nil, func(k string) string { return tc.env[k] })
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if cfg.SnapshotMaxAge != tc.want {
			t.Errorf("%v: SnapshotMaxAge %s, want %s", tc.env, cfg.SnapshotMaxAge, tc.want)
		}
		if err := cfg.Validate(); (err != nil && strings.Contains(err.Error(), "SCIMBRIDGE_SNAPSHOT_MAX_AGE")) != tc.invalid {
			t.Errorf("%v: Validate() = %v", tc.env, err)
		}
	}
}

// TestInstanceSettings: the instance URL and the access token go together; a token from a file
// is read again after Domo refuses it (the file's path is kept); the rate and batch are
// bounded; neither set is v1 only.
func TestInstanceSettings(t *testing.T) {
	base := map[string]string{"SCIMBRIDGE_TOKEN": "0123456789abcdef0123", "SCIMBRIDGE_DOMO_CLIENT_ID": "c", "SCIMBRIDGE_DOMO_CLIENT_SECRET": "s"}
	tokenFile := filepath.Join(t.TempDir(), "access-token")
	if err := os.WriteFile(tokenFile, []byte(" first-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // a Validate problem, or "" for valid
	}{
		{"neither", nil, ""},
		{"both", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "https://acme.domo.com/", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "tok"}, ""},
		{"token from a file", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "https://acme.domo.com", "SCIMBRIDGE_DOMO_ACCESS_TOKEN_FILE": tokenFile}, ""},
		{"URL without token", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "https://acme.domo.com"}, "go together"},
		{"token without URL", map[string]string{"SCIMBRIDGE_DOMO_ACCESS_TOKEN": "tok"}, "go together"},
		{"URL with a path", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "https://acme.domo.com/api", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "tok"}, "without a path"},
		{"not a URL", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_URL": "acme", "SCIMBRIDGE_DOMO_ACCESS_TOKEN": "tok"}, "without a path"},
		{"rate too low", map[string]string{"SCIMBRIDGE_DOMO_INSTANCE_RATE_LIMIT": "5"}, "SCIMBRIDGE_DOMO_INSTANCE_RATE_LIMIT"},
		{"batch too large", map[string]string{"SCIMBRIDGE_DOMO_MEMBERSHIP_BATCH": "5000"}, "SCIMBRIDGE_DOMO_MEMBERSHIP_BATCH"},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tc.env {
			env[k] = v
		}
		cfg, err := loadConfig("serve", nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = cfg.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "tok") && !strings.Contains(tc.want, "tok") && strings.Contains(err.Error(), "\"tok\"") {
			t.Errorf("%s: the token's value is in %v", tc.name, err)
		}
		if tc.name == "token from a file" && (cfg.DomoAccessToken != "first-token" || cfg.DomoAccessTokenFile != tokenFile) {
			t.Errorf("token file: %+v", cfg)
		}
		if tc.name == "both" && (cfg.DomoInstanceURL != "https://acme.domo.com" || cfg.DomoInstanceRateLimit != 3000 || cfg.DomoMembershipBatch != 100) {
			t.Errorf("defaults: %+v", cfg)
		}
	}
}
