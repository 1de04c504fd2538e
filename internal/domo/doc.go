// Package domo is the client for Domo's APIs: v1 on api.domo.com (users, groups, group
// membership; OAuth client credentials) and, when configured, the instance APIs on
// {instance}.domo.com (identity users with attributes and roleId, the attribute catalogue,
// roles, content groups with bulk membership; an access token), each paced under its own rate
// limit (in the process, or taking each request's send time from a budget shared with other
// processes: SharedBudget), with retries, paging, typed errors and, for the instance APIs, what is known of each
// capability. It knows nothing about SCIM and must not import any other package of this
// module.
package domo
