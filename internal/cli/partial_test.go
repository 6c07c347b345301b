package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmcas/wasmcas/internal/serve"
	"github.com/wasmcas/wasmcas/internal/serve/servetest"
	"github.com/wasmcas/wasmcas/internal/split"
	"github.com/wasmcas/wasmcas/internal/testutil"
	"github.com/wasmcas/wasmcas/internal/wasmbin"
	"github.com/wasmcas/wasmcas/internal/witinfo"
)

// debugHeavyFiles returns the corpus files whose .debug_* custom sections
// are more than 90% of their size.
func debugHeavyFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, path := range testutil.CorpusFiles(t) {
		out, errOut, code := run(t, "inspect", "--json", path)
		if code != 0 {
			t.Fatalf("inspect %s: %s", path, errOut)
		}
		var res inspectResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if debugBytes(res.Tree) > res.Size*9/10 {
			files = append(files, path)
		}
	}
	if len(files) == 0 {
		t.Fatal("no corpus file is over 90% debug sections")
	}
	return files
}

func debugBytes(n *inspectNode) int64 {
	var total int64
	for _, s := range n.Sections {
		if strings.HasPrefix(s.Name, ".debug_") {
			total += s.Size
		}
		if s.Child != nil {
			total += debugBytes(s.Child)
		}
	}
	return total
}

// customSectionNames lists every custom section name in a binary file,
// nested binaries included.
func customSectionNames(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := wasmbin.Parse(bytes.NewReader(data), 0, int64(len(data)))
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	var names []string
	var walk func(b *wasmbin.Binary)
	walk = func(b *wasmbin.Binary) {
		for _, s := range b.Sections {
			if s.ID == wasmbin.SectionCustom {
				names = append(names, s.Name)
			}
			if s.Child != nil {
				walk(s.Child)
			}
		}
	}
	walk(bin)
	return names
}

// jcoPath returns the jco CLI that npm ci installs at the repository root.
func jcoPath(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "node_modules", ".bin", "jco"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skip("jco is not installed; run npm ci at the repository root (.ci/run does)")
	}
	return path
}

