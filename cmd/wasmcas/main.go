// Command wasmcas publishes and fetches WebAssembly components by their
// parts. See the README for a quick start.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/wasmcas/wasmcas/internal/cli"
)

// softMemoryLimit is the heap size at which the garbage collector starts to
// work harder, unless GOMEMLIMIT sets another. Fetching a 1 GiB component
// keeps about 70 MiB live for its tree and download bookkeeping. With the
// default GOGC alone, the heap would grow to twice that between
// collections. This is a soft limit, so a larger live heap still works,
// with more time spent in collection.
const softMemoryLimit = 100 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	status := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(status)
}
