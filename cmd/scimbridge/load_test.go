package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

func noEnv(string) string { return "" }

func TestLoadCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"scimbridge", "load", "--users", "6", "--groups", "2", "--seed-users", "2", "--concurrency", "3", "--rate-limit", "60000", "--fail-5xx", "0"}
	if err := run(context.Background(), args, noEnv, &out, &errOut); err != nil {
		t.Fatalf("load: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"SCIM requests by status", "p50", "p99", "Domo calls/request", "POST /Users", "Consistency", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	checkREADMELoadSample(t, out.String())
	// stderr is not a terminal here: progress comes as whole lines, the last one at the end of
	// the traffic with every lifecycle done.
	progress := errOut.String()
	if !strings.Contains(progress, "load: ") || !strings.Contains(progress, "8/8 lifecycles done") || strings.Contains(progress, "\r") {
		t.Errorf("progress on stderr:\n%s", progress)
	}
}

// checkREADMELoadSample keeps the README's sample of `scimbridge load` true to what the command
// prints: every line of the sample that is not indented (the headings and summary lines) has
// the same words as a line of a real run, numbers apart.
func checkREADMELoadSample(t *testing.T, out string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i := strings.Index(readme, "$ scimbridge load 2>progress.log\n")
	j := strings.Index(readme, "$ cat progress.log")
	if i < 0 || j < i {
		t.Fatal("README.md has no sample of scimbridge load")
	}
	sample := readme[i+len("$ scimbridge load 2>progress.log\n") : j]
	shape := func(line string) string {
		line = regexp.MustCompile(`[0-9]+(\.[0-9]+)?(ms|s\b)?`).ReplaceAllString(line, "N")
		return strings.Join(strings.Fields(line), " ")
	}
	got := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		got[shape(l)] = true
	}
	for _, l := range strings.Split(sample, "\n") {
		if l == "" || strings.HasPrefix(l, " ") {
			continue
		}
		if !got[shape(l)] {
			t.Errorf("the README's load sample has %q, which scimbridge load does not print (its output:\n%s)", l, out)
		}
	}
}

// TestLoadReplicas: `scimbridge load --replicas 3` over one PostgreSQL, the replicas real
// `serve` processes behind the round-robin front, one killed with SIGKILL in the middle: every
// replica served, the killed one is reported, the password of the state never shows, and the
// consistency check passes (nothing lost or duplicated).
func TestLoadReplicas(t *testing.T) {
	state := pgtest.URL(t)
	var out, errOut bytes.Buffer
	args := []string{"scimbridge", "load", "--users", "40", "--groups", "3", "--seed-users", "5", "--concurrency", "6",
		"--rate-limit", "6000", "--replicas", "3", "--state", state, "--kill-after", "1500ms"}
	if err := run(context.Background(), args, noEnv, &out, &errOut); err != nil {
		t.Fatalf("load: %v\n%s%s", err, out.String(), errOut.String())
	}
	report := out.String()
	for _, want := range []string{"Replicas: 3 `scimbridge serve` processes", "killed with SIGKILL after 1.5s", "of the budget", "Consistency", "PASS"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if u, _ := url.Parse(state); u != nil {
		if pass, _ := u.User.Password(); strings.Contains(report+errOut.String(), pass) {
			t.Error("the report shows the state's password")
		}
	}
	// Each replica's row: index, requests, ... Every one served some of the traffic.
	rows := regexp.MustCompile(`(?m)^\s+([123])\s+([0-9]+)\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+[0-9]+\s`).FindAllStringSubmatch(report, -1)
	if len(rows) != 3 {
		t.Fatalf("%d replica rows in the report:\n%s", len(rows), report)
	}
	for _, r := range rows {
		if r[2] == "0" {
			t.Errorf("replica %s served nothing", r[1])
		}
	}
}
