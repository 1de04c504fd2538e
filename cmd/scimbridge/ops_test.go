package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestOpsListener: with SCIMBRIDGE_OPS_ADDR the SCIM port serves only SCIM and health, and the
// operator's port only metrics, admin, the status page and health, so a deployment can publish
// the first alone.
func TestOpsListener(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 3})
	sim.SeedUsers(1)
	b := startBridge(t, sim, nil) // a simulator URL and credentials to reuse
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range b.env {
		env[k] = v
	}
	env["SCIMBRIDGE_OPS_ADDR"] = "127.0.0.1:0"
	env["SCIMBRIDGE_ADMIN_TOKEN"] = "oncall:" + adminToken
	env["SCIMBRIDGE_STATE"] = filepath.Join(t.TempDir(), "state.db")

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"scimbridge", "serve"}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	addrs := make(chan [2]string, 1)
	go func() {
		var api, ops string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				api = a
			}
			if a, ok := strings.CutPrefix(sc.Text(), "operator's side listening on "); ok {
				ops = a
			}
			if api != "" && ops != "" {
				addrs <- [2]string{api, ops}
				api = ""
			}
		}
	}()
	var api, ops string
	select {
	case a := <-addrs:
		api, ops = a[0], a[1]
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not report both listeners")
	}
	get := func(base, path, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(20 * time.Second); get(api, "/readyz", "") != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a readiness wait
	}
	tests := []struct {
		base, path, token string
		want              int
	}{
		{api, "/scim/v2/Users", testToken, http.StatusOK},
		{api, "/healthz", "", http.StatusOK},
		{api, "/metrics", "", http.StatusNotFound},
		{api, "/ui/", "", http.StatusNotFound},
		{api, "/admin/v1/status", adminToken, http.StatusNotFound},
		{ops, "/metrics", "", http.StatusOK},
		{ops, "/ui/", "", http.StatusOK},
		{ops, "/admin/v1/status", adminToken, http.StatusOK},
		{ops, "/readyz", "", http.StatusOK},
		{ops, "/scim/v2/Users", testToken, http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := get(tt.base, tt.path, tt.token); got != tt.want {
			which := "SCIM port"
			if tt.base == ops {
				which = "operator's port"
			}
			t.Errorf("%s %s = %d, want %d", which, tt.path, got, tt.want)
		}
	}
}
