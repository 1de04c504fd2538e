// Package mapping converts between SCIM users and groups and Domo v1 records plus the shadow
// attributes the bridge keeps for what Domo cannot hold, and maps roles. It is pure: no I/O,
// no logging, no clocks; it may import domo for its record types only, and must not import
// scim, bridge, index or store.
package mapping
