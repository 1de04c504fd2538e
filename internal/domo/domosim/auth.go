package domosim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	Customer    string `json:"customer"`
	ExpiresIn   int64  `json:"expires_in"`
	JTI         string `json:"jti"`
	Role        string `json:"role"`
	Scope       string `json:"scope"`
	TokenType   string `json:"token_type"`
	UserID      int64  `json:"userId"`
}

// token serves GET and POST /oauth/token: client credentials with Basic auth, parameters in the
// query (GET, Domo's documented form) or the form body (POST, pydomo and x/oauth2).
func (s *Sim) token(w http.ResponseWriter, r *http.Request, opts Options) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	id, secret, ok := r.BasicAuth()
	if !ok || !credsMatch(id, opts.ClientID) || !credsMatch(secret, opts.ClientSecret) {
		writeError(w, r, opts, http.StatusUnauthorized, "Bad credentials")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, r, opts, http.StatusBadRequest, "Malformed request")
		return
	}
	if gt := r.Form.Get("grant_type"); gt != "client_credentials" {
		writeError(w, r, opts, http.StatusBadRequest, "Unsupported grant type: "+gt)
		return
	}
	scopes := opts.Scopes
	if sc := strings.TrimSpace(r.Form.Get("scope")); sc != "" {
		scopes = strings.Fields(sc)
		for _, want := range scopes {
			if !opts.hasScope(want) {
				writeError(w, r, opts, http.StatusBadRequest, "Invalid scope: "+want)
				return
			}
		}
	}
	now := opts.Now()
	exp := now.Add(opts.TokenTTL)
	jti := newUUID()

	s.mu.Lock()
	owner := s.users[s.ownerID]
	role, uid := owner.Role, owner.ID
	payload, _ := json.Marshal(map[string]any{
		"exp": exp.Unix(), "iat": now.Unix(), "jti": jti, "scope": scopes, "customer": opts.Customer,
		"role": role, "userId": uid, "client_id": opts.ClientID,
	})
	tok := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + randB64(32)
	if len(s.tokens) > 1000 {
		for k, v := range s.tokens {
			if now.Sub(v.exp) > time.Minute {
				delete(s.tokens, k)
			}
		}
	}
	s.tokens[tok] = tokenRec{exp: exp, scopes: scopes, userID: uid}
	s.mu.Unlock()
	s.stats.tokens.Add(1)

	ttl := int64(opts.TokenTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok, Customer: opts.Customer, ExpiresIn: ttl, JTI: jti, Role: role,
		Scope: strings.Join(scopes, " "), TokenType: "bearer", UserID: uid,
	})
}

// credsMatch also accepts the form-urlencoded credentials RFC 6749 §2.3.1 asks clients to send.
func credsMatch(got, want string) bool {
	if got == want {
		return true
	}
	u, err := url.QueryUnescape(got)
	return err == nil && u == want
}

// ExpireTokens makes every token issued so far expire now, as if an hour had passed.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.tokens {
		v.exp = time.Time{}
		s.tokens[k] = v
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
