package split

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcas/wasmcas/internal/testutil"
)

// testdataDir is the repository's testdata folder, relative to this package.
const testdataDir = "../../testdata"

// TestRootDigestVectors checks every root digest listed in
// testdata/digests.txt, the test vectors of docs/format.md. A digest that
// changes means the cut rules or the node encoding changed, which format
// version 1 does not allow.
func TestRootDigestVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(testdataDir, "digests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	vectors := map[string]Digest{}
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := scanner.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		digestText, name, ok := strings.Cut(text, "  ")
		if !ok || name == "" {
			t.Fatalf("digests.txt:%d: expected \"sha256:<hex>  <file name>\", got %q", line, text)
		}
		want, err := ParseDigest(digestText)
		if err != nil {
			t.Fatalf("digests.txt:%d: %v", line, err)
		}
		if _, dup := vectors[name]; dup {
			t.Fatalf("digests.txt:%d: %s is listed twice", line, name)
		}
		vectors[name] = want
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}

	for name, want := range vectors {
		t.Run(name, func(t *testing.T) {
			file, err := OpenFile(context.Background(), filepath.Join(testdataDir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			if got := file.Root.Digest; got != want {
				t.Errorf("%s: root digest %s, expected %s", name, got, want)
			}
		})
	}

	files, err := filepath.Glob(filepath.Join(testdataDir, "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .wasm files in %s", testdataDir)
	}
	for _, path := range files {
		name := filepath.Base(path)
		if _, ok := vectors[name]; !ok {
			t.Errorf("%s has no line in testdata/digests.txt; add its root digest from \"wasmcas digest\"", name)
		}
	}
}

// TestCorpusRootDigests checks the root digests of the corpus files listed
// in testdata/corpus-digests.txt. The corpus holds large custom sections and
// code sections, so these vectors cover byte-level chunking and unit runs
// at sizes the small testdata files do not reach.
func TestCorpusRootDigests(t *testing.T) {
	corpus := testutil.Corpus(t)
	data, err := os.ReadFile(filepath.Join(testdataDir, "corpus-digests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(testutil.CorpusFiles(t)) {
		t.Errorf("corpus-digests.txt lists %d files, the corpus has %d", len(lines), len(testutil.CorpusFiles(t)))
	}
	for _, line := range lines {
		digestText, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("corpus-digests.txt: invalid line %q", line)
		}
		got, err := DigestFile(context.Background(), filepath.Join(corpus, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.String() != digestText {
			t.Errorf("%s: root digest %s, expected %s", name, got, digestText)
		}
	}
}
