package split

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcas/wasmcas/internal/testutil"
)

// hostileSource serves a root node that the fuzzer controls, and every
// other node and leaf from a real binary's tree, so the fuzzer reaches
// splice with encodings whose digests verify.
type hostileSource struct {
	root     []byte
	fallback *BinarySource
}

func (s *hostileSource) Node(ctx context.Context, d Digest) ([]byte, error) {
	if d == Sum(s.root) {
		return s.root, nil
	}
	return s.fallback.Node(ctx, d)
}

func (s *hostileSource) Leaf(ctx context.Context, d Digest, size int64) ([]byte, error) {
	return s.fallback.Leaf(ctx, d, size)
}

func FuzzSpliceHostileNode(f *testing.F) {
	path := filepath.Join("..", "..", "testdata", "hello-go.wasm")
	file, err := OpenFile(context.Background(), path)
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	fallback := NewBinarySource(file, file.Root)
	Walk(file.Root, func(_ string, n *Node) error {
		f.Add(n.Encoded)
		return nil
	})
	if dir := os.Getenv(testutil.CorpusEnv); dir != "" {
		if edge, err := OpenFile(context.Background(), filepath.Join(dir, "edge", "comp-nested.wasm")); err == nil {
			f.Add(edge.Root.Encoded)
			edge.Close()
		}
	}

	f.Fuzz(func(t *testing.T, encoding []byte) {
		src := &hostileSource{root: encoding, fallback: fallback}
		root, err := LoadTree(context.Background(), src, Sum(encoding))
		if err != nil {
			return
		}
		var out bytes.Buffer
		n, err := Splice(context.Background(), &out, src, root)
		if err != nil {
			return
		}
		if n != root.Size || int64(out.Len()) != root.Size {
			t.Fatalf("spliced %d bytes (buffer %d) from a node that states %d", n, out.Len(), root.Size)
		}
	})
}

func FuzzDecodePackIndex(f *testing.F) {
	index := &PackIndex{Entries: []PackEntry{{Size: 100}, {Size: 4000, Offset: 100}}}
	f.Add(index.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePackIndex(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), data) {
			t.Fatal("a decoded pack index does not encode back to its bytes")
		}
	})
}
