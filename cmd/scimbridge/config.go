package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Config is everything `serve` reads from flags and the environment.
type Config struct {
	Addr          string
	OpsAddr       string
	Tokens        []scim.Token
	DomoAPIURL    string
	DomoClientID  string
	DomoSecret    string
	State         string
	DomoRateLimit int
	DomoMaxWait   time.Duration
	// Domo's instance APIs (optional): the instance URL, its access token (or the file that
	// holds it, re-read when Domo refuses the token), their own budget and the membership
	// batch.
	DomoInstanceURL       string
	DomoAccessToken       string
	DomoAccessTokenFile   string
	DomoInstanceRateLimit int
	DomoMembershipBatch   int
	BaseURL               string
	LoginDomain           string
	DefaultRole           string
	Roles                 []mapping.Role
	SendInvite            bool
	Deprovision           string
	OnDelete              string

	NumericEmployeeNumber bool
	DemoteRole            string
	BreakerMax            int
	BreakerWindow         time.Duration
	ProtectedUsers        []string
	ShowDefault           bool
	RefreshInterval       time.Duration
	SnapshotMaxAge        time.Duration
	MaxBodyBytes          int64
	ShutdownTimeout       time.Duration
	AuditRetention        time.Duration
	TLSCert               string
	TLSKey                string
	LogLevel              string
	LogFormat             string
}

// setting is one configuration knob: its flag, its environment variable, its default and how
// it lands in Config. The README's configuration table is checked against this list.
type setting struct {
	flag   string
	env    string
	def    string
	help   string
	secret bool // also read from ENV_FILE; never printed
	set    func(c *Config, v string) error
}

