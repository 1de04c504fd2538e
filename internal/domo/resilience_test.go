package domo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

func newUser(email string) domo.UserUpdate {
	return domo.UserUpdate{User: domo.User{Name: "Grace Hopper", Email: email, Role: "Participant", Title: "Rear Admiral"}}
}

func usersWithEmail(sim *domosim.Sim, email string) int {
	n := 0
	for _, u := range sim.Users() {
		if strings.EqualFold(u.Email, email) {
			n++
		}
	}
	return n
}

func TestCreateAfterUnknownOutcomeCreatesOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  domosim.Fault
		reason string
	}{
		{"5xx after commit", domosim.Fault{Method: "POST", Route: "/v1/users", Status: 502, After: true}, "5xx"},
		{"connection dropped after commit", domosim.Fault{Method: "POST", Route: "/v1/users", Drop: true, After: true}, "conn"},
		{"5xx before commit", domosim.Fault{Method: "POST", Route: "/v1/users", Status: 503}, "5xx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, domosim.Options{}, nil)
			r.sim.SeedUsers(600)
			r.sim.InjectFault(tc.fault)
			u, err := r.client.CreateUser(ctxT(t, 20*time.Second), newUser("grace@navy.example"), true)
			if err != nil {
				t.Fatal(err)
			}
			if n := usersWithEmail(r.sim, "grace@navy.example"); n != 1 {
				t.Fatalf("%d users with the email", n)
			}
			su, _ := r.sim.UserByEmail("grace@navy.example")
			if u.ID != su.ID {
				t.Fatalf("returned %d, Domo holds %d", u.ID, su.ID)
			}
			if got := r.calls.get(r.calls.retries, tc.reason); got != 1 {
				t.Fatalf("%d retries for %s", got, tc.reason)
			}
			posts := r.sim.Stats().ByRoute["POST /v1/users"]
			if tc.fault.After && posts != 1 {
				t.Fatalf("%d POSTs: the lookup should have found the committed user", posts)
			}
			if !tc.fault.After && posts != 2 {
				t.Fatalf("%d POSTs: nothing was committed, so one more was due", posts)
			}
		})
	}
}

// slowOnce commits the first request matching method and path, then holds the answer back
// past the client's timeout.
func slowOnce(sim *domosim.Sim, method, path string, hold time.Duration) http.Handler {
	var done atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == method && r.URL.Path == path && done.CompareAndSwap(false, true) {
			sim.ServeHTTP(httptest.NewRecorder(), r)
			select {
			case <-time.After(hold):
			case <-r.Context().Done():
			}
			return
		}
		sim.ServeHTTP(w, r)
	})
}

