// Package registry owns references and targets: it parses a reference,
// opens the OCI registry repository or embedded local store it names, and
// implements publish and fetch on top of the split format, with the local
// cache and parallel, verified transfers.
package registry
