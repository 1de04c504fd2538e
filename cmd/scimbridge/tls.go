package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// certReloader serves the certificate in certFile/keyFile and reloads it when either file
// changes, so a renewed certificate (cert-manager, certbot) is used without a restart.
type certReloader struct {
	certFile, keyFile string
	log               zerolog.Logger

	mu      sync.RWMutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

func newTLSConfig(ctx context.Context, certFile, keyFile string, log zerolog.Logger) (*tls.Config, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
	}, nil
}

func (r *certReloader) latestMod() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
	}
	return latest, nil
}

func (r *certReloader) reload() error {
	mod, err := r.latestMod()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	r.mu.Lock()
	r.cert, r.modTime, r.checked = &cert, mod, time.Now()
	r.mu.Unlock()
	return nil
}

// getCertificate checks the files at most every few seconds; a broken new pair keeps the old
// certificate in service and is logged.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	cert, mod, checked := r.cert, r.modTime, r.checked
	r.mu.RUnlock()
	if time.Since(checked) < 5*time.Second {
		return cert, nil
	}
	r.mu.Lock()
	r.checked = time.Now()
	r.mu.Unlock()
	if latest, err := r.latestMod(); err == nil && latest.After(mod) {
		if err := r.reload(); err != nil {
			r.log.Error().Err(err).Msg("new TLS certificate could not be loaded; keeping the old one")
		} else {
			r.log.Info().Msg("TLS certificate reloaded")
			r.mu.RLock()
			cert = r.cert
			r.mu.RUnlock()
		}
	}
	return cert, nil
}
