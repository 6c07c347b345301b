package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/split"
)

type spliceOptions struct {
	dir    string
	output string
	tag    string
}

func newSpliceCommand(streams Streams) *cobra.Command {
	opts := &spliceOptions{}
	cmd := &cobra.Command{
		Use:   "splice DIR -o OUT",
		Short: "Rebuild the original binary from a split layout",
		Long: `Rebuild the original binary from the artifact in the OCI image layout DIR.
Every node and leaf is verified against its digest before any of its bytes is
written, the whole file is checked against the recorded SHA-256, and OUT is
written atomically: it appears only when everything verified.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.dir = args[0]
			return runSplice(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "file to write (required)")
	cmd.Flags().StringVar(&opts.tag, "tag", "", "tag of the artifact in a layout that holds several")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func runSplice(cmd *cobra.Command, opts *spliceOptions) error {
	ctx := cmd.Context()
	st, src, root, err := loadLayoutTree(ctx, opts.dir, opts.tag)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeFileAtomic(opts.output, func(w io.Writer) error {
		hashed := newHashingWriter(w)
		n, err := split.Splice(ctx, hashed, src, root)
		if err != nil {
			return fmt.Errorf("splice %s: %w", opts.dir, err)
		}
		if n != st.FileSize || hashed.digest() != st.FileDigest {
			return fmt.Errorf("splice %s: output of %d bytes has digest %s, but the artifact records %d bytes with %s",
				opts.dir, n, hashed.digest(), st.FileSize, st.FileDigest)
		}
		return nil
	})
}
