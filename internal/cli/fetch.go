package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/wasmcas/wasmcas/internal/cache"
	"github.com/wasmcas/wasmcas/internal/registry"
	"github.com/wasmcas/wasmcas/internal/split"
)

type fetchOptions struct {
	remoteFlags
	ref      string
	output   string
	cacheDir string
	digest   string
	seeds    []string
	json     bool
}

func newFetchCommand(streams Streams) *cobra.Command {
	opts := &fetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch REF -o OUT",
		Short: "Fetch a binary, downloading only the parts the cache lacks",
		Long: `Fetch the artifact REF and write the original binary to OUT. Only the leaves
missing from the local cache are downloaded, as byte ranges of their packs, in
parallel. Every node and leaf is verified against the root digest before any
of its bytes reaches OUT, the whole file is checked against the SHA-256 the
publisher recorded, and OUT is written atomically.`,
		Example: `  wasmcas fetch localhost:5000/acme/app:1.0.0 -o app.wasm
  wasmcas fetch acme/app:2.0.0 -o app.wasm --seed app-1.0.0.wasm
  wasmcas fetch ghcr.io/acme/app:1.0.0 -o app.wasm --digest sha256:... --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = args[0]
			res, err := runFetch(cmd, streams, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			_, err = fmt.Fprintf(streams.Out, "fetched %s to %s\ndigest %s\n%d bytes, downloaded %d bytes from %d of %d blobs, %d bytes from the cache\n",
				res.Reference, res.Output, res.Digest, res.Size, res.BytesDownloaded, res.BlobsDownloaded, res.Blobs, res.BytesCached)
			return err
		},
	}
	opts.remoteFlags.register(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "file to write (required)")
	cmd.Flags().StringVar(&opts.cacheDir, "cache-dir", "", "local cache (default $XDG_CACHE_HOME/wasmcas)")
	cmd.Flags().StringVar(&opts.digest, "digest", "", "root digest the artifact must have (sha256:...)")
	cmd.Flags().StringArrayVar(&opts.seeds, "seed", nil, "binary on disk whose parts are used before downloading (repeatable)")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as one JSON object on stdout")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func runFetch(cmd *cobra.Command, streams Streams, opts *fetchOptions) (*registry.FetchResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.digest != "" {
		if _, err := split.ParseDigest(opts.digest); err != nil {
			return nil, fmt.Errorf("invalid --digest: %w", err)
		}
	}
	ref, err := registry.ParseReference(opts.ref)
	if err != nil {
		return nil, err
	}
	cacheDir := opts.cacheDir
	if cacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory: set --cache-dir or WASMCAS_CACHE_DIR: %w", err)
		}
		cacheDir = filepath.Join(dir, "wasmcas")
	}
	c, err := cache.Open(cacheDir)
	if err != nil {
		return nil, err
	}
	targetOpts, err := opts.options()
	if err != nil {
		return nil, err
	}
	target, err := registry.Open(cmd.Context(), ref, targetOpts, false)
	if err != nil {
		return nil, err
	}

	fetchOpts := registry.FetchOptions{Cache: c, Seeds: opts.seeds, Digest: opts.digest, Concurrency: opts.concurrency}
	if showProgress(opts.progress, opts.json, streams.ErrOut) {
		var bar *progressbar.ProgressBar
		var mu sync.Mutex
		fetchOpts.Planned = func(ranges int, bytes int64) {
			bar = newBar(streams.ErrOut, bytes, fmt.Sprintf("fetch %d ranges", ranges))
		}
		fetchOpts.Downloaded = func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			if bar != nil {
				bar.Add64(n)
			}
		}
		defer func() {
			if bar != nil {
				bar.Finish()
			}
		}()
	}
	return registry.Fetch(cmd.Context(), target, opts.output, fetchOpts)
}
