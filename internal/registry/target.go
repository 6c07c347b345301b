package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/transfer"
)

// Options configure how targets are reached.
type Options struct {
	// StoreDir is the root of the embedded store: one OCI image layout per
	// repository below it.
	StoreDir string
	// PlainHTTP speaks HTTP to a non-loopback registry. Loopback registries
	// always use plain HTTP.
	PlainHTTP bool
	// Credentials resolves registry credentials; nil reads the Docker
	// config file and its credential helpers.
	Credentials credentials.Store
	// Transport is the base HTTP transport; nil means a clone of
	// http.DefaultTransport. Retries are layered on top of it.
	Transport http.RoundTripper
	Retry     transfer.RetryPolicy
	Logger    *slog.Logger
}

// Target is an opened reference: the content store it names and, for a
// remote one, the HTTP client that carries Range requests.
type Target struct {
	split.Target
	Ref Reference
	// repo is set for a remote reference.
	repo *remote.Repository
	// dir is set for a local reference.
	dir string
}

// Describe names the target in messages: the registry host or the store
// directory.
func (t *Target) Describe() string {
	if t.repo != nil {
		return "registry " + t.Ref.Registry
	}
	return "store " + t.dir
}

// Open opens the target that ref names. A local target's layout directory
// is created only when create is true, so a fetch of a missing local
// reference fails with "not found" rather than leaving an empty layout.
func Open(ctx context.Context, ref Reference, opts Options, create bool) (*Target, error) {
	if ref.Local {
		if opts.StoreDir == "" {
			return nil, fmt.Errorf("%s: no store directory configured (set --store-dir or WASMCAS_STORE_DIR)", ref)
		}
		dir := filepath.Join(opts.StoreDir, filepath.FromSlash(ref.Repository))
		if !create {
			if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
				return nil, fmt.Errorf("%s: repository not found in store %s", ref, opts.StoreDir)
			}
		}
		store, err := oci.NewWithContext(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: open store %s: %w", ref, dir, err)
		}
		return &Target{Target: store, Ref: ref, dir: dir}, nil
	}

	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	repo.PlainHTTP = opts.PlainHTTP || IsLoopback(ref.Registry)
	creds := opts.Credentials
	if creds == nil {
		store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("read Docker credentials: %w", err)
		}
		creds = store
	}
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	repo.Client = &auth.Client{
		Client:     &http.Client{Transport: transfer.NewRetryTransport(base, opts.Retry, logger)},
		Header:     http.Header{"User-Agent": {"wasmcas"}},
		Cache:      auth.NewCache(),
		Credential: credentials.Credential(creds),
	}
	return &Target{Target: repo, Ref: ref, repo: repo}, nil
}
