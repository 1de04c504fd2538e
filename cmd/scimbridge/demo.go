package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// demoToken is the demo's default bearer token. The demo binds to loopback and fronts a
// simulator, so a fixed, documented token makes the README's curl walk-through work verbatim.
const demoToken = "scimbridge-demo-token"

// demoAdminToken is the demo's operator token, for trying pause, resume and status.
const demoAdminToken = "scimbridge-demo-admin-token"

// demoOptions are the demo's own flags: where to listen, what to seed, the simulator's knobs.
type demoOptions struct {
	addr         string
	token        string
	adminToken   string
	state        string
	seedUsers    int
	loginDomain  string
	sim          domosim.Options
	putMode      string
	rateLimit    int
	fail5xx      float64
	latency      time.Duration
	tokenTTL     time.Duration
	dupStatus    int
	undocumented string
	listRows     string
	limitOver    string
	deprovision  string
	noInstance   bool
	attrKeys     string
	knobs        []string // name=value, for domosim's SetKnob
}

func parseDemoFlags(args []string, stderr io.Writer) (demoOptions, error) {
	var o demoOptions
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address of the bridge (loopback)")
	fs.StringVar(&o.token, "token", demoToken, "bearer token the demo accepts")
	fs.StringVar(&o.adminToken, "admin-token", demoAdminToken, "operator token the demo accepts (pause, resume, breaker-reset, status)")
	fs.StringVar(&o.state, "state", "", "state database file (default: a fresh temporary file, removed at exit)")
	fs.IntVar(&o.seedUsers, "seed-users", 5, "users to seed in the simulated Domo tenant")
	fs.StringVar(&o.loginDomain, "login-domain", "example.com", "Domo login domain for userNames that are not email addresses")
	fs.StringVar(&o.deprovision, "deprovision", "mark", "deprovisioning policy: mark, demote or delete")
	fs.StringVar(&o.putMode, "sim-put-mode", "merge", "simulator: PUT /v1/users semantics, merge or replace")
	fs.IntVar(&o.rateLimit, "sim-rate-limit", 0, "simulator: requests per minute before 429 (0: unlimited)")
	fs.Float64Var(&o.fail5xx, "sim-fail-5xx", 0, "simulator: probability of a random 5xx per request")
	fs.DurationVar(&o.latency, "sim-latency", 0, "simulator: latency added to every request")
	fs.DurationVar(&o.tokenTTL, "sim-token-ttl", 0, "simulator: OAuth token lifetime (default 3599s)")
	fs.IntVar(&o.dupStatus, "sim-duplicate-email-status", 400, "simulator: status for a duplicate email on create, 400 or 409")
	fs.StringVar(&o.limitOver, "sim-limit-over-500", "reject", "simulator: limit above 500 is reject(ed) or clamp(ed)")
	fs.StringVar(&o.listRows, "sim-list-rows", "full", "simulator: what user list rows carry: full, or documented (id, name, email, role, title, phone)")
	fs.StringVar(&o.undocumented, "sim-undocumented-fields", "store", "simulator: what user writes do with employeeId and department: store, ignore or reject")
	fs.BoolVar(&o.noInstance, "no-instance-apis", false, "run without Domo's instance APIs (v1 only)")
	fs.StringVar(&o.attrKeys, "sim-attribute-keys", "costCenter,region,businessUnit", "simulator: the tenant's custom user attribute keys, comma-separated")
	fs.Func("sim-knob", "simulator: any knob as name=value, repeatable ("+knobList()+")", func(v string) error {
		o.knobs = append(o.knobs, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	o.sim = domosim.Options{
		PutMode:              o.putMode,
		RateLimit:            o.rateLimit,
		Fail5xx:              o.fail5xx,
		Latency:              o.latency,
		TokenTTL:             o.tokenTTL,
		DuplicateEmailStatus: o.dupStatus,
		LimitOver500:         o.limitOver,
		UndocumentedFields:   o.undocumented,
		ListRows:             o.listRows,
		// A custom role, to set by name or by id through roles[0].value.
		CustomRoles: []domosim.Role{{ID: 810756122, Name: "Analyst"}},
	}
	if err := o.sim.SetKnob("attribute-keys", o.attrKeys); err != nil {
		return o, err
	}
	for _, kv := range o.knobs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("--sim-knob %q: want name=value", kv)
		}
		if err := o.sim.SetKnob(name, value); err != nil {
			return o, err
		}
	}
	return o, nil
}

// knobList names the simulator's knobs, for -h.
func knobList() string {
	names := make([]string, 0, len(domosim.KnobNames()))
	for n := range domosim.KnobNames() {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// demo runs a Domo simulator and the bridge together on loopback, seeded, and prints how to
// talk to it.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseDemoFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	sim := domosim.New(o.sim)
	if o.seedUsers > 0 {
		sim.SeedUsers(o.seedUsers)
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the Domo simulator: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	simURL := "http://" + simLn.Addr().String()

	state := o.state
	if state == "" {
		dir, err := os.MkdirTemp("", "scimbridge-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		state = filepath.Join(dir, "state.db")
	}
	opts := sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR":               o.addr,
		"SCIMBRIDGE_TOKEN":              o.token,
		"SCIMBRIDGE_ADMIN_TOKEN":        o.adminToken,
		"SCIMBRIDGE_DOMO_API_URL":       simURL,
		"SCIMBRIDGE_DOMO_CLIENT_ID":     opts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret,
		"SCIMBRIDGE_STATE":              state,
		"SCIMBRIDGE_LOGIN_DOMAIN":       o.loginDomain,
		"SCIMBRIDGE_DEPROVISION":        o.deprovision,
		"SCIMBRIDGE_LOG_FORMAT":         "console",
		"SCIMBRIDGE_REFRESH_INTERVAL":   "1m",
	}
	if o.rateLimit > 0 {
		env["SCIMBRIDGE_DOMO_RATE_LIMIT"] = fmt.Sprint(o.rateLimit)
	}
	instance := "off (v1 only)"
	if !o.noInstance {
		// The simulated tenant's instance APIs answer on the same listener.
		env["SCIMBRIDGE_DOMO_INSTANCE_URL"] = simURL
		env["SCIMBRIDGE_DOMO_ACCESS_TOKEN"] = opts.AccessToken
		instance = "on (custom attributes " + strings.Join(opts.AttributeKeys, ", ") + "; custom role Analyst = 810756122)"
	}
	demoEnv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}
	cfg, err := loadConfig("demo", nil, demoEnv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stderr)
	return serveWith(ctx, cfg, log, io.Discard, func(addr string) {
		base := addr + "/scim/v2"
		fmt.Fprintf(stdout, `scimbridge demo is running (Domo simulator with %d seeded users, state in %s).

  SCIM base URL:   %s
  Bearer token:    %s
  Status page:     %s/ui/ (sign in with the operator token %s)
  Domo simulator:  %s
    client id:     %s
    client secret: %s
  Instance APIs:   %s

Try:
  curl -s -H "Authorization: Bearer %s" "%s/Users?count=2"
  SCIMBRIDGE_ADMIN_TOKEN=%s scimbridge status --url %s
  SCIMBRIDGE_DOMO_API_URL=%s SCIMBRIDGE_DOMO_CLIENT_ID=%s SCIMBRIDGE_DOMO_CLIENT_SECRET=%s SCIMBRIDGE_TOKEN=%s SCIMBRIDGE_STATE=%s scimbridge check

Stop with Ctrl-C.
`, o.seedUsers, state, base, o.token, addr, o.adminToken, simURL, opts.ClientID, opts.ClientSecret, instance,
			o.token, base, o.adminToken, addr,
			simURL, opts.ClientID, opts.ClientSecret, o.token, state)
	})
}
