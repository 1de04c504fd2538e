package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// The load command drives a bridge in front of the Domo simulator with concurrent traffic shaped
// like Okta's and Entra's provisioning (the bodies and sequences of docs/idp-clients.md), under
// the simulator's rate limit and injected 5xx, then checks the simulator's state against what
// the bridge answered. It measures; it asserts only consistency.

const (
	loadToken  = "scimbridge-load-token"
	loadDomain = "load.example"
	urnUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	urnGroup   = "urn:ietf:params:scim:schemas:core:2.0:Group"
	urnPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	urnEntUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	urnMSGroup = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

// loadOptions are the load command's flags.
type loadOptions struct {
	users        int
	groups       int
	seedUsers    int
	concurrency  int
	rateLimit    int
	fail5xx      float64
	fail5xxAfter float64
	latency      time.Duration
	deprovision  string
	seed         uint64
	attempts     int
	maxRetryWait time.Duration
	timeout      time.Duration
	replicas     int
	state        string
	killAfter    time.Duration

	progress      io.Writer     // where live progress goes; nil: none
	progressEvery time.Duration // between progress updates; 0: 500 ms on a terminal, 10 s otherwise
}

func parseLoadFlags(args []string, stderr io.Writer) (loadOptions, error) {
	var o loadOptions
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.users, "users", 200, "users to provision, half Okta-shaped and half Entra-shaped")
	fs.IntVar(&o.groups, "groups", 10, "groups to create and fill")
	fs.IntVar(&o.seedUsers, "seed-users", 100, "users already in the simulated tenant")
	fs.IntVar(&o.concurrency, "concurrency", 16, "user lifecycles in flight at once")
	fs.IntVar(&o.rateLimit, "rate-limit", 3000, "Domo requests per minute: the simulator's limit and the bridge's budget (0: unlimited)")
	fs.Float64Var(&o.fail5xx, "fail-5xx", 0.05, "probability that the simulator answers a request 5xx")
	fs.Float64Var(&o.fail5xxAfter, "fail-5xx-after", 0.2, "share of those 5xx sent after the write took effect (the answer is lost)")
	fs.DurationVar(&o.latency, "sim-latency", 0, "latency the simulator adds to every request")
	fs.StringVar(&o.deprovision, "deprovision", "mark", "deprovisioning policy: mark, demote or delete")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulator and of the traffic's choices")
	fs.IntVar(&o.attempts, "attempts", 8, "attempts per request before the simulated IdP gives up (429 and 5xx are retried, as IdPs do)")
	fs.DurationVar(&o.maxRetryWait, "max-retry-wait", 5*time.Second, "longest the simulated IdP waits before a retry, whatever Retry-After says")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "bound on the whole run")
	fs.IntVar(&o.replicas, "replicas", 1, "bridges to run over one PostgreSQL, as `scimbridge serve` processes behind a round-robin front (1: one bridge in-process on a SQLite file, unless --state is given)")
	fs.StringVar(&o.state, "state", "", "the PostgreSQL state of the replicas, a postgres:// URL to an empty database (default: a throwaway server from the machine's PostgreSQL binaries)")
	fs.DurationVar(&o.killAfter, "kill-after", 0, "kill one replica with SIGKILL this long into the traffic (0: never; needs --replicas 2 or more)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, o.validate()
}

func (o loadOptions) validate() error {
	checks := []struct {
		bad bool
		msg string
	}{
		{o.users < 1, "--users must be at least 1"},
		{o.groups < 1, "--groups must be at least 1"},
		{o.seedUsers < 0, "--seed-users must not be negative"},
		{o.concurrency < 1, "--concurrency must be at least 1"},
		{o.rateLimit != 0 && o.rateLimit < 60, "--rate-limit must be 0 or at least 60 a minute"},
		{o.fail5xx < 0 || o.fail5xx > 0.5, "--fail-5xx must be between 0 and 0.5"},
		{o.fail5xxAfter < 0 || o.fail5xxAfter > 1, "--fail-5xx-after must be between 0 and 1"},
		{o.deprovision != "mark" && o.deprovision != "demote" && o.deprovision != "delete", "--deprovision must be mark, demote or delete"},
		{o.attempts < 1, "--attempts must be at least 1"},
		{o.timeout <= 0, "--timeout must be positive"},
		{o.replicas < 1, "--replicas must be at least 1"},
		{o.state != "" && !store.IsPostgres(o.state), "--state must be a postgres:// URL"},
		{o.killAfter < 0 || (o.killAfter > 0 && o.replicas < 2), "--kill-after needs --replicas 2 or more"},
	}
	var errs []error
	for _, c := range checks {
		if c.bad {
			errs = append(errs, errors.New(c.msg))
		}
	}
	return errors.Join(errs...)
}

// Starter runs a bridge configured by env (SCIMBRIDGE_* variables) until ctx ends, writing its
// JSON log to logs and calling listening with its base URL once it accepts connections. The
// command supplies the real one (cmd/scimbridge's serve), so the load drives the very bridge
// that `scimbridge serve` runs.
type Starter func(ctx context.Context, env map[string]string, logs io.Writer, listening func(baseURL string)) error

// Command is `scimbridge load`: it parses the flags, runs the load with live progress on
// progress (one updating line on a terminal, a line every few seconds otherwise) and prints
// the report; it fails when the consistency check does.
func Command(ctx context.Context, args []string, start Starter, stdout, progress io.Writer) error {
	o, err := parseLoadFlags(args, progress)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	fmt.Fprintf(stdout, "scimbridge load: %d users, %d groups, concurrency %d; simulator: %d seeded users, rate limit %s, %.0f%% 5xx injected (%.0f%% of them after the write)\n",
		o.users, o.groups, o.concurrency, o.seedUsers, perMinute(o.rateLimit), o.fail5xx*100, o.fail5xxAfter*100)
	o.progress = progress
	rep, err := runLoad(ctx, o, start)
	if err != nil {
		return err
	}
	rep.print(stdout)
	if !rep.Consistent() {
		return fmt.Errorf("consistency check failed: %d problem(s)", len(rep.Problems))
	}
	return nil
}

func perMinute(n int) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/min", n)
}

// runLoad starts a simulator and a bridge in-process, drives them, checks the outcome and stops
// both.
func runLoad(ctx context.Context, o loadOptions, start Starter) (*loadReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	r, err := startLoad(ctx, o, start)
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.drive(ctx)
	return r.finish(ctx)
}

