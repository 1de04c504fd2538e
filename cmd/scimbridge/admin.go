package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/scim"
)

// defaultAdminURL is where the commands find a bridge serving on the default address, e.g.
// from `kubectl exec` into its container.
const defaultAdminURL = "http://127.0.0.1:8080"

// adminCommand is one of the commands that drive a running bridge through /admin/v1.
type adminCommand struct {
	method, path string
	summary      string
	done         string // printed on success, before the status
}

var adminCommands = map[string]adminCommand{
	"pause":         {http.MethodPost, "/admin/v1/pause", "stop provisioning writes (503 with Retry-After); reads go on", "provisioning paused: the IdP's writes get 503 with Retry-After and are retried later; reads go on"},
	"resume":        {http.MethodPost, "/admin/v1/resume", "let provisioning writes through again", "provisioning resumed"},
	"breaker-reset": {http.MethodPost, "/admin/v1/breaker/reset", "close the deprovision breaker after checking why it opened", "deprovision breaker reset: deprovisioning allowed again"},
	"status":        {http.MethodGet, "/admin/v1/status", "show the switches and the index", ""},
}

type adminOptions struct {
	url     string
	token   string
	reason  string
	json    bool
	caFile  string
	timeout time.Duration
}

// admin runs a pause, resume, breaker-reset or status command against a running bridge,
// authenticated with an operator token (SCIMBRIDGE_ADMIN_TOKEN).
func admin(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := adminCommands[name]
	o, err := parseAdminFlags(name, cmd, args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	client, err := adminClient(o)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var body io.Reader
	if name == "pause" {
		b, _ := json.Marshal(map[string]string{"reason": o.reason})
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	status, err := callAdmin(ctx, client, o, cmd.method, cmd.path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(status)
	}
	if cmd.done != "" {
		fmt.Fprintln(stdout, cmd.done)
	}
	printStatus(stdout, o.url, status)
	return nil
}

func parseAdminFlags(name string, cmd adminCommand, args []string, getenv func(string) string, stderr io.Writer) (adminOptions, error) {
	return parseAdminFlagsWith(name, cmd, args, getenv, stderr, nil)
}

// parseAdminFlagsWith is parseAdminFlags for a command with flags of its own, which extra
// defines.
func parseAdminFlagsWith(name string, cmd adminCommand, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (adminOptions, error) {
	var o adminOptions
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scimbridge %s [flags]\n\n%s, on the bridge at --url. Needs an operator token: --token-file, or\nSCIMBRIDGE_ADMIN_TOKEN_FILE or SCIMBRIDGE_ADMIN_TOKEN in the environment (name:token accepted).\n\n", name, cmd.summary)
		fs.PrintDefaults()
	}
	defURL := getenv("SCIMBRIDGE_ADMIN_URL")
	if defURL == "" {
		defURL = defaultAdminURL
	}
	var tokenFile string
	fs.StringVar(&o.url, "url", defURL, "base URL of the running bridge (env SCIMBRIDGE_ADMIN_URL)")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the operator token (default: env SCIMBRIDGE_ADMIN_TOKEN_FILE, then SCIMBRIDGE_ADMIN_TOKEN)")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM certificate(s) to trust for an https --url signed by a private CA")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "give up after this long")
	fs.BoolVar(&o.json, "json", false, "print the bridge's status as JSON")
	if name == "pause" {
		fs.StringVar(&o.reason, "reason", "", "why, for the status and the log (e.g. an incident number)")
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%s: unexpected arguments: %s", name, strings.Join(fs.Args(), " "))
	}
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("%s: --url %q must be an http(s) URL such as %s", name, o.url, defaultAdminURL)
	}
	o.url = strings.TrimRight(o.url, "/")
	if tokenFile == "" {
		tokenFile = getenv("SCIMBRIDGE_ADMIN_TOKEN_FILE")
	}
	raw := getenv("SCIMBRIDGE_ADMIN_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return o, fmt.Errorf("%s: operator token: %w", name, err)
		}
		raw = string(b)
	}
	// The bridge's own SCIMBRIDGE_ADMIN_TOKEN may list several name:token entries; the first
	// one serves, so the command works unchanged inside the bridge's container.
	toks := parseTokens(raw, scim.RoleOperator)
	if len(toks) == 0 {
		return o, fmt.Errorf("%s: no operator token: use --token-file, or set SCIMBRIDGE_ADMIN_TOKEN_FILE or SCIMBRIDGE_ADMIN_TOKEN", name)
	}
	o.token = toks[0].Secret
	return o, nil
}

