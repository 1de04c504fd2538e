// Package domo is the client for Domo's v1 REST API (users, groups, group membership) on
// api.domo.com: OAuth client credentials, pacing under the tenant's rate limit, retries,
// paging and typed errors. It knows nothing about SCIM and must not import any other package
// of this module.
package domo
