package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/store"
)

// check validates the configuration and the Domo connection, prints a readable report and
// fails on any problem, so an operator knows before pointing an IdP at the bridge.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var problems []string
	ok := func(format string, a ...any) { fmt.Fprintf(stdout, "  ok    "+format+"\n", a...) }
	bad := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		problems = append(problems, msg)
		fmt.Fprintf(stdout, "  FAIL  %s\n", msg)
	}
	cfg, err := loadConfig("check", args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		configUsage("check", "Validates the configuration serve would use, reaches Domo and reports; exits non-zero on any problem.", stdout)
		return nil
	}
	fmt.Fprintln(stdout, "scimbridge check")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		for _, e := range splitErrors(err) {
			bad("configuration: %v", e)
		}
		return fmt.Errorf("%d problem(s) found", len(problems))
	}
	ok("configuration (%d bearer token(s), deprovision policy %s, rate limit %d/min)", len(cfg.Tokens), cfg.Deprovision, cfg.DomoRateLimit)

	st, err := store.Open(ctx, cfg.State)
	if err != nil {
		bad("state %s: %v", store.Describe(cfg.State), err)
	} else {
		ok("state %s opens and is up to date", st.Describe())
		st.Close()
	}

	client, err := domo.New(domo.Config{
		BaseURL: cfg.DomoAPIURL, ClientID: cfg.DomoClientID, ClientSecret: cfg.DomoSecret,
		RatePerMinute: cfg.DomoRateLimit, Logger: zerolog.Nop(),
	})
	if err != nil {
		bad("Domo client: %v", err)
		return fmt.Errorf("%d problem(s) found", len(problems))
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tok, err := client.Token(cctx)
	if err != nil {
		bad("Domo token from %s: %v", cfg.DomoAPIURL, err)
		return fmt.Errorf("%d problem(s) found", len(problems))
	}
	ok("Domo token obtained (customer %q, scope %q, API client owner %d protected)", tok.Customer, tok.Scope, tok.UserID)
	if !slices.Contains(strings.Fields(tok.Scope), "user") {
		bad("the Domo API client lacks the \"user\" scope (it has %q): give it the user scope in Domo's developer portal", tok.Scope)
	}

	roles := mapping.NewRoles(cfg.Roles)
	users := 0
	unknownRoles := map[string]int{}        // role name -> users
	wrongIDs := map[string]map[int64]bool{} // role name -> ids Domo gives it, where the catalogue says otherwise
	for u, err := range client.Users(cctx) {
		if err != nil {
			bad("listing Domo users: %v", err)
			break
		}
		users++
		if u.Role == "" {
			continue
		}
		r, found := roles.Lookup(u.Role)
		switch {
		case !found:
			unknownRoles[u.Role]++
		case u.RoleID != 0 && int64(u.RoleID) != r.ID:
			if wrongIDs[u.Role] == nil {
				wrongIDs[u.Role] = map[int64]bool{}
			}
			wrongIDs[u.Role][int64(u.RoleID)] = true
		}
	}
	ok("%d Domo users readable", users)
	if len(unknownRoles) > 0 {
		names := make([]string, 0, len(unknownRoles))
		for n, c := range unknownRoles {
			names = append(names, fmt.Sprintf("%q (%d users)", n, c))
		}
		sort.Strings(names)
		bad("roles not in the catalogue, add them to SCIMBRIDGE_ROLES as Name=id: %s", strings.Join(names, ", "))
	}
	if len(wrongIDs) > 0 {
		var msgs []string
		for n, ids := range wrongIDs {
			r, _ := roles.Lookup(n)
			var got []string
			for id := range ids {
				got = append(got, fmt.Sprint(id))
			}
			sort.Strings(got)
			msgs = append(msgs, fmt.Sprintf("%q is id %s in Domo, %d in the catalogue", n, strings.Join(got, "/"), r.ID))
		}
		sort.Strings(msgs)
		bad("role ids differ from Domo's, fix SCIMBRIDGE_ROLES: %s", strings.Join(msgs, "; "))
	}
	if len(unknownRoles) == 0 && len(wrongIDs) == 0 {
		ok("every user's role is a known role with the right id")
	}
	groups := 0
	var defaultGroup int64
	for g, err := range client.Groups(cctx) {
		if err != nil {
			bad("listing Domo groups: %v", err)
			break
		}
		groups++
		if g.Default {
			defaultGroup = g.ID
		}
	}
	ok("%d Domo groups readable", groups)
	checkInstance(cctx, cfg, domo.ProbeHints{UserID: tok.UserID, GroupID: defaultGroup}, roles, ok, bad)
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) found", len(problems))
	}
	fmt.Fprintln(stdout, "all checks passed")
	return nil
}

// checkInstance probes Domo's instance APIs when they are configured and reports each
// capability, the tenant's roles and its custom attribute keys. A capability that does not
// work is a problem: the bridge would fall back to v1, but the operator configured it to work.
func checkInstance(ctx context.Context, cfg Config, hints domo.ProbeHints, roles *mapping.Roles, ok, bad func(string, ...any)) {
	inst, err := newInstance(cfg, zerolog.Nop(), domo.Hooks{})
	if err != nil {
		bad("Domo instance APIs: %v", err)
		return
	}
	if inst == nil {
		ok("Domo instance APIs not configured: custom attributes, manager and hire date stay in the bridge; membership goes one member per call (set SCIMBRIDGE_DOMO_INSTANCE_URL and SCIMBRIDGE_DOMO_ACCESS_TOKEN to use them)")
		return
	}
	for _, st := range inst.Probe(ctx, hints) {
		if st.Available {
			ok("Domo instance capability %s available", st.Capability)
		} else {
			bad("Domo instance capability %s unavailable at %s: %s (status %d); the bridge falls back", st.Capability, cfg.DomoInstanceURL, st.Reason, st.Status)
		}
	}
	if inst.Available(domo.CapRoles) {
		list := inst.Roles()
		names := make([]string, 0, len(list))
		for _, r := range list {
			names = append(names, fmt.Sprintf("%s (%d)", r.Name, r.ID))
			if known, found := roles.ByID(r.ID); found && !strings.EqualFold(known.Name, r.Name) {
				bad("role %d is %q in Domo and %q in SCIMBRIDGE_ROLES", r.ID, r.Name, known.Name)
			}
		}
		ok("%d Domo roles, usable by name or id in roles[0].value: %s", len(list), strings.Join(names, ", "))
	}
	// The attribute catalogue is optional: without it the attributes capability works, and
	// Domo's answer to each write judges the keys. Reported, never a problem.
	if cat := inst.Catalogue(); cat.Available {
		var custom []string
		for _, k := range inst.AttributeKeys() {
			if k.Keyspace == "customer-defined" || k.Keyspace == "" {
				custom = append(custom, k.Key)
			}
		}
		ok("%d custom user attribute keys in Domo (customAttributes keys, case-sensitive): %s", len(custom), strings.Join(custom, ", "))
	} else if inst.Available(domo.CapAttributes) {
		ok("Domo attribute catalogue not available (%s, status %d): customAttributes keys are not checked in advance; Domo's answer to each write refuses a key it does not have", cat.Reason, cat.Status)
	}
	ok("membership batch: %d members per bulk call", inst.BatchSize())
}

func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
