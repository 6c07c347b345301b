package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/wasmcas/wasmcas/internal/serve"
	"github.com/wasmcas/wasmcas/internal/serve/servetest"
)

const (
	leafMediaType = "application/vnd.wasmcas.test.leaf"
	artifactType  = "application/vnd.wasmcas.test.artifact"
)

// testTimeout bounds every client call, so that a hung server fails the test
// instead of stalling the package.
const testTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newRepository(t *testing.T, server *serve.Server, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(server.Addr() + "/" + name)
	if err != nil {
		t.Fatalf("create repository client for %s: %v", name, err)
	}
	repo.PlainHTTP = true
	repo.Client = &http.Client{Timeout: testTimeout}
	return repo
}

// blobContent returns n bytes where byte i is i modulo 251, so that any byte
// range has a distinct, predictable value.
func blobContent(n int) []byte {
	content := make([]byte, n)
	for i := range content {
		content[i] = byte(i % 251)
	}
	return content
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	request, err := http.NewRequestWithContext(testContext(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("build GET %s: %v", url, err)
	}
	for key, values := range header {
		request.Header[key] = values
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read body of GET %s: %v", url, err)
	}
	return response, body
}

func TestBlobPushHeadAndRange(t *testing.T) {
	server := servetest.Start(t)
	ctx := testContext(t)
	repo := newRepository(t, server, "parts/range")
	content := blobContent(1000)

	desc, err := oras.PushBytes(ctx, repo, leafMediaType, content)
	if err != nil {
		t.Fatalf("push blob: %v", err)
	}

	exists, err := repo.Exists(ctx, desc)
	if err != nil {
		t.Fatalf("check blob %s: %v", desc.Digest, err)
	}
	if !exists {
		t.Fatalf("blob %s not found after push", desc.Digest)
	}

	server.ResetRequests()
	url := fmt.Sprintf("http://%s/v2/parts/range/blobs/%s", server.Addr(), desc.Digest)
	response, body := get(t, url, http.Header{"Range": {"bytes=10-19"}})

	if response.StatusCode != http.StatusPartialContent {
		t.Fatalf("range GET status = %d, expected %d", response.StatusCode, http.StatusPartialContent)
	}
	if got, expected := response.Header.Get("Content-Range"), "bytes 10-19/1000"; got != expected {
		t.Errorf("Content-Range = %q, expected %q", got, expected)
	}
	if !bytes.Equal(body, content[10:20]) {
		t.Errorf("range body = %v, expected %v", body, content[10:20])
	}

	requests := server.Requests()
	if len(requests) != 1 {
		t.Fatalf("request log has %d entries, expected 1: %+v", len(requests), requests)
	}
	expected := serve.Request{
		Method: http.MethodGet,
		Path:   "/v2/parts/range/blobs/" + desc.Digest.String(),
		Range:  "bytes=10-19",
		Status: http.StatusPartialContent,
		Bytes:  10,
	}
	if requests[0] != expected {
		t.Errorf("request log entry = %+v, expected %+v", requests[0], expected)
	}
}

func TestManifestTagAndList(t *testing.T) {
	server := servetest.Start(t)
	ctx := testContext(t)
	repo := newRepository(t, server, "parts/manifest")

	leaf, err := oras.PushBytes(ctx, repo, leafMediaType, blobContent(64))
	if err != nil {
		t.Fatalf("push leaf blob: %v", err)
	}
	manifest, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{leaf},
	})
	if err != nil {
		t.Fatalf("push manifest: %v", err)
	}
	for _, tag := range []string{"v1", "latest"} {
		if err := repo.Tag(ctx, manifest, tag); err != nil {
			t.Fatalf("tag manifest as %s: %v", tag, err)
		}
	}

	resolved, err := repo.Resolve(ctx, "v1")
	if err != nil {
		t.Fatalf("resolve tag v1: %v", err)
	}
	if resolved.Digest != manifest.Digest {
		t.Errorf("tag v1 resolved to %s, expected %s", resolved.Digest, manifest.Digest)
	}
	if resolved.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("tag v1 media type = %q, expected %q", resolved.MediaType, ocispec.MediaTypeImageManifest)
	}

	var tags []string
	err = repo.Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("list tags: %v", err)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"latest", "v1"}) {
		t.Errorf("tags = %v, expected [latest v1]", tags)
	}

	var stored ocispec.Manifest
	fetchJSON(t, repo, manifest, &stored)
	if stored.ArtifactType != artifactType {
		t.Errorf("stored artifactType = %q, expected %q", stored.ArtifactType, artifactType)
	}
	if len(stored.Layers) != 1 || stored.Layers[0].Digest != leaf.Digest {
		t.Errorf("stored layers = %+v, expected the leaf %s", stored.Layers, leaf.Digest)
	}
}

