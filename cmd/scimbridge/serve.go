package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
	"github.com/scimbridge/scimbridge/internal/ui"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		configUsage("serve", "Serves SCIM 2.0 under /scim/v2 in front of a Domo tenant.", stdout)
		return nil
	}
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, stderr)
	return serveWith(ctx, cfg, log, stdout, nil)
}

func newLogger(cfg Config, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		lvl = zerolog.InfoLevel
	}
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", FormatPrepare: consoleDurations, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// durationFields are the log fields that hold durations. JSON logs carry them as milliseconds
// (zerolog's default, which log pipelines expect); the console log shows them with units.
var durationFields = []string{"duration", "took", "retry_in", "backoff", "grace", "waited", "window", "retention", "age", "max_age"}

// consoleDurations turns the duration fields of a console log line from milliseconds into
// Go's notation with units: 12.5ms, 2.1s, 1m30s.
func consoleDurations(evt map[string]any) error {
	for _, k := range durationFields {
		var ms float64
		switch v := evt[k].(type) {
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				continue
			}
			ms = f
		case float64:
			ms = v
		default:
			continue
		}
		evt[k] = time.Duration(ms * float64(time.Millisecond)).String()
	}
	return nil
}

// isTerminal reports whether w is a terminal, where the console log may use colours.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serveWith runs the bridge until ctx ends. listening, when set, receives the bound address
// once the server accepts connections (demo prints its banner then).
func serveWith(ctx context.Context, cfg Config, log zerolog.Logger, stdout io.Writer, listening func(addr string)) error {
	tokens, err := scim.NewTokens(cfg.Tokens)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.State)
	if err != nil {
		return fmt.Errorf("open state %s: %w", store.Describe(cfg.State), err)
	}
	defer st.Close()
	log.Info().Str("state", st.Describe()).Bool("shared", st.Shared()).Msg("state opened")

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dm := newDomoMetrics(reg)

	client, err := domo.New(domo.Config{
		BaseURL:       cfg.DomoAPIURL,
		ClientID:      cfg.DomoClientID,
		ClientSecret:  cfg.DomoSecret,
		RatePerMinute: cfg.DomoRateLimit,
		MaxWait:       cfg.DomoMaxWait,
		Logger:        log.With().Str("component", "domo").Logger(),
		Hooks:         dm.hooks(),
	})
	if err != nil {
		return err
	}
	inst, err := newInstance(cfg, log, dm.hooks())
	if err != nil {
		return err
	}
	// Replicas sharing the state take every Domo request's send time from budgets kept there.
	shareDomoBudgets(st, client, inst)
	idx := index.New()
	roles := mapping.NewRoles(cfg.Roles)
	b, err := bridge.New(bridge.Config{
		Domo:     client,
		Instance: inst,
		Store:    st,
		Index:    idx,
		Mapping: mapping.Options{
			BaseURL:          strings.TrimSuffix(cfg.BaseURL, "/"),
			Roles:            roles,
			DefaultRole:      cfg.DefaultRole,
			LoginDomain:      cfg.LoginDomain,
			HideDefaultGroup: !cfg.ShowDefault,

			NumericEmployeeNumber: cfg.NumericEmployeeNumber,
		},
		SendInvite:       cfg.SendInvite,
		Policy:           cfg.Deprovision,
		OnDelete:         cfg.OnDelete,
		DemoteRole:       cfg.DemoteRole,
		BreakerMax:       cfg.BreakerMax,
		BreakerWindow:    cfg.BreakerWindow,
		ProtectedUsers:   cfg.ProtectedUsers,
		ShowDefaultGroup: cfg.ShowDefault,
		RefreshInterval:  cfg.RefreshInterval,
		SnapshotMaxAge:   cfg.SnapshotMaxAge,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	if err := b.LoadSwitches(ctx); err != nil {
		return fmt.Errorf("read switches from state: %w", err)
	}
	registerBridgeMetrics(reg, idx, b, cfg.RefreshInterval, cfg.DomoRateLimit)
	registerInstanceMetrics(reg, b)
	probe := newTokenProbe(func(ctx context.Context) error {
		_, err := client.Token(ctx)
		return err
	}, log.With().Str("component", "readiness").Logger())
	registerProbeMetrics(reg, probe)
	page, err := ui.New(ui.Config{
		Tokens:          tokens,
		Sessions:        st,
		Admin:           b,
		Gatherer:        reg,
		Audit:           st,
		Drift:           b.LastDrift,
		BudgetPerMinute: cfg.DomoRateLimit,
		Logger:          log,
	})
	if err != nil {
		return err
	}

	// Replicas sharing the state count each other, for /readyz and the metrics.
	replicas := &replicaCount{}
	heartbeat(ctx, st, b.ReplicaID(), replicas, log)
	registerReplicaMetrics(reg, replicas, b.Leading)
	stProbe := &stateProbe{st: st, log: log.With().Str("component", "readiness").Logger()}

	var loaded atomic.Bool
	hcfg := scim.Config{
		Users:          b.Users(),
		Groups:         b.Groups(),
		Tokens:         tokens,
		Logger:         log.With().Str("component", "http").Logger(),
		Metrics:        scim.NewMetrics(reg),
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Ready:          withState(readiness(b.Ready, loaded.Load, probe), stProbe, st.Shared(), replicas),
		Available:      loaded.Load,
		Pauser:         b,
		Admin:          b,
		UI:             page,
		BaseURL:        cfg.BaseURL,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		RoleNames:      b.RoleNames,
	}
	// One listener for everything, or the SCIM API on SCIMBRIDGE_ADDR and the operator's side
	// (metrics, admin, status page) on SCIMBRIDGE_OPS_ADDR, which need not be reachable by the IdP.
	type listener struct {
		addr, what string
		handler    http.Handler
	}
	listeners := []listener{{cfg.Addr, "SCIM, operator's side and health", scim.NewHandler(hcfg)}}
	if cfg.OpsAddr != "" {
		api, ops := scim.NewHandlers(hcfg)
		listeners = []listener{{cfg.Addr, "SCIM and health", api}, {cfg.OpsAddr, "operator's side (metrics, admin, /ui/) and health", ops}}
	}

	// Requests run on a context of their own, not ctx: a SIGTERM stops new connections but
	// lets requests in flight finish; only past the shutdown bound is this context cancelled.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	scheme := "http"
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		if tlsCfg, err = newTLSConfig(cfg.TLSCert, cfg.TLSKey, log); err != nil {
			return err
		}
		scheme = "https"
	}
	var servers []*http.Server
	serveErr := make(chan error, len(listeners))
	var serving sync.WaitGroup
	for i, l := range listeners {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, srv := range servers {
				_ = srv.Close()
			}
			return fmt.Errorf("listen on %s: %w", l.addr, err)
		}
		srv := newHTTPServer(l.handler, log, func(net.Listener) context.Context { return reqCtx })
		srv.TLSConfig = tlsCfg
		servers = append(servers, srv)
		serving.Go(func() {
			var err error
			if srv.TLSConfig != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		})
		addr := ln.Addr().String()
		log.Info().Str("addr", addr).Str("serves", l.what).Strs("tokens", tokens.Names()).Str("deprovision", cfg.Deprovision).Msg("listening")
		if i == 0 {
			fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, addr)
			if listening != nil {
				listening(scheme + "://" + addr)
			}
		} else {
			fmt.Fprintf(stdout, "operator's side listening on %s://%s\n", scheme, addr)
		}
	}

	// Load the index behind the listening server: /healthz answers at once, /readyz and the
	// SCIM API once the index can answer truthfully.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	bg.Go(func() { probe.run(runCtx) })
	bg.Go(func() { stProbe.run(runCtx) })
	bg.Go(func() { countReplicas(runCtx, st, b.ReplicaID(), replicas, log) })
	bg.Go(func() { page.Run(runCtx) })
	bg.Go(func() { pruneAudit(runCtx, st, cfg.AuditRetention, time.Hour, log) })
	bg.Go(func() {
		for attempt := 1; ; attempt++ {
			err := b.Start(runCtx)
			if err == nil {
				loaded.Store(true)
				bg.Go(func() { b.RunInstance(runCtx) })
				b.Run(runCtx)
				b.Wait() // the load behind a snapshot, if any, ends with runCtx too
				return
			}
			if runCtx.Err() != nil {
				return
			}
			wait := min(time.Duration(attempt)*5*time.Second, time.Minute)
			log.Error().Err(err).Dur("retry_in", wait).Msg("could not load the index from Domo")
			select {
			case <-runCtx.Done():
				return
			case <-time.After(wait):
			}
		}
	})

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	}
	cancel()
	var stopping sync.WaitGroup
	for _, srv := range servers {
		stopping.Go(func() { shutdown(srv, cancelRequests, cfg.ShutdownTimeout, log) })
	}
	stopping.Wait()
	serving.Wait()
	waitBackground(&bg, 5*time.Second, log)
	// The store closes (deferred above) only now, after the last request and background
	// write: a clean close checkpoints SQLite's write-ahead log into the file.
	return runErr
}

