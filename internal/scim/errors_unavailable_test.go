package scim

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// downError stands for the state store's "database unreachable", which scim does not import.
type downError struct{}

func (downError) Error() string { return "dial tcp 10.0.0.5:5432: connection refused" }
func (downError) Unavailable() (string, time.Duration) {
	return "the bridge's state database is unavailable; retry later", 10 * time.Second
}

// A dependency that is down for now is a 503 with Retry-After whose detail says nothing of the
// cause's internals, however deeply the error is wrapped; never a 500.
func TestAsErrorUnavailable(t *testing.T) {
	err := asError(fmt.Errorf("update user 5: %w", fmt.Errorf("store: put user shadow 5: %w", downError{})))
	if err.Status != http.StatusServiceUnavailable || err.RetryAfter != 10*time.Second {
		t.Fatalf("status %d, Retry-After %v; want 503, 10s", err.Status, err.RetryAfter)
	}
	if err.Detail != "the bridge's state database is unavailable; retry later" {
		t.Errorf("detail %q", err.Detail)
	}
}
