package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// fetchPair is a corpus pair as the fetch tests see it: both versions
// published in one repository, tags v1 and v2.
type fetchPair struct {
	name   string
	v1, v2 string // corpus file names
	limit  int64  // maximum bytes a fetch of v2 downloads when v1 is cached
}

var fetchPairs = []fetchPair{
	{"js", "js-hello-v1.wasm", "js-hello-v2.wasm", jsSecondVersionLimit},
	{"go", "go-hello-v1.wasm", "go-hello-v2.wasm", goSecondVersionLimit},
}

// pairTarget returns the repository that contains pair and the options to
// reach it: the shared registry, or a fresh embedded store that the pair is
// published to first.
func pairTarget(t *testing.T, where string, pair fetchPair) (string, Options) {
	t.Helper()
	if where == "registry" {
		return startSharedRegistry(t).Addr() + "/pairs/" + pair.name, remoteOptions()
	}
	opts := localOptions(t)
	repository := "pairs/" + pair.name
	publishFile(t, corpusPair(t, pair.v1), repository+":v1", opts)
	publishFile(t, corpusPair(t, pair.v2), repository+":v2", opts)
	return repository, opts
}

func TestFetchPair(t *testing.T) {
	for _, where := range []string{"registry", "store"} {
		for _, pair := range fetchPairs {
			t.Run(where+"/"+pair.name, func(t *testing.T) {
				repository, opts := pairTarget(t, where, pair)
				v1Path := corpusPair(t, pair.v1)
				v2Path := corpusPair(t, pair.v2)
				v2Info, err := os.Stat(v2Path)
				if err != nil {
					t.Fatal(err)
				}

				t.Run("cold", func(t *testing.T) {
					res, output := fetchRef(t, repository+":v2", opts, FetchOptions{Cache: newCache(t)})
					t.Logf("cold fetch of v2 downloaded %d bytes", res.BytesDownloaded)
					checkSameFile(t, output, v2Path)
					if want := fileSHA256(t, v2Path); res.SHA256 != want {
						t.Errorf("result SHA256 = %s, expected %s", res.SHA256, want)
					}
					if res.Size != v2Info.Size() {
						t.Errorf("result size = %d, expected %d", res.Size, v2Info.Size())
					}
					if res.BytesCached != 0 {
						t.Errorf("result BytesCached = %d with an empty cache, expected 0", res.BytesCached)
					}
					if res.BytesDownloaded < v2Info.Size() {
						t.Errorf("cold fetch downloaded %d bytes, fewer than the file's %d", res.BytesDownloaded, v2Info.Size())
					}
				})

				t.Run("AfterV1", func(t *testing.T) {
					c := newCache(t)
					first, firstOutput := fetchRef(t, repository+":v1", opts, FetchOptions{Cache: c})
					checkSameFile(t, firstOutput, v1Path)

					res, output := fetchRef(t, repository+":v2", opts, FetchOptions{Cache: c})
					t.Logf("v1 downloaded %d bytes, then v2 downloaded %d bytes with %d bytes from the cache",
						first.BytesDownloaded, res.BytesDownloaded, res.BytesCached)
					checkSameFile(t, output, v2Path)
					if res.BytesDownloaded > pair.limit {
						t.Errorf("v2 downloaded %d bytes after v1, expected at most %d", res.BytesDownloaded, pair.limit)
					}
					if res.BytesCached == 0 {
						t.Error("v2 took no bytes from the cache after v1")
					}
				})

				t.Run("seed", func(t *testing.T) {
					res, output := fetchRef(t, repository+":v2", opts, FetchOptions{Cache: newCache(t), Seeds: []string{v1Path}})
					t.Logf("v2 seeded with v1 downloaded %d bytes with %d bytes from the cache", res.BytesDownloaded, res.BytesCached)
					checkSameFile(t, output, v2Path)
					if res.BytesDownloaded > pair.limit {
						t.Errorf("v2 seeded with v1 downloaded %d bytes, expected at most %d", res.BytesDownloaded, pair.limit)
					}
				})
			})
		}
	}
}

func TestFetchDigestPin(t *testing.T) {
	startSharedRegistry(t)
	v1 := sharedRegistry.results[jsRepository+":v1"]
	v2 := sharedRegistry.results[jsRepository+":v2"]
	ref := sharedRef(t, jsRepository, "v2")

	t.Run("match", func(t *testing.T) {
		res, output := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: newCache(t), Digest: v2.Digest})
		if res.Digest != v2.Digest {
			t.Errorf("result digest = %s, expected %s", res.Digest, v2.Digest)
		}
		checkSameFile(t, output, corpusPair(t, "js-hello-v2.wasm"))
	})

	t.Run("mismatch", func(t *testing.T) {
		output := fetchOutput(t)
		target := openRef(t, ref, remoteOptions(), false)
		_, err := Fetch(context.Background(), target, output, FetchOptions{Cache: newCache(t), Digest: v1.Digest, Retry: testRetry})
		if err == nil {
			t.Fatalf("fetch of v2 pinned to v1's digest succeeded")
		}
		if !strings.Contains(err.Error(), v1.Digest) {
			t.Errorf("error %q does not name the pinned digest %s", err, v1.Digest)
		}
		if !strings.Contains(err.Error(), v2.Digest) {
			t.Errorf("error %q does not name the artifact's digest %s", err, v2.Digest)
		}
		if _, err := os.Lstat(output); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("output after a failed fetch: Lstat error = %v, expected not exist", err)
		}
	})
}

