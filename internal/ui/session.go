package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

const (
	sessionCookie = "scimbridge_session"
	loginCookie   = "scimbridge_login" // the sign-in form's CSRF token, before there is a session
	cookiePath    = "/ui/"
	csrfField     = "csrf"

	defaultSessionTTL  = 8 * time.Hour    // a session ends this long after sign-in, whatever happens
	defaultIdleTimeout = 30 * time.Minute // or after this long without a request
	loginFormTTL       = 30 * time.Minute
	maxSessions        = 256             // oldest sessions give way beyond this: sign-ins cannot fill the state
	pruneEvery         = 5 * time.Minute // ended sessions are deleted from the state this often
)

// session is one signed-in browser, as a request sees it. Only its random id travels, in an
// HttpOnly cookie; the state keeps a hash of the id, never the id or the token it signed in
// with (see SessionStore).
type session struct {
	hash string // the id's hash, the session's key in the state
	name string // the token's name, for the access and audit logs
	role scim.Role
	csrf string // derived from the id: every replica computes the same
}

// operator reports whether the session may act (pause, resume, reset the breaker).
func (s *session) operator() bool { return s.role == scim.RoleOperator }

// SessionStore keeps the sessions: the bridge's state (store.Store), so that every replica
// sharing it knows every session, a sign-out ends a session on all of them, and a restart
// signs no one out.
type SessionStore interface {
	CreateSession(ctx context.Context, s store.Session, max int) (evicted int, err error)
	Session(ctx context.Context, idHash string, at time.Time) (store.Session, bool, error)
	TouchSession(ctx context.Context, idHash string, at time.Time, idle time.Duration) (store.Session, bool, error)
	DeleteSession(ctx context.Context, idHash string) error
	PruneSessions(ctx context.Context, at time.Time) (int64, error)
}

// randomToken is 32 bytes from crypto/rand, URL-safe: session ids and the sign-in form's CSRF
// tokens.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// What is derived from a session id, each with a purpose of its own, so that none of them
// tells another: the key the state keeps it under (a plain SHA-256 suffices for 256 random
// bits, and a copy of the state signs no one in), the CSRF token the page's forms carry
// (showing it in the page reveals neither the id nor the key), and the message that binds it
// to its token.
func idHash(id string) string {
	h := sha256.Sum256([]byte("scimbridge status page session id\x00" + id))
	return hex.EncodeToString(h[:])
}

