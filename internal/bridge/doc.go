// Package bridge is the core: it implements the scim package's Users and Groups interfaces with
// the Domo client, the index, the state store and the mapping. It owns GET-merge-PUT, per-resource
// locks, the deprovisioning policy, uniqueness checks, membership diffs and audit events, and,
// when replicas share a state, keeps their indexes and switches in step through the store's
// change feed (replicas.go). It must not import net/http handlers or cmd; HTTP belongs to scim.
package bridge