// loadRun is a simulator and a bridge serving on loopback, and the IdP driving them.
type loadRun struct {
	o       loadOptions
	sim     *domosim.Sim
	simSrv  *http.Server
	dir     string
	stopSrv context.CancelFunc
	done    chan error // the Starter's result
	stopped bool
	logs    *accessLogs
	d       *driver
	w       *world
	elapsed time.Duration
	// replicas are the serve processes of a run with --replicas (replicas.go); nil for one
	// bridge in-process.
	replicas *replicaSet
}

// startLoad starts the simulator and the bridge and waits until the bridge is ready.
func startLoad(ctx context.Context, o loadOptions, start Starter) (_ *loadRun, err error) {
	r := &loadRun{o: o, logs: newAccessLogs()}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	r.sim = domosim.New(domosim.Options{
		RateLimit:    o.rateLimit,
		Fail5xx:      o.fail5xx,
		Fail5xxAfter: o.fail5xxAfter,
		Latency:      o.latency,
		Seed:         int64(o.seed),
	})
	if o.seedUsers > 0 {
		r.sim.SeedUsers(o.seedUsers)
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the Domo simulator: %w", err)
	}
	r.simSrv = &http.Server{Handler: r.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.simSrv.Serve(simLn) }()

	if r.dir, err = os.MkdirTemp("", "scimbridge-load-"); err != nil {
		return nil, err
	}
	simOpts := r.sim.Options()
	env := map[string]string{
		"SCIMBRIDGE_ADDR":               "127.0.0.1:0",
		"SCIMBRIDGE_TOKEN":              "load:" + loadToken,
		"SCIMBRIDGE_DOMO_API_URL":       "http://" + simLn.Addr().String(),
		"SCIMBRIDGE_DOMO_CLIENT_ID":     simOpts.ClientID,
		"SCIMBRIDGE_DOMO_CLIENT_SECRET": simOpts.ClientSecret,
		"SCIMBRIDGE_STATE":              filepath.Join(r.dir, "state.db"),
		"SCIMBRIDGE_DEPROVISION":        o.deprovision,
		// The breaker guards against a mass deprovision by mistake; here the mass is the point.
		"SCIMBRIDGE_BREAKER_MAX":      "0",
		"SCIMBRIDGE_REFRESH_INTERVAL": "1m",
		"SCIMBRIDGE_LOG_FORMAT":       "json",
		"SCIMBRIDGE_LOG_LEVEL":        "info",
		// The bridge's budget is the tenant's limit; with no limit, a budget that never binds.
		"SCIMBRIDGE_DOMO_RATE_LIMIT": strconv.Itoa(o.rateLimit),
	}
	if o.rateLimit == 0 {
		env["SCIMBRIDGE_DOMO_RATE_LIMIT"] = "1000000"
	}
	if o.replicas > 1 || o.state != "" {
		base, err := r.startReplicas(ctx, env)
		if err != nil {
			return nil, err
		}
		return r, r.ready(ctx, base)
	}
	// The bridge outlives ctx's deadline by as long as verification and shutdown take.
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	r.stopSrv = stopSrv
	addrCh := make(chan string, 1)
	r.done = make(chan error, 1)
	go func() {
		r.done <- start(srvCtx, env, r.logs, func(addr string) { addrCh <- addr })
	}()
	var base string
	select {
	case base = <-addrCh:
	case err := <-r.done:
		r.stopped = true
		return nil, fmt.Errorf("bridge exited before listening: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return r, r.ready(ctx, base)
}

// ready points the IdP at base and waits until the bridge there is ready.
func (r *loadRun) ready(ctx context.Context, base string) error {
	r.d = &driver{
		base: base, scim: base + "/scim/v2", token: loadToken,
		hc: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: r.o.concurrency + 4, IdleConnTimeout: 30 * time.Second},
			Timeout:   70 * time.Second, // beyond Okta's 60s, so a slow answer is measured, not cut
		},
		attempts: r.o.attempts, maxWait: r.o.maxRetryWait, rec: &recorder{},
	}
	if err := r.d.waitReady(ctx); err != nil {
		return err
	}
	if r.replicas != nil {
		// Every replica, not just the first the front picks.
		for _, p := range r.replicas.procs {
			d := &driver{base: p.base, hc: r.d.hc}
			if err := d.waitReady(ctx); err != nil {
				return err
			}
		}
	}
	r.sim.ResetStats()
	r.w = newWorld(r.o, r.sim)
	return nil
}

// drive sends the IdP traffic and returns when every lifecycle has ended.
func (r *loadRun) drive(ctx context.Context) {
	start := time.Now()
	stop := r.showProgress(start)
	if r.replicas != nil {
		kctx, stopKill := context.WithCancel(ctx)
		defer stopKill()
		go r.replicas.killOne(kctx)
	}
	r.w.run(ctx, r.d)
	r.elapsed = time.Since(start)
	stop()
}

// finish checks consistency, stops the bridge and sums up.
func (r *loadRun) finish(ctx context.Context) (*loadReport, error) {
	simStats := r.sim.Stats()
	r.d.phase.Store(phaseVerify)
	rep := r.w.verify(ctx, r.d)
	rep.Elapsed = r.elapsed
	rep.SimStats = simStats
	if err := r.stopBridge(); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	// Every access-log line is written once the server has shut down: join them only now.
	rep.summarise(r.d.rec, r.logs)
	if r.replicas != nil {
		rep.Replicas, rep.ReplicaState, rep.KillAfter = r.replicas.stats(), r.replicas.state, r.replicas.killAt
	}
	if err := ctx.Err(); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the run ended early (%v), before every lifecycle finished", err))
	}
	return rep, nil
}

func (r *loadRun) stopBridge() error {
	if r.replicas != nil && !r.stopped {
		r.stopped = true
		return r.replicas.stop()
	}
	if r.stopped || r.done == nil {
		return nil
	}
	r.stopped = true
	r.stopSrv()
	return <-r.done
}