func TestCreateAfterTimeoutCreatesOnce(t *testing.T) {
	t.Parallel()
	sim := domosim.New(domosim.Options{Seed: 5})
	srv := httptest.NewServer(slowOnce(sim, "POST", "/v1/users", 2*time.Second))
	defer srv.Close()
	cnt := &counter{requests: map[string]int{}, retries: map[string]int{}}
	c, err := domo.New(domo.Config{
		BaseURL: srv.URL, ClientID: "sim-client", ClientSecret: "sim-secret", RatePerMinute: 600000,
		HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}, Hooks: cnt.hooks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.CreateUser(ctxT(t, 10*time.Second), newUser("slow@x.example"), false)
	if err != nil {
		t.Fatal(err)
	}
	if n := usersWithEmail(sim, "slow@x.example"); n != 1 || u.Email != "slow@x.example" {
		t.Fatalf("%d users with the email; got %+v", n, u)
	}
	if cnt.get(cnt.retries, "timeout") != 1 {
		t.Fatalf("retries %v", cnt.retries)
	}
}

func TestCreateGroupAfterUnknownOutcomeCreatesOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	r.sim.InjectFault(domosim.Fault{Method: "POST", Route: "/v1/groups", Status: 504, After: true})
	g, err := r.client.CreateGroup(ctxT(t, 10*time.Second), "Engineering")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sg := range r.sim.GroupsSnapshot() {
		if sg.Name == "Engineering" && !sg.Deleted {
			n++
			if sg.ID != g.ID {
				t.Fatalf("returned %d, Domo holds %d", g.ID, sg.ID)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d groups named Engineering", n)
	}
}

func TestIdempotentRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	ctx := ctxT(t, 20*time.Second)
	owner := r.sim.OwnerID()

	r.sim.InjectFault(domosim.Fault{Route: "/v1/users/{id}", Status: 503, Times: 2})
	if _, err := r.client.GetUser(ctx, owner); err != nil {
		t.Fatalf("get after two 503s: %v", err)
	}
	if got := r.calls.get(r.calls.retries, "5xx"); got != 2 {
		t.Fatalf("%d 5xx retries", got)
	}

	id := r.sim.AddUser(domosim.SimUser{Name: "Del", Email: "del@x.example"})
	r.sim.InjectFault(domosim.Fault{Method: "DELETE", Route: "/v1/users/{id}", Status: 500, After: true})
	if err := r.client.DeleteUser(ctx, id); err != nil {
		t.Fatalf("delete whose first answer was lost: %v", err)
	}
	if u, _ := r.sim.User(id); !u.Deleted {
		t.Fatal("not deleted")
	}

	gid := r.sim.AddGroup("G")
	r.sim.InjectFault(domosim.Fault{Method: "DELETE", Route: "/v1/groups/{id}/users/{userId}", Drop: true, After: true})
	_ = r.sim.AddMemberDirect(gid, owner)
	r.sim.SetOptions(func(o *domosim.Options) { o.RemoveNonMemberStatus = 404 })
	if err := r.client.RemoveGroupMember(ctx, gid, owner); err != nil {
		t.Fatalf("remove whose first answer was lost: %v", err)
	}
	if err := r.client.RemoveGroupMember(ctx, gid, owner); !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("remove non-member on a 404 tenant: %v", err)
	}

	r.sim.InjectFault(domosim.Fault{Route: "/v1/users/{id}", Status: 503, Times: 100})
	_, err := r.client.GetUser(ctx, owner)
	if !errors.Is(err, domo.ErrUnavailable) {
		t.Fatalf("persistent 503: %v", err)
	}
	if n := r.calls.get(r.calls.requests, "users.get"); n != 3+6 {
		t.Fatalf("%d attempts, want 3 earlier + 6 (MaxAttempts)", n)
	}
}

func TestDeadlineBoundsRetries(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{Fail5xx: 1}, nil)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, err := r.client.GetUser(ctx, r.sim.OwnerID())
	if !errors.Is(err, domo.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	if el := time.Since(start); el > 450*time.Millisecond {
		t.Fatalf("took %s, past the deadline", el)
	}
}

func TestReplacePutKeepsEverything(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{PutMode: "replace"}, nil)
	ctx := ctxT(t, 10*time.Second)
	id := r.sim.AddUser(domosim.SimUser{
		Name: "Full Record", Email: "full@x.example", AlternateEmail: "alt@x.example", Role: "Editor",
		Title: "Boss", Phone: "+1 555 0100", Location: "Paris", Timezone: "Europe/Paris", Locale: "fr-FR",
		EmployeeNumber: 99, EmployeeID: "E-99", Department: "Ops",
	})
	before, _ := r.sim.User(id)
	got, err := r.client.GetUser(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got.Title = "Chief"
	if _, err := r.client.UpdateUser(ctx, id, domo.UserUpdate{User: got}); err != nil {
		t.Fatal(err)
	}
	after, _ := r.sim.User(id)
	want := before
	want.Title, want.UpdatedAt = "Chief", after.UpdatedAt
	if after != want {
		t.Fatalf("replace-mode PUT lost data:\n got %+v\nwant %+v", after, want)
	}
	// A partial body on the same tenant loses fields: the reason callers send the whole record.
	if _, err := r.client.UpdateUser(ctx, id, domo.UserUpdate{User: domo.User{Name: got.Name, Email: got.Email, Role: got.Role}}); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.sim.User(id); u.Department != "" {
		t.Fatal("the replace knob does not clear omitted fields")
	}
}