func adminClient(o adminOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", o.caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, nil
}

// callAdmin sends one admin request and decodes the status the bridge answers with. Errors
// say what to do about them; none carries the token.
func callAdmin(ctx context.Context, client *http.Client, o adminOptions, method, path string, body io.Reader) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, o.url+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the bridge at %s: %w", o.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", o.url, err)
	}
	var out map[string]any
	decodeErr := json.Unmarshal(raw, &out)
	if resp.StatusCode != http.StatusOK {
		detail, _ := out["detail"].(string)
		if detail == "" {
			detail = http.StatusText(resp.StatusCode)
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return nil, fmt.Errorf("the bridge at %s refused the token (401): check SCIMBRIDGE_ADMIN_TOKEN on both sides", o.url)
		case http.StatusForbidden:
			return nil, fmt.Errorf("the bridge at %s refused (403): %s; the switches need a token from the bridge's SCIMBRIDGE_ADMIN_TOKEN", o.url, detail)
		case http.StatusNotFound:
			return nil, fmt.Errorf("%s%s not found (404): is --url the bridge's base URL, without /scim/v2?", o.url, path)
		}
		return nil, fmt.Errorf("the bridge at %s answered %d: %s", o.url, resp.StatusCode, detail)
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("the answer of %s is not the bridge's status: %w", o.url, decodeErr)
	}
	return out, nil
}

// printStatus renders /admin/v1/status for a person.
func printStatus(w io.Writer, base string, st map[string]any) {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) int64 { f, _ := m[k].(float64); return int64(f) }
	fmt.Fprintf(w, "bridge    %s\n", base)
	if p, _ := st["paused"].(bool); p {
		fmt.Fprintf(w, "paused    YES since %s: %s (resume with: scimbridge resume)\n", str(st, "pausedSince"), str(st, "pauseReason"))
	} else {
		fmt.Fprintln(w, "paused    no")
	}
	br, _ := st["breaker"].(map[string]any)
	switch {
	case br == nil:
	case br["open"] == true:
		fmt.Fprintf(w, "breaker   OPEN since %s: deprovisioning halted after %d in %s (check the audit log, then: scimbridge breaker-reset)\n", str(br, "openSince"), num(br, "max"), str(br, "window"))
	case num(br, "max") == 0:
		fmt.Fprintln(w, "breaker   disabled")
	default:
		fmt.Fprintf(w, "breaker   closed: %d of %d deprovisions allowed in %s used\n", num(br, "recent"), num(br, "max"), str(br, "window"))
	}
	if p := str(st, "policy"); p != "" {
		fmt.Fprintf(w, "policy    %s\n", p)
	}
	if idx, _ := st["index"].(map[string]any); idx != nil {
		if idx["loaded"] != true {
			fmt.Fprintln(w, "index     loading")
		} else {
			line := fmt.Sprintf("index     %d users, %d groups, loaded %s (%ds ago), refreshed every %s", num(idx, "users"), num(idx, "groups"), str(idx, "loadedAt"), num(idx, "ageSeconds"), str(idx, "refreshInterval"))
			if idx["lastRefreshFailed"] == true {
				line += "; LAST REFRESH FAILED"
			}
			fmt.Fprintln(w, line)
		}
	}
}