// close stops whatever still runs and removes the state directory.
func (r *loadRun) close() {
	_ = r.stopBridge()
	if r.simSrv != nil {
		r.simSrv.Close()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// accessLogs collects the bridge's access-log lines (zerolog writes one JSON object per Write)
// to attribute Domo calls to the request that caused them, by request id.
type accessLogs struct {
	mu        sync.Mutex
	domoCalls map[string]int64 // by request id
	errors    int
	lastError string
}

func newAccessLogs() *accessLogs { return &accessLogs{domoCalls: map[string]int64{}} }

func (a *accessLogs) Write(p []byte) (int, error) {
	var line struct {
		Level     string `json:"level"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		DomoCalls int64  `json:"domo_calls"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(p, &line) != nil {
		return len(p), nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if line.Message == "request" && line.RequestID != "" {
		a.domoCalls[line.RequestID] = line.DomoCalls
	}
	// Access-log lines of 5xx answers are at error level too; the driver counts those itself.
	if line.Message != "request" && (line.Level == "error" || line.Level == "fatal" || line.Level == "panic") {
		a.errors++
		a.lastError = strings.TrimSpace(line.Message + ": " + line.Error)
	}
	return len(p), nil
}

func (a *accessLogs) calls(id string) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, ok := a.domoCalls[id]
	return n, ok
}

// Phases of the run: requests are measured separately for the load and its verification.
const (
	phaseLoad int32 = iota
	phaseVerify
)

// attempt is one HTTP request the simulated IdP sent.
type attempt struct {
	op        string // e.g. "PATCH /Groups/{id} add member"
	status    int    // 0: transport error
	dur       time.Duration
	requestID string
	phase     int32
}

type recorder struct {
	mu               sync.Mutex
	attempts         []attempt
	gaveUp           map[string]int
	malformedAnswers []string // answers that were not JSON
}

func (r *recorder) add(a attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

func (r *recorder) malformed(op string, status int, err error) {
	r.mu.Lock()
	r.malformedAnswers = append(r.malformedAnswers, fmt.Sprintf("%s answered %d: %v", op, status, err))
	r.mu.Unlock()
}

func (r *recorder) giveUp(op string) {
	r.mu.Lock()
	if r.gaveUp == nil {
		r.gaveUp = map[string]int{}
	}
	r.gaveUp[op]++
	r.mu.Unlock()
}

// driver sends SCIM requests as an IdP does: one bearer token, JSON bodies, and retries of 429
// (after Retry-After) and 5xx (with back-off) until its attempts run out.
type driver struct {
	base, scim, token string
	hc                *http.Client
	attempts          int
	maxWait           time.Duration
	rec               *recorder
	seq               atomic.Int64
	phase             atomic.Int32
	sent, failures    atomic.Int64 // attempts, and those answered 429 or 5xx or not at all
}

// answer is the last response to a request, after retries.
type answer struct {
	status   int
	body     map[string]any
	attempts int // how many were sent: after a retry, a 404 or 409 may be the earlier one's doing
}

func (d *driver) waitReady(ctx context.Context) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := d.hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bridge never became ready: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling interval of a readiness wait
		}
	}
}

// do sends one SCIM request with the IdP's retries. It returns the final answer, and an error
// only when every attempt failed (429, 5xx or no answer) or ctx ended.
func (d *driver) do(ctx context.Context, op, method, path string, body any) (answer, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return answer{}, fmt.Errorf("%s: encode body: %w", op, err)
		}
	}
	var last answer
	var lastErr error
	for n := 1; ; n++ {
		a, retryAfter, err := d.send(ctx, op, method, path, raw)
		a.attempts = n
		last, lastErr = a, err
		if a.status != 0 && a.status != http.StatusTooManyRequests && a.status < 500 {
			if err != nil {
				// An answer that is not what SCIM promises is the bridge's fault, not a
				// transient one: counted, and not retried.
				d.rec.malformed(op, a.status, err)
			}
			return a, err
		}
		if n >= d.attempts || ctx.Err() != nil {
			break
		}
		wait := min(50*time.Millisecond<<(n-1), 2*time.Second)
		if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
			if retryAfter > 0 {
				wait = retryAfter
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(wait, d.maxWait)):
		}
	}
	d.rec.giveUp(op)
	if lastErr != nil {
		return last, fmt.Errorf("%s %s: gave up after %d attempts: %w", method, path, d.attempts, lastErr)
	}
	return last, fmt.Errorf("%s %s: gave up after %d attempts: last answer %d", method, path, d.attempts, last.status)
}

func (d *driver) send(ctx context.Context, op, method, path string, raw []byte) (answer, time.Duration, error) {
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.scim+path, rd)
	if err != nil {
		return answer{}, 0, err
	}
	id := fmt.Sprintf("load-%07d", d.seq.Add(1))
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("X-Request-Id", id)
	if raw != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	start := time.Now()
	resp, err := d.hc.Do(req)
	d.sent.Add(1)
	if err != nil {
		d.failures.Add(1)
		d.rec.add(attempt{op: op, status: 0, dur: time.Since(start), requestID: id, phase: d.phase.Load()})
		return answer{}, 0, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		d.failures.Add(1)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	dur := time.Since(start)
	d.rec.add(attempt{op: op, status: resp.StatusCode, dur: dur, requestID: id, phase: d.phase.Load()})
	if err != nil {
		return answer{status: resp.StatusCode}, 0, fmt.Errorf("read answer: %w", err)
	}
	a := answer{status: resp.StatusCode}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			return a, 0, fmt.Errorf("answer %d is not a JSON object: %w", resp.StatusCode, err)
		}
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return a, retryAfter, nil
}

