package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/scimbridge/scimbridge/internal/pglocal"
	"github.com/scimbridge/scimbridge/internal/store"
)

// With --replicas N (or --state naming a PostgreSQL database) the load runs N real
// `scimbridge serve` processes over one PostgreSQL, behind a round-robin front like a load
// balancer's, and --kill-after kills one of them with SIGKILL in the middle of the traffic.
// The processes are the running program itself (scimbridge) with the serve command: a
// replica must be a process of its own for a kill -9 to be one.
// The front skips a replica that refuses connections (a dead one) and answers 502 for a
// request cut off in flight, which the simulated IdP retries like any 5xx.

// replicaSet is the replicas of one load run and the front before them.
type replicaSet struct {
	procs  []*replicaProc
	front  *http.Server
	next   atomic.Int64
	pg     *pglocal.Server // the throwaway server, when the load started one
	state  string          // its description, for the report
	killed atomic.Int64    // 1 + the index of the killed replica; 0: none
	killAt time.Duration
}

// replicaProc is one `scimbridge serve` process and what the front counted for it.
type replicaProc struct {
	cmd  *exec.Cmd
	base string
	done chan error
	down atomic.Bool // refused a connection: dead

	mu       sync.Mutex
	byStatus map[int]int
	durs     []time.Duration
	cut      int // requests whose connection broke in flight (502 to the IdP)
}

// startReplicas starts the replicas on a PostgreSQL state and the front, and returns the
// front's base URL. env is the bridges' configuration; logs receives their JSON logs.
func (r *loadRun) startReplicas(ctx context.Context, env map[string]string) (string, error) {
	o := r.o
	set := &replicaSet{killAt: o.killAfter}
	r.replicas = set
	state := o.state
	if state == "" {
		srv, err := pglocal.Start(ctx, pglocal.Options{})
		if err != nil {
			return "", fmt.Errorf("--replicas needs a PostgreSQL: give --state postgres://..., or install PostgreSQL's server (%w)", err)
		}
		set.pg = srv
		if state, err = srv.CreateDatabase(ctx, "load"); err != nil {
			return "", err
		}
	}
	set.state = store.Describe(state)
	if !store.IsPostgres(state) {
		return "", errors.New("--state must be a postgres:// URL")
	}
	env["SCIMBRIDGE_STATE"] = state
	env["SCIMBRIDGE_SHUTDOWN_TIMEOUT"] = "5s"

	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	for i := range o.replicas {
		p, err := startReplica(ctx, exe, env, r.logs)
		if err != nil {
			return "", fmt.Errorf("replica %d: %w", i+1, err)
		}
		set.procs = append(set.procs, p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.concurrency + 4, IdleConnTimeout: 30 * time.Second}
	set.front = &http.Server{Handler: set.handler(tr), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = set.front.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

func startReplica(ctx context.Context, exe string, env map[string]string, logs io.Writer) (*replicaProc, error) {
	cmd := exec.Command(exe, "serve")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A test binary is a `scimbridge serve` only when told so (kill_test.go); the real one
	// ignores the variable.
	cmd.Env = append(cmd.Env, "SCIMBRIDGE_TEST_CHILD=serve")
	cmd.Stderr = &lineWriter{w: logs}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &replicaProc{cmd: cmd, done: make(chan error, 1), byStatus: map[int]int{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.base = <-addr:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("exited before listening: %v", err)
	case <-ctx.Done():
		cmd.Process.Kill()
		return nil, ctx.Err()
	}
}

// handler sends each request to the next live replica. A replica that refuses the connection
// is dead: the request goes to the next one (nothing reached the dead one). A request whose
// connection breaks once sent is answered 502: the replica may have acted on it, so only the
// IdP may decide to send it again.
func (s *replicaSet) handler(tr http.RoundTripper) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		for range 2 * len(s.procs) {
			p := s.procs[int(s.next.Add(1))%len(s.procs)]
			if p.down.Load() {
				continue
			}
			out := req.Clone(req.Context())
			out.RequestURI = ""
			out.URL.Scheme, out.URL.Host = "http", strings.TrimPrefix(p.base, "http://")
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
			start := time.Now()
			resp, err := tr.RoundTrip(out)
			if err != nil {
				var op *net.OpError
				if errors.As(err, &op) && op.Op == "dial" {
					p.down.Store(true)
					continue
				}
				p.record(0, time.Since(start))
				http.Error(w, "the replica's connection broke", http.StatusBadGateway)
				return
			}
			for k, vs := range resp.Header {
				w.Header()[k] = vs
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			resp.Body.Close()
			p.record(resp.StatusCode, time.Since(start))
			return
		}
		http.Error(w, "no replica is up", http.StatusServiceUnavailable)
	})
}

func (p *replicaProc) record(status int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 0 {
		p.cut++
		return
	}
	p.byStatus[status]++
	p.durs = append(p.durs, d)
}

// killOne kills the second replica with SIGKILL after the set's killAt, unless ctx ends first.
func (s *replicaSet) killOne(ctx context.Context) {
	if s.killAt <= 0 || len(s.procs) < 2 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(s.killAt):
	}
	if err := s.procs[1].cmd.Process.Signal(syscall.SIGKILL); err == nil {
		s.killed.Store(2)
	}
}

// stop ends the front and every replica still running (SIGTERM, then SIGKILL after a while),
// and the throwaway PostgreSQL.
func (s *replicaSet) stop() error {
	if s.front != nil {
		s.front.Close()
	}
	var errs []error
	for i, p := range s.procs {
		if s.killed.Load() == int64(i+1) {
			<-p.done
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				errs = append(errs, fmt.Errorf("replica %d: %w", i+1, err))
			}
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("replica %d did not stop on SIGTERM", i+1))
		}
	}
	if s.pg != nil {
		errs = append(errs, s.pg.Close())
	}
	return errors.Join(errs...)
}

// replicaStats is one replica's share of the traffic, for the report.
type replicaStats struct {
	Requests, OK, ClientErr, ServerErr, Cut int
	P50, P99                                time.Duration
	Killed                                  bool
}

func (s *replicaSet) stats() []replicaStats {
	var out []replicaStats
	for i, p := range s.procs {
		p.mu.Lock()
		st := replicaStats{Cut: p.cut, Killed: s.killed.Load() == int64(i+1)}
		for code, n := range p.byStatus {
			st.Requests += n
			switch {
			case code < 400:
				st.OK += n
			case code < 500:
				st.ClientErr += n
			default:
				st.ServerErr += n
			}
		}
		st.Requests += p.cut
		st.P50, st.P99, _ = percentiles(p.durs)
		p.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// printReplicas writes the per-replica part of the report.
func printReplicas(w io.Writer, state string, killAt time.Duration, rs []replicaStats) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nReplicas: %d `scimbridge serve` processes on %s, behind a round-robin front\n", len(rs), state)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  replica\trequests\t2xx/3xx\t4xx\t5xx\tcut in flight\tp50\tp99\t\t")
	for i, r := range rs {
		note := ""
		if r.Killed {
			note = fmt.Sprintf("killed with SIGKILL after %s", killAt)
		}
		fmt.Fprintf(tw, "  %d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", i+1, r.Requests, r.OK, r.ClientErr, r.ServerErr, r.Cut, ms(r.P50), ms(r.P99), note)
	}
	tw.Flush()
}

// lineWriter passes whole lines to w, one Write each: the access-log reader wants one JSON
// object per Write, and a pipe delivers them in arbitrary chunks.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		_, _ = l.w.Write(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
}
