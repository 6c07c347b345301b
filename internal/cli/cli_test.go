package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcas/wasmcas/internal/testutil"
)

// run runs wasmcas with args and returns stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	code := Run(context.Background(), args, streams)
	return out.String(), errOut.String(), code
}

func TestBadFilesFailOnOneLine(t *testing.T) {
	for _, path := range testutil.BadCorpusFiles(t) {
		for _, command := range []string{"digest", "inspect"} {
			start := time.Now()
			out, errOut, code := run(t, command, path)
			if code == 0 {
				t.Errorf("%s %s: exit status 0", command, path)
			}
			if out != "" {
				t.Errorf("%s %s: stdout %q, want empty", command, path, out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "wasmcas: ") {
				t.Errorf("%s %s: stderr %q, want one line starting with wasmcas:", command, path, errOut)
			}
			if !strings.Contains(errOut, filepath.Base(path)) || !strings.Contains(errOut, "offset") {
				t.Errorf("%s %s: stderr %q does not name the file and the offset", command, path, errOut)
			}
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("%s %s took %v, want under a second", command, path, elapsed)
			}
		}
	}
}

func TestDigestOfFileEqualsLayout(t *testing.T) {
	files := append(testutil.CorpusFiles(t), filepath.Join("..", "..", "testdata", "hello-go.wasm"))
	for _, path := range files {
		fileDigest, _, code := run(t, "digest", path)
		if code != 0 {
			t.Fatalf("digest %s: exit status %d", path, code)
		}
		dir := t.TempDir()
		if _, errOut, code := run(t, "split", path, "-o", dir); code != 0 {
			t.Fatalf("split %s: %s", path, errOut)
		}
		layoutDigest, errOut, code := run(t, "digest", dir)
		if code != 0 {
			t.Fatalf("digest of the layout of %s: %s", path, errOut)
		}
		if fileDigest != layoutDigest {
			t.Errorf("%s: file digest %q, layout digest %q", path, fileDigest, layoutDigest)
		}
		out := filepath.Join(t.TempDir(), "out.wasm")
		if _, errOut, code := run(t, "splice", dir, "-o", out); code != 0 {
			t.Fatalf("splice %s: %s", path, errOut)
		}
		want, _ := os.ReadFile(path)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: spliced file differs", path)
		}
	}
}

func TestDiffPairsBeatByteChunking(t *testing.T) {
	corpus := testutil.Corpus(t)
	tests := []struct {
		pair string
		// limit is the project's target for the pair. byteCDC is the upload
		// of byte-level content-defined chunking at 8 KiB average chunks.
		limit, byteCDC int64
	}{
		{"js-hello", 1_100_000, 1_307_548},
		{"go-hello", 2_450_000, 2_599_894},
	}
	for _, tt := range tests {
		old := filepath.Join(corpus, "pairs", tt.pair+"-v1.wasm")
		new := filepath.Join(corpus, "pairs", tt.pair+"-v2.wasm")
		out, errOut, code := run(t, "diff", old, new, "--json")
		if code != 0 {
			t.Fatalf("diff %s: %s", tt.pair, errOut)
		}
		var res diffResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("diff %s: invalid JSON %q: %v", tt.pair, out, err)
		}
		if res.NewBytes > tt.limit {
			t.Errorf("%s: new_bytes %d, want at most %d", tt.pair, res.NewBytes, tt.limit)
		}
		if res.NewBytes >= tt.byteCDC {
			t.Errorf("%s: new_bytes %d, not below byte-level chunking's %d", tt.pair, res.NewBytes, tt.byteCDC)
		}
		if res.NewSize <= 0 || res.OldSize <= 0 || res.SharedBytes <= 0 || res.NewBlobs <= 0 || res.Blobs < res.NewBlobs {
			t.Errorf("%s: implausible result %+v", tt.pair, res)
		}
	}
}

func TestSplitLayoutWithSeveralArtifacts(t *testing.T) {
	corpus := testutil.Corpus(t)
	dir := t.TempDir()
	for _, tag := range []string{"v1", "v2"} {
		path := filepath.Join(corpus, "pairs", "go-hello-"+tag+".wasm")
		if _, errOut, code := run(t, "split", path, "-o", dir, "--tag", tag); code != 0 {
			t.Fatalf("split %s: %s", tag, errOut)
		}
	}
	_, errOut, code := run(t, "digest", dir)
	if code == 0 || !strings.Contains(errOut, "--tag") {
		t.Errorf("digest of a layout with two artifacts: status %d, stderr %q; want a request for --tag", code, errOut)
	}
	out := filepath.Join(t.TempDir(), "v1.wasm")
	if _, errOut, code := run(t, "splice", dir, "--tag", "v1", "-o", out); code != 0 {
		t.Fatalf("splice v1: %s", errOut)
	}
	want, _ := os.ReadFile(filepath.Join(corpus, "pairs", "go-hello-v1.wasm"))
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Error("spliced v1 differs from the file")
	}
}

