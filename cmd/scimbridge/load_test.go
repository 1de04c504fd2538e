package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func TestLoadCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"scimbridge", "load", "--users", "6", "--groups", "2", "--seed-users", "2", "--concurrency", "3", "--rate-limit", "0", "--fail-5xx", "0"}
	if err := run(context.Background(), args, noEnv, &out, &errOut); err != nil {
		t.Fatalf("load: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"SCIM requests by status", "p50", "p99", "Domo calls/request", "POST /Users", "Consistency", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// stderr is not a terminal here: progress comes as whole lines, the last one at the end of
	// the traffic with every lifecycle done.
	progress := errOut.String()
	if !strings.Contains(progress, "load: ") || !strings.Contains(progress, "8/8 lifecycles done") || strings.Contains(progress, "\r") {
		t.Errorf("progress on stderr:\n%s", progress)
	}
}
