package scim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// MinTokenLength is the shortest bearer token the bridge accepts: a token an IdP holds for
// years must not be guessable.
const MinTokenLength = 16

// Role is what a bearer token may do. Every role may read (GET, POST .search, the admin
// status); each kind of write belongs to exactly one role, so a leaked IdP token cannot reset
// the deprovision breaker and an operator's token cannot provision.
type Role int

const (
	// RoleProvision is an IdP app's token: SCIM writes.
	RoleProvision Role = iota
	// RoleReadOnly only reads: for auditors and monitors.
	RoleReadOnly
	// RoleOperator flips the switches under /admin/v1 (pause, resume, breaker reset).
	RoleOperator
)

// String names the role as logs and errors show it.
func (r Role) String() string {
	switch r {
	case RoleProvision:
		return "provision"
	case RoleReadOnly:
		return "read-only"
	case RoleOperator:
		return "operator"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Token is one bearer token an IdP, a monitor or an operator presents. Name is what logs and
// the audit log record; the secret never leaves this package.
type Token struct {
	Name   string
	Secret string
	Role   Role
}

// Tokens is the set of accepted bearer tokens. Secrets are kept only as SHA-256 digests, so
// every comparison has the same length and runs in constant time.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	name   string
	digest [sha256.Size]byte
	role   Role
}

// defaultNames prefixes the generated name of an unnamed token, so logs still tell an IdP
// from a monitor from an operator.
var defaultNames = map[Role]string{RoleProvision: "token", RoleReadOnly: "readonly", RoleOperator: "admin"}

// NewTokens validates the tokens: at least one, each at least MinTokenLength long after
// trimming spaces, with a known role and unique names and secrets. An unnamed token is named
// after its role and position: token1, readonly1, admin1.
func NewTokens(tokens []Token) (*Tokens, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("no bearer token configured")
	}
	ts := &Tokens{}
	names := map[string]bool{}
	digests := map[[sha256.Size]byte]bool{}
	seen := map[Role]int{}
	for _, t := range tokens {
		prefix, ok := defaultNames[t.Role]
		if !ok {
			return nil, fmt.Errorf("bearer token %q has an unknown role %d", t.Name, int(t.Role))
		}
		seen[t.Role]++
		secret := strings.TrimSpace(t.Secret)
		name := strings.TrimSpace(t.Name)
		if name == "" {
			name = fmt.Sprintf("%s%d", prefix, seen[t.Role])
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
		ts.entries = append(ts.entries, tokenEntry{name: name, digest: d, role: t.Role})
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

// Authenticate finds the token whose secret this is, comparing against every configured token
// in constant time, as for a bearer header. The status page signs people in with it.
func (ts *Tokens) Authenticate(secret string) (name string, role Role, ok bool) {
	e, ok := ts.match("Bearer " + secret)
	return e.name, e.role, ok
}

// Bind returns an HMAC-SHA256 of msg keyed by the secret of the token called name (by its
// digest, which never leaves this package), and that token's role; ok is false when no token
// has that name. The status page ties a stored session to the token it signed in with: when
// the token is removed or its secret replaced, the MAC no longer matches and the session ends,
// and a copy of the stored MAC reveals nothing of the secret without msg.
func (ts *Tokens) Bind(name string, msg []byte) (mac []byte, role Role, ok bool) {
	for _, e := range ts.entries {
		if e.name == name {
			h := hmac.New(sha256.New, e.digest[:])
			h.Write(msg)
			return h.Sum(nil), e.role, true
		}
	}
	return nil, 0, false
}

// authenticate rejects requests without a valid bearer token with a SCIM 401 and records the
// token's name and role in the request's Info. What the role may do is decided per route
// group by writesBy.
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
			info.Token, info.role = tok.name, tok.role
			next.ServeHTTP(w, r)
		})
	}
}

// writesBy lets every authenticated token read and only tokens of role write, answering
// others with a SCIM 403 that names the token and the role needed, never a secret.
func writesBy(role Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := requestInfo(r.Context())
			if !isRead(r) && info.role != role {
				writeError(w, r, Errorf(http.StatusForbidden, "", "token %q (%s) may not make this request; it needs a %s token", info.Token, info.role, role))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// isRead reports whether a request only reads: GET, HEAD, and POST .search, which is a query.
func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead || isSearch(r)
}

func isSearch(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/.search")
}