// syncBuffer collects log output from concurrent requests.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConcurrent401RenewsOnce(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	r := newRig(t, domosim.Options{}, func(c *domo.Config) { c.Logger = zerolog.New(logs).Level(zerolog.DebugLevel) })
	ctx := ctxT(t, 10*time.Second)
	if _, err := r.client.Token(ctx); err != nil {
		t.Fatal(err)
	}
	r.sim.ExpireTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := r.client.GetUser(ctx, r.sim.OwnerID()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := r.sim.Stats().Tokens; n != 2 {
		t.Fatalf("%d tokens issued, want 2 (initial + one renewal)", n)
	}
	// Neither the secret nor any token (JWT-shaped, "eyJ...") reaches the log.
	if out := logs.String(); !strings.Contains(out, `"reason":"401"`) || strings.Contains(out, "sim-secret") || strings.Contains(out, "eyJ") {
		t.Fatalf("log:\n%s", out)
	}
	// Goroutines scheduled after the renewal never see a 401; at least one must have.
	if n := r.calls.get(r.calls.retries, "401"); n < 1 || n > 20 {
		t.Fatalf("%d 401 retries, want 1..20", n)
	}
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{TokenTTL: time.Second}, nil)
	ctx := ctxT(t, 10*time.Second)
	info, err := r.client.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(info.Expiry) - 50*time.Millisecond) // inside the renewal margin
	if _, err := r.client.GetUser(ctx, r.sim.OwnerID()); err != nil {
		t.Fatal(err)
	}
	if n := r.calls.get(r.calls.retries, "401"); n != 0 {
		t.Fatalf("%d 401s: the token was not renewed ahead of expiry", n)
	}
	if n := r.sim.Stats().Tokens; n != 2 {
		t.Fatalf("%d tokens", n)
	}
}

func TestMaxWaitFailsFast(t *testing.T) {
	t.Parallel()
	t.Run("pacer", func(t *testing.T) {
		r := newRig(t, domosim.Options{}, func(c *domo.Config) { c.RatePerMinute = 60; c.MaxWait = 100 * time.Millisecond })
		ctx := ctxT(t, 10*time.Second)
		// The token request takes the first slot; the GET would wait about a second.
		start := time.Now()
		_, err := r.client.GetUser(ctx, r.sim.OwnerID())
		var rl *domo.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter < 500*time.Millisecond {
			t.Fatalf("err %v", err)
		}
		if el := time.Since(start); el > 300*time.Millisecond {
			t.Fatalf("took %s to fail", el)
		}
		if rl.RetryAfterDuration() != rl.RetryAfter {
			t.Fatal("RetryAfterDuration")
		}
	})
	t.Run("429", func(t *testing.T) {
		r := newRig(t, domosim.Options{RateLimit: 2, RateWindow: 10 * time.Second}, func(c *domo.Config) { c.MaxWait = 200 * time.Millisecond })
		ctx := ctxT(t, 10*time.Second)
		if _, err := r.client.GetUser(ctx, r.sim.OwnerID()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := r.client.GetUser(ctx, r.sim.OwnerID())
		var rl *domo.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter < 5*time.Second {
			t.Fatalf("err %v", err)
		}
		if el := time.Since(start); el > 300*time.Millisecond {
			t.Fatalf("took %s to fail", el)
		}
		// X-RateLimit-Remaining: 0 on the first answer told the client to hold off: no 429.
		if n := r.sim.Stats().RateLimited; n != 0 {
			t.Fatalf("%d 429s", n)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		r := newRig(t, domosim.Options{}, func(c *domo.Config) { c.RatePerMinute = 60 })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		var rl *domo.RateLimitError
		if _, err := r.client.GetUser(ctx, r.sim.OwnerID()); !errors.As(err, &rl) {
			t.Fatalf("err %v", err)
		}
	})
}

func Test429BacksOffAndSucceeds(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{RateLimit: 5, RateWindow: time.Second}, nil)
	ctx := ctxT(t, 20*time.Second)
	for range 12 {
		if _, err := r.client.GetUser(ctx, r.sim.OwnerID()); err != nil {
			t.Fatal(err)
		}
	}
	st := r.sim.Stats()
	if st.ByStatus[200] != 13 {
		t.Fatalf("stats %+v", st)
	}
	if st.RateLimited > 2 {
		t.Fatalf("%d 429s: the client did not honour X-RateLimit-Remaining/Reset", st.RateLimited)
	}
	r.calls.mu.Lock()
	waited := r.calls.waited
	r.calls.mu.Unlock()
	if waited < time.Second {
		t.Fatalf("waited %s for budget", waited)
	}
}

// TestRetryAfterHonoured: Domo sends none, but a proxy in front of it may.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	sim := domosim.New(domosim.Options{Seed: 9})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") && n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := domo.New(domo.Config{BaseURL: srv.URL, ClientID: "sim-client", ClientSecret: "sim-secret", RatePerMinute: 600000})
	start := time.Now()
	if _, err := c.GetUser(ctxT(t, 5*time.Second), sim.OwnerID()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("retried after %s, before Retry-After", el)
	}
}

