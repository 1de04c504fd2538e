//go:build !linux

package pglocal

import (
	"errors"
	"syscall"
)

// supported: the server is only started on Linux, where the kernel can stop it when this
// process dies (Pdeathsig); elsewhere a killed test would leave it running.
func supported() error {
	return errors.New("pglocal: starting a local PostgreSQL is supported on Linux only")
}

func procAttr(*account) *syscall.SysProcAttr { return nil }
