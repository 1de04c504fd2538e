package main

import (
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// gate holds the bridge's Domo calls that match a route until released, and says when the
// first one arrived, so a test can act while a SCIM request is provably in flight.
type gate struct {
	match   func(*http.Request) bool
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
	armed   sync.Mutex
	on      bool
}

func newGate(match func(*http.Request) bool) *gate {
	return &gate{match: match, arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) arm() { g.armed.Lock(); g.on = true; g.armed.Unlock() }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.armed.Lock()
		on := g.on
		g.armed.Unlock()
		if on && g.match(r) {
			g.once.Do(func() { close(g.arrived) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func getUserByID(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/users/")
}

// firstUserID lists one user through SCIM and returns its id.
func firstUserID(t *testing.T, b *bridgeUnderTest) string {
	t.Helper()
	list := b.expect("GET", "/scim/v2/Users?count=1", nil, http.StatusOK)
	res, _ := list["Resources"].([]any)
	if len(res) == 0 {
		t.Fatalf("no users: %v", list)
	}
	return res[0].(map[string]any)["id"].(string)
}

// TestGracefulShutdown: on cancel (SIGTERM), the bridge stops accepting connections at once,
// lets the request in flight finish with its real answer, then closes the store cleanly.
func TestGracefulShutdown(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 4})
	sim.SeedUsers(2)
	g := newGate(getUserByID)
	b := launchBridge(t, sim, bridgeOptions{wrapSim: g.wrap})
	id := firstUserID(t, b)
	g.arm()

	type answer struct {
		status int
		body   map[string]any
	}
	got := make(chan answer, 1)
	go func() {
		status, body, _ := b.do("GET", "/scim/v2/Users/"+id, nil)
		got <- answer{status, body}
	}()
	<-g.arrived

	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()

	// New connections are refused while the request is still in flight.
	host := strings.TrimPrefix(b.base, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond) // readiness poll for the listener to close
	}
	select {
	case a := <-got:
		t.Fatalf("request answered before Domo did: %d %v", a.status, a.body)
	case err := <-stopped:
		t.Fatalf("run returned (%v) with a request in flight", err)
	default:
	}

	close(g.release)
	a := <-got
	if a.status != http.StatusOK || a.body["id"] != id {
		t.Fatalf("in-flight request: %d %v", a.status, a.body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("run: %v", err)
	}
	// A clean close checkpoints and removes SQLite's write-ahead log.
	if _, err := os.Stat(b.env["SCIMBRIDGE_STATE"] + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("write-ahead log left behind (store not closed cleanly): %v", err)
	}
	if !strings.Contains(b.stderr.String(), "all requests finished") {
		t.Fatalf("shutdown not logged:\n%s", b.stderr.String())
	}
}

// TestShutdownBound: a request still running when the shutdown bound passes is cancelled and
// answers 503 with Retry-After, so the IdP retries it, rather than losing its connection.
func TestShutdownBound(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 5})
	sim.SeedUsers(2)
	g := newGate(getUserByID) // never released
	b := launchBridge(t, sim, bridgeOptions{wrapSim: g.wrap, env: map[string]string{"SCIMBRIDGE_SHUTDOWN_TIMEOUT": "1s"}})
	id := firstUserID(t, b)
	g.arm()

	type answer struct {
		status int
		body   map[string]any
		hdr    http.Header
	}
	got := make(chan answer, 1)
	go func() {
		status, body, hdr := b.do("GET", "/scim/v2/Users/"+id, nil)
		got <- answer{status, body, hdr}
	}()
	<-g.arrived
	start := time.Now()
	if err := b.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	a := <-got
	if a.status != http.StatusServiceUnavailable || a.hdr.Get("Retry-After") == "" || a.body["status"] != "503" {
		t.Fatalf("request cut by shutdown: %d %v %v", a.status, a.body, a.hdr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %s with a 1s bound", d)
	}
	if !strings.Contains(b.stderr.String(), "cancelling them") {
		t.Fatalf("forced shutdown not logged:\n%s", b.stderr.String())
	}
}