func fetchJSON(t *testing.T, repo *remote.Repository, desc ocispec.Descriptor, into any) {
	t.Helper()
	reader, err := repo.Fetch(testContext(t), desc)
	if err != nil {
		t.Fatalf("fetch %s: %v", desc.Digest, err)
	}
	defer reader.Close()
	if err := json.NewDecoder(reader).Decode(into); err != nil {
		t.Fatalf("decode %s: %v", desc.Digest, err)
	}
}

func TestReferrersWithSubject(t *testing.T) {
	server := servetest.Start(t)
	ctx := testContext(t)
	repo := newRepository(t, server, "parts/referrers")

	subject, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{})
	if err != nil {
		t.Fatalf("push subject manifest: %v", err)
	}
	referrer, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, "application/vnd.wasmcas.test.signature", oras.PackManifestOptions{
		Subject: &subject,
	})
	if err != nil {
		t.Fatalf("push referrer manifest: %v", err)
	}

	var stored ocispec.Manifest
	fetchJSON(t, repo, referrer, &stored)
	if stored.Subject == nil || stored.Subject.Digest != subject.Digest {
		t.Fatalf("stored subject = %+v, expected %s", stored.Subject, subject.Digest)
	}

	var found []ocispec.Descriptor
	err = repo.Referrers(ctx, subject, "", func(page []ocispec.Descriptor) error {
		found = append(found, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("list referrers of %s: %v", subject.Digest, err)
	}
	if len(found) != 1 || found[0].Digest != referrer.Digest {
		t.Errorf("referrers = %+v, expected only %s", found, referrer.Digest)
	}

	// Distribution 3.1.2 has no referrers endpoint, so oras-go falls back to
	// the tag schema from the OCI distribution spec. This check records that
	// assumption and fails if a future Distribution starts serving the API.
	url := fmt.Sprintf("http://%s/v2/parts/referrers/referrers/%s", server.Addr(), subject.Digest)
	response, _ := get(t, url, nil)
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("referrers API status = %d, expected %d", response.StatusCode, http.StatusNotFound)
	}
}

func TestCrossRepositoryMount(t *testing.T) {
	server := servetest.Start(t)
	ctx := testContext(t)
	source := newRepository(t, server, "parts/source")
	target := newRepository(t, server, "parts/target")

	desc, err := oras.PushBytes(ctx, source, leafMediaType, blobContent(300))
	if err != nil {
		t.Fatalf("push blob to source: %v", err)
	}

	server.ResetRequests()
	getContent := func() (io.ReadCloser, error) {
		return nil, errors.New("mount fell back to uploading the content")
	}
	if err := target.Mount(ctx, desc, "parts/source", getContent); err != nil {
		t.Fatalf("mount %s from parts/source: %v", desc.Digest, err)
	}

	requests := server.Requests()
	if len(requests) != 1 {
		t.Fatalf("mount made %d requests, expected 1: %+v", len(requests), requests)
	}
	if requests[0].Method != http.MethodPost || requests[0].Status != http.StatusCreated {
		t.Errorf("mount request = %+v, expected POST with status 201", requests[0])
	}

	exists, err := target.Exists(ctx, desc)
	if err != nil {
		t.Fatalf("check mounted blob: %v", err)
	}
	if !exists {
		t.Errorf("blob %s not found in parts/target after mount", desc.Digest)
	}
}