var settings = []setting{
	{"addr", "SCIMBRIDGE_ADDR", ":8080", "listen address", false, func(c *Config, v string) error { c.Addr = v; return nil }},
	{"ops-addr", "SCIMBRIDGE_OPS_ADDR", "", "listen address of the operator's side (/metrics, /admin/v1, the /ui/ status page), which SCIMBRIDGE_ADDR then no longer serves; empty serves everything on SCIMBRIDGE_ADDR", false, func(c *Config, v string) error { c.OpsAddr = v; return nil }},
	{"token", "SCIMBRIDGE_TOKEN", "", "bearer token(s) the IdP must present, comma- or newline-separated; each may be named as name:token", true, tokenSetting(scim.RoleProvision)},
	{"readonly-token", "SCIMBRIDGE_READONLY_TOKEN", "", "read-only bearer token(s) (GET only) for auditors and monitors, same format", true, tokenSetting(scim.RoleReadOnly)},
	{"admin-token", "SCIMBRIDGE_ADMIN_TOKEN", "", "operator bearer token(s) for /admin/v1 (pause, resume, breaker reset) and the pause, resume, breaker-reset and status commands, same format; they cannot provision", true, tokenSetting(scim.RoleOperator)},
	{"domo-api-url", "SCIMBRIDGE_DOMO_API_URL", "https://api.domo.com", "Domo API base; the token endpoint is {base}/oauth/token", false, func(c *Config, v string) error { c.DomoAPIURL = v; return nil }},
	{"domo-client-id", "SCIMBRIDGE_DOMO_CLIENT_ID", "", "Domo client id (scope user)", true, func(c *Config, v string) error { c.DomoClientID = strings.TrimSpace(v); return nil }},
	{"domo-client-secret", "SCIMBRIDGE_DOMO_CLIENT_SECRET", "", "Domo client secret", true, func(c *Config, v string) error { c.DomoSecret = strings.TrimSpace(v); return nil }},
	{"state", "SCIMBRIDGE_STATE", "scimbridge.db", "the state: a SQLite file (one bridge), or a postgres:// URL that several replicas share; a URL may hold a password, so it is never printed", true, func(c *Config, v string) error { c.State = strings.TrimSpace(v); return nil }},
	{"domo-rate-limit", "SCIMBRIDGE_DOMO_RATE_LIMIT", "3000", "Domo requests per minute the bridge may send (token requests included; all replicas together on a shared PostgreSQL state)", false, intSetting(func(c *Config, n int) { c.DomoRateLimit = n })},
	{"domo-instance-url", "SCIMBRIDGE_DOMO_INSTANCE_URL", "", "your Domo instance, e.g. https://acme.domo.com: turns on the instance APIs (custom attributes, manager, roles by id, bulk membership); needs an access token", false, func(c *Config, v string) error {
		c.DomoInstanceURL = strings.TrimRight(strings.TrimSpace(v), "/")
		return nil
	}},
	{"domo-access-token", "SCIMBRIDGE_DOMO_ACCESS_TOKEN", "", "Domo access token (Admin > Authentication > Access tokens) for the instance APIs", true, func(c *Config, v string) error { c.DomoAccessToken = strings.TrimSpace(v); return nil }},
	{"domo-instance-rate-limit", "SCIMBRIDGE_DOMO_INSTANCE_RATE_LIMIT", "3000", "instance API requests per minute the bridge may send (a budget apart from SCIMBRIDGE_DOMO_RATE_LIMIT)", false, intSetting(func(c *Config, n int) { c.DomoInstanceRateLimit = n })},
	{"domo-membership-batch", "SCIMBRIDGE_DOMO_MEMBERSHIP_BATCH", "100", "members per bulk membership call of the instance API (1 to 1000)", false, intSetting(func(c *Config, n int) { c.DomoMembershipBatch = n })},
	{"domo-max-wait", "SCIMBRIDGE_DOMO_MAX_WAIT", "20s", "longest a request waits for Domo budget before the IdP gets 429 with Retry-After", false, durSetting(func(c *Config, d time.Duration) { c.DomoMaxWait = d })},
	{"base-url", "SCIMBRIDGE_BASE_URL", "", "public base URL of the SCIM API (e.g. https://scim.example.com/scim/v2); empty derives it from each request", false, func(c *Config, v string) error { c.BaseURL = v; return nil }},
	{"login-domain", "SCIMBRIDGE_LOGIN_DOMAIN", "", "when a userName is not an email address, the Domo login becomes userName@this-domain; empty uses the user's primary email", false, func(c *Config, v string) error {
		c.LoginDomain = strings.TrimPrefix(strings.TrimSpace(v), "@")
		return nil
	}},
	{"default-role", "SCIMBRIDGE_DEFAULT_ROLE", "Participant", "Domo role of users created without roles", false, func(c *Config, v string) error { c.DefaultRole = v; return nil }},
	{"roles", "SCIMBRIDGE_ROLES", "", "custom Domo roles as Name=id pairs, comma-separated (the five system roles are built in)", false, func(c *Config, v string) error {
		rs, err := parseRoles(v)
		c.Roles = rs
		return err
	}},
	{"send-invite", "SCIMBRIDGE_SEND_INVITE", "false", "ask Domo to email an invitation to each created user", false, boolSetting(func(c *Config, b bool) { c.SendInvite = b })},
	{"deprovision", "SCIMBRIDGE_DEPROVISION", "mark", "what active:false does: mark, demote or delete", false, func(c *Config, v string) error { c.Deprovision = strings.ToLower(strings.TrimSpace(v)); return nil }},
	{"on-delete", "SCIMBRIDGE_ON_DELETE", "delete", "what DELETE /Users/{id} does: delete (the Domo user) or deprovision (as SCIMBRIDGE_DEPROVISION says, then hidden from SCIM; the IdP creating the user again revives it)", false, func(c *Config, v string) error { c.OnDelete = strings.ToLower(strings.TrimSpace(v)); return nil }},
	{"numeric-employee-number", "SCIMBRIDGE_NUMERIC_EMPLOYEE_NUMBER", "false", "also write an all-digit enterprise employeeNumber to Domo's integer employeeNumber (it always goes to employeeId)", false, boolSetting(func(c *Config, b bool) { c.NumericEmployeeNumber = b })},
	{"demote-role", "SCIMBRIDGE_DEMOTE_ROLE", "Social", "role a deactivated user gets under the demote policy", false, func(c *Config, v string) error { c.DemoteRole = v; return nil }},
	{"breaker-max", "SCIMBRIDGE_BREAKER_MAX", "50", "changes that take access away (deactivations, deletions, demotions, removals from groups, group deletions: see README) allowed per window before the breaker halts them; 0 disables", false, intSetting(func(c *Config, n int) { c.BreakerMax = n })},
	{"breaker-window", "SCIMBRIDGE_BREAKER_WINDOW", "10m", "the breaker's window", false, durSetting(func(c *Config, d time.Duration) { c.BreakerWindow = d })},
	{"protected-users", "SCIMBRIDGE_PROTECTED_USERS", "", "Domo user ids or emails the bridge never shows, changes or deletes, comma-separated (the API client's owner always is)", false, func(c *Config, v string) error { c.ProtectedUsers = splitList(v); return nil }},
	{"show-default-group", "SCIMBRIDGE_SHOW_DEFAULT_GROUP", "false", "list Domo's Default group as a SCIM group (it is never renamed or deleted)", false, boolSetting(func(c *Config, b bool) { c.ShowDefault = b })},
	{"refresh-interval", "SCIMBRIDGE_REFRESH_INTERVAL", "10m", "how often the index reloads users and groups from Domo; 0 disables", false, durSetting(func(c *Config, d time.Duration) { c.RefreshInterval = d })},
	// After refresh-interval, whose value its default takes.
	{"snapshot-max-age", "SCIMBRIDGE_SNAPSHOT_MAX_AGE", "", "after a restart, until the first load from Domo succeeds, lists and filters answer from the stored snapshot only while its data is at most this old, else 503 with Retry-After; empty means the refresh interval, 0 never serves a snapshot", false, func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			c.SnapshotMaxAge = c.RefreshInterval
			return nil
		}
		return durSetting(func(c *Config, d time.Duration) { c.SnapshotMaxAge = d })(c, v)
	}},
	{"max-body-bytes", "SCIMBRIDGE_MAX_BODY_BYTES", "1048576", "largest request body accepted (413 above)", false, intSetting(func(c *Config, n int) { c.MaxBodyBytes = int64(n) })},
	{"audit-retention", "SCIMBRIDGE_AUDIT_RETENTION", "2160h", "how long audit-log entries are kept (pruned hourly); 0 keeps them for ever", false, durSetting(func(c *Config, d time.Duration) { c.AuditRetention = d })},
	{"shutdown-timeout", "SCIMBRIDGE_SHUTDOWN_TIMEOUT", "20s", "on SIGTERM, how long requests in flight may finish before they are cancelled (they then answer 503 with Retry-After); keep it under the orchestrator's grace period", false, durSetting(func(c *Config, d time.Duration) { c.ShutdownTimeout = d })},
	{"tls-cert", "SCIMBRIDGE_TLS_CERT", "", "TLS certificate file (PEM, full chain); empty serves plain HTTP (behind a TLS load balancer)", false, func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"tls-key", "SCIMBRIDGE_TLS_KEY", "", "TLS private key file (PEM)", false, func(c *Config, v string) error { c.TLSKey = v; return nil }},
	{"log-level", "SCIMBRIDGE_LOG_LEVEL", "info", "debug, info, warn or error", false, func(c *Config, v string) error { c.LogLevel = strings.ToLower(strings.TrimSpace(v)); return nil }},
	{"log-format", "SCIMBRIDGE_LOG_FORMAT", "json", "json or console", false, func(c *Config, v string) error { c.LogFormat = strings.ToLower(strings.TrimSpace(v)); return nil }},
}

