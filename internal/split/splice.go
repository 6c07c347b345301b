package split

import (
	"context"
	"fmt"
	"io"

	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// Source supplies the encodings of nodes and the bytes of leaves by digest.
// A Source need not verify what it returns: Splice and Load check every
// node and leaf against its digest before using it.
type Source interface {
	Node(ctx context.Context, d Digest) ([]byte, error)
	Leaf(ctx context.Context, d Digest, size int64) ([]byte, error)
}

// DigestError reports content whose digest or size is not the one its
// parent names.
type DigestError struct {
	Kind string // "node", "leaf" or "blob"
	Want Digest
	Got  Digest
	Size int64 // bytes received
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s %s: content does not match its digest (got %s, %d bytes)", e.Kind, e.Want, e.Got, e.Size)
}

// LoadTree loads and verifies the node with digest root and every node
// below it, but no leaf. The returned tree can be walked by Splice, Inspect
// and partial fetches.
func LoadTree(ctx context.Context, src Source, root Digest) (*Node, error) {
	loaded := map[Digest]*Node{}
	n, err := loadOne(ctx, src, root, 1, loaded)
	if err != nil {
		return nil, err
	}
	return n, loadChildren(ctx, src, n, 1, loaded)
}

// LoadPath loads the nodes on the way from root to the node at path (as
// Find takes it) and every node below that one, but not the other
// subtrees, so a fetch of one nested module reads no sibling's nodes. It
// returns the partly loaded root and the fully loaded node at path.
func LoadPath(ctx context.Context, src Source, root Digest, path string) (*Node, *Node, error) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, nil, err
	}
	loaded := map[Digest]*Node{}
	rootNode, err := loadOne(ctx, src, root, 1, loaded)
	if err != nil {
		return nil, nil, err
	}
	n := rootNode
	for depth, index := range steps {
		s := nestedSection(n, index)
		if s == nil {
			return nil, nil, fmt.Errorf("path %q not found: %s has no nested module or component %d", path, n.Kind, index)
		}
		child, err := loadOne(ctx, src, s.Child.Digest, depth+2, loaded)
		if err != nil {
			return nil, nil, err
		}
		if err := checkChild(n, s.Child, child); err != nil {
			return nil, nil, err
		}
		s.Child = child
		n = child
	}
	return rootNode, n, loadChildren(ctx, src, n, len(steps)+1, loaded)
}

// loadOne fetches, verifies and decodes the node d at nesting depth depth,
// counting the root as 1 as the reader does. Its children stay unloaded.
// A node that several parents name is fetched and decoded once, because a
// hostile tree could name one child many times.
func loadOne(ctx context.Context, src Source, d Digest, depth int, loaded map[Digest]*Node) (*Node, error) {
	if depth > wasmbin.MaxDepth {
		return nil, fmt.Errorf("node %s: nesting exceeds %d levels", d, wasmbin.MaxDepth)
	}
	if n, ok := loaded[d]; ok {
		return n, nil
	}
	buf, err := src.Node(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", d, err)
	}
	if got := Sum(buf); got != d {
		return nil, &DigestError{Kind: "node", Want: d, Got: got, Size: int64(len(buf))}
	}
	n, err := DecodeNode(buf)
	if err != nil {
		if ne, ok := err.(*NodeError); ok {
			ne.Digest = d
		}
		return nil, err
	}
	loaded[d] = n
	return n, nil
}

// loadChildren loads every node below n, which is at nesting depth depth.
func loadChildren(ctx context.Context, src Source, n *Node, depth int, loaded map[Digest]*Node) error {
	for i := range n.Sections {
		ref := n.Sections[i].Child
		if ref == nil || ref.Loaded {
			continue
		}
		child, err := loadOne(ctx, src, ref.Digest, depth+1, loaded)
		if err != nil {
			return err
		}
		if err := checkChild(n, ref, child); err != nil {
			return err
		}
		n.Sections[i].Child = child
		if err := loadChildren(ctx, src, child, depth+1, loaded); err != nil {
			return err
		}
	}
	return nil
}

