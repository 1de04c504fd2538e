// Package domosim is a faithful simulator of one Domo tenant as an http.Handler: v1 (token
// endpoint, users, groups, membership, error envelope) and the instance APIs over the same
// users and groups (identity users and attributes, the attribute catalogue, roles, content
// groups with bulk membership, access-token auth), with knobs for the faults a real tenant
// produces and for what Domo's docs leave open. Tests and `scimbridge demo` use it. It must
// not import any other package of this module, not even domo: it is a second, independent
// implementation of the same contract.
package domosim