func TestFetchStripDebug(t *testing.T) {
	files := debugHeavyFiles(t)
	jco := jcoPath(t)
	srv := servetest.Start(t)
	for i, path := range files {
		ref := srv.Addr() + "/debug/app:" + string(rune('a'+i))
		if _, errOut, code := run(t, "publish", path, ref); code != 0 {
			t.Fatalf("publish %s: %s", path, errOut)
		}
		out := filepath.Join(t.TempDir(), "stripped.wasm")
		stdout, errOut, code := run(t, "fetch", ref, "-o", out, "--strip-debug", "--json", "--cache-dir", t.TempDir())
		if code != 0 {
			t.Fatalf("fetch %s: %s", path, errOut)
		}
		var res struct {
			BytesDownloaded int64                  `json:"bytes_downloaded"`
			SHA256Checked   bool                   `json:"sha256_checked"`
			OmittedSections []split.OmittedSection `json:"omitted_sections"`
			OmittedBytes    int64                  `json:"omitted_bytes"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("invalid JSON %q: %v", stdout, err)
		}
		st, _ := os.Stat(path)
		if res.BytesDownloaded > st.Size()/10 {
			t.Errorf("%s: downloaded %d bytes, more than 10%% of %d", filepath.Base(path), res.BytesDownloaded, st.Size())
		}
		if res.SHA256Checked || len(res.OmittedSections) == 0 || res.OmittedBytes == 0 {
			t.Errorf("%s: JSON does not state the omission: %s", filepath.Base(path), stdout)
		}
		for _, name := range customSectionNames(t, out) {
			if strings.HasPrefix(name, ".debug_") {
				t.Errorf("%s: output keeps %s", filepath.Base(path), name)
			}
		}
		checkWITLikeOriginal(t, path, out)
		if msg, err := exec.Command(jco, "print", out).CombinedOutput(); err != nil {
			t.Errorf("%s: jco print failed: %v: %s", filepath.Base(path), err, firstLine(msg))
		}
	}
}

// checkWITLikeOriginal checks that the WIT loader decodes out when it
// decodes the original. The wasm-tools inside go.bytecodealliance.org
// v0.7.0 predates the component model's async types, so for those
// components it must fail on out with the same message as on the original.
func checkWITLikeOriginal(t *testing.T, original, out string) {
	t.Helper()
	_, originalErr := witinfo.Load(original)
	_, outErr := witinfo.Load(out)
	switch {
	case originalErr == nil && outErr != nil:
		t.Errorf("%s: WIT of the output: %v", filepath.Base(original), outErr)
	case originalErr != nil && outErr == nil:
		t.Errorf("%s: the output decodes but the original does not: %v", filepath.Base(original), originalErr)
	case originalErr != nil && witMessage(originalErr, original) != witMessage(outErr, out):
		t.Errorf("%s: WIT errors differ: original %v, output %v", filepath.Base(original), originalErr, outErr)
	}
}

// witMessage returns a WIT loader error without its file name and offset.
func witMessage(err error, path string) string {
	message := strings.ReplaceAll(err.Error(), path, "")
	message, _, _ = strings.Cut(message, "(at offset")
	return message
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func TestFetchSelectModules(t *testing.T) {
	corpus := testutil.Corpus(t)
	srv := servetest.Start(t)
	for i, path := range []string{
		filepath.Join(corpus, "pairs", "go-hello-v1.wasm"),
		filepath.Join(corpus, "edge", "comp-nested.wasm"),
	} {
		ref := srv.Addr() + "/nested/app:" + string(rune('a'+i))
		if _, errOut, code := run(t, "publish", path, ref); code != 0 {
			t.Fatalf("publish %s: %s", path, errOut)
		}
		file, err := split.OpenFile(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		original, _ := os.ReadFile(path)
		selected := 0
		split.Walk(file.Root, func(nodePath string, n *split.Node) error {
			if nodePath == "/" || n.Kind != wasmbin.KindModule {
				return nil
			}
			out := filepath.Join(t.TempDir(), "module.wasm")
			if _, errOut, code := run(t, "fetch", ref, "--select", nodePath, "-o", out, "--cache-dir", t.TempDir()); code != 0 {
				t.Fatalf("fetch --select %s of %s: %s", nodePath, path, errOut)
			}
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, original[n.Offset:n.Offset+n.Size]) {
				t.Errorf("%s %s: fetched module differs from its bytes in the file", filepath.Base(path), nodePath)
			}
			selected++
			return nil
		})
		file.Close()
		if selected == 0 {
			t.Errorf("%s: no nested core module", path)
		}
	}
}

// isLeafRequest reports whether a registry request read a pack blob, the
// only blobs that hold leaves.
func isLeafRequest(r serve.Request, packs map[string]bool) bool {
	if r.Method != "GET" || !strings.Contains(r.Path, "/blobs/") {
		return false
	}
	return packs[r.Path[strings.LastIndex(r.Path, "/")+1:]]
}

func TestInspectReferenceReadsNoLeaf(t *testing.T) {
	srv := servetest.Start(t)
	path := filepath.Join("..", "..", "testdata", "hello-go.wasm")
	ref := srv.Addr() + "/inspect/hello:1"
	if _, errOut, code := run(t, "publish", path, ref, "--wit"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	srv.ResetRequests()
	out, errOut, code := run(t, "inspect", ref, "--json", "--cache-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("inspect: %s", errOut)
	}
	var res inspectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if res.FetchBytes == nil || *res.FetchBytes < res.LeafBytes {
		t.Errorf("fetch_bytes %v, want at least the %d leaf bytes", res.FetchBytes, res.LeafBytes)
	}
	if res.WIT == nil || len(res.WIT.Exports) == 0 {
		t.Errorf("wit recorded by publish --wit is missing: %+v", res.WIT)
	}
	fileOut, _, _ := run(t, "inspect", "--json", path)
	var fileRes inspectResult
	json.Unmarshal([]byte(fileOut), &fileRes)
	if res.Digest != fileRes.Digest || res.Nodes != fileRes.Nodes || res.Leaves != fileRes.Leaves {
		t.Errorf("remote tree (%s, %d nodes, %d leaves) differs from the file's (%s, %d, %d)",
			res.Digest, res.Nodes, res.Leaves, fileRes.Digest, fileRes.Nodes, fileRes.Leaves)
	}

	packs := packDigests(t, srv, ref)
	for _, r := range srv.Requests() {
		if isLeafRequest(r, packs) {
			t.Errorf("inspect requested a pack: %s %s", r.Method, r.Path)
		}
	}
}

// packDigests returns the pack digests of the artifact at ref, read through
// a fetch into a layout-free run of inspect on the published file's plan.
func packDigests(t *testing.T, srv *serve.Server, ref string) map[string]bool {
	t.Helper()
	packs := map[string]bool{}
	dir := t.TempDir()
	if _, errOut, code := run(t, "split", filepath.Join("..", "..", "testdata", "hello-go.wasm"), "-o", dir); code != 0 {
		t.Fatalf("split: %s", errOut)
	}
	_, st, err := openLayout(t.Context(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for d := range st.Packs {
		packs[d.String()] = true
	}
	if len(packs) == 0 {
		t.Fatal("artifact has no pack")
	}
	return packs
}

// firstWriteRecorder records how many pack requests the registry had seen
// when the first output byte arrived.
type firstWriteRecorder struct {
	mu              sync.Mutex
	buf             bytes.Buffer
	requestsAtFirst int
	seen            bool
	count           func() int
}

func (w *firstWriteRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen && len(p) > 0 {
		w.seen = true
		w.requestsAtFirst = w.count()
	}
	return w.buf.Write(p)
}

func TestFetchStreamsBeforeLastRequest(t *testing.T) {
	corpus := testutil.Corpus(t)
	path := filepath.Join(corpus, "pairs", "js-hello-v1.wasm")
	srv := servetest.Start(t)
	ref := srv.Addr() + "/stream/js:1"
	if _, errOut, code := run(t, "publish", path, ref); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	rangeRequests := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Method == "GET" && r.Range != "" {
				n++
			}
		}
		return n
	}
	srv.ResetRequests()
	out := &firstWriteRecorder{count: rangeRequests}
	var errOut bytes.Buffer
	code := Run(t.Context(), []string{"fetch", ref, "-o", "-", "--concurrency", "1", "--cache-dir", t.TempDir()},
		Streams{In: strings.NewReader(""), Out: out, ErrOut: &errOut})
	if code != 0 {
		t.Fatalf("fetch -o -: %s", errOut.String())
	}
	want, _ := os.ReadFile(path)
	if !bytes.Equal(out.buf.Bytes(), want) {
		t.Fatal("streamed bytes differ from the file")
	}
	total := rangeRequests()
	if total < 2 {
		t.Fatalf("only %d range requests; the test needs several", total)
	}
	if out.requestsAtFirst >= total {
		t.Errorf("first bytes arrived after %d of %d range requests, want before the last", out.requestsAtFirst, total)
	}

	fileOut := filepath.Join(t.TempDir(), "js.wasm")
	if _, errOut, code := run(t, "fetch", ref, "-o", fileOut, "--cache-dir", t.TempDir()); code != 0 {
		t.Fatalf("fetch -o FILE: %s", errOut)
	}
	if got, _ := os.ReadFile(fileOut); !bytes.Equal(got, out.buf.Bytes()) {
		t.Error("-o FILE and -o - wrote different bytes")
	}
}

func TestSplicePartialLayout(t *testing.T) {
	files := debugHeavyFiles(t)
	path := files[0]
	dir := t.TempDir()
	if _, errOut, code := run(t, "split", path, "-o", dir); code != 0 {
		t.Fatalf("split: %s", errOut)
	}
	out := filepath.Join(t.TempDir(), "stripped.wasm")
	stdout, errOut, code := run(t, "splice", dir, "--strip-debug", "-o", out)
	if code != 0 {
		t.Fatalf("splice --strip-debug: %s", errOut)
	}
	_ = stdout
	for _, name := range customSectionNames(t, out) {
		if strings.HasPrefix(name, ".debug_") {
			t.Errorf("output keeps %s", name)
		}
	}
	stdout, errOut, code = run(t, "splice", dir, "--select", "/0", "-o", "-")
	if code != 0 {
		t.Fatalf("splice --select /0 -o -: %s", errOut)
	}
	if _, err := wasmbin.Parse(strings.NewReader(stdout), 0, int64(len(stdout))); err != nil {
		t.Errorf("selected /0 does not parse: %v", err)
	}
	_, errOut, code = run(t, "splice", dir, "--select", "/9", "-o", out)
	if code == 0 || !strings.Contains(errOut, "/9") {
		t.Errorf("missing path: status %d, stderr %q", code, errOut)
	}
}
