// Package index is the in-memory index of Domo users and groups that answers every SCIM query
// without calling Domo: O(1) lookups by id, userName/email (case-insensitive), externalId and
// group displayName, ordered scans for any other filter, a background refresh, and write-through
// on every change the bridge makes. It must not import scim, bridge or store.
package index
