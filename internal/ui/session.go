package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scimbridge/scimbridge/internal/scim"
)

const (
	sessionCookie = "scimbridge_session"
	loginCookie   = "scimbridge_login" // the sign-in form's CSRF token, before there is a session
	cookiePath    = "/ui/"
	csrfField     = "csrf"

	defaultSessionTTL  = 8 * time.Hour    // a session ends this long after sign-in, whatever happens
	defaultIdleTimeout = 30 * time.Minute // or after this long without a request
	loginFormTTL       = 30 * time.Minute
	maxSessions        = 256 // oldest sessions give way beyond this: sign-ins cannot fill memory
)

// session is one signed-in browser. Only its random id travels, in an HttpOnly cookie; the
// token it signed in with is never kept, only its name and role.
type session struct {
	id      string
	name    string // the token's name, for the access and audit logs
	role    scim.Role
	csrf    string
	created time.Time
	seen    time.Time
}

// operator reports whether the session may act (pause, resume, reset the breaker).
func (s *session) operator() bool { return s.role == scim.RoleOperator }

// sessions is the server-side session store. Sessions live in memory: a restart signs every
// browser out, which costs an operator one sign-in.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	ttl  time.Duration
	idle time.Duration
	now  func() time.Time
}

func newSessions(ttl, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, ttl: ttl, idle: idle, now: now}
}

// randomToken is 32 bytes from crypto/rand, URL-safe: session ids and CSRF tokens.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (ss *sessions) create(name string, role scim.Role) *session {
	now := ss.now()
	s := &session{id: randomToken(), name: name, role: role, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, old := range ss.byID {
		if ss.expired(old, now) {
			delete(ss.byID, id)
		}
	}
	for len(ss.byID) >= maxSessions {
		var oldest *session
		for _, old := range ss.byID {
			if oldest == nil || old.created.Before(oldest.created) {
				oldest = old
			}
		}
		delete(ss.byID, oldest.id)
	}
	ss.byID[s.id] = s
	return s
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.created) >= ss.ttl || now.Sub(s.seen) >= ss.idle
}

// get returns the live session with this id; touch marks it seen, keeping it from idling out.
func (ss *sessions) get(id string, touch bool) *session {
	if id == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	if s == nil {
		return nil
	}
	now := ss.now()
	if ss.expired(s, now) {
		delete(ss.byID, id)
		return nil
	}
	if touch {
		s.seen = now
	}
	cp := *s
	return &cp
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

type sessionKey struct{}

func sessionOf(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// secure reports whether cookies must be Secure: the bridge serves TLS, or a proxy in front
// of it does.
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: cookiePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	}
	if ttl > 0 {
		c.MaxAge = int(ttl.Seconds())
		c.Expires = u.now().Add(ttl)
	} else {
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	}
	http.SetCookie(w, c)
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// Session implements scim.UI: it attaches the session named by the cookie, sets security
// headers, and refuses every state-changing request that comes from another site or lacks the
// CSRF token of its form (the session's, or the sign-in form's own before there is a session).
// The session's token name goes into the request's Info, so the access log and the audit log
// name who acted.
func (u *UI) Session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

		// The page's own polling (/ui/live) does not count as activity: an open, unattended tab
		// still idles out.
		s := u.sessions.get(cookieValue(r, sessionCookie), r.URL.Path != "/ui/live")
		if s != nil {
			scim.RequestInfo(r.Context()).Token = s.name
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		// Browsers say where a request comes from (Sec-Fetch-Site, Origin); a form posted from
		// another site is refused before its token is even looked at.
		if err := u.crossOrigin.Check(r); err != nil {
			u.refuse(w, r, http.StatusForbidden, "Refused: a cross-site request.")
			return
		}
		if err := r.ParseForm(); err != nil {
			u.refuse(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		want := ""
		switch {
		case r.URL.Path == "/ui/login":
			want = cookieValue(r, loginCookie)
		case s != nil:
			want = s.csrf
		default:
			u.refuse(w, r, http.StatusForbidden, "Sign in first.")
			return
		}
		got := r.PostForm.Get(csrfField)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			u.refuse(w, r, http.StatusForbidden, "Refused: the form's CSRF token is missing or stale. Reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// signInLimit bounds failed sign-ins for the whole bridge: tokens are long and random, and
// guessing one through the form must stay as hopeless as through the API.
func newSignInLimiter() *rate.Limiter { return rate.NewLimiter(rate.Every(6*time.Second), 10) }

// SignIn implements scim.UI: a form POST with a token. An operator or read-only token gets a
// new session (a fresh id, so nothing set before sign-in carries over); an IdP's provisioning
// token is refused, as is a wrong one.
func (u *UI) SignIn(w http.ResponseWriter, r *http.Request) {
	if !u.failures.Allow() {
		u.log.Warn().Msg("status page: sign-in refused, too many failed attempts")
		w.Header().Set("Retry-After", "60")
		u.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins. Wait a minute and try again.")
		return
	}
	name, role, ok := u.tokens.Authenticate(r.PostForm.Get("token"))
	if ok && role == scim.RoleProvision {
		u.log.Warn().Str("token", name).Msg("status page: sign-in with a provisioning token refused")
		u.renderLogin(w, r, http.StatusForbidden, "That is an IdP's provisioning token. Sign in with an operator or read-only token.")
		return
	}
	if !ok {
		u.failures.Reserve() // a failure costs twice
		u.log.Warn().Msg("status page: sign-in with an unknown token")
		u.renderLogin(w, r, http.StatusUnauthorized, "That token is not valid here.")
		return
	}
	s := u.sessions.create(name, role)
	u.setCookie(w, r, sessionCookie, s.id, u.sessions.ttl)
	u.setCookie(w, r, loginCookie, "", 0)
	scim.RequestInfo(r.Context()).Token = name
	u.log.Info().Str("token", name).Str("role", role.String()).Msg("status page: signed in")
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// SignOut implements scim.UI.
func (u *UI) SignOut(w http.ResponseWriter, r *http.Request) {
	if s := sessionOf(r.Context()); s != nil {
		u.sessions.end(s.id)
		u.log.Info().Str("token", s.name).Msg("status page: signed out")
	}
	u.setCookie(w, r, sessionCookie, "", 0)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}
