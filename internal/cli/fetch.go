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
	partialFlags
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
publisher recorded, and OUT is written atomically.

With --strip-debug, --skip-custom or --select, only the parts of the chosen
output are downloaded; every part written is verified against the root
digest, the sizes of enclosing sections are recomputed, and --json lists the
omitted sections. With -o -, the output streams to stdout in file order while
later parts are still downloading.`,
		Example: `  wasmcas fetch localhost:5000/acme/app:1.0.0 -o app.wasm
  wasmcas fetch acme/app:2.0.0 -o app.wasm --seed app-1.0.0.wasm
  wasmcas fetch ghcr.io/acme/app:1.0.0 -o app.wasm --digest sha256:... --json
  wasmcas fetch acme/app:1.0.0 --strip-debug -o - | wasmtime run -`,
		Args: exactArgs("REF"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ref = args[0]
			res, err := runFetch(cmd, streams, opts)
			if err != nil {
				return err
			}
			if opts.json {
				return writeJSON(streams.Out, res)
			}
			if opts.output == "-" {
				return nil
			}
			_, err = fmt.Fprintf(streams.Out, "fetched %s to %s\ndigest %s\n%d bytes, downloaded %d bytes from %d of %d blobs, %d bytes from the cache\n",
				res.Reference, res.Output, res.Digest, res.Size, res.BytesDownloaded, res.BlobsDownloaded, res.Blobs, res.BytesCached)
			if err == nil && !res.SHA256Checked {
				err = printPartial(streams.Out, res.Select, res.OmittedSections, res.OmittedBytes)
			}
			return err
		},
	}
	opts.remoteFlags.register(cmd)
	opts.partialFlags.register(cmd)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "file to write, or - for stdout (required)")
	cmd.Flags().StringVar(&opts.cacheDir, "cache-dir", "", "local cache (default $XDG_CACHE_HOME/wasmcas)")
	cmd.Flags().StringVar(&opts.digest, "digest", "", "root digest the artifact must have (sha256:...)")
	cmd.Flags().StringArrayVar(&opts.seeds, "seed", nil, "binary on disk whose parts are used before downloading (repeatable)")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as one JSON object on stdout")
	return cmd
}

func runFetch(cmd *cobra.Command, streams Streams, opts *fetchOptions) (*registry.FetchResult, error) {
	if err := opts.validate(cmd); err != nil {
		return nil, err
	}
	if err := requireOutput(opts.output, true); err != nil {
		return nil, err
	}
	filter, err := opts.filter()
	if err != nil {
		return nil, err
	}
	if opts.output == "-" && opts.json {
		return nil, fmt.Errorf("--json and -o - both write to stdout: choose one")
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
	target, c, err := opts.openReference(cmd, ref, opts.cacheDir)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	fetchOpts := registry.FetchOptions{
		Cache: c, Seeds: opts.seeds, Digest: opts.digest, Concurrency: opts.concurrency,
		Filter: filter, Select: opts.selectPath, Stdout: streams.Out,
	}
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

// openCache opens dir, or the default cache $XDG_CACHE_HOME/wasmcas.
func openCache(dir string) (*cache.Cache, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory: set --cache-dir or WASMCAS_CACHE_DIR: %w", err)
		}
		dir = filepath.Join(base, "wasmcas")
	}
	return cache.Open(dir)
}
