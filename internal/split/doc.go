// Package split owns the canonical split format of wasmcas: how a WebAssembly
// module or component is cut into a tree of nodes and leaves, how that tree is
// encoded and digested into a root digest, how leaves are grouped into packs
// with an index, how an artifact is laid out in an OCI target, and how the
// original bytes are spliced back with every node and leaf verified. The
// format itself is specified in docs/format.md; the constants in this package
// are the values that document names.
package split
