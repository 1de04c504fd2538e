package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestRequestLimits: oversized bodies (announced or streamed), filters too long or too deep
// and oversized headers are refused with SCIM errors (431 is Go's own) before any Domo call.
func TestRequestLimits(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 14})
	sim.SeedUsers(1)
	b := startBridge(t, sim, map[string]string{"SCIMBRIDGE_MAX_BODY_BYTES": "2048"})
	big := `{"userName":"big@example.com","title":"` + strings.Repeat("x", 4096) + `"}`
	deep := strings.Repeat("(", 40) + `userName eq "a"` + strings.Repeat(")", 40)
	long := `userName eq "` + strings.Repeat("a", 5000) + `"`

	tests := []struct {
		name     string
		method   string
		path     string
		body     func() io.Reader
		header   string
		status   int
		scimType string
	}{
		{"body over the limit", "POST", "/scim/v2/Users", func() io.Reader { return strings.NewReader(big) }, "", 413, "invalidSyntax"},
		{"streamed body over the limit", "POST", "/scim/v2/Users", func() io.Reader { return io.MultiReader(strings.NewReader(big)) }, "", 413, "invalidSyntax"},
		{"filter too deep", "GET", "/scim/v2/Users?filter=" + url.QueryEscape(deep), nil, "", 400, "invalidFilter"},
		{"filter too long", "GET", "/scim/v2/Users?filter=" + url.QueryEscape(long), nil, "", 400, "invalidFilter"},
		{"headers too large", "GET", "/scim/v2/Users", nil, strings.Repeat("h", 128<<10), 431, ""},
	}
	sim.ResetStats()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, _ := http.NewRequest(tt.method, b.base+tt.path, body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/scim+json")
			if tt.header != "" {
				req.Header.Set("X-Padding", tt.header)
			}
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if tt.scimType == "" {
				return
			}
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil || e["scimType"] != tt.scimType || e["status"] != strconv.Itoa(tt.status) {
				t.Fatalf("SCIM error: %s", raw)
			}
		})
	}
	if n := sim.Stats().Requests; n != 0 {
		t.Fatalf("refused requests reached Domo %d times", n)
	}
	if _, ok := sim.UserByEmail("big@example.com"); ok {
		t.Fatal("an oversized body created a user")
	}
}
