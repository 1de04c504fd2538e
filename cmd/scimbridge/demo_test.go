package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `scimbridge demo` through run() and follows its banner: the SCIM URL and token
// answer, and the printed status command works with the printed operator token.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"scimbridge", "demo", "--addr", "127.0.0.1:0", "--seed-users", "4"}, func(string) string { return "" }, pw, stderr)
		pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("demo did not stop")
		}
	}()
	banner := make(chan map[string]string, 1)
	go func() {
		got := map[string]string{}
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if v, ok := strings.CutPrefix(line, "SCIM base URL:"); ok {
				got["base"] = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Bearer token:"); ok {
				got["token"] = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "client secret:"); ok {
				got["secret"] = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Instance APIs:"); ok {
				got["instance"] = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "SCIMBRIDGE_ADMIN_TOKEN=") {
				got["status"] = line
			}
			if strings.HasPrefix(line, "SCIMBRIDGE_DOMO_API_URL=") {
				got["check"] = line
				banner <- got
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var got map[string]string
	select {
	case got = <-banner:
	case err := <-done:
		t.Fatalf("demo exited: %v\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("no banner\n%s", stderr.String())
	}

	// The demo prints its banner once listening; the index loads right after.
	var body map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", got["base"]+"/Users?count=2", nil)
		req.Header.Set("Authorization", "Bearer "+got["token"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo never served: %d %v", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond) // readiness poll
	}
	if body["totalResults"] != float64(4) {
		t.Fatalf("demo users: %v", body)
	}

	// The demo turns Domo's instance APIs on, and they work.
	if !strings.HasPrefix(got["instance"], "on (custom attributes costCenter, region, businessUnit") {
		t.Fatalf("banner: instance APIs %q", got["instance"])
	}
	readyz := strings.TrimSuffix(got["base"], "/scim/v2") + "/readyz"
	resp, err := http.Get(readyz)
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]any
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	inst, _ := ready["domoInstance"].(map[string]any)
	if caps, _ := inst["capabilities"].(map[string]any); inst["degraded"] != false || caps["attributes"] != "available" || caps["roles"] != "available" {
		t.Fatalf("/readyz of the demo: %v", ready)
	}

	// SCIMBRIDGE_ADMIN_TOKEN=... scimbridge status --url ...
	fields := strings.Fields(got["status"])
	tok := strings.TrimPrefix(fields[0], "SCIMBRIDGE_ADMIN_TOKEN=")
	out, err := runAdmin(t, map[string]string{"SCIMBRIDGE_ADMIN_TOKEN": tok}, fields[2:]...)
	if err != nil || !strings.Contains(out, "paused    no") {
		t.Fatalf("%s: %v\n%s", got["status"], err, out)
	}

	// The printed check command, with the simulator's client id and secret, passes.
	env := map[string]string{}
	fields = strings.Fields(got["check"])
	for _, f := range fields[:len(fields)-2] {
		k, v, _ := strings.Cut(f, "=")
		env[k] = v
	}
	if got["secret"] == "" || env["SCIMBRIDGE_DOMO_CLIENT_SECRET"] != got["secret"] || strings.Join(fields[len(fields)-2:], " ") != "scimbridge check" {
		t.Fatalf("check line %q, secret %q", got["check"], got["secret"])
	}
	var checkOut bytes.Buffer
	if err := run(context.Background(), []string{"scimbridge", "check"}, func(k string) string { return env[k] }, &checkOut, io.Discard); err != nil {
		t.Fatalf("%s: %v\n%s", got["check"], err, checkOut.String())
	}
}

// TestDemoSimKnobs: --sim-knob sets any simulator knob, --sim-attribute-keys the tenant's keys.
func TestDemoSimKnobs(t *testing.T) {
	o, err := parseDemoFlags([]string{"--sim-knob", "max-batch=7", "--sim-knob", "instance-grants=identity", "--sim-attribute-keys", "dept,site"}, io.Discard)
	if err != nil || o.sim.MaxBatch != 7 || len(o.sim.InstanceGrants) != 1 || strings.Join(o.sim.AttributeKeys, ",") != "dept,site" {
		t.Fatalf("%v: %+v", err, o.sim)
	}
	for _, bad := range []string{"max-batch", "warp=1", "max-batch=-1"} {
		if _, err := parseDemoFlags([]string{"--sim-knob", bad}, io.Discard); err == nil {
			t.Errorf("--sim-knob %s accepted", bad)
		}
	}
}
