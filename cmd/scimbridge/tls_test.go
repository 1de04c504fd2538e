package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/domo/domosim"
)

// testCert is a self-signed certificate for 127.0.0.1, written as PEM files.
type testCert struct {
	certFile, keyFile string
	pool              *x509.CertPool // trusts exactly this certificate
}

// writeTestCert makes a fresh self-signed certificate named cn and writes it over certFile and
// keyFile in dir. Each call has a new key, so tests can tell which certificate a server uses.
func writeTestCert(t *testing.T, dir, cn string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), pool: x509.NewCertPool()}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each write gets a later modification time than the last, as a real renewal does, even on
	// a file system whose clock granularity is coarser than the test.
	certClock.mu.Lock()
	certClock.t = certClock.t.Add(2 * time.Second)
	mt := certClock.t
	certClock.mu.Unlock()
	for _, f := range []string{c.certFile, c.keyFile} {
		if err := os.Chtimes(f, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	parsed, _ := x509.ParseCertificate(der)
	c.pool.AddCert(parsed)
	return c
}

var certClock = struct {
	mu sync.Mutex
	t  time.Time
}{t: time.Now()}

// servedCN is the common name of the certificate r hands to the next handshake.
func servedCN(t *testing.T, r *certReloader) string {
	t.Helper()
	c, err := r.getCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	c := writeTestCert(t, dir, "first")
	var logs syncBuffer
	r, err := newCertReloader(c.certFile, c.keyFile, 0, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if cn := servedCN(t, r); cn != "first" {
		t.Fatalf("served %q", cn)
	}

	// Renewed in place (cert-manager, certbot): the next handshake gets the new pair.
	writeTestCert(t, dir, "second")
	if cn := servedCN(t, r); cn != "second" {
		t.Fatalf("after renewal served %q, want second", cn)
	}

	// Half-written renewal: a certificate whose key is not there yet keeps the old pair in
	// service, says so in the log, and is picked up once the key arrives.
	goodKey, err := os.ReadFile(c.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	third := writeTestCert(t, t.TempDir(), "third")
	certPEM, _ := os.ReadFile(third.certFile)
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(third.certFile)
	os.Chtimes(c.certFile, st.ModTime(), st.ModTime())
	if cn := servedCN(t, r); cn != "second" {
		t.Fatalf("with a mismatched pair served %q, want second kept", cn)
	}
	if !strings.Contains(logs.String(), "keeping the old one") {
		t.Fatalf("mismatched pair not logged: %s", logs.String())
	}
	thirdKey, _ := os.ReadFile(third.keyFile)
	if err := os.WriteFile(c.keyFile, thirdKey, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(c.keyFile, st.ModTime(), st.ModTime())
	if cn := servedCN(t, r); cn != "third" {
		t.Fatalf("after the key arrived served %q, want third", cn)
	}
	if strings.Contains(logs.String(), string(goodKey)) || strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Fatal("a key reached the log")
	}

	// Files gone (a volume unmounted): the certificate in service stays.
	os.Remove(c.certFile)
	if cn := servedCN(t, r); cn != "third" {
		t.Fatalf("with files gone served %q", cn)
	}
}

func TestCertReloaderChecksAtMostEveryInterval(t *testing.T) {
	dir := t.TempDir()
	c := writeTestCert(t, dir, "first")
	r, err := newCertReloader(c.certFile, c.keyFile, time.Hour, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	writeTestCert(t, dir, "second")
	if cn := servedCN(t, r); cn != "first" {
		t.Fatalf("looked at the files within the interval: served %q", cn)
	}
}

func TestNewTLSConfigRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	c := writeTestCert(t, dir, "x")
	other := writeTestCert(t, t.TempDir(), "y")
	for _, tt := range []struct{ name, cert, key, want string }{
		{"missing cert", filepath.Join(dir, "nope.crt"), c.keyFile, "nope.crt"},
		{"key of another certificate", c.certFile, other.keyFile, "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTLSConfig(tt.cert, tt.key, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestServeTLS serves SCIM over TLS through run(): TLS 1.2 and 1.3 clients get in, a TLS 1.1
// client is refused, and a certificate renewed on disk is served without a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	c := writeTestCert(t, dir, "scimbridge-test")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}}
	b := startBridgeClient(t, domosim.New(domosim.Options{Seed: 3}), map[string]string{
		"SCIMBRIDGE_TLS_CERT": c.certFile,
		"SCIMBRIDGE_TLS_KEY":  c.keyFile,
	}, client)
	if !strings.HasPrefix(b.base, "https://") {
		t.Fatalf("base %q is not https", b.base)
	}
	b.expect("GET", "/scim/v2/Users?count=1", nil, http.StatusOK)

	host := strings.TrimPrefix(b.base, "https://")
	dial := func(min, max uint16) (*tls.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", host, &tls.Config{RootCAs: c.pool, MinVersion: min, MaxVersion: max})
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := dial(v, v)
		if err != nil {
			t.Fatalf("%s refused: %v", tls.VersionName(v), err)
		}
		conn.Close()
	}
	if conn, err := dial(tls.VersionTLS10, tls.VersionTLS11); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 client was accepted")
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + host + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}
