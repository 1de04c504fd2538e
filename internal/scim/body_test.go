package scim

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Issue 11 item 5: a client that sends fewer bytes than its Content-Length, or stalls in the
// middle of its body, hears 400 or 408, never 500 "internal error", and the request is logged
// and counted as the client's fault (a 4xx, at warn level).
func TestTruncatedAndStalledBodies(t *testing.T) {
	tokens, err := NewTokens([]Token{{Name: "okta", Secret: srvToken}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	logMu := make(chan struct{}, 1)
	logMu <- struct{}{}
	h := NewHandler(Config{
		Users: newSrvBackend(UserType), Groups: newSrvBackend(GroupType), Tokens: tokens, Metrics: NewMetrics(reg),
		Logger: zerolog.New(writerFunc(func(p []byte) (int, error) {
			<-logMu
			defer func() { logMu <- struct{}{} }()
			return logs.Write(p)
		})),
	})
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)

	send := func(t *testing.T, body string, closeWrite bool) (int, string) {
		t.Helper()
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srvToken +
			"\r\nContent-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n" + body
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if closeWrite {
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		return resp.StatusCode, b.String()
	}

	t.Run("truncated", func(t *testing.T) {
		status, body := send(t, `{"userName":"a`, true)
		if status != http.StatusBadRequest || !strings.Contains(body, `"invalidSyntax"`) || !strings.Contains(body, "ended after 14 of its 200 bytes") {
			t.Fatalf("truncated body: %d %s", status, body)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		status, body := send(t, `{"userName":"a`, false)
		if status != http.StatusRequestTimeout || !strings.Contains(body, `"status":"408"`) {
			t.Fatalf("stalled body: %d %s", status, body)
		}
	})
	for _, code := range []string{"400", "408"} {
		if n := requestsCounted(t, reg, "POST", "/scim/v2/Users", code); n != 1 {
			t.Errorf("scimbridge_scim_requests_total{status=%q} = %v; want 1", code, n)
		}
	}
	<-logMu
	out := logs.String()
	logMu <- struct{}{}
	if strings.Contains(out, `"level":"error"`) || strings.Count(out, `"level":"warn"`) != 2 {
		t.Fatalf("access log should hold two warn lines and no error:\n%s", out)
	}
}

// requestsCounted reads scimbridge_scim_requests_total for one method, route and status.
func requestsCounted(t *testing.T, reg *prometheus.Registry, method, route, status string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "scimbridge_scim_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["route"] == route && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