func TestInspectJSON(t *testing.T) {
	out, errOut, code := run(t, "inspect", "--json", filepath.Join("..", "..", "testdata", "hello-go.wasm"))
	if code != 0 {
		t.Fatalf("inspect: %s", errOut)
	}
	var res inspectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if res.Kind != "component" || res.Tree.Path != "/" {
		t.Errorf("kind %q, root path %q", res.Kind, res.Tree.Path)
	}
	modules := 0
	for _, s := range res.Tree.Sections {
		if s.Child != nil && s.Child.Kind == "module" {
			modules++
			if !strings.HasPrefix(s.Child.Path, "/") || s.Child.Path == "/" {
				t.Errorf("nested module path %q", s.Child.Path)
			}
		}
	}
	if modules == 0 {
		t.Error("no nested core module listed")
	}
}

func TestSpliceLeavesNoPartialOutput(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := run(t, "split", filepath.Join("..", "..", "testdata", "hello-go.wasm"), "-o", dir); code != 0 {
		t.Fatalf("split: %s", errOut)
	}

	// Damage the largest blob, a pack: splice must fail and leave OUT as
	// it was.
	packs, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	var biggest string
	var size int64
	for _, p := range packs {
		if st, _ := os.Stat(p); st.Size() > size {
			biggest, size = p, st.Size()
		}
	}
	data, _ := os.ReadFile(biggest)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(biggest, data, 0o644); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "out.wasm")
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "splice", dir, "-o", out)
	if code == 0 {
		t.Fatal("splice of a damaged layout succeeded")
	}
	if !strings.Contains(errOut, "sha256:") {
		t.Errorf("stderr %q does not name a digest", errOut)
	}
	if got, _ := os.ReadFile(out); string(got) != "previous" {
		t.Errorf("OUT changed to %d bytes", len(got))
	}
}

func TestConfigFileAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("concurrency: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "--config", config, "fetch", "acme/none:1", "-o", filepath.Join(dir, "out"), "--store-dir", dir, "--cache-dir", dir)
	if code == 0 || !strings.Contains(errOut, "invalid concurrency in config file "+config+": 0 is not between 1 and 256") {
		t.Errorf("config concurrency 0: status %d, stderr %q", code, errOut)
	}
	t.Setenv("WASMCAS_CONCURRENCY", "300")
	_, errOut, _ = run(t, "--config", config, "fetch", "acme/none:1", "-o", filepath.Join(dir, "out"), "--store-dir", dir, "--cache-dir", dir)
	if !strings.Contains(errOut, "invalid concurrency in WASMCAS_CONCURRENCY: 300") {
		t.Errorf("environment should win over the config file: stderr %q", errOut)
	}
	_, errOut, _ = run(t, "--config", config, "fetch", "acme/none:1", "-o", filepath.Join(dir, "out"), "--store-dir", dir, "--cache-dir", dir, "--concurrency", "4")
	if !strings.Contains(errOut, "not found") {
		t.Errorf("flag should win over the environment: stderr %q", errOut)
	}
}

func TestConfigErrorsNameTheirSource(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte("concurency: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, _ := run(t, "--config", config, "digest", filepath.Join("..", "..", "testdata", "padded-leb.wasm"))
	if !strings.Contains(errOut, `unknown key "concurency" in config file `+config) {
		t.Errorf("a misspelt key gave stderr %q, want a warning naming it", errOut)
	}

	t.Setenv("WASMCAS_CONCURRENCY", "lots")
	_, errOut, code := run(t, "fetch", "acme/none:1", "-o", filepath.Join(dir, "out"), "--store-dir", dir, "--cache-dir", dir)
	if code == 0 || !strings.Contains(errOut, `invalid concurrency "lots" in WASMCAS_CONCURRENCY`) || strings.Contains(errOut, "strconv") {
		t.Errorf("status %d, stderr %q; want an error naming WASMCAS_CONCURRENCY without Go internals", code, errOut)
	}
}