func TestDefensiveDecoding(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"opaque","expires_in":"3599","token_type":"bearer","userId":"77","role":"Admin"}`))
		case "/v1/users/5":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"5","name":"Odd","email":"odd@x.example","roleId":"2","employeeNumber":12.0,"createdAt":"yesterday","groups":[{"id":"9","name":"G"}],"extra":{"a":1},"title":null}`))
		case "/v1/groups/9":
			_, _ = w.Write([]byte(`{"id":9,"name":"G","creatorId":"77","active":"true","memberCount":"3","userIds":["1",2]}`))
		case "/v1/groups/9/users":
			_, _ = w.Write([]byte(`["1",2,{"id":3}]`))
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`<html>not json</html>`))
		}
	}))
	defer srv.Close()
	c, _ := domo.New(domo.Config{BaseURL: srv.URL, ClientID: "a", ClientSecret: "b", RatePerMinute: 600000})
	ctx := ctxT(t, 5*time.Second)
	info, err := c.Token(ctx)
	if err != nil || info.UserID != 77 {
		t.Fatalf("token %+v %v", info, err)
	}
	u, err := c.GetUser(ctx, 5)
	if err != nil || u.ID != 5 || u.RoleID != 2 || u.EmployeeNumber != 12 || len(u.Groups) != 1 || u.Groups[0].ID != 9 || !u.CreatedAt.IsZero() {
		t.Fatalf("user %+v %v", u, err)
	}
	g, err := c.GetGroup(ctx, 9)
	if err != nil || g.CreatorID != 77 || g.Active == nil || !*g.Active || g.MemberCount == nil || *g.MemberCount != 3 || len(g.UserIDs) != 2 {
		t.Fatalf("group %+v %v", g, err)
	}
	ids, err := c.GroupMembers(ctx, 9)
	if err != nil || len(ids) != 3 {
		t.Fatalf("members %v %v", ids, err)
	}
	var apiErr *domo.APIError
	if _, err := c.GetUser(ctx, 6); !errors.As(err, &apiErr) || apiErr.Status != 404 || !errors.Is(err, domo.ErrNotFound) {
		t.Fatalf("html 404: %v", err)
	}
}

func TestHooksCountEveryAttempt(t *testing.T) {
	t.Parallel()
	r := newRig(t, domosim.Options{}, nil)
	ctx := ctxT(t, 5*time.Second)
	r.sim.InjectFault(domosim.Fault{Route: "/v1/groups", Status: 500})
	for _, err := range r.client.Groups(ctx) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.calls.get(r.calls.requests, "groups.list") != 2 || r.calls.get(r.calls.requests, "token") != 1 {
		t.Fatalf("requests %v", r.calls.requests)
	}
	if st := r.sim.Stats(); st.Requests != 3 {
		t.Fatalf("sim saw %d requests", st.Requests)
	}
}

func TestUnreachableDomo(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "top-secret-value", MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(ctxT(t, 5*time.Second), 1)
	if !errors.Is(err, domo.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	if strings.Contains(err.Error(), "top-secret-value") {
		t.Fatalf("secret in error: %v", err)
	}
}

// TestTokenEndpointFaults: Domo's token endpoint answering 5xx (or dropping the connection) is
// retried with backoff, like any idempotent call, and the request that needed the token then
// goes through; an endpoint that keeps failing ends in ErrUnavailable (the bridge's 503), not
// in ErrUnauthorized, which would tell the operator the credentials are wrong.
func TestTokenEndpointFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failures int64
		drop     bool
		wantErr  error
	}{
		{"two 503s", 2, false, nil},
		{"a dropped connection", 1, true, nil},
		{"down", 100, false, domo.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := domosim.New(domosim.Options{Seed: 5})
			var tokenCalls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" && tokenCalls.Add(1) <= tc.failures {
					if tc.drop {
						conn, _, err := http.NewResponseController(w).Hijack()
						if err == nil {
							conn.Close()
						}
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = w.Write([]byte(`{"status":503,"statusReason":"Service Unavailable","message":"try later","toe":"X"}`))
					return
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			so := sim.Options()
			c, err := domo.New(domo.Config{BaseURL: srv.URL, ClientID: so.ClientID, ClientSecret: so.ClientSecret,
				RatePerMinute: 600_000, MaxAttempts: 3, MaxWait: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetUser(ctxT(t, 20*time.Second), sim.OwnerID())
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("GET after %d token failures: %v", tc.failures, err)
				}
				if n := tokenCalls.Load(); n != tc.failures+1 {
					t.Fatalf("%d token requests, want %d", n, tc.failures+1)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || errors.Is(err, domo.ErrUnauthorized) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if n := tokenCalls.Load(); n != 3 {
				t.Fatalf("%d token requests for 3 attempts", n)
			}
		})
	}
}
