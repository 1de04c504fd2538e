// Package domosim is a faithful simulator of Domo's v1 API (token endpoint, users, groups,
// membership, error envelope) as an http.Handler, with knobs for the faults a real tenant
// produces. Tests and `scimbridge demo` use it. It must not import any other package of this
// module, not even domo: it is a second, independent implementation of the same contract.
package domosim
