package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// TestBackPressure: when Domo's budget is spent and the wait would exceed
// SCIMBRIDGE_DOMO_MAX_WAIT, the IdP gets 429 with Retry-After at once (not a 500, not a request
// held until Okta's 60 s timeout), reads from the index keep working, and the write goes
// through once the budget is back. Domo documents no rate-limit headers, so both a tenant that
// sends X-RateLimit-* and one that sends bare 429s are covered.
func TestBackPressure(t *testing.T) {
	for _, headers := range []string{"all", "none"} {
		t.Run("rate headers "+headers, func(t *testing.T) { testBackPressure(t, headers) })
	}
}

func testBackPressure(t *testing.T, headers string) {
	sim := domosim.New(domosim.Options{Seed: 9, RateLimitHeaders: headers})
	sim.SeedUsers(3)
	b := startBridge(t, sim, map[string]string{"SCIMBRIDGE_DOMO_MAX_WAIT": "1s"})
	id := firstUserID(t, b)
	email := b.expect("GET", "/scim/v2/Users/"+id, nil, http.StatusOK)["userName"].(string)

	// The tenant now admits one request per 4 s: the PATCH's GET gets through, its PUT is
	// refused, and Domo's reset is further away than the bridge may wait.
	sim.SetOptions(func(o *domosim.Options) { o.RateLimit, o.RateWindow = 1, 4*time.Second })
	sim.ResetStats()
	patch := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Throttled"}},
	}
	start := time.Now()
	status, body, hdr := b.do("PATCH", "/scim/v2/Users/"+id, patch)
	took := time.Since(start)
	if status != http.StatusTooManyRequests || body["status"] != "429" {
		t.Fatalf("throttled PATCH: %d %v", status, body)
	}
	retry, err := strconv.Atoi(hdr.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After %q", hdr.Get("Retry-After"))
	}
	// Held far less than an IdP's timeout: the bridge answered instead of waiting out Domo.
	t.Logf("429 after %s, Retry-After %ds, Domo 429s %d", took, retry, sim.Stats().RateLimited)
	if took > 20*time.Second {
		t.Fatalf("throttled PATCH answered after %s", took)
	}
	// The 429 was not retried in a loop against Domo: a few backed-off tries within MaxWait.
	if n := sim.Stats().RateLimited; n > 3 {
		t.Fatalf("Domo answered 429 %d times for one SCIM request", n)
	}
	if du, _ := sim.UserByEmail(email); du.Title == "Throttled" {
		t.Fatal("throttled write reached Domo")
	}

	// Reads the index answers still work.
	list := b.expect("GET", `/scim/v2/Users?filter=userName%20eq%20%22`+email+`%22`, nil, http.StatusOK)
	if list["totalResults"] != float64(1) {
		t.Fatalf("filter while throttled: %v", list)
	}

	// The IdP retries after Retry-After, as Okta and Entra do: every answer is 429 or the
	// real one, never a 500, and the write lands once Domo has budget again.
	sim.SetOptions(func(o *domosim.Options) { o.RateLimit = 0 })
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, hdr = b.do("PATCH", "/scim/v2/Users/"+id, patch)
		if status == http.StatusOK {
			break
		}
		if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("retry: %d %v", status, body)
		}
		if time.Now().After(deadline) {
			t.Fatal("still throttled after the budget came back")
		}
		time.Sleep(200 * time.Millisecond) // the IdP's retry interval, shortened
	}
	if du, _ := sim.UserByEmail(email); du.Title != "Throttled" {
		t.Fatalf("Domo title after the retry: %q", du.Title)
	}
	if lines := logLines(t, b, "status", float64(500)); len(lines) > 0 {
		t.Fatalf("a 500 was answered: %v", lines)
	}
}
