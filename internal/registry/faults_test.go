package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmcas/wasmcas/internal/transfer/faultproxy"
)

// isRangeGET matches a blob GET with a Range header, which only the
// download of pack ranges sends.
func isRangeGET(r *http.Request) bool {
	return faultproxy.BlobGET(r) && r.Header.Get("Range") != ""
}

// countFaults returns how many requests in the proxy's log got fault injected.
func countFaults(proxy *faultproxy.Proxy, fault faultproxy.Fault) int {
	n := 0
	for _, logged := range proxy.Requests() {
		if logged.Fault == fault {
			n++
		}
	}
	return n
}

// proxyRef returns the reference of repository:tag of the shared registry
// as reached through proxy.
func proxyRef(proxy *faultproxy.Proxy, repository, tag string) string {
	return proxy.Host() + "/" + repository + ":" + tag
}

func TestFetchTransientFaults(t *testing.T) {
	server := startSharedRegistry(t)
	proxy := faultproxy.Start(t, "http://"+server.Addr(),
		faultproxy.Rule{Match: faultproxy.BlobGET, Fault: faultproxy.Status500, Times: 2},
		faultproxy.Rule{Match: faultproxy.BlobGET, Fault: faultproxy.Reset, Times: 1},
		faultproxy.Rule{Match: faultproxy.ManifestRequest, Fault: faultproxy.Status429, Times: 1},
	)

	_, output := fetchRef(t, proxyRef(proxy, jsRepository, "v2"), remoteOptions(), FetchOptions{Cache: newCache(t)})
	checkSameFile(t, output, corpusPair(t, "js-hello-v2.wasm"))
	expected := map[faultproxy.Fault]int{faultproxy.Status500: 2, faultproxy.Reset: 1, faultproxy.Status429: 1}
	for fault, want := range expected {
		if got := countFaults(proxy, fault); got != want {
			t.Errorf("proxy injected %v %d times, expected %d", fault, got, want)
		}
	}
}

func TestFetchTruncated(t *testing.T) {
	server := startSharedRegistry(t)
	rules := []struct {
		name  string
		match func(*http.Request) bool
	}{
		// The first blob GET of a fetch with an empty cache is the config.
		{"FirstBlob", faultproxy.BlobGET},
		{"Range", isRangeGET},
		// A HEAD has no body to truncate, so only the GET is matched.
		{"Manifest", func(r *http.Request) bool {
			return faultproxy.ManifestRequest(r) && r.Method == http.MethodGet
		}},
	}
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: rule.match, Fault: faultproxy.Truncate, Times: 1})
			ref := proxyRef(proxy, goRepository, "v2")
			target := openRef(t, ref, remoteOptions(), false)
			output := fetchOutput(t)

			_, err := Fetch(context.Background(), target, output, FetchOptions{Cache: newCache(t), Concurrency: 8, Retry: testRetry})
			if got := countFaults(proxy, faultproxy.Truncate); got != 1 {
				t.Errorf("proxy truncated %d responses, expected 1", got)
			}
			if err != nil {
				t.Fatalf("fetch %s with one truncated response: %v", ref, err)
			}
			checkSameFile(t, output, corpusPair(t, "go-hello-v2.wasm"))
		})
	}
}

