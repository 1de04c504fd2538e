package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/scimbridge/scimbridge/internal/bridge"
	"github.com/scimbridge/scimbridge/internal/scim"
	"github.com/scimbridge/scimbridge/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config is what the page reads and acts through. Tokens, Admin and Sessions are required.
type Config struct {
	Tokens   *scim.Tokens        // who may sign in: operator and read-only tokens
	Sessions SessionStore        // where sessions live: the bridge's state
	Admin    scim.Admin          // the switches and their status
	Gatherer prometheus.Gatherer // the bridge's registry: the page shows what /metrics shows
	Audit    bridge.AuditReader  // nil: no audit section
	Drift    func() *bridge.DriftReport
	// BudgetPerMinute is Domo's budget (SCIMBRIDGE_DOMO_RATE_LIMIT), the chart's limit line.
	BudgetPerMinute int
	Logger          zerolog.Logger
	Now             func() time.Time
	SampleEvery     time.Duration // budget samples, default 5 s
	SessionTTL      time.Duration // default 8 h
	IdleTimeout     time.Duration // default 30 min
}

// UI is the status page; it implements scim.UI.
type UI struct {
	cfg         Config
	tokens      *scim.Tokens
	log         zerolog.Logger
	now         func() time.Time
	sessions    SessionStore
	failures    *rate.Limiter
	crossOrigin *http.CrossOriginProtection
	budget      *budget
	page, login *template.Template
	assets      http.Handler
}

var _ scim.UI = (*UI)(nil)

// New builds the page. Run must run for the budget chart to fill.
func New(cfg Config) (*UI, error) {
	if cfg.Tokens == nil || cfg.Admin == nil || cfg.Sessions == nil {
		return nil, fmt.Errorf("ui: Tokens, Admin and Sessions are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 5 * time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = defaultSessionTTL
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	funcs := template.FuncMap{
		"num":  num,
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"dash": func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		},
		"join":  strings.Join,
		"label": driftLabel,
	}
	page, err := template.New("page.html").Funcs(funcs).ParseFS(templateFS, "templates/page.html", "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	login, err := template.New("login.html").Funcs(funcs).ParseFS(templateFS, "templates/login.html", "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	sub, _ := fs.Sub(assetFS, "assets")
	return &UI{
		cfg: cfg, tokens: cfg.Tokens, now: cfg.Now,
		log:         cfg.Logger.With().Str("component", "ui").Logger(),
		sessions:    cfg.Sessions,
		failures:    newSignInLimiter(),
		crossOrigin: http.NewCrossOriginProtection(),
		budget:      &budget{keep: time.Hour},
		page:        page, login: login,
		assets: http.FileServerFS(sub),
	}, nil
}

// Run samples Domo's budget use for the chart, and prunes ended sessions, until ctx ends.
func (u *UI) Run(ctx context.Context) {
	t := time.NewTicker(u.cfg.SampleEvery)
	defer t.Stop()
	p := time.NewTicker(pruneEvery)
	defer p.Stop()
	for {
		u.Sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.C:
			u.prune(ctx)
		}
	}
}

// Sample records the Domo requests sent so far, one point of the budget chart.
func (u *UI) Sample() {
	f, err := readFigures(u.cfg.Gatherer)
	if err != nil {
		u.log.Warn().Err(err).Msg("metrics not readable for the budget chart")
		return
	}
	u.budget.add(u.now(), f.DomoRequests)
}

// Asset implements scim.UI: the embedded stylesheet and script.
func (u *UI) Asset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + name
	u.assets.ServeHTTP(w, r2)
}

// view is what the page template renders.
type view struct {
	Name, Role string
	Operator   bool
	CSRF       string
	Notice     string
	Fig        figures
	Status     status
	Chart      chart
	Budget     int
	LastMinute float64
	AuditUser  string
	AuditError string
	Audit      []store.AuditEvent
	Drift      *bridge.DriftReport
	DriftShow  int // entries shown per list
}

