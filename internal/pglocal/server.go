package pglocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Find and Start when no PostgreSQL server binaries are found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (no initdb and postgres binaries found; on Debian: apt-get install postgresql)")

// Superuser is the name of the superuser role initdb creates; its password is random per server.
const Superuser = "scimbridge"

// Options tune Start. The zero value is what tests want.
type Options struct {
	// BinDir holds initdb and postgres; empty means Find.
	BinDir string
	// User is the operating-system user the server runs as when the caller is root (PostgreSQL
	// refuses to run as root). Empty means "postgres" where that user exists, else "nobody".
	User string
	// Durable keeps fsync and full-page writes on. Off by default: a test server's data dies
	// with the test, and without fsync it starts and creates databases several times faster.
	Durable bool
	// MaxConnections is the server's max_connections; 0 means 400.
	MaxConnections int
}

// account is the operating-system identity the server's processes run as.
type account struct{ uid, gid uint32 }

// Server is one running (or stopped) local PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	bin     string
	root    string // temporary folder: data/, the password file and the log
	data    string
	logPath string
	port    int
	pass    string
	cred    *account // nil when not running as root
	opts    Options
	version string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	werr error         // cmd.Wait's result, valid after done
}

// BinEnv names a variable that, when set, is the only folder Find looks in.
const BinEnv = "SCIMBRIDGE_POSTGRES_BIN"

// Find returns the folder holding the PostgreSQL server binaries: $SCIMBRIDGE_POSTGRES_BIN
// when set, else the one of the initdb on PATH, else the newest
// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
func Find() (string, error) {
	if dir, ok := os.LookupEnv(BinEnv); ok {
		if hasServer(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w (%s=%q)", ErrNotInstalled, BinEnv, dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if hasServer(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest first by major version, numerically (10 after 9).
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func majorOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// Start creates a cluster in a new temporary folder and starts a server on a free loopback
// port. Close stops it and removes the folder.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	}
	s := &Server{bin: bin, opts: opts}
	if s.opts.MaxConnections <= 0 {
		s.opts.MaxConnections = 400
	}
	if os.Geteuid() == 0 {
		cred, err := credentialFor(opts.User)
		if err != nil {
			return nil, err
		}
		s.cred = cred
	}
	var err error
	if s.root, err = os.MkdirTemp("", "scimbridge-pg-"); err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	// Another process may take the port between our probe and the server's bind; a few
	// tries with fresh ports make that race harmless.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, fmt.Errorf("pglocal: %w", err)
		}
		err = s.Start(ctx)
		if err == nil {
			break
		}
		if attempt == 4 || !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "in use") {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// credentialFor returns the identity to run the server as, for a caller running as root.
func credentialFor(name string) (*account, error) {
	names := []string{name}
	if name == "" {
		names = []string{"postgres", "nobody"}
	}
	var errs []error
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			errs = append(errs, fmt.Errorf("user %q is not usable (uid %s)", n, u.Uid))
			continue
		}
		return &account{uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("pglocal: running as root and no non-root user to run PostgreSQL as: %w", errors.Join(errs...))
}

func (s *Server) initdb(ctx context.Context) error {
	if s.cred != nil {
		if err := os.Chown(s.root, int(s.cred.uid), int(s.cred.gid)); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
	}
	s.data = filepath.Join(s.root, "data")
	s.logPath = filepath.Join(s.root, "server.log")
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	s.pass = hex.EncodeToString(buf)
	pwfile := filepath.Join(s.root, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.pass+"\n"), 0o600); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(pwfile, int(s.cred.uid), int(s.cred.gid)); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
	}
	// Password authentication over TCP only, like a managed server; no Unix socket, so
	// nothing is written outside the temporary folder.
	cmd := s.command(ctx, "initdb", "-D", s.data, "-U", Superuser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pglocal: initdb: %v\n%s", err, strings.TrimSpace(out.String()))
	}
	os.Remove(pwfile)
	v, _ := os.ReadFile(filepath.Join(s.data, "PG_VERSION"))
	s.version = strings.TrimSpace(string(v))
	return nil
}

