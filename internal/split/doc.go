// Package split owns the canonical split format of wasmcas. It cuts a
// WebAssembly module or component into a tree of nodes and leaves, encodes
// and digests that tree into a root digest, groups leaves into packs with an
// index, lays out an artifact in an OCI target, and splices the original
// bytes back with every node and leaf verified. docs/format.md specifies the
// format, and the constants in this package are the values it names.
package split
