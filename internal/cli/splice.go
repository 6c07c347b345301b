package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/atomicfile"
	"github.com/wasmcas/wasmcas/internal/split"
)

type spliceOptions struct {
	partialFlags
	dir    string
	output string
	tag    string
	out    io.Writer // stdout, for -o -
}

func newSpliceCommand(streams Streams) *cobra.Command {
	opts := &spliceOptions{}
	cmd := &cobra.Command{
		Use:   "splice DIR -o OUT",
		Short: "Rebuild the original binary from a split layout",
		Long: `Rebuild the original binary from the artifact in the OCI image layout DIR.
Every node and leaf is verified against its digest before any of its bytes is
written, the whole file is checked against the recorded SHA-256, and OUT is
written atomically: it appears only when everything verified. With -o -, the
output goes to stdout, and a failure after output began is reported on
stderr with a non-zero exit status.

--strip-debug, --skip-custom, --keep-custom and --select write part of the
binary, as fetch does.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.dir = args[0]
			opts.out = streams.Out
			return runSplice(cmd, opts)
		},
	}
	opts.partialFlags.register(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "file to write, or - for stdout (required)")
	cmd.Flags().StringVar(&opts.tag, "tag", "", "tag of the artifact in a layout that holds several")
	return cmd
}

func runSplice(cmd *cobra.Command, opts *spliceOptions) error {
	ctx := cmd.Context()
	if err := requireOutput(opts.output, true); err != nil {
		return err
	}
	filter, err := opts.filter()
	if err != nil {
		return err
	}
	st, src, root, err := loadLayoutTree(ctx, opts.dir, opts.tag)
	if err != nil {
		return err
	}
	defer src.Close()
	node, err := split.Find(root, opts.selectPath)
	if err != nil {
		return fmt.Errorf("layout %s: %w", opts.dir, err)
	}
	sel := split.Select(node, filter)
	whole := node == root && len(sel.Omitted) == 0

	write := func(w io.Writer) error {
		hashed := newHashingWriter(w)
		n, err := sel.Splice(ctx, hashed, src)
		if err != nil {
			return fmt.Errorf("splice %s: %w", opts.dir, err)
		}
		if whole && (n != st.FileSize || hashed.digest() != st.FileDigest) {
			return fmt.Errorf("splice %s: output of %d bytes has digest %s, but the artifact records %d bytes with %s",
				opts.dir, n, hashed.digest(), st.FileSize, st.FileDigest)
		}
		return nil
	}
	if opts.output == "-" {
		return write(opts.out)
	}
	return atomicfile.Write(opts.output, write)
}
