package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// certCheckInterval is how often a handshake may look at the certificate files: renewals are
// picked up within seconds, and a busy server does not stat two files per connection.
const certCheckInterval = 5 * time.Second

// certReloader serves the certificate in certFile/keyFile and reloads it when either file
// changes, so a renewed certificate (cert-manager, certbot) is used without a restart.
type certReloader struct {
	certFile, keyFile string
	every             time.Duration // least time between two looks at the files
	log               zerolog.Logger

	mu      sync.RWMutex
	cert    *tls.Certificate
	stamp   fileStamp // of the pair in service
	checked time.Time
}

// fileStamp identifies a version of the two files. Modification times alone can miss a
// rewrite within the file system's time granularity, so sizes count too; a Kubernetes Secret
// update swaps a symlink, which Stat follows to the new files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// newTLSConfig serves certFile/keyFile with TLS 1.2 at least (Entra requires 1.2; older
// versions have known weaknesses). Go's default cipher suites for TLS 1.2 are the ECDHE
// AEAD suites, which include those Entra lists.
func newTLSConfig(certFile, keyFile string, log zerolog.Logger) (*tls.Config, error) {
	r, err := newCertReloader(certFile, keyFile, certCheckInterval, log)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
	}, nil
}

func newCertReloader(certFile, keyFile string, every time.Duration, log zerolog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, every: every, log: log.With().Str("component", "tls").Logger()}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (a fileStamp) same(b fileStamp) bool {
	return a.certMod.Equal(b.certMod) && a.keyMod.Equal(b.keyMod) && a.certSize == b.certSize && a.keySize == b.keySize
}

func (r *certReloader) stat() (fileStamp, error) {
	cf, err := os.Stat(r.certFile)
	if err != nil {
		return fileStamp{}, err
	}
	kf, err := os.Stat(r.keyFile)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{certMod: cf.ModTime(), keyMod: kf.ModTime(), certSize: cf.Size(), keySize: kf.Size()}, nil
}

func (r *certReloader) reload() error {
	st, err := r.stat()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.cert, r.stamp, r.checked = &cert, st, time.Now()
	r.mu.Unlock()
	return nil
}

// getCertificate looks at the files at most every r.every. A new pair that does not load
// (the certificate written, the key not yet) keeps the old one in service, is logged, and is
// tried again at the next look.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	cert, stamp := r.cert, r.stamp
	if time.Since(r.checked) < r.every {
		r.mu.Unlock()
		return cert, nil
	}
	r.checked = time.Now()
	r.mu.Unlock()

	st, err := r.stat()
	if err != nil {
		r.log.Error().Err(err).Msg("TLS certificate files unreadable; keeping the certificate in service")
		return cert, nil
	}
	if st.same(stamp) {
		return cert, nil
	}
	if err := r.reload(); err != nil {
		r.log.Error().Err(err).Msg("new TLS certificate could not be loaded; keeping the old one")
		return cert, nil
	}
	r.log.Info().Msg("TLS certificate reloaded")
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}
