// Package cli implements the wasmcas commands: one file per command, each
// with an options struct that cobra fills and a run function that tests call
// directly. It is the only package that writes to the terminal; terminal
// detection lives in streams.go so commands never decide it on their own.
package cli
