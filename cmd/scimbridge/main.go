package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scimbridge:", err)
		os.Exit(1)
	}
}

const usage = `scimbridge: SCIM 2.0 for Domo tenants without Domo's Enterprise plan.

Usage:
  scimbridge serve [flags]    serve SCIM in front of a Domo tenant (configuration from flags or SCIMBRIDGE_* variables)
  scimbridge demo [flags]     run a Domo simulator and the bridge together on loopback
  scimbridge check [flags]    validate configuration, reach Domo, report, exit non-zero on any problem
  scimbridge audit [flags]    print the audit log of Domo writes from the state file (--since, --user, --json)
  scimbridge pause --reason R stop provisioning writes on a running bridge (503 + Retry-After); reads go on
  scimbridge resume           let provisioning writes through again
  scimbridge breaker-reset    close the deprovision breaker
  scimbridge status           show the running bridge's switches and index
  scimbridge drift            what changed in Domo behind the bridge's back, as of its last index load (--json)
                              (these five: --url, operator token from SCIMBRIDGE_ADMIN_TOKEN or --token-file)
  scimbridge healthcheck      probe the bridge on loopback (/healthz, --ready for /readyz); for container health checks
  scimbridge load [flags]     drive a bridge and a Domo simulator with IdP-shaped traffic, check consistency
                              (--replicas N: N bridges over one PostgreSQL)
  scimbridge migrate-state --to postgres://...
                              move a SQLite state into an empty PostgreSQL database (several replicas)
  scimbridge version          print the version

Run "scimbridge <command> -h" for a command's flags.
`

// run is the whole program: main only supplies the operating system.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return demo(ctx, rest, getenv, stdout, stderr)
	case "check":
		return check(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return audit(ctx, rest, getenv, stdout, stderr)
	case "pause", "resume", "breaker-reset", "status":
		return admin(ctx, cmd, rest, getenv, stdout, stderr)
	case "drift":
		return driftCommand(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stdout, stderr)
	case "load":
		return load(ctx, rest, getenv, stdout, stderr)
	case "migrate-state":
		return migrateState(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "scimbridge", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// buildVersion is set at link time (-ldflags "-X main.buildVersion=v1.2.3") by builds that
// have no VCS information, such as the Docker image.
var buildVersion string

// version is the module version and VCS revision the binary was built from.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
