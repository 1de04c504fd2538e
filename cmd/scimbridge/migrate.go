package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scimbridge/scimbridge/internal/store"
)

// migrateState moves a SQLite state into an empty PostgreSQL state, for a bridge that grows
// into several replicas: shadows, settings, the index snapshot, the audit log, unfinished
// changes and the breaker's window, all or nothing.
func migrateState(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: scimbridge migrate-state [--from FILE] [--to postgres://...]

Moves a SQLite state into an empty PostgreSQL database, in one transaction. Stop the bridge
first; then point every replica's SCIMBRIDGE_STATE at the database. The file is left as it was.

`)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "the SQLite state file to move (default $SCIMBRIDGE_STATE, else scimbridge.db)")
	to := fs.String("to", "", "the PostgreSQL state to move it into, a postgres:// URL (default $SCIMBRIDGE_MIGRATE_TO, which keeps the password off the command line)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate-state: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	src := cmp.Or(*from, strings.TrimSpace(getenv("SCIMBRIDGE_STATE")), "scimbridge.db")
	dst := cmp.Or(*to, strings.TrimSpace(getenv("SCIMBRIDGE_MIGRATE_TO")))
	var errs []error
	if store.IsPostgres(src) {
		errs = append(errs, fmt.Errorf("--from must be a SQLite file, not %s", store.Describe(src)))
	} else if _, err := os.Stat(src); err != nil {
		errs = append(errs, fmt.Errorf("--from: state file %s: %w", src, err))
	}
	if !store.IsPostgres(dst) {
		errs = append(errs, errors.New("--to (or SCIMBRIDGE_MIGRATE_TO) must be a postgres:// URL"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("migrate-state: %w", err)
	}

	s, err := store.OpenSQLite(ctx, src)
	if err != nil {
		return fmt.Errorf("migrate-state: %w", err)
	}
	defer s.Close()
	p, err := store.OpenPostgres(ctx, dst)
	if err != nil {
		return fmt.Errorf("migrate-state: %w", err)
	}
	defer p.Close()
	n, err := store.MoveToPostgres(ctx, s, p)
	if err != nil {
		return fmt.Errorf("migrate-state: %w", err)
	}
	fmt.Fprintf(stdout, "moved %s into %s: %s\n", src, p.Describe(), n)
	fmt.Fprintln(stdout, "next: set SCIMBRIDGE_STATE to the database's URL on every replica, and start them")
	return nil
}
