package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/wasmcas/wasmcas/internal/cache"
	"github.com/wasmcas/wasmcas/internal/serve"
	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/testutil"
	"github.com/wasmcas/wasmcas/internal/transfer"
)

// testRetry keeps retries fast: the faults injected by faultproxy are
// retried after at most 10ms instead of the default backoff of seconds.
var testRetry = transfer.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}

// Maximum bytes that publishing or fetching the second version of a pair
// may move when the first version is already stored or cached.
const (
	jsSecondVersionLimit = 1_150_000
	goSecondVersionLimit = 2_500_000
)

// Repositories of the shared registry that contain the corpus pairs.
const (
	jsRepository = "pairs/js"
	goRepository = "pairs/go"
)

// sharedRegistry is one registry with both corpus pairs published, tags v1
// then v2, for the tests that only read from it. Publishing 30 MB once
// instead of in every test keeps the package fast. It starts on first use,
// and TestMain stops it.
var sharedRegistry struct {
	once   sync.Once
	err    error
	root   string
	server *serve.Server
	// results maps "REPOSITORY:TAG" to the result of its publish.
	results map[string]*PublishResult
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedRegistry.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := sharedRegistry.server.Shutdown(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "shut down shared test registry: %v\n", err)
		}
		cancel()
	}
	if sharedRegistry.root != "" {
		os.RemoveAll(sharedRegistry.root)
	}
	os.Exit(code)
}

// startSharedRegistry returns the shared registry, starting it and
// publishing the pairs on the first call. It skips the test when the corpus
// is not configured.
func startSharedRegistry(t *testing.T) *serve.Server {
	t.Helper()
	corpus := testutil.Corpus(t)

	sharedRegistry.once.Do(func() {
		sharedRegistry.err = setUpSharedRegistry(corpus)
	})
	if sharedRegistry.err != nil {
		t.Fatalf("set up shared registry: %v", sharedRegistry.err)
	}
	return sharedRegistry.server
}

func setUpSharedRegistry(corpus string) error {
	root, err := os.MkdirTemp("", "wasmcas-registry-test-")
	if err != nil {
		return err
	}
	sharedRegistry.root = root

	server, err := serve.Start(context.Background(), serve.Config{
		Addr:   "127.0.0.1:0",
		Root:   root,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	sharedRegistry.server = server
	sharedRegistry.results = map[string]*PublishResult{}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publishes := []struct{ file, repository, tag string }{
		{"js-hello-v1.wasm", jsRepository, "v1"},
		{"js-hello-v2.wasm", jsRepository, "v2"},
		{"go-hello-v1.wasm", goRepository, "v1"},
		{"go-hello-v2.wasm", goRepository, "v2"},
	}
	for _, p := range publishes {
		ref := Reference{Registry: server.Addr(), Repository: p.repository, Tag: p.tag}
		target, err := Open(ctx, ref, remoteOptions(), true)
		if err != nil {
			return err
		}
		res, err := Publish(ctx, filepath.Join(corpus, "pairs", p.file), target, PublishOptions{Concurrency: 8})
		if err != nil {
			return err
		}
		sharedRegistry.results[p.repository+":"+p.tag] = res
	}
	return nil
}

// sharedRef returns the reference of repository:tag in the shared registry.
func sharedRef(t *testing.T, repository, tag string) string {
	t.Helper()
	return startSharedRegistry(t).Addr() + "/" + repository + ":" + tag
}

// corpusPair returns the path of a file in the corpus's pairs directory.
func corpusPair(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(testutil.Corpus(t), "pairs", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("corpus file: %v", err)
	}
	return path
}

// remoteOptions returns target options with an empty in-memory credential
// store, so that tests never read the user's Docker credentials, and the
// fast retry policy.
func remoteOptions() Options {
	return Options{Credentials: credentials.NewMemoryStore(), Retry: testRetry}
}

// localOptions returns target options for a fresh embedded store.
func localOptions(t *testing.T) Options {
	t.Helper()
	opts := remoteOptions()
	opts.StoreDir = t.TempDir()
	return opts
}

// openRef parses ref and opens it, failing the test on an error.
func openRef(t *testing.T, ref string, opts Options, create bool) *Target {
	t.Helper()
	parsed, err := ParseReference(ref)
	if err != nil {
		t.Fatalf("parse reference %s: %v", ref, err)
	}
	target, err := Open(context.Background(), parsed, opts, create)
	if err != nil {
		t.Fatalf("open %s: %v", ref, err)
	}
	return target
}

// publishFile publishes path as ref and fails the test on an error.
func publishFile(t *testing.T, path, ref string, opts Options) *PublishResult {
	t.Helper()
	target := openRef(t, ref, opts, true)
	res, err := Publish(context.Background(), path, target, PublishOptions{Concurrency: 8})
	if err != nil {
		t.Fatalf("publish %s as %s: %v", filepath.Base(path), ref, err)
	}
	return res
}

// newCache opens a cache in a fresh temporary directory.
func newCache(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open cache: %v", err)
	}
	return c
}

// fetchOutput returns a path for a fetched file in a fresh directory.
func fetchOutput(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "out.wasm")
}