// checkChild checks that a loaded child is the kind and size its parent's
// section names.
func checkChild(parent, ref, child *Node) error {
	if child.Kind != ref.Kind || child.Size != ref.Size {
		return fmt.Errorf("node %s: nested %s of %d bytes where the parent %s names a %s of %d bytes",
			child.Digest, child.Kind, child.Size, parent.Digest, ref.Kind, ref.Size)
	}
	return nil
}

// Splice writes the binary that the verified tree rooted at n stands for,
// reading leaves from src and checking each against its digest and size
// before writing it. It returns the number of bytes written.
func Splice(ctx context.Context, w io.Writer, src Source, n *Node) (int64, error) {
	return Select(n, Filter{}).Splice(ctx, w, src)
}

type spliceWriter struct {
	w       io.Writer
	src     Source
	sel     *Selection
	written int64
}

func (sw *spliceWriter) write(b []byte) error {
	n, err := sw.w.Write(b)
	sw.written += int64(n)
	return err
}

func (sw *spliceWriter) node(ctx context.Context, n *Node) error {
	if !n.Loaded {
		return fmt.Errorf("node %s is not loaded", n.Digest)
	}
	if err := sw.write(n.Preamble[:]); err != nil {
		return err
	}
	for i := range n.Sections {
		s := &n.Sections[i]
		if sw.sel.Filter.Omits(s) {
			continue
		}
		size := s.Size
		if s.Child != nil {
			size = sw.sel.sizes[s.Child]
		}
		if err := sw.write(sectionHeader(s, size)); err != nil {
			return err
		}
		if s.Child != nil {
			if err := sw.node(ctx, s.Child); err != nil {
				return err
			}
			continue
		}
		if err := sw.write(s.NamePrefix); err != nil {
			return err
		}
		for _, p := range s.Pieces {
			if p.Leaf == nil {
				if err := sw.write(p.Inline); err != nil {
					return err
				}
				continue
			}
			data, err := ReadLeaf(ctx, sw.src, p.Leaf)
			if err != nil {
				return err
			}
			if err := sw.write(data); err != nil {
				return err
			}
		}
	}
	return nil
}

// VerifyingSource is a Source whose Leaf method itself checks every leaf
// against its digest and size before returning it, as a cache that
// verifies on read does. ReadLeaf does not hash such a leaf a second time.
type VerifyingSource interface {
	Source
	VerifiesLeaves()
}

// ReadLeaf reads a leaf from src and verifies its size and digest, unless
// src is a VerifyingSource that did so.
func ReadLeaf(ctx context.Context, src Source, leaf *Leaf) ([]byte, error) {
	if _, ok := src.(VerifyingSource); ok {
		data, err := src.Leaf(ctx, leaf.Digest, leaf.Size)
		if err != nil {
			return nil, fmt.Errorf("leaf %s: %w", leaf.Digest, err)
		}
		if int64(len(data)) != leaf.Size {
			return nil, &DigestError{Kind: "leaf", Want: leaf.Digest, Got: Sum(data), Size: int64(len(data))}
		}
		return data, nil
	}
	data, err := src.Leaf(ctx, leaf.Digest, leaf.Size)
	if err != nil {
		return nil, fmt.Errorf("leaf %s: %w", leaf.Digest, err)
	}
	if got := Sum(data); got != leaf.Digest || int64(len(data)) != leaf.Size {
		return nil, &DigestError{Kind: "leaf", Want: leaf.Digest, Got: got, Size: int64(len(data))}
	}
	return data, nil
}

// Walk calls fn for every node of a loaded tree in file order, with the
// node's path: "/" for the root and "/N" appended per level, where N counts
// the parent's nested module and component sections from zero.
func Walk(n *Node, fn func(path string, n *Node) error) error {
	return walk("/", n, fn)
}

func walk(path string, n *Node, fn func(string, *Node) error) error {
	if err := fn(path, n); err != nil {
		return err
	}
	index := 0
	for _, s := range n.Sections {
		if s.Child == nil {
			continue
		}
		childPath := fmt.Sprintf("%s%d", path, index)
		if path != "/" {
			childPath = fmt.Sprintf("%s/%d", path, index)
		}
		index++
		if err := walk(childPath, s.Child, fn); err != nil {
			return err
		}
	}
	return nil
}
