// Package pgtest gives tests a real PostgreSQL: one local server per test binary (started on
// first use by pglocal, stopped by Main) and a fresh database per test. Where PostgreSQL is
// not installed the tests that need it are skipped with a loud SKIPPED line, or fail when
// SCIMBRIDGE_REQUIRE_POSTGRES=1 (CI sets it). It must not import any other package of this
// module but pglocal.
package pgtest
