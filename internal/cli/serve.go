package cli

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/serve"
)

type serveOptions struct {
	addr string
	root string
}

func newServeCommand(streams Streams) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an OCI registry built on CNCF Distribution",
		Long: `Run an OCI registry on --addr that stores to --root with CNCF Distribution's
filesystem driver, so a small team can share one store. It has no
authentication and no TLS: bind it to loopback or put it behind a proxy that
adds both. It stops cleanly on SIGINT and SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.root == "" {
				return errors.New("missing --root: the directory that stores the registry's content")
			}
			logger := slog.New(slog.NewTextHandler(streams.ErrOut, nil))
			return serve.Run(cmd.Context(), serve.Config{Addr: opts.addr, Root: opts.root, Logger: logger})
		},
	}
	cmd.Flags().StringVar(&opts.addr, "addr", serve.DefaultAddr, "address to listen on")
	cmd.Flags().StringVar(&opts.root, "root", "", "directory that stores the registry's content (required)")
	return cmd
}
