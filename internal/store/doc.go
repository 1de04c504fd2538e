// Package store is the bridge's durable state: what Domo cannot hold (shadow attributes of users
// and groups), settings such as the pause switch, index snapshots, the intents of multi-step
// writes, the deprovision breaker's window and the audit log. Store is the interface the bridge
// uses; SQLite (an embedded file, the default) implements it, and one conformance suite runs
// against every implementation. It stores shadows and intents as opaque JSON and must not
// import the SCIM, mapping, index or domo packages.
package store
