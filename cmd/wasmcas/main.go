// Command wasmcas publishes and fetches WebAssembly components by their
// parts. See the README for a quick start.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmcas/wasmcas/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	status := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(status)
}
