package split

import (
	"context"
	"fmt"
	"io"
)

// BinarySource is a Source backed by a binary on disk and the tree Build
// made of it: it serves every node and leaf of that tree by reading the
// binary again. Fetch uses it to take parts from files already on disk.
type BinarySource struct {
	r      io.ReaderAt
	nodes  map[Digest]*Node
	leaves map[Digest]*Leaf
}

// NewBinarySource indexes the nodes and leaves of root, which Build made
// from r.
func NewBinarySource(r io.ReaderAt, root *Node) *BinarySource {
	s := &BinarySource{r: r, nodes: map[Digest]*Node{}, leaves: map[Digest]*Leaf{}}
	s.add(root)
	return s
}

func (s *BinarySource) add(n *Node) {
	s.nodes[n.Digest] = n
	for _, sec := range n.Sections {
		if sec.Child != nil {
			s.add(sec.Child)
		}
		for _, p := range sec.Pieces {
			if p.Leaf != nil && p.Leaf.Offset >= 0 {
				s.leaves[p.Leaf.Digest] = p.Leaf
			}
		}
	}
}

// Node returns the encoding of a node of the tree.
func (s *BinarySource) Node(_ context.Context, d Digest) ([]byte, error) {
	n, ok := s.nodes[d]
	if !ok {
		return nil, fmt.Errorf("node %s: %w", d, ErrNotFound)
	}
	return n.Encoded, nil
}

// Leaf reads a leaf's bytes from the binary.
func (s *BinarySource) Leaf(_ context.Context, d Digest, size int64) ([]byte, error) {
	leaf, ok := s.leaves[d]
	if !ok || leaf.Size != size {
		return nil, fmt.Errorf("leaf %s: %w", d, ErrNotFound)
	}
	buf := make([]byte, size)
	if _, err := s.r.ReadAt(buf, leaf.Offset); err != nil {
		return nil, fmt.Errorf("read leaf %s at offset %d: %w", d, leaf.Offset, err)
	}
	return buf, nil
}

// HasLeaf reports whether the binary contains a leaf with digest d.
func (s *BinarySource) HasLeaf(d Digest) bool {
	_, ok := s.leaves[d]
	return ok
}
