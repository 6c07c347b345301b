// Package split owns the canonical split format of wasmcas. It cuts a
// WebAssembly module or component into a tree of nodes and leaves, and
// encodes and digests that tree into a root digest. It groups leaves into
// packs with an index and lays out an artifact in an OCI target. It splices
// the original bytes back with every node and leaf verified. docs/format.md specifies the
// format, and the constants in this package are the values it names.
package split