func tokenSetting(role scim.Role) func(*Config, string) error {
	return func(c *Config, v string) error {
		c.Tokens = append(c.Tokens, parseTokens(v, role)...)
		return nil
	}
}

func intSetting(f func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		f(c, n)
		return nil
	}
}

func durSetting(f func(*Config, time.Duration)) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 10m)", v)
		}
		f(c, d)
		return nil
	}
}

func boolSetting(f func(*Config, bool)) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		f(c, b)
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseTokens reads "secret" or "name:secret" entries, separated by commas or newlines (a
// _FILE holds one a line). Names let the access and audit logs say which IdP app acted
// without ever printing a token.
func parseTokens(v string, role scim.Role) []scim.Token {
	var out []scim.Token
	for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		t := scim.Token{Secret: e, Role: role}
		if name, secret, ok := strings.Cut(e, ":"); ok && validTokenName(name) {
			t.Name, t.Secret = name, strings.TrimSpace(secret)
		}
		out = append(out, t)
	}
	return out
}

func validTokenName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func parseRoles(v string) ([]mapping.Role, error) {
	var out []mapping.Role
	for _, e := range splitList(v) {
		name, id, ok := strings.Cut(e, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if !ok || err != nil || n <= 0 || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("role %q is not Name=id", e)
		}
		out = append(out, mapping.Role{Name: strings.TrimSpace(name), ID: n})
	}
	return out, nil
}

