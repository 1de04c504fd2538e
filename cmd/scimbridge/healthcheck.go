package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// healthcheck asks the bridge in the same container whether it is alive (/healthz) or ready
// (/readyz) and exits non-zero if not. Distroless images have no curl or wget, so this is what
// Docker's HEALTHCHECK and compose's healthcheck run. It finds the bridge from the same
// SCIMBRIDGE_ADDR and SCIMBRIDGE_TLS_CERT the bridge reads.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ready := fs.Bool("ready", false, "check /readyz (index loaded, Domo token obtainable) instead of /healthz")
	target := fs.String("url", "", "base URL of the bridge (default: loopback at SCIMBRIDGE_ADDR, https when SCIMBRIDGE_TLS_CERT is set)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	base := *target
	if base == "" {
		var err error
		if base, err = loopbackURL(getenv("SCIMBRIDGE_ADDR"), getenv("SCIMBRIDGE_TLS_CERT") != ""); err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	// The certificate names the public host, not loopback; nothing secret is sent, and a
	// probe only needs to know that this process answers.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s ok\n", path)
	return nil
}

// loopbackURL turns a listen address (":8080", "0.0.0.0:8443", "[::]:8080") into a URL on
// loopback.
func loopbackURL(addr string, tlsOn bool) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("SCIMBRIDGE_ADDR %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}
