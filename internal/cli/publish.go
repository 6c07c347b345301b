package cli

import (
	"fmt"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/registry"
)

type publishOptions struct {
	remoteFlags
	file string
	ref  string
	json bool
	wit  bool
}

func newPublishCommand(streams Streams) *cobra.Command {
	opts := &publishOptions{}
	cmd := &cobra.Command{
		Use:   "publish FILE REF",
		Short: "Publish a binary to a registry or the embedded store",
		Long: `Split FILE and publish it as REF, uploading only the blobs the repository
lacks. REF is HOST[:PORT]/REPOSITORY[:TAG] for an OCI registry, or
REPOSITORY[:TAG] without a host for the embedded store. Registries on loopback
are spoken to over plain HTTP; credentials come from the Docker config file
and its credential helpers (see "wasmcas login").`,
		Example: `  wasmcas publish app.wasm localhost:5000/acme/app:1.0.0
  wasmcas publish app.wasm acme/app:1.0.0 --json`,
		Args: exactArgs("FILE", "REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file, opts.ref = args[0], args[1]
			res, err := runPublish(cmd, streams, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			_, err = fmt.Fprintf(streams.Out, "published %s\ndigest %s\nmanifest %s\nuploaded %d of %d blobs, %d of %d bytes\n",
				res.Reference, res.Digest, res.ManifestDigest, res.BlobsUploaded, res.Blobs, res.BytesUploaded, res.Bytes)
			return err
		},
	}
	opts.remoteFlags.register(cmd)
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as one JSON object on stdout")
	cmd.Flags().BoolVar(&opts.wit, "wit", false, "record the component's WIT imports and exports in the config (slow)")
	return cmd
}

func runPublish(cmd *cobra.Command, streams Streams, opts *publishOptions) (*registry.PublishResult, error) {
	if err := opts.validate(cmd); err != nil {
		return nil, err
	}
	ref, err := registry.ParseReference(opts.ref)
	if err != nil {
		return nil, err
	}
	if ref.Tag == "" || ref.Digest != "" {
		return nil, fmt.Errorf("invalid reference %s: publish needs a tag and no digest", opts.ref)
	}
	targetOpts, err := opts.options()
	if err != nil {
		return nil, err
	}
	target, err := registry.Open(cmd.Context(), ref, targetOpts, true)
	if err != nil {
		return nil, err
	}

	publishOpts := registry.PublishOptions{Concurrency: opts.concurrency, WIT: opts.wit, WITRequired: cmd.Flags().Changed("wit")}
	if showProgress(opts.progress, opts.json, streams.ErrOut) {
		var bar *progressbar.ProgressBar
		var mu sync.Mutex
		var total, done, uploaded int
		publishOpts.Planned = func(blobs int, bytes int64) {
			total = blobs
			bar = newBar(streams.ErrOut, bytes, fmt.Sprintf("publish 0/%d blobs", blobs))
		}
		publishOpts.Progress = func(desc ocispec.Descriptor, sent bool) {
			mu.Lock()
			defer mu.Unlock()
			done++
			if sent {
				uploaded++
			}
			bar.Describe(fmt.Sprintf("publish %d/%d blobs, %d uploaded", done, total, uploaded))
			bar.Add64(desc.Size)
		}
		defer func() {
			if bar != nil {
				bar.Finish()
			}
		}()
	}
	return registry.Publish(cmd.Context(), opts.file, target, publishOpts)
}