// loadConfig reads flags, then the environment for every flag not given, then defaults.
// Secrets also come from ENV_FILE. Every problem is reported, not just the first.
// It returns flag.ErrHelp for -h and --help; configUsage prints the flags then.
func loadConfig(name string, args []string, getenv func(string) string) (Config, error) {
	fs, vals := configFlags(name)
	fs.SetOutput(discard{})
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var c Config
	var errs []error
	for i, s := range settings {
		v, from := s.def, "default"
		switch {
		case set[s.flag]:
			v, from = *vals[i], "flag --"+s.flag
		case getenv(s.env) != "" && s.secret && getenv(s.env+"_FILE") != "":
			// Which one wins would be a guess, and a rotated file silently ignored.
			errs = append(errs, fmt.Errorf("%s and %s_FILE are both set; set one", s.env, s.env))
			continue
		case getenv(s.env) != "":
			v, from = getenv(s.env), s.env
		case s.secret && getenv(s.env+"_FILE") != "":
			b, err := os.ReadFile(getenv(s.env + "_FILE"))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", s.env, err))
				continue
			}
			v, from = strings.TrimSpace(string(b)), s.env+"_FILE"
		}
		if err := s.set(&c, v); err != nil {
			if s.secret {
				errs = append(errs, fmt.Errorf("%s: invalid value", from))
			} else {
				errs = append(errs, fmt.Errorf("%s: %w", from, err))
			}
		}
	}
	// A token read from a file is read from it again after Domo refuses it, so that a token
	// rotated in the file takes effect without a restart.
	if !set["domo-access-token"] && getenv("SCIMBRIDGE_DOMO_ACCESS_TOKEN") == "" {
		c.DomoAccessTokenFile = getenv("SCIMBRIDGE_DOMO_ACCESS_TOKEN_FILE")
	}
	return c, errors.Join(errs...)
}

// configFlags is the flag set of serve and check: one string flag per setting, whose help
// names its environment variable and default.
func configFlags(name string) (*flag.FlagSet, []*string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	vals := make([]*string, len(settings))
	for i, s := range settings {
		help := fmt.Sprintf("%s (env %s", s.help, s.env)
		if s.secret {
			help += " or " + s.env + "_FILE"
		}
		if s.def != "" {
			help += fmt.Sprintf(", default %q", s.def)
		}
		vals[i] = fs.String(s.flag, "", help+")")
	}
	return fs, vals
}

// configUsage prints what serve and check accept, for -h.
func configUsage(name, does string, w io.Writer) {
	fs, _ := configFlags(name)
	fs.SetOutput(w)
	fmt.Fprintf(w, "Usage: scimbridge %s [flags]\n\n%s\n\nEvery flag may instead be set by its environment variable; a flag wins over the variable.\n\nFlags:\n", name, does)
	fs.PrintDefaults()
}

func hasRole(ts []scim.Token, r scim.Role) bool {
	for _, t := range ts {
		if t.Role == r {
			return true
		}
	}
	return false
}

func validInstanceURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == ""
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Validate checks the configuration as a table and reports every problem at once.
func (c Config) Validate() error {
	_, tokErr := scim.NewTokens(c.Tokens)
	u, urlErr := url.Parse(c.DomoAPIURL)
	_, _, addrErr := net.SplitHostPort(c.Addr)
	var opsErr error
	if c.OpsAddr != "" {
		_, _, opsErr = net.SplitHostPort(c.OpsAddr)
	}
	checks := []struct {
		bad bool
		msg string
	}{
		{!hasRole(c.Tokens, scim.RoleProvision), "no bearer token: set SCIMBRIDGE_TOKEN (or SCIMBRIDGE_TOKEN_FILE); the bridge refuses to run unauthenticated"},
		{len(c.Tokens) > 0 && tokErr != nil, fmt.Sprint(tokErr)},
		{c.DomoClientID == "", "no Domo client id: set SCIMBRIDGE_DOMO_CLIENT_ID"},
		{c.DomoSecret == "", "no Domo client secret: set SCIMBRIDGE_DOMO_CLIENT_SECRET (or SCIMBRIDGE_DOMO_CLIENT_SECRET_FILE)"},
		{urlErr != nil || u.Scheme == "" || u.Host == "", "SCIMBRIDGE_DOMO_API_URL must be an absolute URL"},
		{addrErr != nil, fmt.Sprintf("SCIMBRIDGE_ADDR %q is not host:port", c.Addr)},
		{opsErr != nil, fmt.Sprintf("SCIMBRIDGE_OPS_ADDR %q is not host:port", c.OpsAddr)},
		{c.OpsAddr != "" && c.OpsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0"), "SCIMBRIDGE_OPS_ADDR must differ from SCIMBRIDGE_ADDR"},
		{c.State == "", "SCIMBRIDGE_STATE must name a file or a postgres:// URL"},
		{c.DomoRateLimit < 10, "SCIMBRIDGE_DOMO_RATE_LIMIT must be at least 10 requests a minute"},
		{c.DomoMaxWait < 0, "SCIMBRIDGE_DOMO_MAX_WAIT must not be negative"},
		{(c.DomoInstanceURL == "") != (c.DomoAccessToken == ""), "SCIMBRIDGE_DOMO_INSTANCE_URL and SCIMBRIDGE_DOMO_ACCESS_TOKEN (or SCIMBRIDGE_DOMO_ACCESS_TOKEN_FILE) go together"},
		{c.DomoInstanceURL != "" && !validInstanceURL(c.DomoInstanceURL), "SCIMBRIDGE_DOMO_INSTANCE_URL must be your instance's absolute URL without a path, e.g. https://acme.domo.com"},
		{c.DomoInstanceRateLimit < 10, "SCIMBRIDGE_DOMO_INSTANCE_RATE_LIMIT must be at least 10 requests a minute"},
		{c.DomoMembershipBatch < 1 || c.DomoMembershipBatch > 1000, "SCIMBRIDGE_DOMO_MEMBERSHIP_BATCH must be between 1 and 1000"},
		{c.Deprovision != bridge.PolicyMark && c.Deprovision != bridge.PolicyDemote && c.Deprovision != bridge.PolicyDelete, fmt.Sprintf("SCIMBRIDGE_DEPROVISION %q must be mark, demote or delete", c.Deprovision)},
		{c.OnDelete != bridge.DeleteRemoves && c.OnDelete != bridge.DeleteDeprovision, fmt.Sprintf("SCIMBRIDGE_ON_DELETE %q must be delete or deprovision", c.OnDelete)},
		{c.BreakerMax < 0, "SCIMBRIDGE_BREAKER_MAX must not be negative"},
		{c.BreakerWindow <= 0, "SCIMBRIDGE_BREAKER_WINDOW must be positive"},
		{c.RefreshInterval < 0, "SCIMBRIDGE_REFRESH_INTERVAL must not be negative"},
		{c.RefreshInterval > 0 && c.RefreshInterval < 10*time.Second, "SCIMBRIDGE_REFRESH_INTERVAL below 10s would spend Domo's budget on reloading"},
		{c.SnapshotMaxAge < 0, "SCIMBRIDGE_SNAPSHOT_MAX_AGE must not be negative"},
		{c.MaxBodyBytes < 1024, "SCIMBRIDGE_MAX_BODY_BYTES must be at least 1024"},
		{c.ShutdownTimeout < time.Second, "SCIMBRIDGE_SHUTDOWN_TIMEOUT must be at least 1s"},
		{c.AuditRetention < 0 || (c.AuditRetention > 0 && c.AuditRetention < time.Hour), "SCIMBRIDGE_AUDIT_RETENTION must be 0 (keep) or at least 1h"},
		{(c.TLSCert == "") != (c.TLSKey == ""), "SCIMBRIDGE_TLS_CERT and SCIMBRIDGE_TLS_KEY go together"},
		{c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http"), "SCIMBRIDGE_BASE_URL must be an absolute http(s) URL"},
		{c.LogFormat != "json" && c.LogFormat != "console", "SCIMBRIDGE_LOG_FORMAT must be json or console"},
		{!slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel), fmt.Sprintf("SCIMBRIDGE_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)},
	}
	roles := mapping.NewRoles(c.Roles)
	if _, ok := roles.Lookup(c.DefaultRole); !ok {
		checks = append(checks, struct {
			bad bool
			msg string
		}{true, fmt.Sprintf("SCIMBRIDGE_DEFAULT_ROLE %q is not a known Domo role", c.DefaultRole)})
	}
	if _, ok := roles.Lookup(c.DemoteRole); !ok && c.Deprovision == bridge.PolicyDemote {
		checks = append(checks, struct {
			bad bool
			msg string
		}{true, fmt.Sprintf("SCIMBRIDGE_DEMOTE_ROLE %q is not a known Domo role", c.DemoteRole)})
	}
	var errs []error
	for _, ch := range checks {
		if ch.bad {
			errs = append(errs, errors.New(ch.msg))
		}
	}
	return errors.Join(errs...)
}
