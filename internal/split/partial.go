package split

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// Filter chooses which custom sections a splice leaves out. The zero value
// keeps every section.
type Filter struct {
	// StripDebug leaves out DWARF sections (".debug_*") and the other custom
	// sections that only debuggers read: "sourceMappingURL" and
	// "external_debug_info".
	StripDebug bool
	// Skip leaves out custom sections whose name matches any of these
	// path.Match patterns.
	Skip []string
	// Keep overrides StripDebug and Skip for names that match any of these
	// patterns.
	Keep []string
}

// debugSections are matched by StripDebug.
var debugSections = []string{".debug_*", "sourceMappingURL", "external_debug_info"}

// Validate checks the patterns' syntax.
func (f Filter) Validate() error {
	for _, list := range [][]string{f.Skip, f.Keep} {
		for _, pattern := range list {
			if _, err := path.Match(pattern, ""); err != nil {
				return fmt.Errorf("invalid custom section pattern %q: %w", pattern, err)
			}
		}
	}
	return nil
}

// IsZero reports whether f keeps every section.
func (f Filter) IsZero() bool { return !f.StripDebug && len(f.Skip) == 0 }

// Omits reports whether the filter leaves out section s.
func (f Filter) Omits(s *Section) bool {
	if s.Form != FormCustom || f.IsZero() {
		return false
	}
	if matchAny(f.Keep, s.Name) {
		return false
	}
	return (f.StripDebug && matchAny(debugSections, s.Name)) || matchAny(f.Skip, s.Name)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Find returns the node at path in a loaded tree: "/" is the root, and each
// "/N" steps into the parent's N-th nested module or component section,
// counting from zero in file order.
func Find(root *Node, nodePath string) (*Node, error) {
	steps, err := parsePath(nodePath)
	if err != nil {
		return nil, err
	}
	n := root
	for _, index := range steps {
		s := nestedSection(n, index)
		if s == nil {
			return nil, fmt.Errorf("path %q not found: %s has no nested module or component %d", nodePath, n.Kind, index)
		}
		n = s.Child
	}
	return n, nil
}

// parsePath parses "/", "" or "/N/M..." into section indexes.
func parsePath(nodePath string) ([]int, error) {
	if nodePath == "" || nodePath == "/" {
		return nil, nil
	}
	if !strings.HasPrefix(nodePath, "/") {
		return nil, fmt.Errorf("invalid path %q: expected the form /0/1 that inspect prints", nodePath)
	}
	var steps []int
	for _, step := range strings.Split(strings.TrimPrefix(nodePath, "/"), "/") {
		index, err := strconv.Atoi(step)
		if err != nil || index < 0 {
			return nil, fmt.Errorf("invalid path %q: %q is not a section index", nodePath, step)
		}
		steps = append(steps, index)
	}
	if len(steps) >= wasmbin.MaxDepth {
		return nil, fmt.Errorf("invalid path %q: deeper than %d levels", nodePath, wasmbin.MaxDepth)
	}
	return steps, nil
}

// nestedSection returns the index-th nested module or component section of
// n, or nil.
func nestedSection(n *Node, index int) *Section {
	for i := range n.Sections {
		if n.Sections[i].Child == nil {
			continue
		}
		if index == 0 {
			return &n.Sections[i]
		}
		index--
	}
	return nil
}

// OmittedSection is a custom section that a filtered splice left out.
type OmittedSection struct {
	Path string `json:"path"` // path of the node that contains it
	Name string `json:"name"`
	// Size counts the section's header and content bytes.
	Size int64 `json:"size"`
}

// Plan describes a filtered splice of a loaded tree: its output size, the
// leaves it reads, and the sections it leaves out.
type Selection struct {
	Root    *Node
	Filter  Filter
	Size    int64
	Leaves  []*Leaf // distinct, in the order the splice reads them
	Omitted []OmittedSection
	sizes   map[*Node]int64
}

// Select computes what splicing root with filter writes and reads.
func Select(root *Node, filter Filter) *Selection {
	sel := &Selection{Root: root, Filter: filter, sizes: map[*Node]int64{}}
	seen := map[Digest]bool{}
	sel.Size = sel.visit("/", root, seen)
	return sel
}

// visit returns the output size of n and records its leaves and omissions.
func (sel *Selection) visit(nodePath string, n *Node, seen map[Digest]bool) int64 {
	size := int64(len(n.Preamble))
	child := 0
	for i := range n.Sections {
		s := &n.Sections[i]
		if sel.Filter.Omits(s) {
			sel.Omitted = append(sel.Omitted, OmittedSection{Path: nodePath, Name: s.Name, Size: int64(len(s.Header)) + s.Size})
			continue
		}
		content := s.Size
		if s.Child != nil {
			childPath := fmt.Sprintf("%s/%d", strings.TrimSuffix(nodePath, "/"), child)
			child++
			content = sel.visit(childPath, s.Child, seen)
		}
		for _, p := range s.Pieces {
			if p.Leaf != nil && !seen[p.Leaf.Digest] {
				seen[p.Leaf.Digest] = true
				sel.Leaves = append(sel.Leaves, p.Leaf)
			}
		}
		size += int64(len(sectionHeader(s, content))) + content
	}
	sel.sizes[n] = size
	return size
}

// OmittedBytes returns the total size of the omitted sections.
func (sel *Selection) OmittedBytes() int64 {
	var total int64
	for _, o := range sel.Omitted {
		total += o.Size
	}
	return total
}

// sectionHeader returns the header to write for s when its content is
// size bytes: the original bytes when the size is unchanged, and otherwise
// the id followed by the minimal LEB128 of the new size.
func sectionHeader(s *Section, size int64) []byte {
	if size == s.Size {
		return s.Header
	}
	header := []byte{s.ID}
	for {
		b := byte(size & 0x7f)
		size >>= 7
		if size == 0 {
			return append(header, b)
		}
		header = append(header, b|0x80)
	}
}

// Splice writes the selection's output, reading leaves from src and
// verifying each before writing it. Unfiltered, it writes exactly what
// Splice writes.
func (sel *Selection) Splice(ctx context.Context, w io.Writer, src Source) (int64, error) {
	// Headers and inline pieces are a few bytes each; buffering them saves
	// a system call per piece. Only verified bytes enter the buffer.
	buffered := bufio.NewWriterSize(w, spliceBufferSize)
	sw := &spliceWriter{w: buffered, src: src, sel: sel}
	err := sw.node(ctx, sel.Root)
	if err == nil {
		err = buffered.Flush()
	}
	if err == nil && sw.written != sel.Size {
		err = fmt.Errorf("wrote %d bytes, expected %d", sw.written, sel.Size)
	}
	return sw.written, err
}

// spliceBufferSize is the output buffer of a splice. It is small enough
// that a streamed output starts soon after its first leaves arrive.
const spliceBufferSize = 256 << 10
