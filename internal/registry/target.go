package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	// retry bounds the attempts of each blob transfer.
	retry transfer.RetryPolicy
}

// Tag tags desc as reference. In the embedded store it updates index.json
// under the layout's lock, as Push does for manifests.
func (t *Target) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	if t.dir == "" {
		return t.Target.Tag(ctx, desc, reference)
	}
	return t.withFreshStore(ctx, func(store *oci.Store) error {
		return store.Tag(ctx, desc, reference)
	})
}

// Push writes a blob or manifest. Pushing a manifest to the embedded store
// rewrites index.json, so it happens under the layout's lock.
func (t *Target) Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error {
	if t.dir == "" || !isManifest(desc) {
		return t.Target.Push(ctx, desc, r)
	}
	return t.withFreshStore(ctx, func(store *oci.Store) error {
		return store.Push(ctx, desc, r)
	})
}

// withFreshStore calls fn with an oci.Store that re-read index.json while
// holding an exclusive lock on the layout. Each oci.Store keeps its own
// copy of the index and writes that copy whole, so two publishes to one
// repository would otherwise each write theirs and the later one would
// drop the other's tag.
func (t *Target) withFreshStore(ctx context.Context, fn func(*oci.Store) error) error {
	unlock, err := lockLayout(t.dir)
	if err != nil {
		return err
	}
	defer unlock()
	fresh, err := oci.NewWithContext(ctx, t.dir)
	if err != nil {
		return fmt.Errorf("%s: open store %s: %w", t.Ref, t.dir, err)
	}
	return fn(fresh)
}

func isManifest(desc ocispec.Descriptor) bool {
	return desc.MediaType == ocispec.MediaTypeImageManifest || desc.MediaType == ocispec.MediaTypeImageIndex
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
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: create store %s: %w", ref, dir, err)
		}
		// index.json is rewritten in place by writers, so it is read under
		// the same lock they hold.
		unlock, err := lockLayout(dir)
		if err != nil {
			return nil, err
		}
		store, err := oci.NewWithContext(ctx, dir)
		unlock()
		if err != nil {
			return nil, fmt.Errorf("%s: open store %s: %w", ref, dir, err)
		}
		return &Target{Target: store, Ref: ref, dir: dir, retry: opts.Retry}, nil
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
	return &Target{Target: repo, Ref: ref, repo: repo, retry: opts.Retry}, nil
}

// repositoryName names the repository in messages: the registry's host and
// repository, or the embedded store's repository and directory.
func (t *Target) repositoryName() string {
	if t.repo != nil {
		return "repository " + t.Ref.Registry + "/" + t.Ref.Repository
	}
	return "repository " + t.Ref.Repository + " of store " + t.dir
}