// filterPath is a list request with an eq filter on attr, as both IdPs send it.
func filterPath(resource, attr, value string, extra ...string) string {
	q := url.Values{"filter": {fmt.Sprintf("%s eq %q", attr, value)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/" + resource + "?" + q.Encode()
}

// listIDs reads the ids of a ListResponse.
func listIDs(body map[string]any) ([]string, error) {
	if body == nil {
		return nil, errors.New("empty list answer")
	}
	rs, _ := body["Resources"].([]any)
	total, ok := body["totalResults"].(float64)
	if !ok {
		return nil, errors.New("list answer without a numeric totalResults")
	}
	var ids []string
	for _, r := range rs {
		m, _ := r.(map[string]any)
		if id, _ := m["id"].(string); id != "" {
			ids = append(ids, id)
		}
	}
	if int(total) < len(ids) {
		return nil, fmt.Errorf("totalResults %v is below the %d resources listed", total, len(ids))
	}
	return ids, nil
}

// wantUser is what the IdP wrote for one user and therefore expects Domo to hold.
type wantUser struct {
	n           int
	flavour     string // okta or entra
	email       string
	id          string
	displayName string // Domo's name follows it
	title       string
	active      bool
	deleted     bool
	groups      map[int]bool // by group index
	uncertain   []string     // writes whose outcome the IdP never learned
	created     bool
}

// unsure reports whether the IdP never learned the outcome of the named write.
func (u *wantUser) unsure(write string) bool { return slices.Contains(u.uncertain, write) }

// wantGroup is a group the IdP created.
type wantGroup struct {
	name      string
	id        string
	flavour   string
	uncertain bool
}

// world is the IdP's side of the run: what it created and wrote, for the final comparison.
type world struct {
	o      loadOptions
	sim    *domosim.Sim
	runID  string
	users  []*wantUser
	groups []*wantGroup
	failed atomic.Int64
	done   atomic.Int64 // groups created and user lifecycles ended, for the progress line
	errs   []string
	errMu  sync.Mutex
}

var (
	loadGiven  = strings.Fields("Ada Grace Alan Edsger Barbara Donald Frances Ken Margaret Dennis Radia Tim Shafi Leslie Niklaus John")
	loadFamily = strings.Fields("Lovelace Hopper Turing Dijkstra Liskov Knuth Allen Thompson Hamilton Ritchie Perlman Berners-Lee Goldwasser Lamport Wirth Backus")
	loadTitles = strings.Fields("Analyst Engineer Manager Director Designer Scientist Specialist Architect")
)

func newWorld(o loadOptions, sim *domosim.Sim) *world {
	r := rand.New(rand.NewPCG(o.seed, 0x5c1b))
	w := &world{o: o, sim: sim, runID: strconv.FormatUint(r.Uint64()%1e6, 36)}
	for i := range o.groups {
		fl := "okta"
		if i%2 == 1 {
			fl = "entra"
		}
		w.groups = append(w.groups, &wantGroup{name: fmt.Sprintf("Load %s Team %02d", w.runID, i), flavour: fl})
	}
	for i := range o.users {
		fl := "okta"
		if i%2 == 1 {
			fl = "entra"
		}
		g, f := loadGiven[r.IntN(len(loadGiven))], loadFamily[r.IntN(len(loadFamily))]
		w.users = append(w.users, &wantUser{
			n: i, flavour: fl, active: true, groups: map[int]bool{},
			email:       fmt.Sprintf("%s.%s.%s%04d@%s", strings.ToLower(g), strings.ToLower(f), w.runID, i, loadDomain),
			displayName: g + " " + f,
		})
	}
	return w
}

func (w *world) fail(format string, args ...any) {
	w.failed.Add(1)
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if len(w.errs) < 20 {
		w.errs = append(w.errs, fmt.Sprintf(format, args...))
	}
}

// run creates the groups, then runs every user's lifecycle on a pool of workers, while an
// Okta-style import pages through the users once.
func (w *world) run(ctx context.Context, d *driver) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, w.o.concurrency)
	for _, g := range w.groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.createGroup(ctx, d, g)
			w.done.Add(1)
		}()
	}
	wg.Wait()

	wg.Add(1)
	go func() {
		defer wg.Done()
		w.importUsers(ctx, d)
	}()
	jobs := make(chan *wantUser)
	for range w.o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				w.lifecycle(ctx, d, u)
				w.done.Add(1)
			}
		}()
	}
	for _, u := range w.users {
		select {
		case jobs <- u:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
}

// importUsers pages through every user as Okta's import does: startIndex/count until
// totalResults, checking that the paging fields are JSON integers (Okta requires it).
func (w *world) importUsers(ctx context.Context, d *driver) {
	for start := 1; ; start += 100 {
		a, err := d.do(ctx, "GET /Users (import page)", http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil)
		if err != nil || a.status != http.StatusOK {
			w.fail("import page at %d: %d %v", start, a.status, err)
			return
		}
		for _, k := range []string{"totalResults", "startIndex", "itemsPerPage"} {
			if v, ok := a.body[k].(float64); !ok || v != float64(int(v)) {
				w.fail("import page at %d: %s is %v, not a JSON integer", start, k, a.body[k])
				return
			}
		}
		if got := int(a.body["startIndex"].(float64)); got != start {
			w.fail("import page at %d: startIndex %d", start, got)
		}
		total, _ := a.body["totalResults"].(float64)
		if start+100 > int(total) {
			return
		}
	}
}

func (w *world) createGroup(ctx context.Context, d *driver, g *wantGroup) {
	lookup := func() (string, error) {
		a, err := d.do(ctx, "GET /Groups?filter=displayName eq", http.MethodGet,
			filterPath("Groups", "displayName", g.name, "excludedAttributes", "members"), nil)
		if err != nil {
			return "", err
		}
		ids, err := listIDs(a.body)
		if err != nil || len(ids) > 1 {
			return "", fmt.Errorf("group filter for %q answered %v (%v)", g.name, ids, err)
		}
		if len(ids) == 0 {
			return "", nil
		}
		return ids[0], nil
	}
	id, err := lookup()
	if err != nil {
		w.fail("look up group %q: %v", g.name, err)
		g.uncertain = true
		return
	}
	if id != "" {
		w.fail("group %q exists before it was created", g.name)
		g.id = id
		return
	}
	body := map[string]any{"schemas": []string{urnGroup}, "displayName": g.name, "members": []any{}}
	if g.flavour == "entra" {
		body = map[string]any{"schemas": []string{urnGroup, urnMSGroup}, "externalId": fmt.Sprintf("%08x-load-group", hashString(g.name)),
			"displayName": g.name, "meta": map[string]any{"resourceType": "Group"}}
	}
	a, err := d.do(ctx, "POST /Groups", http.MethodPost, "/Groups", body)
	switch {
	case err == nil && a.status == http.StatusCreated:
		g.id, _ = a.body["id"].(string)
	case err == nil && a.status == http.StatusConflict && a.attempts > 1:
		// An earlier attempt whose answer was lost created it: the IdP links the existing group.
		g.id, err = lookup()
	default:
		err = fmt.Errorf("answered %d: %v", a.status, err)
	}
	if err != nil || g.id == "" {
		w.fail("create group %q: %v", g.name, err)
		g.uncertain = true
	}
}

func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// lifecycle is one user's provisioning, in the order an IdP sends it: match by userName,
// create (linking on 409), read back, update the profile, join groups (leave one), and for
// some users deactivate or delete.
func (w *world) lifecycle(ctx context.Context, d *driver, u *wantUser) {
	if ctx.Err() != nil {
		return
	}
	a, err := d.do(ctx, "GET /Users?filter=userName eq", http.MethodGet, filterPath("Users", "userName", u.email), nil)
	if err != nil {
		w.fail("match %s: %v", u.email, err)
		return
	}
	if ids, err := listIDs(a.body); err != nil || len(ids) != 0 {
		w.fail("match %s before its creation answered %v (%v)", u.email, ids, err)
		return
	}
	if !w.createUser(ctx, d, u) {
		return
	}
	a, err = d.do(ctx, "GET /Users/{id}", http.MethodGet, "/Users/"+u.id, nil)
	if err != nil || a.status != http.StatusOK {
		w.fail("read %s (%s): %d %v", u.id, u.email, a.status, err)
		return
	}
	if got, _ := a.body["userName"].(string); !strings.EqualFold(got, u.email) {
		w.fail("read %s: userName %q, want %q", u.id, got, u.email)
	}
	w.updateProfile(ctx, d, u, a.body)

	first, second := u.n%len(w.groups), (u.n+1)%len(w.groups)
	w.membership(ctx, d, u, first, true)
	if second != first {
		w.membership(ctx, d, u, second, true)
		if u.n%5 == 0 {
			w.membership(ctx, d, u, second, false)
		}
	}
	switch {
	case u.n%7 == 3:
		a, err := d.do(ctx, "DELETE /Users/{id}", http.MethodDelete, "/Users/"+u.id, nil)
		switch {
		case err == nil && (a.status == http.StatusNoContent || a.status == http.StatusNotFound && a.attempts > 1):
			u.deleted = true
		case err == nil:
			w.fail("delete %s: answered %d", u.id, a.status)
		default:
			u.uncertain = append(u.uncertain, "delete")
		}
	case u.n%4 == 1:
		body := map[string]any{"schemas": []string{urnPatchOp}, "Operations": []any{
			map[string]any{"op": "replace", "value": map[string]any{"active": false}}}}
		if u.flavour == "entra" {
			body = map[string]any{"schemas": []string{urnPatchOp}, "Operations": []any{
				map[string]any{"op": "Replace", "path": "active", "value": "False"}}}
		}
		a, err := d.do(ctx, "PATCH /Users/{id} deactivate", http.MethodPatch, "/Users/"+u.id, body)
		switch {
		case err == nil && (a.status == http.StatusOK || a.status == http.StatusNoContent):
			u.active = false
		case err == nil:
			w.fail("deactivate %s: answered %d", u.id, a.status)
		default:
			u.uncertain = append(u.uncertain, "deactivate")
		}
	}
}

func (w *world) createUser(ctx context.Context, d *driver, u *wantUser) bool {
	given, family, _ := strings.Cut(u.displayName, " ")
	var body map[string]any
	if u.flavour == "okta" {
		body = map[string]any{
			"schemas": []string{urnUser}, "userName": u.email,
			"name":        map[string]any{"givenName": given, "familyName": family},
			"emails":      []any{map[string]any{"primary": true, "value": u.email, "type": "work"}},
			"displayName": u.displayName, "locale": "en-US", "externalId": fmt.Sprintf("00u%012x", hashString(u.email)),
			"groups": []any{}, "password": "1mz050nq", "active": true,
		}
	} else {
		body = map[string]any{
			"schemas":    []string{urnUser, urnEntUser},
			"externalId": fmt.Sprintf("%08x-0000-4000-8000-%012d", hashString(u.email), u.n), "userName": u.email, "active": true,
			"emails": []any{map[string]any{"primary": true, "type": "work", "value": u.email}},
			"meta":   map[string]any{"resourceType": "User"},
			"name":   map[string]any{"formatted": u.displayName, "familyName": family, "givenName": given},
			"roles":  []any{},
		}
	}
	a, err := d.do(ctx, "POST /Users", http.MethodPost, "/Users", body)
	if err != nil {
		// The IdP never learned whether the user exists; its next cycle would match it by
		// userName. Do that now, so the comparison knows what to expect.
		u.uncertain = append(u.uncertain, "create")
		if m, merr := d.do(ctx, "GET /Users?filter=userName eq", http.MethodGet, filterPath("Users", "userName", u.email), nil); merr == nil {
			if ids, _ := listIDs(m.body); len(ids) == 1 {
				u.id, u.created = ids[0], true
			}
		}
		w.fail("create %s: %v", u.email, err)
		return false
	}
	switch a.status {
	case http.StatusCreated:
		u.id, _ = a.body["id"].(string)
		u.created = u.id != ""
		if !u.created {
			w.fail("create %s: 201 without an id", u.email)
		}
		return u.created
	case http.StatusConflict:
		// A lost answer to an earlier attempt: Okta and Entra match by userName and link. A
		// 409 to the first attempt is wrong: the match said the user did not exist.
		if a.attempts == 1 {
			w.fail("create %s: 409 to the first attempt, though no user matched", u.email)
			return false
		}
		m, err := d.do(ctx, "GET /Users?filter=userName eq", http.MethodGet, filterPath("Users", "userName", u.email), nil)
		if err == nil {
			if ids, _ := listIDs(m.body); len(ids) == 1 {
				u.id, u.created = ids[0], true
				return true
			}
		}
		w.fail("create %s: 409 and no single match (%v)", u.email, err)
	default:
		w.fail("create %s: answered %d", u.email, a.status)
	}
	return false
}

// updateProfile changes the display name and title: Okta sends the whole user back with PUT,
// Entra sends PATCH operations with capitalised ops and an extension attribute.
func (w *world) updateProfile(ctx context.Context, d *driver, u *wantUser, current map[string]any) {
	display := "Dr " + u.displayName
	title := loadTitles[u.n%len(loadTitles)]
	var a answer
	var err error
	if u.flavour == "okta" {
		body := map[string]any{}
		for k, v := range current {
			body[k] = v
		}
		body["displayName"] = display
		body["title"] = title
		a, err = d.do(ctx, "PUT /Users/{id}", http.MethodPut, "/Users/"+u.id, body)
	} else {
		body := map[string]any{"schemas": []string{urnPatchOp}, "Operations": []any{
			map[string]any{"op": "Replace", "path": "displayName", "value": display},
			map[string]any{"op": "Replace", "path": "title", "value": title},
			map[string]any{"op": "Add", "path": urnEntUser + ":department", "value": "Load " + strconv.Itoa(u.n%3)},
		}}
		a, err = d.do(ctx, "PATCH /Users/{id} profile", http.MethodPatch, "/Users/"+u.id, body)
	}
	switch {
	case err != nil:
		u.uncertain = append(u.uncertain, "profile")
	case a.status == http.StatusOK || a.status == http.StatusNoContent:
		u.displayName, u.title = display, title
		if a.status == http.StatusOK {
			if got, _ := a.body["displayName"].(string); got != display {
				w.fail("update %s: answered displayName %q, want %q", u.id, got, display)
			}
		}
	default:
		w.fail("update %s: answered %d", u.id, a.status)
	}
}

// membership adds the user to, or removes it from, one group the way its IdP does. Okta first
// re-sends the group's name (it does so with every membership push).
func (w *world) membership(ctx context.Context, d *driver, u *wantUser, gi int, add bool) {
	g := w.groups[gi]
	if g.id == "" {
		return
	}
	var ops []any
	if u.flavour == "okta" {
		rename := map[string]any{"schemas": []string{urnPatchOp}, "Operations": []any{
			map[string]any{"op": "replace", "value": map[string]any{"id": g.id, "displayName": g.name}}}}
		if a, err := d.do(ctx, "PATCH /Groups/{id} rename (no-op)", http.MethodPatch, "/Groups/"+g.id, rename); err != nil ||
			(a.status != http.StatusOK && a.status != http.StatusNoContent) {
			w.fail("re-send name of group %s: %d %v", g.id, a.status, err)
		}
		if add {
			ops = []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u.id, "display": u.email}}}}
		} else {
			ops = []any{map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", u.id)}}
		}
	} else {
		op := "Add"
		if !add {
			op = "Remove"
		}
		ops = []any{map[string]any{"op": op, "path": "members", "value": []any{map[string]any{"$ref": nil, "value": u.id}}}}
	}
	label := "PATCH /Groups/{id} add member"
	if !add {
		label = "PATCH /Groups/{id} remove member"
	}
	a, err := d.do(ctx, label, http.MethodPatch, "/Groups/"+g.id, map[string]any{"schemas": []string{urnPatchOp}, "Operations": ops})
	switch {
	case err != nil:
		u.uncertain = append(u.uncertain, "group "+g.name)
		delete(u.groups, gi)
	case a.status == http.StatusOK || a.status == http.StatusNoContent:
		if add {
			u.groups[gi] = true
		} else {
			delete(u.groups, gi)
		}
	default:
		w.fail("%s %s of group %s: answered %d", label, u.id, g.id, a.status)
	}
}

