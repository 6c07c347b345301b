package registry

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wasmcas/wasmcas/internal/transfer/faultproxy"
)

func TestPublishSecondVersion(t *testing.T) {
	pairs := []struct {
		name       string
		repository string
		v1, v2     string
		limit      int64
	}{
		{"js", jsRepository, "js-hello-v1.wasm", "js-hello-v2.wasm", jsSecondVersionLimit},
		{"go", goRepository, "go-hello-v1.wasm", "go-hello-v2.wasm", goSecondVersionLimit},
	}
	for _, pair := range pairs {
		t.Run("registry/"+pair.name, func(t *testing.T) {
			startSharedRegistry(t)
			first := sharedRegistry.results[pair.repository+":v1"]
			second := sharedRegistry.results[pair.repository+":v2"]
			t.Logf("v1 uploaded %d of %d bytes, v2 uploaded %d of %d bytes in %d of %d blobs",
				first.BytesUploaded, first.Bytes, second.BytesUploaded, second.Bytes, second.BlobsUploaded, second.Blobs)
			if first.BlobsUploaded != first.Blobs {
				t.Errorf("v1 uploaded %d of %d blobs to an empty repository, expected all", first.BlobsUploaded, first.Blobs)
			}
			if second.BytesUploaded > pair.limit {
				t.Errorf("v2 uploaded %d bytes, expected at most %d", second.BytesUploaded, pair.limit)
			}
		})

		t.Run("store/"+pair.name, func(t *testing.T) {
			opts := localOptions(t)
			first := publishFile(t, corpusPair(t, pair.v1), "acme/hello:v1", opts)
			second := publishFile(t, corpusPair(t, pair.v2), "acme/hello:v2", opts)
			t.Logf("v1 uploaded %d of %d bytes, v2 uploaded %d of %d bytes in %d of %d blobs",
				first.BytesUploaded, first.Bytes, second.BytesUploaded, second.Bytes, second.BlobsUploaded, second.Blobs)
			if first.BlobsUploaded != first.Blobs {
				t.Errorf("v1 uploaded %d of %d blobs to an empty store, expected all", first.BlobsUploaded, first.Blobs)
			}
			if second.BytesUploaded > pair.limit {
				t.Errorf("v2 uploaded %d bytes, expected at most %d", second.BytesUploaded, pair.limit)
			}
		})
	}
}

func TestPublishSameFileTwice(t *testing.T) {
	targets := []struct {
		name string
		ref  func(t *testing.T) (string, Options)
	}{
		{"registry", func(t *testing.T) (string, Options) {
			return startSharedRegistry(t).Addr() + "/twice/go:v1", remoteOptions()
		}},
		{"store", func(t *testing.T) (string, Options) {
			return "twice/go:v1", localOptions(t)
		}},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			ref, opts := target.ref(t)
			path := corpusPair(t, "go-hello-v1.wasm")
			first := publishFile(t, path, ref, opts)
			second := publishFile(t, path, ref, opts)

			if second.BlobsUploaded != 0 {
				t.Errorf("second publish uploaded %d of %d blobs, expected 0", second.BlobsUploaded, second.Blobs)
			}
			if second.BytesUploaded != 0 {
				t.Errorf("second publish uploaded %d bytes, expected 0", second.BytesUploaded)
			}
			if second.ManifestDigest != first.ManifestDigest {
				t.Errorf("second publish wrote manifest %s, expected the first's %s", second.ManifestDigest, first.ManifestDigest)
			}
		})
	}
}

func TestPublishConcurrent(t *testing.T) {
	targets := []struct {
		name string
		ref  func(t *testing.T) (string, Options)
	}{
		{"registry", func(t *testing.T) (string, Options) {
			return startSharedRegistry(t).Addr() + "/race/go", remoteOptions()
		}},
		{"store", func(t *testing.T) (string, Options) {
			return "race/go", localOptions(t)
		}},
	}
	files := []struct{ tag, file string }{
		{"a", "go-hello-v1.wasm"},
		{"b", "go-hello-v2.wasm"},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			repository, opts := target.ref(t)

			// Open both targets first, so the goroutines call only
			// Publish and never t.Fatal.
			targets := make([]*Target, len(files))
			paths := make([]string, len(files))
			for i, f := range files {
				targets[i] = openRef(t, repository+":"+f.tag, opts, true)
				paths[i] = corpusPair(t, f.file)
			}
			errs := make([]error, len(files))
			var wg sync.WaitGroup
			for i := range files {
				wg.Go(func() {
					_, errs[i] = Publish(context.Background(), paths[i], targets[i], PublishOptions{Concurrency: 4})
				})
			}
			wg.Wait()
			for i, f := range files {
				if errs[i] != nil {
					t.Errorf("publish %s as tag %s: %v", f.file, f.tag, errs[i])
				}
			}
			if t.Failed() {
				return
			}

			for _, f := range files {
				_, output := fetchRef(t, repository+":"+f.tag, opts, FetchOptions{Cache: newCache(t)})
				checkSameFile(t, output, corpusPair(t, f.file))
			}
		})
	}
}

