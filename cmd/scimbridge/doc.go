// Command scimbridge serves SCIM 2.0 to identity providers and turns each request into Domo v1
// REST calls. main only calls run; run reads configuration, wires the packages together, serves
// and shuts down gracefully. Subcommands: serve, demo, check, audit, pause, resume,
// breaker-reset, status, healthcheck, version.
package main