// loadReport is the outcome of a run.
type loadReport struct {
	Options  loadOptions
	Elapsed  time.Duration
	SimStats domosim.Stats

	// Traffic during the load phase.
	Requests   int
	ByStatus   map[int]int
	P50, P99   time.Duration
	Max        time.Duration
	Ops        []opStats
	GaveUp     map[string]int
	Retried    int
	Unmatched  int // attempts without an access-log line (no answer reached the bridge)
	BridgeErrs int
	LastErr    string

	// With --replicas: each replica's traffic, the state they shared, when one was killed.
	Replicas     []replicaStats
	ReplicaState string
	KillAfter    time.Duration

	// Consistency.
	UsersExpected    int // live in Domo, as the IdP wrote them
	UsersDeleted     int
	UsersInactive    int
	UsersUncertain   int
	GroupsChecked    int
	MembershipsTotal int
	VerifyRequests   int
	Problems         []string
	DriverFailures   []string
}

// opStats is the traffic of one kind of SCIM request.
type opStats struct {
	Op         string
	Count      int
	P50, P99   time.Duration
	DomoCalls  int64
	DomoMax    int64
	WithCounts int // attempts whose Domo calls are known from the access log
}

// Consistent reports whether the simulator's state matches what the bridge answered.
func (r *loadReport) Consistent() bool { return len(r.Problems) == 0 }

