// Package ui is the operator's status page at /ui/: server-rendered html/template pages with
// embedded assets (no CDN, no build step), signed in with an operator or read-only token and
// kept by a server-side session (HttpOnly, SameSite=Strict cookie; a CSRF token on every
// form). Sessions live in the bridge's state (store.Session, by the hash of their id), so every
// replica sharing the state knows them and a restart keeps them; the CSRF token is derived
// from the session id, so every replica checks it. It shows the index, Domo's budget use, the
// IdP's requests, the switches, the audit log and the drift report, from what the bridge
// already keeps: its Prometheus registry, the scim.Admin switches, the audit log and the last
// drift report. Its routes are listed in internal/scim/routes.go. It must not import domo,
// store internals beyond the audit event and session types, or cmd, and it never renders a
// secret.
package ui
