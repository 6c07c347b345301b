package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content/oci"

	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/witinfo"
)

type splitOptions struct {
	file   string
	output string
	tag    string
	json   bool
	wit    bool
}

type splitResult struct {
	Layout         string `json:"layout"`
	Tag            string `json:"tag"`
	Digest         string `json:"digest"`
	ManifestDigest string `json:"manifest_digest"`
	Size           int64  `json:"size"`
	Leaves         int    `json:"leaves"`
	Blobs          int    `json:"blobs"`
	BlobsWritten   int    `json:"blobs_written"`
	Bytes          int64  `json:"bytes"`
	BytesWritten   int64  `json:"bytes_written"`
}

func newSplitCommand(streams Streams) *cobra.Command {
	opts := &splitOptions{}
	cmd := &cobra.Command{
		Use:   "split FILE -o DIR",
		Short: "Split a binary into an OCI image layout",
		Long: `Split a WebAssembly component or core module into content-addressed parts and
write them as one artifact in the OCI image layout DIR, created if missing.
When DIR already holds artifacts, only the leaves they lack are packed; the
rest are referenced from their packs, as a publish to a registry would do.`,
		Example: `  wasmcas split testdata/hello-go.wasm -o /tmp/hello
  wasmcas split app-v2.wasm -o layout --tag 2.0.0`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			res, err := runSplit(cmd, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			_, err = fmt.Fprintf(streams.Out, "%s\n%s:%s: %d blobs, %d written (%d of %d bytes)\n",
				res.Digest, res.Layout, res.Tag, res.Blobs, res.BlobsWritten, res.BytesWritten, res.Bytes)
			return err
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "OCI image layout directory to write (required)")
	cmd.Flags().StringVar(&opts.tag, "tag", defaultTag, "tag of the artifact in the layout")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as one JSON object")
	cmd.Flags().BoolVar(&opts.wit, "wit", false, "record the component's WIT imports and exports in the config (slow: decodes WIT)")
	return cmd
}

func runSplit(cmd *cobra.Command, opts *splitOptions) (*splitResult, error) {
	ctx := cmd.Context()
	if opts.output == "" {
		return nil, fmt.Errorf("missing -o/--output: the layout directory to write")
	}
	if err := validateTag(opts.tag); err != nil {
		return nil, err
	}
	file, err := split.OpenFile(ctx, opts.file)
	if err != nil {
		return nil, err
	}
	defer file.Close()

	var wit json.RawMessage
	if opts.wit {
		if wit, err = witinfo.ForBinary(opts.file, file.Root.Kind, cmd.Flags().Changed("wit")); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(opts.output, 0o755); err != nil {
		return nil, err
	}
	store, err := oci.NewWithContext(ctx, opts.output)
	if err != nil {
		return nil, fmt.Errorf("open layout %s: %w", opts.output, err)
	}
	existing, err := split.LoadExisting(ctx, store, opts.tag)
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", opts.output, err)
	}
	plan, err := split.NewPlan(file.Root, file, file.FileDigest, existing, wit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.file, err)
	}
	stats, err := plan.Push(ctx, store, file, opts.tag, split.PushOptions{Concurrency: 4})
	if err != nil {
		return nil, fmt.Errorf("write layout %s: %w", opts.output, err)
	}
	return &splitResult{
		Layout:         opts.output,
		Tag:            opts.tag,
		Digest:         file.Root.Digest.String(),
		ManifestDigest: plan.Descriptor.Digest.String(),
		Size:           file.Size,
		Leaves:         plan.Leaves,
		Blobs:          stats.Blobs,
		BlobsWritten:   stats.BlobsUploaded,
		Bytes:          stats.Bytes,
		BytesWritten:   stats.BytesUploaded,
	}, nil
}