// maxProblems bounds the problems a report lists: past a few dozen, more say nothing new.
const maxProblems = 50

func (r *loadReport) problem(format string, args ...any) {
	switch {
	case len(r.Problems) < maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	case len(r.Problems) == maxProblems:
		r.Problems = append(r.Problems, "... (more problems not shown)")
	}
}

// consistency is one comparison of the simulator's final state with what the IdP wrote and what
// the bridge answers now.
type consistency struct {
	w       *world
	d       *driver
	rep     *loadReport
	byEmail map[string][]domosim.SimUser // Domo's live users by lower-cased email
	emailOf map[string]string            // the IdP's users by the SCIM id the bridge gave
}

func (w *world) verify(ctx context.Context, d *driver) *loadReport {
	c := &consistency{w: w, d: d, rep: &loadReport{Options: w.o}, byEmail: map[string][]domosim.SimUser{}, emailOf: map[string]string{}}
	c.traffic()
	c.duplicates()
	c.users()
	c.groups(ctx)
	c.answers(ctx)
	return c.rep
}

// traffic reports the IdP sequences that failed and the answers that were not SCIM.
func (c *consistency) traffic() {
	c.w.errMu.Lock()
	c.rep.DriverFailures = slices.Clone(c.w.errs)
	c.w.errMu.Unlock()
	if n := c.w.failed.Load(); n > 0 {
		c.rep.problem("%d IdP request sequence(s) failed (first: %s)", n, c.rep.DriverFailures[0])
	}
	c.d.rec.mu.Lock()
	malformed := slices.Clone(c.d.rec.malformedAnswers)
	c.d.rec.mu.Unlock()
	for _, m := range malformed {
		c.rep.problem("malformed answer: %s", m)
	}
}

