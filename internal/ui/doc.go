// Package ui is the operator's status page at /ui/: server-rendered html/template pages with
// embedded assets (no CDN, no build step), signed in with an operator or read-only token and
// kept by a server-side session (HttpOnly, SameSite=Strict cookie; a CSRF token on every
// form). It shows the index, Domo's budget use, the IdP's requests, the switches, the audit log
// and the drift report, from what the bridge already keeps: its Prometheus registry, the
// scim.Admin switches, the audit log and the last drift report. Its routes are listed in
// internal/scim/routes.go. It must not import domo, store internals beyond the audit event
// type, or cmd, and it never renders a secret.
package ui
