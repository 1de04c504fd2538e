package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

func TestLoopbackURL(t *testing.T) {
	tests := []struct {
		addr string
		tls  bool
		want string
		bad  bool
	}{
		{"", false, "http://127.0.0.1:8080", false},
		{":8080", false, "http://127.0.0.1:8080", false},
		{"0.0.0.0:8443", true, "https://127.0.0.1:8443", false},
		{"[::]:8080", false, "http://[::1]:8080", false},
		{"10.0.0.5:9000", false, "http://10.0.0.5:9000", false},
		{"8080", false, "", true},
	}
	for _, tt := range tests {
		got, err := loopbackURL(tt.addr, tt.tls)
		if got != tt.want || (err != nil) != tt.bad {
			t.Errorf("loopbackURL(%q, %v) = %q, %v; want %q", tt.addr, tt.tls, got, err, tt.want)
		}
	}
}

// TestHealthcheckCommand probes a bridge started through run(), over TLS, the way the Docker
// image's HEALTHCHECK does: from the bridge's own environment.
func TestHealthcheckCommand(t *testing.T) {
	dir := t.TempDir()
	c := writeTestCert(t, dir, "scim.example.com")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}}
	b := startBridgeClient(t, domosim.New(domosim.Options{Seed: 15}), map[string]string{
		"SCIMBRIDGE_TLS_CERT": c.certFile, "SCIMBRIDGE_TLS_KEY": c.keyFile,
	}, client)
	env := map[string]string{}
	for k, v := range b.env {
		env[k] = v
	}
	env["SCIMBRIDGE_ADDR"] = strings.TrimPrefix(b.base, "https://") // the port the bridge bound
	probe := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"scimbridge", "healthcheck"}, args...), func(k string) string { return env[k] }, &out, io.Discard)
		return out.String(), err
	}
	if out, err := probe(); err != nil || out != "/healthz ok\n" {
		t.Fatalf("healthcheck: %v %q", err, out)
	}
	if out, err := probe("--ready"); err != nil || out != "/readyz ok\n" {
		t.Fatalf("healthcheck --ready: %v %q", err, out)
	}
	// Nothing listening: non-zero.
	if _, err := probe("--url", httpURLOfClosedPort(t)); err == nil {
		t.Fatal("healthcheck of a closed port passed")
	}
	// Not ready: non-zero, with the reason.
	notReady := startNotReady(t)
	if _, err := probe("--ready", "--url", notReady); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck --ready of a loading bridge: %v", err)
	}
}

// startNotReady serves a /readyz that says not ready, as a bridge loading its index does.
func startNotReady(t *testing.T) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"ready":false}`)
	})}
	ln := listenLoopback(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
