package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/scim"
)

// Token probe timing: often enough that readiness follows a revoked client within a minute,
// rarely enough to cost nothing (the Domo client reuses its token until it expires, so a check
// sends a request to Domo about once an hour).
const (
	tokenProbeEvery   = 30 * time.Second
	tokenProbeTimeout = 10 * time.Second
)

// tokenProbe answers "can the bridge obtain a Domo token?" for /readyz without /readyz ever
// waiting on Domo: a background loop asks, /readyz reads the last answer.
type tokenProbe struct {
	token   func(context.Context) error
	every   time.Duration
	timeout time.Duration
	now     func() time.Time
	log     zerolog.Logger

	mu      sync.Mutex
	checked time.Time // zero until the first answer
	failing time.Time // zero while tokens are obtainable
}

func newTokenProbe(token func(context.Context) error, log zerolog.Logger) *tokenProbe {
	return &tokenProbe{token: token, every: tokenProbeEvery, timeout: tokenProbeTimeout, now: time.Now, log: log}
}

// run checks at once and then every p.every until ctx ends.
func (p *tokenProbe) run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		p.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *tokenProbe) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	err := p.token(cctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	// An exhausted budget says nothing about the credentials; taking the bridge out of
	// service for it would turn throttling into an outage.
	var rl *domo.RateLimitError
	if errors.As(err, &rl) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.checked = now
	switch {
	case err != nil && p.failing.IsZero():
		p.failing = now
		p.log.Error().Err(err).Msg("cannot obtain a Domo token; /readyz reports not ready")
	case err == nil && !p.failing.IsZero():
		p.failing = time.Time{}
		p.log.Info().Msg("Domo token obtainable again")
	}
}

// status reports whether a token was obtainable at the last check, with details safe to show
// anyone: a word and times, never the error (it can name the tenant's URL).
func (p *tokenProbe) status() (bool, map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.checked.IsZero():
		return false, map[string]any{"token": "unchecked"}
	case !p.failing.IsZero():
		return false, map[string]any{"token": "failing", "failingSince": p.failing.UTC().Format(time.RFC3339), "checkedAt": p.checked.UTC().Format(time.RFC3339)}
	}
	return true, map[string]any{"token": "ok", "checkedAt": p.checked.UTC().Format(time.RFC3339)}
}

// readiness is /readyz: ready when the SCIM API serves (available: the start-up load has
// finished, not merely filled the index), the index is loaded and a Domo token is obtainable.
// /readyz must never say ready while the SCIM API would still answer 503.
func readiness(index scim.Readiness, available func() bool, probe *tokenProbe) scim.Readiness {
	return func(ctx context.Context) (bool, map[string]any) {
		ready, details := index(ctx)
		if details == nil {
			details = map[string]any{}
		}
		tokOK, tok := probe.status()
		details["domo"] = tok
		return ready && available() && tokOK, details
	}
}
