package scim

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// MinTokenLength is the shortest bearer token the bridge accepts: a token an IdP holds for
// years must not be guessable.
const MinTokenLength = 16

// Token is one bearer token an IdP or operator presents. Name is what logs and the audit log
// record; the secret never leaves this package.
type Token struct {
	Name     string
	Secret   string
	ReadOnly bool // GET only: for auditors and monitors
}

// Tokens is the set of accepted bearer tokens. Secrets are kept only as SHA-256 digests, so
// every comparison has the same length and runs in constant time.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	name     string
	digest   [sha256.Size]byte
	readOnly bool
}

// NewTokens validates the tokens: at least one, each at least MinTokenLength long after
// trimming spaces, with unique names and secrets.
func NewTokens(tokens []Token) (*Tokens, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no bearer token configured")
	}
	ts := &Tokens{}
	names := map[string]bool{}
	digests := map[[sha256.Size]byte]bool{}
	for i, t := range tokens {
		secret := strings.TrimSpace(t.Secret)
		name := strings.TrimSpace(t.Name)
		if name == "" {
			name = fmt.Sprintf("token%d", i+1)
		}
		if len(secret) < MinTokenLength {
			return nil, fmt.Errorf("bearer token %q is shorter than %d characters", name, MinTokenLength)
		}
		if names[name] {
			return nil, fmt.Errorf("bearer token name %q is used twice", name)
		}
		d := sha256.Sum256([]byte(secret))
		if digests[d] {
			return nil, fmt.Errorf("bearer token %q has the same secret as another token", name)
		}
		names[name], digests[d] = true, true
		ts.entries = append(ts.entries, tokenEntry{name: name, digest: d, readOnly: t.ReadOnly})
	}
	return ts, nil
}

// Names lists the token names, for start-up logs.
func (ts *Tokens) Names() []string {
	out := make([]string, len(ts.entries))
	for i, e := range ts.entries {
		out[i] = e.name
	}
	return out
}

// match finds the token presented in an Authorization header. Every configured token is
// compared, whether or not an earlier one matched, so timing reveals nothing.
func (ts *Tokens) match(header string) (tokenEntry, bool) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return tokenEntry{}, false
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	var found tokenEntry
	hit := 0
	for _, e := range ts.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			found = e
			hit = 1
		}
	}
	return found, hit == 1
}

// authenticate rejects requests without a valid bearer token with a SCIM 401, and read-only
// tokens on anything but GET (and POST /.search, which only reads) with a 403.
func authenticate(ts *Tokens) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := ts.match(r.Header.Get("Authorization"))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge"`)
				writeError(w, r, Errorf(http.StatusUnauthorized, "", "missing or invalid bearer token"))
				return
			}
			info := requestInfo(r.Context())
			info.Token = tok.name
			if tok.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead && !isSearch(r) {
				writeError(w, r, Errorf(http.StatusForbidden, "", "token %q is read-only", tok.name))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func isSearch(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/.search")
}
