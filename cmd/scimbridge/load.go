package main

import (
	"context"
	"fmt"
	"io"

	"github.com/scimbridge/scimbridge/internal/loadtest"
)

// load is `scimbridge load`: internal/loadtest drives the bridge that serve runs.
func load(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return loadtest.Command(ctx, args, loadBridge(getenv), stdout, stderr)
}

// loadBridge runs serve's bridge with the load's settings over the process's environment.
func loadBridge(getenv func(string) string) loadtest.Starter {
	return func(ctx context.Context, env map[string]string, logs io.Writer, listening func(string)) error {
		cfg, err := loadConfig("load", nil, func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return getenv(k)
		})
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		return serveWith(ctx, cfg, newLogger(cfg, logs), io.Discard, listening)
	}
}
