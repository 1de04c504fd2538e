// Package store is the bridge's durable state: what Domo cannot hold (shadow attributes of users
// and groups), settings such as the pause switch, index snapshots, the intents of multi-step
// writes, the deprovision breaker's window, the audit log and the status page's sign-in
// sessions (by the hash of their id); and what replicas sharing a state coordinate through:
// per-resource locks, leads, a change feed, heartbeats and the request budgets they share.
// Store is the interface the bridge uses; SQLite (an embedded file, the default, one process)
// and Postgres (one database shared by several replicas) implement it, and one conformance
// suite (conformance_test.go) runs against both. It stores shadows and intents as opaque JSON
// and must not import the SCIM, mapping, index or domo packages.
package store
