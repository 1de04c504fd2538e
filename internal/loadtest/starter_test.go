package loadtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/domo"
	"github.com/scimbridge/scimbridge/internal/index"
	"github.com/scimbridge/scimbridge/internal/mapping"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

// testBridge is a Starter for the package's tests: the real bridge, store, Domo client and
// SCIM handler, wired as `scimbridge serve` wires them for what the load needs (the token, the
// policy, the breaker off, the budget, readiness, the access log with Domo calls). The
// command's own Starter, serve itself, is exercised by cmd/scimbridge's TestLoadCommand.
func testBridge(ctx context.Context, env map[string]string, logs io.Writer, listening func(string)) error {
	rate, _ := strconv.Atoi(env["SCIMBRIDGE_DOMO_RATE_LIMIT"])
	log := zerolog.New(logs).With().Timestamp().Logger()
	client, err := domo.New(domo.Config{
		BaseURL: env["SCIMBRIDGE_DOMO_API_URL"], ClientID: env["SCIMBRIDGE_DOMO_CLIENT_ID"], ClientSecret: env["SCIMBRIDGE_DOMO_CLIENT_SECRET"],
		RatePerMinute: rate, Logger: log,
		Hooks: domo.Hooks{Request: func(ctx context.Context, _ string, _ int, _ time.Duration) { scim.RequestInfo(ctx).Upstream() }},
	})
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, env["SCIMBRIDGE_STATE"])
	if err != nil {
		return err
	}
	defer st.Close()
	breaker, _ := strconv.Atoi(env["SCIMBRIDGE_BREAKER_MAX"])
	b, err := bridge.New(bridge.Config{Domo: client, Store: st, Index: index.New(), Logger: log,
		Policy: env["SCIMBRIDGE_DEPROVISION"], BreakerMax: breaker,
		Mapping: mapping.Options{Roles: mapping.NewRoles(nil), DefaultRole: "Participant", HideDefaultGroup: true}})
	if err != nil {
		return err
	}
	name, secret, _ := strings.Cut(env["SCIMBRIDGE_TOKEN"], ":")
	tokens, err := scim.NewTokens([]scim.Token{{Name: name, Secret: secret, Role: scim.RoleProvision}})
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	h := scim.NewHandler(scim.Config{Users: b.Users(), Groups: b.Groups(), Tokens: tokens, Logger: log, Ready: b.Ready})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	listening("http://" + ln.Addr().String())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	b.Wait()
	return nil
}
