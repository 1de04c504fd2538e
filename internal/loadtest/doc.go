// Package loadtest is the driver of `scimbridge load`: a Domo simulator with faults and a bridge
// (started by the command's Starter; with --replicas, several `scimbridge serve` processes over
// one PostgreSQL behind a round-robin front, one of which --kill-after kills), driven by
// concurrent Okta- and Entra-shaped lifecycles with the IdPs' retries, with live progress, then
// a check of the simulator's users, groups and memberships against what the bridge answered.
// It measures; it asserts only consistency. It must not import cmd; it reaches the bridge over
// HTTP only.
package loadtest