func TestFetchCorrupt(t *testing.T) {
	server := startSharedRegistry(t)
	rules := []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"EveryBlob", faultproxy.BlobGET},
		{"Range", isRangeGET},
	}
	for _, rule := range rules {
		t.Run(rule.name, func(t *testing.T) {
			proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: rule.match, Fault: faultproxy.Corrupt})
			ref := proxyRef(proxy, goRepository, "v2")
			target := openRef(t, ref, remoteOptions(), false)
			c := newCache(t)
			output := fetchOutput(t)
			previous := []byte("content from before the fetch\n")
			if err := os.WriteFile(output, previous, 0o644); err != nil {
				t.Fatal(err)
			}

			_, err := Fetch(context.Background(), target, output, FetchOptions{Cache: c, Concurrency: 8, Retry: testRetry})
			if err == nil {
				t.Fatal("fetch with corrupted blobs succeeded")
			}
			t.Logf("fetch error: %v", err)
			if !strings.Contains(err.Error(), "sha256:") {
				t.Errorf("error %q names no sha256: digest", err)
			}
			if !strings.Contains(err.Error(), proxy.Host()) {
				t.Errorf("error %q does not name the registry host %s", err, proxy.Host())
			}
			if got := countFaults(proxy, faultproxy.Corrupt); got == 0 {
				t.Error("proxy corrupted no response")
			}

			data, err := os.ReadFile(output)
			if err != nil {
				t.Fatalf("read output after the failed fetch: %v", err)
			}
			if !bytes.Equal(data, previous) {
				t.Errorf("output contains %d bytes after the failed fetch, expected its previous %d bytes unchanged", len(data), len(previous))
			}
			entries, err := os.ReadDir(filepath.Dir(output))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("output directory contains %d entries after the failed fetch, expected only %s", len(entries), filepath.Base(output))
			}
			if _, temporary := checkCacheVerified(t, c.Dir()); temporary != 0 {
				t.Errorf("cache contains %d temporary files after the failed fetch, expected 0", temporary)
			}
		})
	}
}

func TestFetchSlow(t *testing.T) {
	server := startSharedRegistry(t)
	proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: faultproxy.BlobGET, Fault: faultproxy.Slow})
	proxy.SetSlowDelay(2 * time.Millisecond)
	ref := proxyRef(proxy, jsRepository, "v2")
	target := openRef(t, ref, remoteOptions(), false)
	output := fetchOutput(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Fetch(ctx, target, output, FetchOptions{Cache: newCache(t), Concurrency: 8, Retry: testRetry})
	if err != nil {
		t.Fatalf("fetch %s through slow responses: %v", ref, err)
	}
	t.Logf("fetch through slow responses took %v", time.Since(start))
	checkSameFile(t, output, corpusPair(t, "js-hello-v2.wasm"))
	if got := countFaults(proxy, faultproxy.Slow); got == 0 {
		t.Error("proxy slowed no response")
	}
}

// buildCLI builds cmd/wasmcas into a temporary directory and returns the
// binary's path.
func buildCLI(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	binary := filepath.Join(t.TempDir(), "wasmcas")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/wasmcas")
	build.Dir = root
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wasmcas: %v\n%s", err, output)
	}
	return binary
}

// cliCommand returns a command that runs the CLI with a home, data and
// Docker config directory of its own.
func cliCommand(ctx context.Context, t *testing.T, binary string, args ...string) *exec.Cmd {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"DOCKER_CONFIG="+filepath.Join(home, "docker"),
	)
	return cmd
}

func TestFetchKilled(t *testing.T) {
	server := startSharedRegistry(t)
	path := corpusPair(t, "go-hello-v1.wasm")
	binary := buildCLI(t)

	proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: isRangeGET, Fault: faultproxy.Slow})
	// The pack of go-hello-v1 is about 3 MB, about 95 chunks of 32 KiB, so
	// its range takes several seconds at 50ms a chunk.
	proxy.SetSlowDelay(50 * time.Millisecond)
	ref := proxyRef(proxy, goRepository, "v1")
	cacheDir := t.TempDir()
	output := fetchOutput(t)
	args := []string{"fetch", ref, "-o", output, "--cache-dir", cacheDir, "--json", "--progress", "never"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	first := cliCommand(ctx, t, binary, args...)
	first.Stderr = &stderr
	if err := first.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}

	// Kill once a range has sent 256 KiB, so some leaves are cached and
	// the rest are still on their way.
	deadline := time.Now().Add(10 * time.Second)
	for !rangeStarted(proxy, 256<<10) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Kill fails only when the process has already exited, which Wait
	// reports below.
	_ = first.Process.Kill()
	err := first.Wait()
	status, ok := first.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Fatalf("fetch exited with %v before it was killed; stderr: %s", err, stderr.String())
	}
	if _, err := os.Lstat(output); err == nil {
		t.Error("output exists after the fetch was killed, expected it to be written only on success")
	}
	entries, temporary := checkCacheVerified(t, cacheDir)
	t.Logf("cache after the kill: %d verified entries, %d temporary files", entries, temporary)

	proxy.SetRules()
	var stdout bytes.Buffer
	stderr.Reset()
	second := cliCommand(ctx, t, binary, args...)
	second.Stdout = &stdout
	second.Stderr = &stderr
	if err := second.Run(); err != nil {
		t.Fatalf("fetch after the kill: %v; stderr: %s", err, stderr.String())
	}
	checkSameFile(t, output, path)
	var res FetchResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("fetch --json output %q: %v", stdout.String(), err)
	}
	t.Logf("fetch after the kill downloaded %d bytes with %d bytes from the cache", res.BytesDownloaded, res.BytesCached)
	if res.SHA256 != fileSHA256(t, path) {
		t.Errorf("result SHA256 = %s, expected %s", res.SHA256, fileSHA256(t, path))
	}
}

