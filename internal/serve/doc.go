// Package serve runs the OCI registry behind the `wasmcas serve` command, and
// the project's tests push and pull content-addressed parts through it in
// process. It owns the CNCF Distribution application, which stores content
// with the filesystem driver, allows deletes and has no authentication or TLS.
// It also owns the HTTP server and its graceful shutdown, and it routes
// Distribution's logrus output into slog. A bounded log of served requests
// lets tests check what a client downloaded.
package serve
