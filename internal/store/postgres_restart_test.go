package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/internal/pglocal"
	"github.com/scimbridge/scimbridge/internal/pglocal/pgtest"
)

// While PostgreSQL is down every call fails as ErrUnavailable (which the SCIM layer answers
// with 503 and Retry-After), and once it is back the same handle works again by itself:
// pool, lock session, lead and change listener alike.
func TestPostgresRestart(t *testing.T) {
	ctx := context.Background()
	pgtest.Server(t)                                  // skips or fails loudly without PostgreSQL
	srv, err := pglocal.Start(ctx, pglocal.Options{}) // a server of its own: this test stops it
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	loc, err := srv.CreateDatabase(ctx, "restart")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, err := a.Lead(ctx, "refresh"); err != nil || !ok {
		t.Fatalf("Lead = %v, %v", ok, err)
	}
	unlock, err := a.Lock(ctx, "user:1")
	if err != nil {
		t.Fatal(err)
	}
	drain(b.Changed())

	for _, stop := range []struct {
		name string
		fn   func() error
	}{{"clean restart", srv.Stop}, {"crash", srv.Kill}} {
		t.Run(stop.name, func(t *testing.T) {
			if err := stop.fn(); err != nil {
				t.Fatal(err)
			}
			down := []struct {
				name string
				call func() error
			}{
				{"read", func() error { _, _, err := a.Setting(ctx, "k"); return err }},
				{"write", func() error { return a.PutSetting(ctx, "k", "v") }},
				{"lock", func() error {
					u, err := b.Lock(ctx, "user:2")
					if err == nil {
						u()
					}
					return err
				}},
				{"lead", func() error { _, err := a.Lead(ctx, "refresh"); return err }},
				{"publish", func() error { _, err := a.Publish(ctx, Change{Origin: "a", Kind: "k"}); return err }},
				{"ping", func() error { return a.Ping(ctx) }},
			}
			for _, d := range down {
				err := d.call()
				var un interface {
					Unavailable() (string, time.Duration)
				}
				if !errors.Is(err, ErrUnavailable) || !errors.As(err, &un) {
					t.Errorf("%s while PostgreSQL is down: %v, want ErrUnavailable", d.name, err)
				} else if _, retry := un.Unavailable(); retry <= 0 {
					t.Errorf("%s: Retry-After %v", d.name, retry)
				}
			}
			unlock() // the lock went with the server; unlocking it must not fail or hang

			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// The pool drops dead connections as it meets them: a call or two may still fail.
			waitFor(t, "a write after the restart", func() error { return a.PutSetting(ctx, "k", "back") })
			if v, _, err := b.Setting(ctx, "k"); err != nil || v != "back" {
				t.Errorf("read after restart = %q, %v", v, err)
			}
			waitFor(t, "the lead after the restart", func() error {
				if ok, err := a.Lead(ctx, "refresh"); err != nil || !ok {
					return errors.Join(err, errors.New("not leading"))
				}
				return nil
			})
			if ok, err := b.Lead(ctx, "refresh"); err != nil || ok {
				t.Errorf("second handle's Lead after the restart = %v, %v", ok, err)
			}
			unlock, err = a.Lock(ctx, "user:1")
			if err != nil {
				t.Fatalf("Lock after restart: %v", err)
			}
			drain(b.Changed())
			if _, err := a.Publish(ctx, Change{Origin: "a", Kind: "k"}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-b.Changed():
			case <-time.After(10 * time.Second):
				t.Fatal("the listener did not come back after the restart")
			}
		})
	}
	unlock()
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func waitFor(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
