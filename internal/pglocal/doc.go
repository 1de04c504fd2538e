// Package pglocal starts a throwaway PostgreSQL server from the machine's own PostgreSQL
// binaries (Debian's postgresql package): initdb in a temporary folder, the server on a free
// loopback port, run as a non-root user when the caller is root, and removed again on Close.
// Tests (through pglocal/pgtest) and `scimbridge load --replicas` use it. It must not import
// any other package of this module.
package pglocal
