package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/store"
)

type auditOptions struct {
	state        string
	since, until time.Time
	user, group  string
	token        string
	limit        int
	json         bool
	page         int // events per store query while scanning; auditPage unless a test sets it
}

// audit prints the audit log of Domo writes from the state file: who (token name), which SCIM
// request, which Domo call, which fields, what came of it. It reads the file beside a running
// bridge safely (SQLite WAL), and never creates one.
func audit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseAuditFlags(args, getenv, time.Now(), stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if !store.IsPostgres(o.state) {
		if _, err := os.Stat(o.state); err != nil {
			return fmt.Errorf("audit: state file %s: %w", o.state, err)
		}
	}
	st, err := store.Open(ctx, o.state)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer st.Close()
	events, err := auditEvents(ctx, st, o)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	slices.Reverse(events) // oldest first, like a log
	if o.json {
		return writeAuditJSON(stdout, events)
	}
	writeAuditTable(stdout, events)
	return nil
}

func parseAuditFlags(args []string, getenv func(string) string, now time.Time, stderr io.Writer) (auditOptions, error) {
	o := auditOptions{}
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: scimbridge audit [flags]\n\nPrints the audit log of Domo writes, oldest first (the newest --limit events that match).\nTimes are RFC 3339 (2025-06-01T12:00:00Z), a date (2025-06-01, UTC) or an age (90m, 24h, 7d).\n\n")
		fs.PrintDefaults()
	}
	var since, until string
	// No default shown: SCIMBRIDGE_STATE may be a URL with a password, and -h prints defaults.
	fs.StringVar(&o.state, "state", "", "the state: a SQLite file or a postgres:// URL (default $SCIMBRIDGE_STATE, else scimbridge.db)")
	fs.StringVar(&since, "since", "", "only events at or after this time")
	fs.StringVar(&until, "until", "", "only events before this time")
	fs.StringVar(&o.user, "user", "", "only writes to this user (SCIM id = Domo user id), memberships included")
	fs.StringVar(&o.group, "group", "", "only writes to this group (SCIM id = Domo group id)")
	fs.StringVar(&o.token, "token", "", "only writes made with this token name")
	fs.IntVar(&o.limit, "limit", 100, "at most this many events (the newest)")
	fs.BoolVar(&o.json, "json", false, "one JSON object per line instead of a table")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("audit: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.state == "" {
		o.state = cmp.Or(strings.TrimSpace(getenv("SCIMBRIDGE_STATE")), "scimbridge.db")
	}
	var errs []error
	var err error
	if o.since, err = parseWhen(since, now); err != nil {
		errs = append(errs, fmt.Errorf("--since: %w", err))
	}
	if o.until, err = parseWhen(until, now); err != nil {
		errs = append(errs, fmt.Errorf("--until: %w", err))
	}
	if !o.since.IsZero() && !o.until.IsZero() && !o.since.Before(o.until) {
		errs = append(errs, errors.New("--since must be before --until"))
	}
	for _, f := range []struct{ name, v string }{{"--user", o.user}, {"--group", o.group}} {
		if n, err := strconv.ParseInt(f.v, 10, 64); f.v != "" && (err != nil || n <= 0) {
			errs = append(errs, fmt.Errorf("%s %q is not a SCIM id (a positive number)", f.name, f.v))
		}
	}
	if o.user != "" && o.group != "" {
		errs = append(errs, errors.New("--user and --group exclude each other"))
	}
	if o.limit < 1 {
		errs = append(errs, errors.New("--limit must be at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("audit: %w", err)
	}
	return o, nil
}

// parseWhen reads a point in time: RFC 3339, a date, or an age such as 90m, 24h or 7d.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2025-06-01T12:00:00Z), a date (2025-06-01) or an age (24h, 7d)", s)
}

// auditEvents returns the newest o.limit matching events, newest first.
func auditEvents(ctx context.Context, st store.Store, o auditOptions) ([]store.AuditEvent, error) {
	return bridge.SearchAudit(ctx, st, bridge.AuditQuery{Since: o.since, Until: o.until, User: o.user, Group: o.group, Token: o.token, Limit: o.limit, Page: o.page})
}

// auditJSON is an event as `audit --json` prints it.
type auditJSON struct {
	ID         int64     `json:"id"`
	Time       time.Time `json:"time"`
	Token      string    `json:"token"`
	RequestID  string    `json:"requestId"`
	Operation  string    `json:"operation"`
	DomoCall   string    `json:"domoCall"`
	Resource   string    `json:"resource"`
	ResourceID string    `json:"resourceId"`
	Fields     []string  `json:"fields"`
	Outcome    string    `json:"outcome"`
}

func writeAuditJSON(w io.Writer, events []store.AuditEvent) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		fields := e.Fields
		if fields == nil {
			fields = []string{}
		}
		if err := enc.Encode(auditJSON{e.ID, e.Time.UTC(), e.Token, e.RequestID, e.Operation, e.DomoCall, e.Resource, e.ResourceID, fields, e.Outcome}); err != nil {
			return err
		}
	}
	return nil
}

func writeAuditTable(w io.Writer, events []store.AuditEvent) {
	if len(events) == 0 {
		fmt.Fprintln(w, "no audit events match")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tTOKEN\tREQUEST ID\tSCIM REQUEST\tDOMO CALL\tFIELDS\tOUTCOME")
	for _, e := range events {
		fields := strings.Join(e.Fields, ",")
		if fields == "" {
			fields = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05.000"),
			dash(e.Token), dash(e.RequestID), dash(e.Operation), dash(e.DomoCall), fields, oneLine(e.Outcome))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a multi-line error outcome on its table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