func csrfFor(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("scimbridge status page CSRF token"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func bindMessage(id string, role scim.Role) []byte {
	return []byte("scimbridge status page session\x00" + id + "\x00" + role.String())
}

// bind ties session id to the token called name, with its role now: the state keeps the
// result, and a session whose token was removed, replaced or given another role no longer
// matches. ok is false when no token is called name.
func (u *UI) bind(id, name string) (binding string, role scim.Role, ok bool) {
	_, role, ok = u.tokens.Bind(name, nil)
	if !ok {
		return "", 0, false
	}
	mac, _, _ := u.tokens.Bind(name, bindMessage(id, role))
	return base64.RawURLEncoding.EncodeToString(mac), role, true
}

// createSession signs a browser in as the token called name, in the state; the new id is the
// cookie's value.
func (u *UI) createSession(ctx context.Context, name string) (id string, err error) {
	id = randomToken()
	binding, role, ok := u.bind(id, name)
	if !ok || role == scim.RoleProvision {
		return "", fmt.Errorf("token %q cannot sign in", name)
	}
	now := u.now()
	evicted, err := u.sessions.CreateSession(ctx, store.Session{
		IDHash: idHash(id), Name: name, Role: role.String(), Binding: binding,
		Created: now, IdleUntil: now.Add(u.cfg.IdleTimeout), Expires: now.Add(u.cfg.SessionTTL),
	}, maxSessions)
	if err != nil {
		return "", err
	}
	if evicted > 0 {
		u.log.Warn().Int("ended", evicted).Int("max", maxSessions).Msg("status page: oldest sessions ended to make room for a sign-in")
	}
	return id, nil
}

// lookup returns the live session of cookie id, or nil. touch marks it active, keeping it
// from idling out. An error means the state could not be read: the caller must not treat
// the browser as signed in, nor as signed out.
func (u *UI) lookup(ctx context.Context, id string, touch bool) (*session, error) {
	if id == "" {
		return nil, nil
	}
	hash := idHash(id)
	var st store.Session
	var ok bool
	var err error
	if touch {
		st, ok, err = u.sessions.TouchSession(ctx, hash, u.now(), u.cfg.IdleTimeout)
	} else {
		st, ok, err = u.sessions.Session(ctx, hash, u.now())
	}
	if err != nil || !ok {
		return nil, err
	}
	binding, role, known := u.bind(id, st.Name)
	if !known || role == scim.RoleProvision || role.String() != st.Role ||
		subtle.ConstantTimeCompare([]byte(binding), []byte(st.Binding)) != 1 {
		// The token it signed in with is gone, or was replaced or changed role: end it here
		// too, so that it does not linger in the state until it expires.
		u.log.Warn().Str("token", st.Name).Msg("status page: a session of a removed or replaced token ended")
		if err := u.sessions.DeleteSession(ctx, hash); err != nil {
			u.log.Warn().Err(err).Msg("status page: ended session not deleted from the state")
		}
		return nil, nil
	}
	return &session{hash: hash, name: st.Name, role: role, csrf: csrfFor(id)}, nil
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
		s, err := u.lookup(r.Context(), cookieValue(r, sessionCookie), r.URL.Path != "/ui/live")
		if err != nil {
			u.unavailable(w, r, "check your session", err)
			return
		}
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

// newSignInLimiter bounds failed sign-ins, per process: tokens are long and random, and
// guessing one through the form must stay as hopeless as through the API. It is not shared
// between replicas, on purpose: a shared count would make every failed, unauthenticated
// attempt a write to the state database (a way to load it, or to lock operators out of every
// replica at once), while N replicas allow only N times a rate at which no token of 16 or
// more random characters can be guessed, and the same tokens are tried as bearer tokens on
// /admin/v1 without any form.
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
	if old := sessionOf(r.Context()); old != nil { // signing in again replaces the session
		if err := u.sessions.DeleteSession(r.Context(), old.hash); err != nil {
			u.log.Warn().Err(err).Msg("status page: the session signed in again over not deleted")
		}
	}
	id, err := u.createSession(r.Context(), name)
	if err != nil {
		// No cookie is set: the browser is not signed in, on this replica or any other.
		u.unavailable(w, r, "sign you in", err)
		return
	}
	u.setCookie(w, r, sessionCookie, id, u.cfg.SessionTTL)
	u.setCookie(w, r, loginCookie, "", 0)
	scim.RequestInfo(r.Context()).Token = name
	u.log.Info().Str("token", name).Str("role", role.String()).Msg("status page: signed in")
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// SignOut implements scim.UI.
func (u *UI) SignOut(w http.ResponseWriter, r *http.Request) {
	if s := sessionOf(r.Context()); s != nil {
		if err := u.sessions.DeleteSession(r.Context(), s.hash); err != nil {
			// The cookie stays, so that signing out can be tried again: the session would
			// still be live on every replica.
			u.unavailable(w, r, "sign you out", err)
			return
		}
		u.log.Info().Str("token", s.name).Msg("status page: signed out")
	}
	u.setCookie(w, r, sessionCookie, "", 0)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// unavailableRetry is the Retry-After of a 503 whose cause does not say.
const unavailableRetry = 10 * time.Second

// unavailable answers 503 with Retry-After when the state database, where sessions live,
// cannot be read or written: what the page was doing (checking, creating or ending a
// session) is undone or not done, and nobody is signed in or out by mistake.
func (u *UI) unavailable(w http.ResponseWriter, r *http.Request, doing string, err error) {
	retry := unavailableRetry
	var un interface {
		Unavailable() (string, time.Duration)
	}
	if errors.As(err, &un) {
		_, retry = un.Unavailable()
	}
	u.log.Error().Err(err).Str("path", r.URL.Path).Msg("status page: the state database is unavailable")
	w.Header().Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second).Seconds())))
	msg := "The bridge could not " + doing + ": its state database (where sessions, the switches and the audit log are kept) cannot be reached. Try again in a few seconds; the bridge's log says why."
	if r.URL.Path == "/ui/live" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"state database unavailable"}`))
		return
	}
	u.render(w, u.login, http.StatusServiceUnavailable, map[string]any{"Error": msg, "Refused": true})
}

// prune deletes the ended sessions from the state now and then, so that they do not wait for
// the next sign-in; on a shared state every replica does it, which costs one small DELETE.
func (u *UI) prune(ctx context.Context) {
	n, err := u.sessions.PruneSessions(ctx, u.now())
	if err != nil {
		u.log.Warn().Err(err).Msg("status page: ended sessions not pruned")
		return
	}
	if n > 0 {
		u.log.Debug().Int64("sessions", n).Msg("status page: ended sessions pruned")
	}
}
