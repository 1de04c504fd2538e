// Package index is the in-memory index of Domo users and groups that answers every SCIM query
// without calling Domo: O(1) lookups by id, userName and email (as strings.EqualFold compares),
// externalId and group displayName, ordered scans and pages for any other filter, whole
// replacement by a full load that keeps the bridge's concurrent writes, a binary snapshot for
// restarts, and write-through on every change the bridge makes. Users are stored encoded, in
// about half a KiB each with the lookup maps. It must not import scim, bridge or store.
package index