// newInstance builds the client of Domo's instance APIs when they are configured; nil
// otherwise. A token given as a file is read from it again whenever Domo refuses the one in
// use, so an operator rotates it by replacing the file.
func newInstance(cfg Config, log zerolog.Logger, hooks domo.Hooks) (*domo.Instance, error) {
	if cfg.DomoInstanceURL == "" {
		return nil, nil
	}
	icfg := domo.InstanceConfig{
		URL:           cfg.DomoInstanceURL,
		AccessToken:   cfg.DomoAccessToken,
		RatePerMinute: cfg.DomoInstanceRateLimit,
		MaxWait:       cfg.DomoMaxWait,
		BatchSize:     cfg.DomoMembershipBatch,
		Logger:        log.With().Str("component", "domo-instance").Logger(),
		Hooks:         hooks,
	}
	if path := cfg.DomoAccessTokenFile; path != "" {
		icfg.TokenSource = func(context.Context) (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read SCIMBRIDGE_DOMO_ACCESS_TOKEN_FILE: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
	return domo.NewInstance(icfg)
}

// newHTTPServer bounds every phase of a connection: headers, body, response and idle time.
// The write bound is above scim.DefaultRequestTimeout so that a slow request still gets its
// 429/503 answer out.
func newHTTPServer(h http.Handler, log zerolog.Logger, base func(net.Listener) context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      scim.DefaultRequestTimeout + 20*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       base,
		// TLS handshake failures and the like go to the JSON log, not bare lines on stderr.
		ErrorLog: stdlog.New(log.With().Str("component", "http-server").Logger(), "", 0),
	}
}

// shutdown stops accepting connections and waits up to grace for requests in flight. Requests
// still running then have their contexts cancelled, so they answer 503 with Retry-After and
// the IdP retries them, rather than having their connections cut; a few seconds later
// whatever remains is closed.
func shutdown(srv *http.Server, cancelRequests context.CancelFunc, grace time.Duration, log zerolog.Logger) {
	log.Info().Dur("grace", grace).Msg("shutting down: no new connections, finishing requests in flight")
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err == nil {
		log.Info().Msg("all requests finished")
		return
	}
	log.Warn().Dur("grace", grace).Msg("requests still running after the shutdown bound; cancelling them")
	cancelRequests()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		log.Error().Err(err).Msg("closing connections of requests that did not stop")
		_ = srv.Close()
	}
}

// waitBackground waits for the index loader and the token probe, which stop when their
// context ends, but never longer than d: the process is exiting either way.
func waitBackground(wg *sync.WaitGroup, d time.Duration, log zerolog.Logger) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		log.Warn().Dur("waited", d).Msg("background work did not stop in time")
	}
}

// pruneAudit deletes audit entries older than retention, now and then every interval, so the
// state file does not grow for ever. A retention of 0 keeps everything.
func pruneAudit(ctx context.Context, st store.Store, retention, interval time.Duration, log zerolog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := st.PruneAudit(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Msg("audit log not pruned")
		case n > 0:
			log.Info().Int64("entries", n).Dur("retention", retention).Msg("audit log pruned")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
