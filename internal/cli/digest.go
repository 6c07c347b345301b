package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/split"
)

type digestOptions struct {
	path string
	tag  string
}

func newDigestCommand(streams Streams) *cobra.Command {
	opts := &digestOptions{}
	cmd := &cobra.Command{
		Use:   "digest FILE|DIR",
		Short: "Print the root digest of a binary or of a split layout",
		Long: `Print the root digest of a WebAssembly binary, or of the artifact in an OCI
image layout written by "wasmcas split". A file and its layout print the same
digest. For a layout, every node of the tree is verified first.`,
		Args: exactArgs("FILE|DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.path = args[0]
			d, err := runDigest(cmd, opts)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(streams.Out, d)
			return err
		},
	}
	cmd.Flags().StringVar(&opts.tag, "tag", "", "tag of the artifact in a layout that holds several")
	return cmd
}

func runDigest(cmd *cobra.Command, opts *digestOptions) (split.Digest, error) {
	ctx := cmd.Context()
	if isLayout(opts.path) {
		_, src, root, err := loadLayoutTree(ctx, opts.path, opts.tag)
		if err != nil {
			return split.Digest{}, err
		}
		defer src.Close()
		return root.Digest, nil
	}
	if st, err := os.Stat(opts.path); err == nil && st.IsDir() {
		return split.Digest{}, fmt.Errorf("%s is a directory but not an OCI image layout (it has no oci-layout file)", opts.path)
	}
	return split.DigestFile(ctx, opts.path)
}