// command prepares one of the server's binaries to run as the server's user.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	cmd.Env = []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "LANG=C", "HOME=" + s.root, "TZ=UTC"}
	cmd.SysProcAttr = procAttr(s.cred)
	return cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server on its port: the first time from the package's Start, and again
// after Stop or Kill (a restart, as an operator or a managed service would do one). It
// returns once the server accepts connections.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			return errors.New("pglocal: server already running")
		}
	}
	durable := "off"
	if s.opts.Durable {
		durable = "on"
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	start, _ := logf.Seek(0, 2)
	// The server is a direct child (not pg_ctl's grandchild) so that the kernel stops it
	// when this process dies, even by SIGKILL (see procAttr): a killed test binary leaves no
	// server behind.
	cmd := s.command(context.Background(), "postgres", "-D", s.data,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections="+strconv.Itoa(s.opts.MaxConnections),
		"-c", "shared_buffers=32MB",
		"-c", "fsync="+durable,
		"-c", "full_page_writes="+durable,
		"-c", "synchronous_commit="+durable,
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() {
		s.werr = cmd.Wait() // read only after done is closed
		close(done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("pglocal: postgres exited at start: %v\n%s", s.werr, s.logSince(start))
		case <-ctx.Done():
			s.stopLocked(syscall.SIGQUIT)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked(syscall.SIGQUIT)
			return fmt.Errorf("pglocal: postgres did not accept connections within a minute: %v\n%s", err, s.logSince(start))
		}
	}
}

// logSince returns the server log from offset on, for error messages.
func (s *Server) logSince(offset int64) string {
	b, _ := os.ReadFile(s.logPath)
	if offset < int64(len(b)) {
		b = b[offset:]
	}
	return strings.TrimSpace(string(b))
}

// Stop shuts the server down cleanly (PostgreSQL's fast shutdown: open sessions are ended)
// and waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGINT)
}

// Kill stops the server the way a crash does (PostgreSQL's immediate shutdown: no
// checkpoint; the next start recovers from the WAL) and waits for it.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(syscall.SIGQUIT)
}

func (s *Server) stopLocked(sig syscall.Signal) error {
	if s.cmd == nil {
		return nil
	}
	// Escalate when the server does not stop: fast, then immediate, then SIGKILL.
	for _, sig := range []syscall.Signal{sig, syscall.SIGQUIT, syscall.SIGKILL} {
		select {
		case <-s.done:
			return nil
		default:
		}
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
			return nil
		case <-time.After(30 * time.Second):
		}
	}
	<-s.done
	return nil
}

// Close stops the server and removes its folder.
func (s *Server) Close() error {
	err := s.Stop()
	if s.root != "" {
		err = errors.Join(err, os.RemoveAll(s.root))
	}
	return err
}

// Port is the loopback port the server listens on; it stays the same across restarts.
func (s *Server) Port() int { return s.port }

// Version is the server's major version, e.g. "15".
func (s *Server) Version() string { return s.version }

// URL returns a postgres:// URL for database db as the superuser, with its password.
func (s *Server) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, s.pass),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pglocal: create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// FILE_COPY copies the small template directly instead of through the WAL: much faster
	// for the many little databases tests create (PostgreSQL 15 made WAL_LOG the default).
	strategy := ""
	if v, _ := strconv.Atoi(s.version); v >= 15 {
		strategy = " STRATEGY = FILE_COPY"
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"+strategy); err != nil {
		return "", fmt.Errorf("pglocal: create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// DropDatabase drops a database, ending any session still connected to it.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pglocal: drop database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pglocal: drop database %s: %w", name, err)
	}
	return nil
}

// LogPath is the server's log file.
func (s *Server) LogPath() string { return s.logPath }
