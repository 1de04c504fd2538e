package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, getenv)
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
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
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
		return fmt.Errorf("open state %s: %w", cfg.State, err)
	}
	defer st.Close()

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
	idx := index.New()
	roles := mapping.NewRoles(cfg.Roles)
	b, err := bridge.New(bridge.Config{
		Domo:  client,
		Store: st,
		Index: idx,
		Mapping: mapping.Options{
			BaseURL:          strings.TrimSuffix(cfg.BaseURL, "/"),
			Roles:            roles,
			DefaultRole:      cfg.DefaultRole,
			LoginDomain:      cfg.LoginDomain,
			HideDefaultGroup: !cfg.ShowDefault,
		},
		SendInvite:       cfg.SendInvite,
		Policy:           cfg.Deprovision,
		DemoteRole:       cfg.DemoteRole,
		BreakerMax:       cfg.BreakerMax,
		BreakerWindow:    cfg.BreakerWindow,
		ProtectedUsers:   cfg.ProtectedUsers,
		ShowDefaultGroup: cfg.ShowDefault,
		RefreshInterval:  cfg.RefreshInterval,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	if err := b.LoadSwitches(ctx); err != nil {
		return fmt.Errorf("read switches from state: %w", err)
	}
	registerBridgeMetrics(reg, idx, b)

	var loaded atomic.Bool
	handler := scim.NewHandler(scim.Config{
		Users:          b.Users(),
		Groups:         b.Groups(),
		Tokens:         tokens,
		Logger:         log.With().Str("component", "http").Logger(),
		Metrics:        scim.NewMetrics(reg),
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Ready:          b.Ready,
		Available:      loaded.Load,
		Pauser:         b,
		Admin:          b,
		BaseURL:        cfg.BaseURL,
		MaxBodyBytes:   cfg.MaxBodyBytes,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      70 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		tlsCfg, err := newTLSConfig(cfg.TLSCert, cfg.TLSKey, log)
		if err != nil {
			return err
		}
		srv.TLSConfig = tlsCfg
		scheme = "https"
	}
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
		close(serveErr)
	}()
	addr := ln.Addr().String()
	log.Info().Str("addr", addr).Strs("tokens", tokens.Names()).Str("deprovision", cfg.Deprovision).Msg("listening")
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, addr)
	if listening != nil {
		listening(scheme + "://" + addr)
	}

	// Load the index behind the listening server: /healthz answers at once, /readyz and the
	// SCIM API once the index can answer truthfully.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for attempt := 1; ; attempt++ {
			err := b.Start(runCtx)
			if err == nil {
				loaded.Store(true)
				b.Run(runCtx)
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
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info().Msg("shutting down")
	shutCtx, shutCancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer shutCancel()
	cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