// status is the part of scim.Admin's status the page shows beyond /metrics.
type status struct {
	PauseReason, PausedSince      string
	Policy                        string
	BreakerMax, BreakerRecent     string
	BreakerWindow, BreakerSince   string
	LoadedAt, RefreshInterval     string
	Source                        string
	Loading, LastRefreshFailed    bool
	IndexLoaded                   bool
	LoadSeconds                   string
	IndexUsersText, IndexAgeWords string
}

func readStatus(m map[string]any) status {
	str := func(m map[string]any, k string) string {
		if m == nil || m[k] == nil {
			return ""
		}
		return fmt.Sprint(m[k])
	}
	st := status{PauseReason: str(m, "pauseReason"), PausedSince: str(m, "pausedSince"), Policy: str(m, "policy")}
	if br, ok := m["breaker"].(map[string]any); ok {
		st.BreakerMax, st.BreakerRecent, st.BreakerWindow, st.BreakerSince = str(br, "max"), str(br, "recent"), str(br, "window"), str(br, "openSince")
	}
	if idx, ok := m["index"].(map[string]any); ok {
		st.LoadedAt, st.RefreshInterval, st.Source = str(idx, "loadedAt"), str(idx, "refreshInterval"), str(idx, "source")
		st.Loading, st.LastRefreshFailed, st.IndexLoaded = idx["loading"] == true, idx["lastRefreshFailed"] == true, idx["loaded"] == true
		if secs, ok := idx["loadSeconds"].(float64); ok {
			st.LoadSeconds = strconv.FormatFloat(secs, 'f', 1, 64)
		}
	}
	return st
}

// Page implements scim.UI: the status page for a session, the sign-in form otherwise.
func (u *UI) Page(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	if s == nil {
		u.renderLogin(w, r, http.StatusOK, "")
		return
	}
	v := view{Name: s.name, Role: s.role.String(), Operator: s.operator(), CSRF: s.csrf, Budget: u.cfg.BudgetPerMinute, DriftShow: 20}
	v.Notice = notices[r.URL.Query().Get("done")]
	var err error
	if v.Fig, err = readFigures(u.cfg.Gatherer); err != nil {
		u.log.Warn().Err(err).Msg("metrics not readable for the status page")
	}
	st, err := u.cfg.Admin.Status(r.Context())
	if err != nil {
		u.log.Warn().Err(err).Msg("status not readable for the status page")
	}
	v.Status = readStatus(st)
	pts := u.budget.points()
	v.Chart = drawChart(pts, u.cfg.BudgetPerMinute)
	v.LastMinute = v.Chart.Last
	if u.cfg.Audit != nil {
		q := bridge.AuditQuery{Limit: 100}
		if user := strings.TrimSpace(r.URL.Query().Get("user")); user != "" {
			if n, err := strconv.ParseInt(user, 10, 64); err != nil || n <= 0 {
				v.AuditError = "A user is searched by its SCIM id, the Domo user id (a number)."
			} else {
				v.AuditUser, q.User = user, user
			}
		}
		if v.AuditError == "" {
			if v.Audit, err = bridge.SearchAudit(r.Context(), u.cfg.Audit, q); err != nil {
				u.log.Error().Err(err).Msg("audit log not readable for the status page")
				v.AuditError = "The audit log could not be read; the bridge's log says why."
			}
		}
	}
	if u.cfg.Drift != nil {
		v.Drift = u.cfg.Drift()
	}
	u.render(w, u.page, http.StatusOK, v)
}

var notices = map[string]string{
	"pause":         "Provisioning paused: the IdP's writes get 503 with Retry-After and are retried later; reads go on.",
	"resume":        "Provisioning resumed.",
	"breaker-reset": "Deprovision breaker reset: deprovisioning is allowed again.",
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	tok := randomToken()
	u.setCookie(w, r, loginCookie, tok, loginFormTTL)
	u.render(w, u.login, code, map[string]any{"CSRF": tok, "Error": msg})
}