// duplicates: no email twice among Domo's live users, no SCIM id handed out twice.
func (c *consistency) duplicates() {
	for _, su := range c.w.sim.Users() {
		k := strings.ToLower(su.Email)
		c.byEmail[k] = append(c.byEmail[k], su)
	}
	for e, list := range c.byEmail {
		if len(list) > 1 {
			c.rep.problem("duplicate: %d Domo users have email %s", len(list), e)
		}
	}
	for _, u := range c.w.users {
		if u.id == "" {
			continue
		}
		if other, dup := c.emailOf[u.id]; dup {
			c.rep.problem("duplicate: the bridge gave id %s to both %s and %s", u.id, other, u.email)
		}
		c.emailOf[u.id] = u.email
	}
}

// users: every created user is in Domo once, with what was written; deleted ones are gone;
// nobody else carries the load's domain.
func (c *consistency) users() {
	rep, o := c.rep, c.w.o
	wantLive := 0
	for _, u := range c.w.users {
		if len(u.uncertain) > 0 {
			rep.UsersUncertain++
		}
		list := c.byEmail[strings.ToLower(u.email)]
		if !u.created {
			if len(list) > 0 && !u.unsure("create") {
				rep.problem("stray: %s is in Domo (id %d) though its creation failed", u.email, list[0].ID)
			}
			continue
		}
		gone := u.deleted || (!u.active && o.deprovision == "delete")
		switch {
		case gone && len(list) > 0 && !u.unsure("delete"):
			rep.problem("not deleted: %s (SCIM id %s) is still in Domo", u.email, u.id)
			continue
		case gone:
			rep.UsersDeleted++
			continue
		case len(list) == 0:
			rep.problem("lost: %s (SCIM id %s) was created but is not in Domo", u.email, u.id)
			continue
		}
		wantLive++
		su := list[0]
		if strconv.FormatInt(su.ID, 10) != u.id {
			rep.problem("id: %s is Domo user %d, the bridge answered id %s", u.email, su.ID, u.id)
		}
		if !u.unsure("profile") {
			if su.Name != u.displayName {
				rep.problem("value: Domo name of %s is %q, the IdP wrote %q", u.email, su.Name, u.displayName)
			}
			if su.Title != u.title {
				rep.problem("value: Domo title of %s is %q, the IdP wrote %q", u.email, su.Title, u.title)
			}
		}
		if !u.active {
			rep.UsersInactive++
			if o.deprovision == "demote" && su.Role != "Social" && !u.unsure("deactivate") {
				rep.problem("demote: %s has role %q after deactivation, want Social", u.email, su.Role)
			}
		}
	}
	rep.UsersExpected = wantLive
	loadUsers := 0
	for e := range c.byEmail {
		if strings.HasSuffix(e, "@"+loadDomain) {
			loadUsers++
		}
	}
	if diff := loadUsers - wantLive; diff > rep.UsersUncertain || -diff > rep.UsersUncertain {
		rep.problem("count: Domo holds %d load users, the IdP expects %d (%d uncertain)", loadUsers, wantLive, rep.UsersUncertain)
	}
}

// groups: each group exists once in Domo, with exactly the members the IdP left in it, and the
// bridge's GET of the group lists Domo's members.
func (c *consistency) groups(ctx context.Context) {
	rep, o := c.rep, c.w.o
	live := map[string][]domosim.SimGroup{}
	for _, sg := range c.w.sim.GroupsSnapshot() {
		if !sg.Deleted {
			k := strings.ToLower(sg.Name)
			live[k] = append(live[k], sg)
		}
	}
	for gi, g := range c.w.groups {
		list := live[strings.ToLower(g.name)]
		if len(list) != 1 {
			if !g.uncertain || len(list) > 1 {
				rep.problem("group %q is %d times in Domo, want once", g.name, len(list))
			}
			continue
		}
		sg := list[0]
		if strconv.FormatInt(sg.ID, 10) != g.id {
			rep.problem("group %q is Domo group %d, the bridge answered id %s", g.name, sg.ID, g.id)
			continue
		}
		rep.GroupsChecked++
		inDomo := map[string]bool{}
		for _, m := range sg.Members {
			inDomo[strconv.FormatInt(m, 10)] = true
		}
		want, unsure := map[string]bool{}, map[string]bool{}
		for _, u := range c.w.users {
			switch {
			case u.id == "":
			case u.unsure("group "+g.name) || u.unsure("delete") || u.unsure("deactivate"):
				unsure[u.id] = true
			case u.groups[gi] && !u.deleted && (u.active || o.deprovision == "mark"):
				want[u.id] = true
			}
		}
		for id := range want {
			rep.MembershipsTotal++
			if !inDomo[id] {
				rep.problem("membership lost: user %s (%s) is not in Domo group %q", id, c.emailOf[id], g.name)
			}
		}
		for id := range inDomo {
			if !want[id] && !unsure[id] {
				rep.problem("membership extra: Domo group %q holds user %s (%s), the IdP did not leave it there", g.name, id, c.emailOf[id])
			}
		}
		c.groupAnswer(ctx, g, inDomo)
	}
}

func (c *consistency) groupAnswer(ctx context.Context, g *wantGroup, inDomo map[string]bool) {
	a, err := c.d.do(ctx, "verify GET /Groups/{id}", http.MethodGet, "/Groups/"+g.id, nil)
	if err != nil || a.status != http.StatusOK {
		c.rep.problem("bridge: GET /Groups/%s answered %d %v", g.id, a.status, err)
		return
	}
	answered := map[string]bool{}
	ms, _ := a.body["members"].([]any)
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		if v, _ := mm["value"].(string); v != "" {
			answered[v] = true
		}
	}
	for id := range inDomo {
		if !answered[id] {
			c.rep.problem("bridge: GET /Groups/%s omits member %s that Domo holds", g.id, id)
		}
	}
	for id := range answered {
		if !inDomo[id] {
			c.rep.problem("bridge: GET /Groups/%s lists member %s that Domo does not hold", g.id, id)
		}
	}
}

