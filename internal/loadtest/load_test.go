package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// tinyLoad is a run small enough for a unit test, with the rate limit on and 5xx injected (a
// share of them after the write took effect) so that retries and lost answers happen.
func tinyLoad() loadOptions {
	return loadOptions{
		users: 14, groups: 3, seedUsers: 5, concurrency: 6,
		rateLimit: 6000, fail5xx: 0.05, fail5xxAfter: 0.3, deprovision: "mark",
		seed: 7, attempts: 8, maxRetryWait: 2 * time.Second, timeout: 2 * time.Minute,
	}
}

func TestLoadIsConsistent(t *testing.T) {
	for _, policy := range []string{"mark", "demote", "delete"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			o := tinyLoad()
			o.deprovision = policy
			var progress syncBuffer
			o.progress, o.progressEvery = &progress, 50*time.Millisecond
			rep, err := runLoad(context.Background(), o, testBridge)
			if err != nil {
				t.Fatal(err)
			}
			assertProgress(t, progress.String(), o)
			if !rep.Consistent() {
				t.Fatalf("consistency check failed:\n%s", strings.Join(rep.Problems, "\n"))
			}
			if rep.ByStatus[http.StatusInternalServerError] != 0 {
				t.Errorf("the bridge answered 500 %d times", rep.ByStatus[http.StatusInternalServerError])
			}
			// More 201s than users and groups would be a duplicate; fewer happen when a lost
			// answer made the IdP link on 409.
			if got, most := rep.ByStatus[http.StatusCreated], o.users+o.groups; got == 0 || got > most {
				t.Errorf("201 answers = %d, want 1..%d", got, most)
			}
			if rep.UsersUncertain == 0 && rep.UsersExpected+rep.UsersDeleted != o.users {
				t.Errorf("users accounted for = %d live + %d deleted, want %d", rep.UsersExpected, rep.UsersDeleted, o.users)
			}
			if rep.GroupsChecked != o.groups || (policy == "mark" && rep.MembershipsTotal == 0) {
				t.Errorf("checked %d groups with %d memberships, want %d groups with members", rep.GroupsChecked, rep.MembershipsTotal, o.groups)
			}
			assertOpsCounted(t, rep, o)
		})
	}
}

// assertOpsCounted checks that the Domo calls of each operation were attributed from the
// access log, and that the figures the design promises hold: a userName match costs Domo
// nothing, a create at least one call.
func assertOpsCounted(t *testing.T, rep *loadReport, o loadOptions) {
	t.Helper()
	ops := map[string]opStats{}
	for _, s := range rep.Ops {
		ops[s.Op] = s
		if s.WithCounts == 0 {
			t.Errorf("%s: no access-log line matched its %d requests", s.Op, s.Count)
		}
	}
	for _, op := range []string{"POST /Users", "GET /Users?filter=userName eq", "PATCH /Groups/{id} add member", "PUT /Users/{id}", "PATCH /Users/{id} profile"} {
		if ops[op].Count == 0 {
			t.Errorf("no %q requests were sent", op)
		}
	}
	if s := ops["GET /Users?filter=userName eq"]; s.DomoCalls != 0 {
		t.Errorf("userName matches made %d Domo calls; they are answered from the index", s.DomoCalls)
	}
	if s := ops["POST /Users"]; s.DomoCalls < int64(o.users) {
		t.Errorf("creates made %d Domo calls for %d users", s.DomoCalls, o.users)
	}
}

// TestLoadDetectsInconsistency proves the check can fail: after the traffic, Domo is changed
// behind the bridge's back in each way the check must notice.
func TestLoadDetectsInconsistency(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, sim *domosim.Sim, w *world)
		want   string
	}{
		{"user lost", func(t *testing.T, sim *domosim.Sim, w *world) {
			u := liveLoadUser(t, w)
			if err := sim.DeleteUserDirect(mustID(t, u.id)); err != nil {
				t.Fatal(err)
			}
		}, "lost:"},
		{"value changed", func(t *testing.T, sim *domosim.Sim, w *world) {
			u := liveLoadUser(t, w)
			if err := sim.EditUser(mustID(t, u.id), func(su *domosim.SimUser) { su.Title = "Changed behind the bridge" }); err != nil {
				t.Fatal(err)
			}
		}, "value: Domo title"},
		{"stray user", func(t *testing.T, sim *domosim.Sim, w *world) {
			if sim.AddUser(domosim.SimUser{Name: "Stray", Email: "stray." + w.runID + "@" + loadDomain}) == 0 {
				t.Fatal("stray user not added")
			}
		}, "count: Domo holds"},
		{"extra membership", func(t *testing.T, sim *domosim.Sim, w *world) {
			g := w.groups[0]
			for _, u := range w.users {
				if u.created && !u.deleted && !u.groups[0] {
					if err := sim.AddMemberDirect(mustID(t, g.id), mustID(t, u.id)); err != nil {
						t.Fatal(err)
					}
					return
				}
			}
			t.Fatal("every live user is in the first group")
		}, "membership extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tinyLoad()
			o.users, o.fail5xx, o.rateLimit = 10, 0, 0
			ctx := context.Background()
			r, err := startLoad(ctx, o, testBridge)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			r.drive(ctx)
			tt.tamper(t, r.sim, r.w)
			rep, err := r.finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Consistent() {
				t.Fatalf("the check passed after %s", tt.name)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tt.want) {
				t.Errorf("problems do not mention %q:\n%s", tt.want, strings.Join(rep.Problems, "\n"))
			}
			var out bytes.Buffer
			rep.print(&out)
			if !strings.Contains(out.String(), "FAIL") {
				t.Errorf("report does not say FAIL:\n%s", out.String())
			}
		})
	}
}

func liveLoadUser(t *testing.T, w *world) *wantUser {
	t.Helper()
	for _, u := range w.users {
		if u.created && !u.deleted && u.active && len(u.uncertain) == 0 {
			return u
		}
	}
	t.Fatal("no live, active load user")
	return nil
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

func TestLoadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // error substring; "" for success
	}{
		{nil, ""},
		{[]string{"--users", "0"}, "--users must be at least 1"},
		{[]string{"--fail-5xx", "0.9"}, "--fail-5xx must be between 0 and 0.5"},
		{[]string{"--deprovision", "erase"}, "--deprovision must be mark, demote or delete"},
		{[]string{"--rate-limit", "10"}, "--rate-limit must be 0 or at least 60"},
		{[]string{"--concurrency", "0", "--groups", "0"}, "--groups must be at least 1"},
		{[]string{"extra"}, "unexpected arguments: extra"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseLoadFlags(tt.args, &bytes.Buffer{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// assertProgress checks the live progress a run wrote to a pipe: whole lines with requests,
// rate, errors and an ETA, the last one with every lifecycle done.
func assertProgress(t *testing.T, out string, o loadOptions) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "load: ") && strings.Contains(l, "lifecycles done") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 || strings.Contains(out, "\r") {
		t.Fatalf("progress lines:\n%s", out)
	}
	for _, want := range []string{" requests, ", "/s, ", " errors (", " elapsed, ETA "} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("progress line %q lacks %q", lines[0], want)
		}
	}
	total := o.users + o.groups
	if last := lines[len(lines)-1]; !strings.Contains(last, fmt.Sprintf("%d/%d lifecycles done", total, total)) || !strings.HasSuffix(last, "ETA 0s") {
		t.Errorf("last progress line %q, want all %d lifecycles done", last, total)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