// fetchRef fetches ref into a new output file and fails the test on an
// error. Unset concurrency and retry options take test defaults.
func fetchRef(t *testing.T, ref string, targetOpts Options, opts FetchOptions) (*FetchResult, string) {
	t.Helper()
	target := openRef(t, ref, targetOpts, false)
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if opts.Retry == (transfer.RetryPolicy{}) {
		opts.Retry = testRetry
	}
	output := fetchOutput(t)
	res, err := Fetch(context.Background(), target, output, opts)
	if err != nil {
		t.Fatalf("fetch %s: %v", ref, err)
	}
	return res, output
}

// fileSHA256 returns the sha256 of a file as "sha256:<hex>".
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkSameFile fails the test unless the files have the same bytes.
func checkSameFile(t *testing.T, got, want string) {
	t.Helper()
	gotData, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("read fetched file: %v", err)
	}
	wantData, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("read original file: %v", err)
	}
	if bytes.Equal(gotData, wantData) {
		return
	}
	offset := 0
	for offset < min(len(gotData), len(wantData)) && gotData[offset] == wantData[offset] {
		offset++
	}
	t.Errorf("%s differs from %s: %d bytes against %d, first difference at offset %d",
		got, filepath.Base(want), len(gotData), len(wantData), offset)
}

// checkCacheVerified walks a cache directory and fails the test for any
// file under sha256/xx/<hex> whose content does not hash to <hex>, and for
// any file elsewhere. Temporary files (".tmp-*") are counted and returned,
// so a caller decides whether they may remain. It returns the number of
// verified entries too.
func checkCacheVerified(t *testing.T, dir string) (entries, temporary int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			return nil
		}
		relative, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(entry.Name(), ".tmp-") {
			temporary++
			return nil
		}
		parts := strings.Split(filepath.ToSlash(relative), "/")
		var name string
		switch {
		case len(parts) == 3 && parts[0] == "sha256" && len(parts[2]) == 64 && parts[1] == parts[2][:2]:
			name = parts[2]
		case len(parts) == 2 && parts[0] == "packs" && len(parts[1]) == 64+len(".pack") && strings.HasSuffix(parts[1], ".pack"):
			name = strings.TrimSuffix(parts[1], ".pack")
		default:
			t.Errorf("cache contains %s, expected only sha256/xx/<64 hex digits> and packs/<64 hex digits>.pack", relative)
			return nil
		}
		entries++
		if parts[0] == "packs" {
			// A cache pack is named after its trailer; Verify below checks
			// every leaf in it.
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != name {
			t.Errorf("cache entry %s has content with sha256 %s", relative, got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk cache %s: %v", dir, err)
	}

	// Every leaf inside the cache packs must match its digest too.
	c, err := cache.Open(dir)
	if err != nil {
		t.Fatalf("open cache %s: %v", dir, err)
	}
	defer c.Close()
	if _, err := c.Verify(); err != nil {
		t.Errorf("cache %s: %v", dir, err)
	}
	return entries, temporary
}

// packDigests returns the digests of the packs that the manifest ref
// names, in manifest order.
func packDigests(t *testing.T, ref string) []string {
	t.Helper()
	target := openRef(t, ref, remoteOptions(), false)
	ctx := context.Background()
	desc, err := target.Resolve(ctx, target.Ref.Reference())
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	raw, err := content.FetchAll(ctx, target, desc)
	if err != nil {
		t.Fatalf("fetch manifest of %s: %v", ref, err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatalf("manifest of %s: %v", ref, err)
	}
	var digests []string
	for _, layer := range manifest.Layers {
		if layer.MediaType == split.MediaTypePack {
			digests = append(digests, layer.Digest.String())
		}
	}
	if len(digests) == 0 {
		t.Fatalf("manifest of %s names no pack", ref)
	}
	return digests
}