// answers: the bridge answers the IdP's match queries as Domo's state says, with the active
// flag the IdP wrote, and its listing counts every user Domo holds but the API client's owner,
// whom it hides.
func (c *consistency) answers(ctx context.Context) {
	for _, u := range c.w.users {
		if !u.created || ctx.Err() != nil {
			continue
		}
		a, err := c.d.do(ctx, "verify GET /Users?filter=userName eq", http.MethodGet, filterPath("Users", "userName", u.email), nil)
		var got []string
		if err == nil {
			got, err = listIDs(a.body)
		}
		if err != nil {
			c.rep.problem("bridge: match %s: %v", u.email, err)
			continue
		}
		_, inDomo := c.byEmail[strings.ToLower(u.email)]
		switch {
		case inDomo && (len(got) != 1 || got[0] != u.id):
			c.rep.problem("bridge: match %s answered %v, Domo holds it as %s", u.email, got, u.id)
		case !inDomo && len(got) != 0:
			c.rep.problem("bridge: match %s answered %v, Domo no longer holds it", u.email, got)
		case inDomo:
			rs, _ := a.body["Resources"].([]any)
			r, _ := rs[0].(map[string]any)
			if active, ok := r["active"].(bool); !ok || (active != u.active && !u.unsure("deactivate")) {
				c.rep.problem("bridge: %s answers active=%v, the IdP wrote %v", u.email, r["active"], u.active)
			}
		}
	}
	held := len(c.w.sim.Users()) - 1
	a, err := c.d.do(ctx, "verify GET /Users?count=1", http.MethodGet, "/Users?startIndex=1&count=1", nil)
	if err != nil || a.status != http.StatusOK {
		c.rep.problem("bridge: GET /Users answered %d %v", a.status, err)
	} else if total, _ := a.body["totalResults"].(float64); int(total) != held {
		c.rep.problem("bridge: GET /Users says totalResults %v, Domo holds %d users besides the API client's owner", total, held)
	}
}

// summarise turns the recorded attempts and access-log lines into the report's figures.
func (r *loadReport) summarise(rec *recorder, logs *accessLogs) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r.ByStatus = map[int]int{}
	r.GaveUp = rec.gaveUp
	byOp := map[string][]attempt{}
	var all []time.Duration
	for _, a := range rec.attempts {
		if a.phase != phaseLoad {
			r.VerifyRequests++
			continue
		}
		r.Requests++
		r.ByStatus[a.status]++
		if a.status == http.StatusTooManyRequests || a.status >= 500 || a.status == 0 {
			r.Retried++
		}
		all = append(all, a.dur)
		byOp[a.op] = append(byOp[a.op], a)
	}
	r.P50, r.P99, r.Max = percentiles(all)
	for op, as := range byOp {
		s := opStats{Op: op, Count: len(as)}
		ds := make([]time.Duration, len(as))
		for i, a := range as {
			ds[i] = a.dur
			if n, ok := logs.calls(a.requestID); ok {
				s.WithCounts++
				s.DomoCalls += n
				s.DomoMax = max(s.DomoMax, n)
			} else {
				r.Unmatched++
			}
		}
		s.P50, s.P99, _ = percentiles(ds)
		r.Ops = append(r.Ops, s)
	}
	sort.Slice(r.Ops, func(i, j int) bool { return r.Ops[i].Op < r.Ops[j].Op })
	logs.mu.Lock()
	r.BridgeErrs, r.LastErr = logs.errors, logs.lastError
	logs.mu.Unlock()
}

func percentiles(ds []time.Duration) (p50, p99, maxd time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

func (r *loadReport) print(w io.Writer) {
	o := r.Options
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "\nLoad: %d SCIM requests in %s (%.0f/s), %d retried by the IdP after 429/5xx, gave up on %d\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), float64(r.Requests)/max(secs, 1e-9), r.Retried, sumValues(r.GaveUp))
	fmt.Fprintln(w, "\nSCIM requests by status:")
	codes := make([]int, 0, len(r.ByStatus))
	for c := range r.ByStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		label := http.StatusText(c)
		if c == 0 {
			label = "no answer"
		}
		fmt.Fprintf(w, "  %3d %-22s %6d\n", c, label, r.ByStatus[c])
	}
	fmt.Fprintf(w, "\nLatency of every attempt: p50 %s, p99 %s, max %s\n", ms(r.P50), ms(r.P99), ms(r.Max))
	printReplicas(w, r.ReplicaState, r.KillAfter, r.Replicas)
	fmt.Fprintln(w, "\nBy operation (Domo calls per SCIM request, from the bridge's access log):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  operation\trequests\tp50\tp99\tDomo calls/request\tmax\t")
	for _, s := range r.Ops {
		per := "-"
		if s.WithCounts > 0 {
			per = fmt.Sprintf("%.2f", float64(s.DomoCalls)/float64(s.WithCounts))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%d\t\n", s.Op, s.Count, ms(s.P50), ms(s.P99), per, s.DomoMax)
	}
	tw.Flush()
	st := r.SimStats
	fmt.Fprintf(w, "\nDomo (simulator): %d requests (%.0f/min), %d answered 429, %d 5xx injected, %d new tokens\n",
		st.Requests, float64(st.Requests)/max(secs/60, 1e-9), st.RateLimited, st.Injected5xx, st.Tokens)
	if o.rateLimit > 0 {
		fmt.Fprintf(w, "  %.1f%% of the budget (%d/min) used over the run\n", 100*float64(st.Requests)/max(secs/60, 1e-9)/float64(o.rateLimit), o.rateLimit)
	}
	routes := make([]string, 0, len(st.ByRoute))
	for k := range st.ByRoute {
		routes = append(routes, k)
	}
	sort.Strings(routes)
	for _, k := range routes {
		fmt.Fprintf(w, "  %-36s %6d\n", k, st.ByRoute[k])
	}
	if r.BridgeErrs > 0 {
		fmt.Fprintf(w, "\nThe bridge logged %d error(s); the last: %s\n", r.BridgeErrs, r.LastErr)
	}
	fmt.Fprintf(w, "\nConsistency (%d verification requests): ", r.VerifyRequests)
	if r.Consistent() {
		fmt.Fprintf(w, "PASS\n  %d users in Domo exactly as written (%d of them deactivated, policy %s), %d deleted and gone, %d with a write whose outcome the IdP never learned;\n  no user lost, none duplicated; %d groups with %d memberships, as the IdP left them; the bridge's answers agree.\n",
			r.UsersExpected, r.UsersInactive, o.deprovision, r.UsersDeleted, r.UsersUncertain, r.GroupsChecked, r.MembershipsTotal)
		return
	}
	fmt.Fprintf(w, "FAIL (%d problems)\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  -", p)
	}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