func TestFetchRangeRequests(t *testing.T) {
	server := startSharedRegistry(t)
	c := newCache(t)
	fetchRef(t, sharedRef(t, jsRepository, "v1"), remoteOptions(), FetchOptions{Cache: c})

	packs := packDigests(t, sharedRef(t, jsRepository, "v2"))
	server.ResetRequests()
	fetchRef(t, sharedRef(t, jsRepository, "v2"), remoteOptions(), FetchOptions{Cache: c})

	var ranged int
	var rangedBytes int64
	for _, request := range server.Requests() {
		if request.Method != "GET" || !strings.HasPrefix(request.Path, "/v2/"+jsRepository+"/blobs/") {
			continue
		}
		if !slices.Contains(packs, filepath.Base(request.Path)) {
			continue
		}
		if request.Range == "" {
			t.Errorf("GET %s without a Range header (status %d, %d bytes), expected only ranges of packs",
				request.Path, request.Status, request.Bytes)
			continue
		}
		if request.Status != 206 {
			t.Errorf("GET %s with Range %s returned status %d, expected 206", request.Path, request.Range, request.Status)
		}
		ranged++
		rangedBytes += request.Bytes
	}
	t.Logf("fetch of v2 after v1 sent %d range requests for %d bytes", ranged, rangedBytes)
	if ranged == 0 {
		t.Error("fetch of v2 after v1 sent no range request for a pack")
	}
}

func TestFetchMissingTag(t *testing.T) {
	ref := sharedRef(t, jsRepository, "v9")
	target := openRef(t, ref, remoteOptions(), false)
	output := fetchOutput(t)

	_, err := Fetch(context.Background(), target, output, FetchOptions{Cache: newCache(t), Retry: testRetry})
	if err == nil {
		t.Fatalf("fetch of missing tag %s succeeded", ref)
	}
	if !strings.Contains(err.Error(), ref) {
		t.Errorf("error %q does not name the reference %s", err, ref)
	}
	if _, err := os.Lstat(output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output after a failed fetch: Lstat error = %v, expected not exist", err)
	}
}

func TestFetchMissingLocalRepository(t *testing.T) {
	opts := localOptions(t)
	ref, err := ParseReference("acme/missing:1.0.0")
	if err != nil {
		t.Fatal(err)
	}

	_, err = Open(context.Background(), ref, opts, false)
	if err == nil {
		t.Fatal("open of a missing local repository succeeded")
	}
	if !strings.Contains(err.Error(), "not found") {
		t.Errorf("error %q does not say \"not found\"", err)
	}
	if !strings.Contains(err.Error(), ref.String()) {
		t.Errorf("error %q does not name the reference %s", err, ref)
	}
	entries, err := os.ReadDir(opts.StoreDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("store contains %d entries after a failed open, expected none", len(entries))
	}
}

func TestFetchResume(t *testing.T) {
	ref := sharedRef(t, jsRepository, "v2")
	path := corpusPair(t, "js-hello-v2.wasm")
	cold, _ := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: newCache(t)})
	const cancelAfter = 4 << 20

	c := newCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var downloaded atomic.Int64
	output := fetchOutput(t)
	opts := FetchOptions{
		Cache:       c,
		Concurrency: 8,
		Retry:       testRetry,
		Downloaded: func(n int64) {
			if downloaded.Add(n) >= cancelAfter {
				cancel()
			}
		},
	}
	_, err := Fetch(ctx, openRef(t, ref, remoteOptions(), false), output, opts)
	if err == nil {
		t.Fatal("fetch with its context canceled succeeded, expected an error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("fetch error = %v, expected context.Canceled", err)
	}
	if _, err := os.Lstat(output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output after a canceled fetch: Lstat error = %v, expected not exist", err)
	}
	entries, temporary := checkCacheVerified(t, c.Dir())
	if temporary != 0 {
		t.Errorf("cache contains %d temporary files after a canceled fetch, expected 0", temporary)
	}

	res, output := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: c})
	t.Logf("cold fetch downloaded %d bytes; canceled fetch downloaded %d bytes and left %d cache entries; resumed fetch downloaded %d bytes",
		cold.BytesDownloaded, downloaded.Load(), entries, res.BytesDownloaded)
	checkSameFile(t, output, path)
	if res.BytesDownloaded >= cold.BytesDownloaded {
		t.Errorf("resumed fetch downloaded %d bytes, expected fewer than the cold fetch's %d", res.BytesDownloaded, cold.BytesDownloaded)
	}
}