// rangeStarted reports whether the proxy has sent at least n bytes of one
// ranged blob GET.
func rangeStarted(proxy *faultproxy.Proxy, n int64) bool {
	for _, logged := range proxy.Requests() {
		if logged.Range != "" && logged.BytesSent >= n {
			return true
		}
	}
	return false
}

// uploads counts the blob upload requests (POST and PUT) the proxy saw.
func uploads(proxy *faultproxy.Proxy) int {
	n := 0
	for _, logged := range proxy.Requests() {
		if (logged.Method == http.MethodPost || logged.Method == http.MethodPut) && strings.Contains(logged.Path, "/blobs/uploads/") {
			n++
		}
	}
	return n
}

func TestPublishKilled(t *testing.T) {
	server := startSharedRegistry(t)
	path := corpusPair(t, "js-hello-v1.wasm")
	binary := buildCLI(t)

	// Each run kills the publish after a different number of upload
	// requests, so the registry is left with different sets of blobs.
	for run, killAfter := range []int{1, 5, 11} {
		proxy := faultproxy.Start(t, "http://"+server.Addr(), faultproxy.Rule{Match: func(r *http.Request) bool {
			return r.Method == http.MethodPut
		}, Fault: faultproxy.Slow})
		proxy.SetSlowDelay(20 * time.Millisecond)
		// A repository per run, so no run finds the blobs of another.
		ref := proxyRef(proxy, "killed/js"+string(rune('a'+run)), "run"+string(rune('a'+run)))
		args := []string{"publish", path, ref, "--json", "--progress", "never", "--concurrency", "1"}

		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		var stderr bytes.Buffer
		first := cliCommand(ctx, t, binary, args...)
		first.Stderr = &stderr
		if err := first.Start(); err != nil {
			cancel()
			t.Fatalf("start %s: %v", binary, err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for uploads(proxy) < killAfter && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		_ = first.Process.Kill()
		first.Wait()
		status, ok := first.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !status.Signaled() {
			cancel()
			t.Fatalf("run %d: publish exited before it was killed; stderr: %s", run, stderr.String())
		}
		if _, err := openRef(t, ref, remoteOptions(), false).Resolve(ctx, "run"+string(rune('a'+run))); err == nil {
			t.Errorf("run %d: the tag exists after a killed publish; the manifest must come last", run)
		}

		proxy.SetRules()
		var stdout bytes.Buffer
		stderr.Reset()
		second := cliCommand(ctx, t, binary, args...)
		second.Stdout = &stdout
		second.Stderr = &stderr
		if err := second.Run(); err != nil {
			cancel()
			t.Fatalf("run %d: publish after the kill: %v; stderr: %s", run, err, stderr.String())
		}
		var res PublishResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			cancel()
			t.Fatalf("publish --json output %q: %v", stdout.String(), err)
		}
		t.Logf("run %d: killed after %d uploads; the second publish uploaded %d of %d blobs", run, killAfter, res.BlobsUploaded, res.Blobs)

		_, output := fetchRef(t, ref, remoteOptions(), FetchOptions{Cache: newCache(t)})
		checkSameFile(t, output, path)
		cancel()
	}
}
