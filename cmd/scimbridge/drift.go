package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/scimbridge/scimbridge/internal/bridge"
)

// driftCommand prints the running bridge's drift report: what changed in Domo behind its back,
// as of its last index load. The report comes from the load's own reads, so asking for it
// costs Domo nothing.
func driftCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := adminCommand{http.MethodGet, "/admin/v1/drift", "print the drift report of the bridge's last index load (--json for all of it)", ""}
	var limit int
	o, err := parseAdminFlagsWith("drift", cmd, args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 50, "entries shown per list in the table (0: all); --json prints all")
	})
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	client, err := adminClient(o)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw, err := callAdmin(ctx, client, o, cmd.method, cmd.path, nil)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(raw)
	}
	var r bridge.DriftReport
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("drift: the answer of %s is not a drift report: %w", o.url, err)
	}
	printDrift(stdout, &r, limit)
	return nil
}

var driftTitles = map[string]string{
	bridge.DriftUnmanagedUsers:  "Domo users SCIM does not manage",
	bridge.DriftUnmanagedGroups: "Domo groups SCIM does not manage",
	bridge.DriftChangedUsers:    "managed users changed in Domo since the bridge's last write",
	bridge.DriftOrphanedShadows: "records of users or groups gone from Domo",
	bridge.DriftForeignMembers:  "group members added in Domo, not by the IdP",
}

// printDrift renders a report for a person: the counts, then each list that has entries.
func printDrift(w io.Writer, r *bridge.DriftReport, limit int) {
	fmt.Fprintf(w, "Drift as of the index load at %s: %d Domo users, %d groups.\n\n", r.At.UTC().Format("2006-01-02 15:04:05 UTC"), r.DomoUsers, r.DomoGroups)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCOUNT\tWHAT")
	for _, k := range bridge.DriftKinds {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", k, r.Counts[k], driftTitles[k])
	}
	tw.Flush()
	shown := func(n int) int {
		if limit > 0 && n > limit {
			return limit
		}
		return n
	}
	more := func(n, total int) {
		if n < total {
			fmt.Fprintf(w, "  ... and %d more (--limit 0 or --json for all)\n", total-n)
		}
	}
	section := func(kind, header string, n int) *tabwriter.Writer {
		fmt.Fprintf(w, "\n%s (%d):\n", driftTitles[kind], r.Counts[kind])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+header)
		return tw
	}
	if n := len(r.ChangedUsers); n > 0 {
		tw := section(bridge.DriftChangedUsers, "USER\tEMAIL\tFIELD\tAT THE BRIDGE'S LAST WRITE\tIN DOMO NOW", n)
		for _, c := range r.ChangedUsers[:shown(n)] {
			for _, f := range c.Fields {
				fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", c.ID, c.Email, f.Field, dash(f.Was), dash(f.Now))
			}
		}
		tw.Flush()
		more(shown(n), n)
	}
	if n := len(r.ForeignMembers); n > 0 {
		tw := section(bridge.DriftForeignMembers, "GROUP\tNAME\tMEMBER\tEMAIL", n)
		for _, g := range r.ForeignMembers[:shown(n)] {
			for _, m := range g.Members {
				fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\n", g.GroupID, g.GroupName, m.ID, dash(m.Email))
			}
		}
		tw.Flush()
		more(shown(n), n)
	}
	if n := len(r.OrphanedShadows); n > 0 {
		tw := section(bridge.DriftOrphanedShadows, "RESOURCE\tID\tEXTERNAL ID", n)
		for _, o := range r.OrphanedShadows[:shown(n)] {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", o.Resource, o.ID, dash(o.ExternalID))
		}
		tw.Flush()
		more(shown(n), n)
	}
	if n := len(r.UnmanagedGroups); n > 0 {
		tw := section(bridge.DriftUnmanagedGroups, "ID\tNAME", n)
		for _, g := range r.UnmanagedGroups[:shown(n)] {
			fmt.Fprintf(tw, "  %d\t%s\n", g.ID, g.Name)
		}
		tw.Flush()
		more(shown(n), r.Counts[bridge.DriftUnmanagedGroups])
	}
	if n := len(r.UnmanagedUsers); n > 0 {
		tw := section(bridge.DriftUnmanagedUsers, "ID\tEMAIL\tNAME", n)
		for _, u := range r.UnmanagedUsers[:shown(n)] {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", u.ID, dash(u.Email), dash(u.Name))
		}
		tw.Flush()
		more(shown(n), r.Counts[bridge.DriftUnmanagedUsers])
	}
	if r.Truncated {
		fmt.Fprintf(w, "\nThe bridge keeps at most %d entries per list; the counts are complete.\n", bridge.DriftListMax)
	}
}
