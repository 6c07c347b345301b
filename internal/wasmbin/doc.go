// Package wasmbin reads the framing of WebAssembly binaries. It owns the
// preamble of core modules and components, the id, size and offset of every
// section, the names of custom sections, and the core modules and components
// nested in a component. It also finds the boundaries of each function body
// and data segment in a core module. It reads through an io.ReaderAt with a small window and never
// loads a whole file or section, so callers can locate parts of a binary of
// any size by offset. It does not validate or execute code, and it leaves
// every section other than custom, code, data and nested binaries opaque.
// Malformed input yields a *FormatError that names the absolute offset.
package wasmbin
