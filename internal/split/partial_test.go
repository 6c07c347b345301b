package split

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmcas/wasmcas/internal/testutil"
	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// customNames parses a binary and returns the names of all its custom
// sections, nested binaries included.
func customNames(t *testing.T, data []byte) []string {
	t.Helper()
	bin, err := wasmbin.Parse(bytes.NewReader(data), 0, int64(len(data)))
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
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

func TestStripDebugCorpus(t *testing.T) {
	ctx := context.Background()
	checked := 0
	for _, path := range testutil.CorpusFiles(t) {
		file, err := OpenFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		sel := Select(file.Root, Filter{StripDebug: true})
		if sel.OmittedBytes() == 0 {
			file.Close()
			continue
		}
		checked++
		var out bytes.Buffer
		n, err := sel.Splice(ctx, &out, NewBinarySource(file, file.Root))
		file.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if n != sel.Size || n != file.Size-sel.OmittedBytes()+sizeShrink(file.Root, sel) {
			t.Errorf("%s: wrote %d bytes, selection states %d", path, n, sel.Size)
		}
		for _, name := range customNames(t, out.Bytes()) {
			if strings.HasPrefix(name, ".debug_") || name == "sourceMappingURL" || name == "external_debug_info" {
				t.Errorf("%s: output still has custom section %q", path, name)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no corpus file has debug sections")
	}
}

// sizeShrink returns how many bytes the section headers of enclosing
// sections lose or gain when their sizes are re-encoded, so the size check
// above can be exact.
func sizeShrink(root *Node, sel *Selection) int64 {
	var delta int64
	var walk func(n *Node)
	walk = func(n *Node) {
		for i := range n.Sections {
			s := &n.Sections[i]
			if s.Child == nil || sel.Filter.Omits(s) {
				continue
			}
			delta += int64(len(sectionHeader(s, sel.sizes[s.Child])) - len(s.Header))
			walk(s.Child)
		}
	}
	walk(root)
	return delta
}

func TestSelectNestedModulesIdentical(t *testing.T) {
	ctx := context.Background()
	corpus := testutil.Corpus(t)
	for _, path := range []string{
		filepath.Join(corpus, "edge", "comp-nested.wasm"),
		filepath.Join(corpus, "pairs", "go-hello-v1.wasm"),
		filepath.Join("..", "..", "testdata", "hello-go.wasm"),
		filepath.Join("..", "..", "testdata", "padded-leb.wasm"),
	} {
		original, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		file, err := OpenFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		src := NewBinarySource(file, file.Root)
		selected := 0
		err = Walk(file.Root, func(nodePath string, n *Node) error {
			if nodePath == "/" {
				return nil
			}
			found, err := Find(file.Root, nodePath)
			if err != nil {
				return err
			}
			if found != n {
				t.Errorf("%s: Find(%s) returned another node", path, nodePath)
			}
			var out bytes.Buffer
			if _, err := Select(found, Filter{}).Splice(ctx, &out, src); err != nil {
				return err
			}
			if want := original[n.Offset : n.Offset+n.Size]; !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s %s: selected bytes differ from the original", path, nodePath)
			}
			selected++
			return nil
		})
		file.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if selected == 0 {
			t.Errorf("%s: no nested module or component", path)
		}
	}
}

func TestFindInvalidPaths(t *testing.T) {
	file, err := OpenFile(context.Background(), filepath.Join("..", "..", "testdata", "hello-go.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, p := range []string{"0", "/x", "/-1", "/99", "/0/0/0/0"} {
		if _, err := Find(file.Root, p); err == nil {
			t.Errorf("Find(%q) succeeded", p)
		}
	}
}

func TestFilterKeepOverridesSkip(t *testing.T) {
	debugInfo := &Section{Form: FormCustom, Name: ".debug_info"}
	name := &Section{Form: FormCustom, Name: "name"}
	code := &Section{Form: FormCode, Name: ""}
	tests := []struct {
		filter Filter
		s      *Section
		want   bool
	}{
		{Filter{StripDebug: true}, debugInfo, true},
		{Filter{StripDebug: true}, name, false},
		{Filter{StripDebug: true, Keep: []string{".debug_info"}}, debugInfo, false},
		{Filter{Skip: []string{"na*"}}, name, true},
		{Filter{Skip: []string{"*"}}, code, false},
		{Filter{}, debugInfo, false},
	}
	for _, tt := range tests {
		if got := tt.filter.Omits(tt.s); got != tt.want {
			t.Errorf("%+v omits %q: %v, want %v", tt.filter, tt.s.Name, got, tt.want)
		}
	}
	if err := (Filter{Skip: []string{"[unclosed"}}).Validate(); err == nil {
		t.Error("invalid pattern accepted")
	}
}

// countingSource counts the nodes it serves.
type countingSource struct {
	*BinarySource
	nodes map[Digest]int
}

func (s *countingSource) Node(ctx context.Context, d Digest) ([]byte, error) {
	s.nodes[d]++
	return s.BinarySource.Node(ctx, d)
}

func TestLoadPathReadsOnlyItsBranch(t *testing.T) {
	ctx := context.Background()
	file, err := OpenFile(ctx, filepath.Join("..", "..", "testdata", "hello-go.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	all := 0
	Walk(file.Root, func(string, *Node) error { all++; return nil })

	src := &countingSource{BinarySource: NewBinarySource(file, file.Root), nodes: map[Digest]int{}}
	root, selected, err := LoadPath(ctx, src, file.Root.Digest, "/0")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Find(file.Root, "/0")
	if selected.Digest != want.Digest || root.Digest != file.Root.Digest {
		t.Fatalf("selected %s, want %s", selected.Digest, want.Digest)
	}
	if len(src.nodes) != 2 {
		t.Errorf("read %d nodes for /0 of a tree of %d, want 2 (the root and /0)", len(src.nodes), all)
	}
	if _, _, err := LoadPath(ctx, src, file.Root.Digest, "/42"); err == nil || !strings.Contains(err.Error(), "/42") {
		t.Errorf("missing path: err = %v", err)
	}
}

// trustedSource claims to verify leaves but returns what it is given.
type trustedSource struct{ data []byte }

func (s trustedSource) Node(context.Context, Digest) ([]byte, error) { return nil, ErrNotFound }
func (s trustedSource) Leaf(context.Context, Digest, int64) ([]byte, error) {
	return s.data, nil
}
func (s trustedSource) VerifiesLeaves() {}

func TestReadLeafChecksSizeFromVerifyingSource(t *testing.T) {
	leaf := &Leaf{Digest: Sum([]byte("twelve bytes")), Size: 12}
	if _, err := ReadLeaf(context.Background(), trustedSource{data: []byte("short")}, leaf); err == nil {
		t.Error("a leaf of the wrong size was accepted")
	}
	got, err := ReadLeaf(context.Background(), trustedSource{data: []byte("twelve bytes")}, leaf)
	if err != nil || string(got) != "twelve bytes" {
		t.Errorf("ReadLeaf = %q, %v", got, err)
	}
}
