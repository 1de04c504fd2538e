package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// A test binary started with SCIMBRIDGE_TEST_CHILD=serve is a real `scimbridge serve`
// process (run() with the process's environment), for tests that kill -9 it.
func init() {
	if os.Getenv("SCIMBRIDGE_TEST_CHILD") != "serve" {
		return
	}
	err := run(context.Background(), []string{"scimbridge", "serve"}, os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is a scimbridge process started from the test binary.
type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SCIMBRIDGE_TEST_CHILD=serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	c := &child{cmd: cmd}
	select {
	case c.base = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the child bridge did not start listening")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the child bridge never became ready")
		}
		time.Sleep(20 * time.Millisecond) // a readiness poll
	}
}

func (c *child) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestKillDuringDemotionLosesNothing kills -9 a real bridge process in the middle of a
// deactivation under the demote policy: Domo has demoted the user and taken it out of one of
// its two groups when the process dies. The next process finishes the deactivation by itself,
// and the reactivation then gives back the role and both groups: nothing the demotion took
// away was forgotten.
func TestKillDuringDemotionLosesNothing(t *testing.T) {
	sim := domosim.New(domosim.Options{Seed: 5})
	uid := sim.AddUser(domosim.SimUser{Name: "Kim Ill", Email: "kim@example.com", Role: "Privileged", RoleID: 2})
	var groups []int64
	for _, name := range []string{"Sales", "Ops"} {
		g := sim.AddGroup(name)
		if err := sim.AddMemberDirect(g, uid); err != nil {
			t.Fatal(err)
		}
		groups = append(groups, g)
	}
	removal := regexp.MustCompile(`^/v1/groups/\d+/users/\d+$`)
	var once sync.Once
	applied := make(chan struct{})
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && removal.MatchString(r.URL.Path) {
			first := false
			once.Do(func() { first = true })
			if first {
				sim.ServeHTTP(httptest.NewRecorder(), r) // Domo applies it ...
				close(applied)
				<-hold // ... and the process dies before it hears back
				return
			}
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs before srv.Close, which waits for the held request
	opts := sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR": "127.0.0.1:0", "SCIMBRIDGE_TOKEN": "okta:" + testToken,
		"SCIMBRIDGE_ADMIN_TOKEN":  "ops:" + testToken + "-ops",
		"SCIMBRIDGE_DOMO_API_URL": srv.URL, "SCIMBRIDGE_DOMO_CLIENT_ID": opts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": opts.ClientSecret, "SCIMBRIDGE_DEPROVISION": "demote",
		"SCIMBRIDGE_STATE": filepath.Join(t.TempDir(), "state.db"), "SCIMBRIDGE_LOG_LEVEL": "error",
	}
	first := startChild(t, env)
	id := fmt.Sprint(uid)
	answered := make(chan int, 1)
	go func() {
		// The connection dies with the process: no answer is expected.
		req, _ := http.NewRequest("PATCH", first.base+"/scim/v2/Users/"+id, strings.NewReader(`{"Operations":[{"op":"replace","path":"active","value":false}]}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			answered <- resp.StatusCode
		}
	}()
	select {
	case <-applied:
	case s := <-answered:
		t.Fatalf("the deactivation answered %d before reaching the groups", s)
	case <-time.After(30 * time.Second):
		t.Fatal("the deactivation never reached the groups")
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	release()
	if u, _ := sim.User(uid); u.Role != "Social" {
		t.Fatalf("the test needs the demotion applied before the kill; role %s", u.Role)
	}

	second := startChild(t, env)
	// The new process finishes the deactivation once its index is loaded; status counts
	// what is left.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, st := second.do(t, "GET", "/admin/v1/status", testToken+"-ops", "")
		if n, ok := st["unfinished"].(float64); ok && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the interrupted deactivation was not finished: %v", st)
		}
		time.Sleep(20 * time.Millisecond) // a readiness poll
	}
	memberOf := func() []int64 {
		var in []int64
		for _, g := range groups {
			if slices.Contains(sim.Members(g), uid) {
				in = append(in, g)
			}
		}
		return in
	}
	if in := memberOf(); len(in) != 0 {
		t.Fatalf("after the restart the user is still in groups %v", in)
	}
	if status, body := second.do(t, "GET", "/scim/v2/Users/"+id, testToken, ""); status != http.StatusOK || body["active"] != false {
		t.Fatalf("GET after the restart: %d %v", status, body)
	}
	// The IdP, which never got its answer, retries: nothing left to do.
	if status, _ := second.do(t, "PATCH", "/scim/v2/Users/"+id, testToken, `{"Operations":[{"op":"replace","path":"active","value":false}]}`); status != http.StatusOK {
		t.Fatalf("the IdP's retry: %d", status)
	}
	if status, _ := second.do(t, "PATCH", "/scim/v2/Users/"+id, testToken, `{"Operations":[{"op":"replace","path":"active","value":true}]}`); status != http.StatusOK {
		t.Fatalf("reactivate: %d", status)
	}
	if u, _ := sim.User(uid); u.Role != "Privileged" || len(memberOf()) != 2 {
		t.Fatalf("after reactivation: role %s, groups %v; want Privileged in both", u.Role, memberOf())
	}
}
