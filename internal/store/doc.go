// Package store is the bridge's durable state: what Domo cannot hold (shadow attributes of users
// and groups), settings such as the pause switch, index snapshots and the audit log, kept in an
// embedded SQLite file with schema migrations. It stores shadows as opaque JSON and must not
// import the SCIM, mapping, index or domo packages.
package store
