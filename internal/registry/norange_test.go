package registry

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// rangeIgnoringProxy is a reverse proxy on loopback that drops the Range
// header of every request, as some registries and CDNs behave, and counts
// the blob GETs it forwards.
type rangeIgnoringProxy struct {
	*httptest.Server
	mu       sync.Mutex
	blobGETs map[string]int
}

func startRangeIgnoringProxy(t *testing.T, upstream string) *rangeIgnoringProxy {
	t.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &rangeIgnoringProxy{blobGETs: map[string]int{}}
	reverse := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			p.mu.Lock()
			p.blobGETs[r.URL.Path]++
			p.mu.Unlock()
		}
		reverse.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *rangeIgnoringProxy) host() string { return strings.TrimPrefix(p.URL, "http://") }

func TestFetchRegistryIgnoresRange(t *testing.T) {
	server := startSharedRegistry(t)
	proxy := startRangeIgnoringProxy(t, server.Addr())
	path := corpusPair(t, "go-hello-v2.wasm")

	// v2 shares packs with v1, so a fetch needs several separate ranges
	// of one pack; each must not cost a download of the whole pack.
	ref := proxy.host() + "/" + goRepository + ":v2"
	res, output := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: newCache(t), Concurrency: 1})
	checkSameFile(t, output, path)

	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	for blob, count := range proxy.blobGETs {
		if count > 1 {
			t.Errorf("%s was downloaded %d times", blob, count)
		}
	}
	// Every blob of the artifact at most once, plus the manifest.
	limit := sharedRegistry.results[goRepository+":v2"].Bytes + 64<<10
	if res.BytesDownloaded > limit {
		t.Errorf("downloaded %d bytes, more than the artifact's blobs and manifest (%d)", res.BytesDownloaded, limit)
	}
}

func TestColdFetchNearFileSize(t *testing.T) {
	startSharedRegistry(t)
	for _, pair := range []struct{ repository, file string }{
		{goRepository, "go-hello-v2.wasm"},
		{jsRepository, "js-hello-v2.wasm"},
	} {
		path := corpusPair(t, pair.file)
		res, _ := fetchRef(t, sharedRef(t, pair.repository, "v2"), remoteOptions(), FetchOptions{Cache: newCache(t)})
		// The packs of v2 are shared with v1, so their ranges skip v1's
		// leaves. The bytes beyond the file are nodes, pack indexes,
		// config and manifest.
		if limit := res.Size + res.Size/20; res.BytesDownloaded > limit {
			t.Errorf("%s: cold fetch downloaded %d bytes for a file of %d, more than 5%% over", path, res.BytesDownloaded, res.Size)
		}
	}
}
