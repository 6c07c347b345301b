package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/wasmcas/wasmcas/internal/transfer"
	"github.com/wasmcas/wasmcas/internal/transfer/faultproxy"
)

// startRegistry starts an in-memory distribution registry on loopback.
func startRegistry(t *testing.T) *httptest.Server {
	t.Helper()
	logrus.SetOutput(io.Discard)

	config := &configuration.Configuration{
		Storage: configuration.Storage{"inmemory": configuration.Parameters{}},
	}
	config.HTTP.Secret = "test-secret"
	app := handlers.NewApp(t.Context(), config)
	server := httptest.NewServer(app)
	t.Cleanup(server.Close)
	return server
}

func newRepository(t *testing.T, host string, policy transfer.RetryPolicy) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(host + "/test/component")
	if err != nil {
		t.Fatalf("new repository: %v", err)
	}
	repo.PlainHTTP = true
	base := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(base.CloseIdleConnections)
	repo.Client = &http.Client{Transport: transfer.NewRetryTransport(base, policy, nil), Timeout: 30 * time.Second}
	return repo
}

// TestRegistryPushFetchThroughFaults pushes and fetches a blob through the
// fault proxy in front of a real registry, so the Location rewrite, 5xx and
// reset retries and the Retry helper for truncated bodies run together.
func TestRegistryPushFetchThroughFaults(t *testing.T) {
	registry := startRegistry(t)
	proxy := faultproxy.Start(t, registry.URL,
		faultproxy.Rule{Fault: faultproxy.Status500, Times: 2},
		faultproxy.Rule{Match: faultproxy.BlobHEAD, Fault: faultproxy.Reset, Times: 1},
	)
	policy := transfer.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	repo := newRepository(t, proxy.Host(), policy)

	blob := bytes.Repeat([]byte("wasm component bytes "), 10000)
	desc := ocispec.Descriptor{
		MediaType: "application/wasm",
		Digest:    digest.FromBytes(blob),
		Size:      int64(len(blob)),
	}
	if err := repo.Blobs().Push(t.Context(), desc, bytes.NewReader(blob)); err != nil {
		t.Fatalf("push blob: %v", err)
	}

	exists, err := repo.Blobs().Exists(t.Context(), desc)
	if err != nil {
		t.Fatalf("check blob exists: %v", err)
	}
	if !exists {
		t.Fatal("blob not found after push")
	}

	proxy.SetRules(faultproxy.Rule{Match: faultproxy.BlobGET, Fault: faultproxy.Truncate, Times: 1})
	var fetched []byte
	attempts := 0
	err = transfer.Retry(t.Context(), policy, transfer.IsTransient, func(ctx context.Context) error {
		attempts++
		var fetchErr error
		fetched, fetchErr = content.FetchAll(ctx, repo.Blobs(), desc)
		return fetchErr
	})
	if err != nil {
		t.Fatalf("fetch blob: %v", err)
	}
	if !bytes.Equal(fetched, blob) {
		t.Error("fetched blob differs from the pushed blob")
	}
	if attempts != 2 {
		t.Errorf("fetch took %d attempts, expected 2", attempts)
	}

	var faults []faultproxy.Fault
	uploadPUTs := 0
	for _, logged := range proxy.Requests() {
		if logged.Fault != faultproxy.None {
			faults = append(faults, logged.Fault)
		}
		if logged.Method == http.MethodPut && strings.Contains(logged.Path, "/blobs/uploads/") {
			uploadPUTs++
		}
	}
	// The registry returns an absolute upload Location with its own host, so
	// the PUT reaches the proxy only if the proxy rewrote that Location.
	if uploadPUTs == 0 {
		t.Error("no upload PUT passed through the proxy, expected the client to follow the rewritten Location")
	}
	expected := []faultproxy.Fault{faultproxy.Status500, faultproxy.Status500, faultproxy.Reset, faultproxy.Truncate}
	if !slices.Equal(faults, expected) {
		t.Errorf("injected faults = %v, expected %v", faults, expected)
	}
}

// TestRegistryCorruptBlobDetected checks that a corrupted body reaches the
// client as a digest error, which the transport must not hide.
func TestRegistryCorruptBlobDetected(t *testing.T) {
	registry := startRegistry(t)
	proxy := faultproxy.Start(t, registry.URL)
	policy := transfer.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	repo := newRepository(t, proxy.Host(), policy)

	blob := bytes.Repeat([]byte{0x00, 0x61, 0x73, 0x6d}, 20000)
	desc := ocispec.Descriptor{MediaType: "application/wasm", Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if err := repo.Blobs().Push(t.Context(), desc, bytes.NewReader(blob)); err != nil {
		t.Fatalf("push blob: %v", err)
	}

	proxy.SetRules(faultproxy.Rule{Match: faultproxy.BlobGET, Fault: faultproxy.Corrupt})
	_, err := content.FetchAll(t.Context(), repo.Blobs(), desc)
	if !errors.Is(err, content.ErrMismatchedDigest) {
		t.Errorf("fetch corrupted blob: error = %v, expected content.ErrMismatchedDigest", err)
	}
	if transfer.IsTransient(err) {
		t.Errorf("IsTransient(%v) = true, expected a digest mismatch to be permanent", err)
	}
}