func TestChunkedUpload(t *testing.T) {
	server := servetest.Start(t)
	ctx := testContext(t)
	content := blobContent(2500)
	blobDigest := digest.FromBytes(content)
	base := "http://" + server.Addr()

	response := do(t, http.MethodPost, base+"/v2/parts/chunked/blobs/uploads/", nil, nil)
	if response.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload status = %d, expected %d", response.StatusCode, http.StatusAccepted)
	}
	location := response.Header.Get("Location")

	const chunkSize = 1000
	for offset := 0; offset < len(content); offset += chunkSize {
		end := min(offset+chunkSize, len(content))
		header := http.Header{
			"Content-Type":  {"application/octet-stream"},
			"Content-Range": {fmt.Sprintf("%d-%d", offset, end-1)},
		}
		response = do(t, http.MethodPatch, resolveLocation(base, location), header, content[offset:end])
		if response.StatusCode != http.StatusAccepted {
			t.Fatalf("upload chunk at offset %d status = %d, expected %d", offset, response.StatusCode, http.StatusAccepted)
		}
		location = response.Header.Get("Location")
	}

	finish := resolveLocation(base, location)
	separator := "?"
	if strings.Contains(finish, "?") {
		separator = "&"
	}
	response = do(t, http.MethodPut, finish+separator+"digest="+blobDigest.String(), nil, nil)
	if response.StatusCode != http.StatusCreated {
		t.Fatalf("finish upload status = %d, expected %d", response.StatusCode, http.StatusCreated)
	}

	repo := newRepository(t, server, "parts/chunked")
	reader, err := repo.Fetch(ctx, ocispec.Descriptor{MediaType: leafMediaType, Digest: blobDigest, Size: int64(len(content))})
	if err != nil {
		t.Fatalf("fetch uploaded blob: %v", err)
	}
	defer reader.Close()
	fetched, err := io.ReadAll(reader)
	if err != nil {
		t.Fatalf("read uploaded blob: %v", err)
	}
	if !bytes.Equal(fetched, content) {
		t.Errorf("fetched %d bytes that differ from the %d uploaded", len(fetched), len(content))
	}
}

func resolveLocation(base, location string) string {
	if strings.HasPrefix(location, "/") {
		return base + location
	}
	return location
}

func do(t *testing.T, method, url string, header http.Header, body []byte) *http.Response {
	t.Helper()
	request, err := http.NewRequestWithContext(testContext(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("build %s %s: %v", method, url, err)
	}
	for key, values := range header {
		request.Header[key] = values
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, response.Body)
	_ = response.Body.Close()
	return response
}

func TestRestartKeepsContent(t *testing.T) {
	root := t.TempDir()
	ctx := testContext(t)
	logger := slog.New(slog.DiscardHandler)
	content := blobContent(500)

	first, err := serve.Start(ctx, serve.Config{Addr: "127.0.0.1:0", Root: root, Logger: logger})
	if err != nil {
		t.Fatalf("start first registry: %v", err)
	}
	repo := newRepository(t, first, "parts/restart")
	leaf, err := oras.PushBytes(ctx, repo, leafMediaType, content)
	if err != nil {
		t.Fatalf("push blob: %v", err)
	}
	manifest, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{leaf},
	})
	if err != nil {
		t.Fatalf("push manifest: %v", err)
	}
	if err := repo.Tag(ctx, manifest, "v1"); err != nil {
		t.Fatalf("tag manifest: %v", err)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("shut down first registry: %v", err)
	}

	second, err := serve.Start(ctx, serve.Config{Addr: "127.0.0.1:0", Root: root, Logger: logger})
	if err != nil {
		t.Fatalf("start second registry: %v", err)
	}
	t.Cleanup(func() { _ = second.Shutdown(context.Background()) })

	repo = newRepository(t, second, "parts/restart")
	resolved, err := repo.Resolve(ctx, "v1")
	if err != nil {
		t.Fatalf("resolve tag after restart: %v", err)
	}
	if resolved.Digest != manifest.Digest {
		t.Errorf("tag v1 resolved to %s after restart, expected %s", resolved.Digest, manifest.Digest)
	}
	reader, err := repo.Fetch(ctx, leaf)
	if err != nil {
		t.Fatalf("fetch blob after restart: %v", err)
	}
	defer reader.Close()
	fetched, err := io.ReadAll(reader)
	if err != nil {
		t.Fatalf("read blob after restart: %v", err)
	}
	if !bytes.Equal(fetched, content) {
		t.Errorf("blob after restart differs from the pushed content")
	}
}