// isUploadRequest matches the POST that starts a blob upload and the PUT
// or PATCH requests that send its content.
func isUploadRequest(r *http.Request) bool {
	if !strings.Contains(r.URL.Path, "/blobs/uploads/") {
		return false
	}
	return r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
}

func TestPublishRetries(t *testing.T) {
	server := startSharedRegistry(t)
	path := corpusPair(t, "go-hello-v1.wasm")
	// A publish to an empty repository plans the same packs as the shared
	// registry's publish of the same file did.
	packs := packDigests(t, sharedRef(t, goRepository, "v1"))

	rules := []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"BlobHEAD", faultproxy.BlobHEAD},
		{"UploadPOST", func(r *http.Request) bool {
			return isUploadRequest(r) && r.Method == http.MethodPost
		}},
		{"UploadPUT", func(r *http.Request) bool {
			return isUploadRequest(r) && r.Method != http.MethodPost
		}},
		// The PUT of a pack streams the leaves from the source file, unlike
		// the PUT of a node, index or config, which sends a byte slice.
		{"PackPUT", func(r *http.Request) bool {
			return isUploadRequest(r) && r.Method != http.MethodPost && slices.Contains(packs, r.URL.Query().Get("digest"))
		}},
	}
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: rule.match, Fault: faultproxy.Status500, Times: 2})
			repository := "retry/" + strings.ToLower(rule.name)
			target := openRef(t, proxy.Host()+"/"+repository+":v1", remoteOptions(), true)

			// One blob at a time, so that both injected 500s hit the same
			// request and its retries.
			res, err := Publish(context.Background(), path, target, PublishOptions{Concurrency: 1})
			injected := 0
			for _, logged := range proxy.Requests() {
				if logged.Fault == faultproxy.Status500 {
					injected++
				}
			}
			if injected != 2 {
				t.Errorf("proxy injected %d faults, expected 2", injected)
			}
			if err != nil {
				t.Fatalf("publish with two 500 responses to %s: %v", rule.name, err)
			}
			if res.BlobsUploaded != res.Blobs {
				t.Errorf("uploaded %d of %d blobs, expected all", res.BlobsUploaded, res.Blobs)
			}

			_, output := fetchRef(t, server.Addr()+"/"+repository+":v1", remoteOptions(), FetchOptions{Cache: newCache(t)})
			checkSameFile(t, output, path)
		})
	}
}

func TestPublishResume(t *testing.T) {
	server := startSharedRegistry(t)
	path := corpusPair(t, "go-hello-v1.wasm")
	ref := server.Addr() + "/resume/go:v1"
	const cancelAfter = 4

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int64
	opts := PublishOptions{
		// One blob at a time, so exactly cancelAfter blobs are uploaded.
		Concurrency: 1,
		Progress: func(ocispec.Descriptor, bool) {
			if done.Add(1) == cancelAfter {
				cancel()
			}
		},
	}
	_, err := Publish(ctx, path, openRef(t, ref, remoteOptions(), true), opts)
	if err == nil {
		t.Fatal("publish with its context canceled succeeded, expected an error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("publish error = %v, expected context.Canceled", err)
	}
	if got := done.Load(); got != cancelAfter {
		t.Errorf("%d blobs finished before the publish stopped, expected %d", got, cancelAfter)
	}
	if _, err := openRef(t, ref, remoteOptions(), false).Resolve(context.Background(), "v1"); err == nil {
		t.Error("tag v1 exists after the interrupted publish, expected the manifest to be pushed last")
	}

	res := publishFile(t, path, ref, remoteOptions())
	t.Logf("second publish uploaded %d of %d blobs, %d of %d bytes", res.BlobsUploaded, res.Blobs, res.BytesUploaded, res.Bytes)
	if want := res.Blobs - cancelAfter; res.BlobsUploaded != want {
		t.Errorf("second publish uploaded %d of %d blobs, expected %d", res.BlobsUploaded, res.Blobs, want)
	}

	_, output := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: newCache(t)})
	checkSameFile(t, output, path)
}
