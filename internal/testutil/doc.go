// Package testutil contains helpers for the tests of wasmcas: locating the
// shared corpus of real components and building small WebAssembly binaries
// in memory.
//
// The builders write exactly the bytes they are given and check nothing
// about section contents, so tests can also build malformed binaries.
package testutil