func TestStartInvalidConfig(t *testing.T) {
	fileRoot := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileRoot, []byte("not a directory"), 0o644); err != nil {
		t.Fatalf("create file %s: %v", fileRoot, err)
	}

	cases := []struct {
		name     string
		config   serve.Config
		contains string
	}{
		{"empty root", serve.Config{Addr: "127.0.0.1:0"}, "missing registry root"},
		{"root is file", serve.Config{Addr: "127.0.0.1:0", Root: fileRoot}, fileRoot},
		{"missing port", serve.Config{Addr: "127.0.0.1", Root: t.TempDir()}, `"127.0.0.1"`},
		{"port out of range", serve.Config{Addr: "127.0.0.1:70000", Root: t.TempDir()}, `"127.0.0.1:70000"`},
		{"port not number", serve.Config{Addr: "127.0.0.1:http2", Root: t.TempDir()}, `"127.0.0.1:http2"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.config.Logger = slog.New(slog.DiscardHandler)
			server, err := serve.Start(context.Background(), tc.config)
			if err == nil {
				_ = server.Shutdown(context.Background())
				t.Fatalf("Start succeeded, expected an error")
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func TestStartAddressInUse(t *testing.T) {
	busy := servetest.Start(t)

	_, err := serve.Start(context.Background(), serve.Config{
		Addr:   busy.Addr(),
		Root:   t.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil {
		t.Fatalf("Start on busy address %s succeeded, expected an error", busy.Addr())
	}
	if !strings.Contains(err.Error(), busy.Addr()) {
		t.Errorf("error %q does not name the address %s", err, busy.Addr())
	}
}

func TestShutdownTwice(t *testing.T) {
	server, err := serve.Start(context.Background(), serve.Config{
		Addr:   "127.0.0.1:0",
		Root:   t.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}

	for call := 1; call <= 2; call++ {
		if err := server.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown call %d: %v", call, err)
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	if response, err := client.Get("http://" + server.Addr() + "/v2/"); err == nil {
		_ = response.Body.Close()
		t.Errorf("registry still answers after Shutdown with status %d", response.StatusCode)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	records := make(chan slog.Record, 16)
	logger := slog.New(&recordHandler{records: records})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	done := make(chan error, 1)
	go func() {
		done <- serve.Run(ctx, serve.Config{Addr: "127.0.0.1:0", Root: t.TempDir(), Logger: logger})
	}()

	started := waitForRecord(t, records, "registry started")
	addr := attrValue(started, "addr")
	if addr == "" {
		t.Fatalf("registry started log has no addr")
	}

	response, _ := get(t, "http://"+addr+"/v2/", nil)
	if response.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ status = %d, expected %d", response.StatusCode, http.StatusOK)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, expected nil after cancel", err)
		}
	case <-time.After(testTimeout):
		t.Fatalf("Run did not return within %s of cancel", testTimeout)
	}
	waitForRecord(t, records, "registry stopped")
}

// recordHandler sends every log record to a channel and drops records when
// the channel is full, so that logging never blocks the server.
type recordHandler struct {
	records chan slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, record slog.Record) error {
	select {
	case h.records <- record.Clone():
	default:
	}
	return nil
}

func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func waitForRecord(t *testing.T, records <-chan slog.Record, message string) slog.Record {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case record := <-records:
			if record.Message == message {
				return record
			}
		case <-timeout:
			t.Fatalf("no %q log record within %s", message, testTimeout)
		}
	}
}

func attrValue(record slog.Record, key string) string {
	var value string
	record.Attrs(func(attr slog.Attr) bool {
		if attr.Key == key {
			value = attr.Value.String()
			return false
		}
		return true
	})
	return value
}