func (u *UI) render(w http.ResponseWriter, t *template.Template, code int, data any) {
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		u.log.Error().Err(err).Msg("status page not rendered")
		http.Error(w, "the status page could not be rendered; the bridge's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(sb.String()))
}

// refuse answers a request the page will not serve, with a short page that says why.
func (u *UI) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	u.log.Warn().Int("status", code).Str("path", r.URL.Path).Str("reason", msg).Msg("status page request refused")
	u.render(w, u.login, code, map[string]any{"Error": msg, "Refused": true})
}

// Act implements scim.UI: pause, resume or reset the breaker, through the same scim.Admin the
// /admin/v1 API uses. Read-only sessions see the switches and cannot flip them.
func (u *UI) Act(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r.Context())
	if s == nil {
		u.refuse(w, r, http.StatusForbidden, "Sign in first.")
		return
	}
	if !s.operator() {
		u.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Token %q is read-only: it can see everything here and change nothing. Sign in with an operator token to act.", s.name))
		return
	}
	action := path.Base(r.URL.Path)
	var err error
	switch action {
	case "pause":
		reason := strings.TrimSpace(r.PostForm.Get("reason"))
		if reason == "" {
			reason = "paused from the status page by " + s.name
		}
		err = u.cfg.Admin.Pause(r.Context(), reason)
	case "resume":
		err = u.cfg.Admin.Resume(r.Context())
	case "breaker-reset":
		err = u.cfg.Admin.ResetBreaker(r.Context())
	default:
		u.refuse(w, r, http.StatusNotFound, "No such action.")
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		u.unavailable(w, r, strings.ReplaceAll(action, "-", " "), err)
		return
	}
	if err != nil {
		u.log.Error().Err(err).Str("action", action).Msg("status page action failed")
		u.refuse(w, r, http.StatusInternalServerError, "The bridge could not "+strings.ReplaceAll(action, "-", " ")+"; its log says why.")
		return
	}
	u.log.Info().Str("token", s.name).Str("action", action).Msg("status page action")
	http.Redirect(w, r, "/ui/?done="+action, http.StatusSeeOther)
}

// live is what /ui/live answers: the page's changing figures and the chart's points.
type live struct {
	At           time.Time `json:"at"`
	IndexUsers   float64   `json:"indexUsers"`
	IndexGroups  float64   `json:"indexGroups"`
	IndexAge     float64   `json:"indexAgeSeconds"`
	Paused       bool      `json:"paused"`
	BreakerOpen  bool      `json:"breakerOpen"`
	DomoRequests float64   `json:"domoRequests"`
	IdPRequests  float64   `json:"idpRequests"`
	LastMinute   float64   `json:"domoLastMinute"`
	Limit        int       `json:"limit"`
	Points       []point   `json:"points"`
}

// Live implements scim.UI: JSON the page's script polls.
func (u *UI) Live(w http.ResponseWriter, r *http.Request) {
	if sessionOf(r.Context()) == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"sign in"}`))
		return
	}
	f, _ := readFigures(u.cfg.Gatherer)
	pts := u.budget.points()
	l := live{
		At: u.now().UTC(), IndexUsers: f.IndexUsers, IndexGroups: f.IndexGroups, IndexAge: f.IndexAge,
		Paused: f.Paused, BreakerOpen: f.BreakerOpen, DomoRequests: f.DomoRequests, IdPRequests: f.IdPRequests,
		Limit: u.cfg.BudgetPerMinute, Points: pts,
	}
	if len(pts) > 0 {
		l.LastMinute = pts[len(pts)-1].PerMinute
	}
	if l.Points == nil {
		l.Points = []point{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(l)
}

// driftLabel names a kind of drift for people.
func driftLabel(kind string) string {
	switch kind {
	case bridge.DriftUnmanagedUsers:
		return "Domo users SCIM does not manage"
	case bridge.DriftUnmanagedGroups:
		return "Domo groups SCIM does not manage"
	case bridge.DriftChangedUsers:
		return "Managed users changed in Domo"
	case bridge.DriftOrphanedShadows:
		return "Records of users or groups gone from Domo"
	case bridge.DriftForeignMembers:
		return "Group members added in Domo, not by the IdP"
	}
	return kind
}
