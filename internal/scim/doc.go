// Package scim is the SCIM 2.0 protocol face of the bridge: routes, middleware (auth, limits,
// request id, access log, IdP normalisation), schemas, filter evaluation, PATCH application,
// attribute selection and the single error funnel. It declares the small interfaces it needs
// (Users, Groups) and must not import domo, bridge, index, store or mapping.
package scim
