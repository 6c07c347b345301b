package split

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// Form is the representation of a section's content in its node.
type Form uint8

const (
	// FormOpaque is content cut by byte-level chunking without looking inside:
	// every section this format does not split by structure, and code or data
	// sections that the reader could not decode.
	FormOpaque Form = 0
	// FormCustom is a custom section: its name stays in the node and the rest
	// of its content is cut by byte-level chunking.
	FormCustom Form = 1
	// FormNested is a component section that holds a core module or a
	// component, represented by the child node's digest.
	FormNested Form = 2
	// FormCode is a code section cut into runs of whole function bodies.
	FormCode Form = 3
	// FormData is a data section cut into runs of whole data segments.
	FormData Form = 4
)

func (f Form) String() string {
	switch f {
	case FormOpaque:
		return "opaque"
	case FormCustom:
		return "custom"
	case FormNested:
		return "nested"
	case FormCode:
		return "code"
	case FormData:
		return "data"
	}
	return fmt.Sprintf("form(%d)", uint8(f))
}

// Leaf is a run of bytes stored outside its node and named by its digest.
type Leaf struct {
	Digest Digest
	Size   int64
	// Offset is the position of the leaf's first byte in the source binary
	// while splitting, and -1 for a leaf decoded from a node.
	Offset int64
	// Custom marks a leaf of a custom section, which packs keep apart so that
	// a fetch that skips custom sections downloads none of their bytes.
	Custom bool
}

// Piece is one part of a section's content: inline bytes or a leaf.
type Piece struct {
	Inline []byte
	Leaf   *Leaf
}

// Size returns the number of content bytes the piece stands for.
func (p Piece) Size() int64 {
	if p.Leaf != nil {
		return p.Leaf.Size
	}
	return int64(len(p.Inline))
}

// Section is one section of a node.
type Section struct {
	Form Form
	ID   byte
	// Header is the section id followed by its size LEB128 exactly as
	// encoded in the binary, so padded sizes splice back unchanged.
	Header []byte
	// Size is the size of the section content in bytes.
	Size int64
	// NamePrefix is, for a custom section, the name's LEB128 length and the
	// name bytes that start the content; Name is the decoded name.
	NamePrefix []byte
	Name       string
	// Pieces cover the content after NamePrefix. A nested section has none.
	Pieces []Piece
	// Child is the nested module or component of a FormNested section. A
	// node decoded from its encoding has a Child with only Digest, Size and
	// Kind set until the child node is loaded.
	Child *Node
	// Offset is the position of the section's id byte in the source binary,
	// or -1 when unknown.
	Offset int64
}

// Node is a core module or a component: an interior node of the tree.
type Node struct {
	Kind     wasmbin.Kind
	Preamble [wasmbin.PreambleSize]byte
	Sections []Section
	// Size is the number of bytes of the binary the node stands for,
	// preamble included.
	Size   int64
	Digest Digest
	// Encoded is the node's canonical encoding, whose SHA-256 is Digest.
	Encoded []byte
	// Offset is the position of the preamble in the source file, or -1.
	Offset int64
	// Loaded reports whether Sections are known. A child referenced from a
	// decoded parent is not loaded until its own encoding is decoded.
	Loaded bool
}

// Build reads the binary r[0:size], cuts it by the rules of the format, and
// returns the root node with every leaf digest and node encoding computed.
// The result depends only on the bytes of r.
func Build(ctx context.Context, r io.ReaderAt, size int64) (*Node, error) {
	bin, err := wasmbin.Parse(r, 0, size)
	if err != nil {
		return nil, err
	}

	// Leaves are hashed by other goroutines while the builder goes on
	// cutting, so on two cores chunking and SHA-256 overlap.
	g, gctx := errgroup.WithContext(ctx)
	leaves := make(chan *Leaf, 1024)
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error { return hashLeaves(gctx, r, leaves) })
	}
	b := &builder{r: r, leaves: leaves, ctx: gctx}
	root, buildErr := b.node(bin)
	close(leaves)
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if buildErr != nil {
		return nil, buildErr
	}
	encodeTree(root)
	return root, nil
}

type builder struct {
	r      io.ReaderAt
	ctx    context.Context
	leaves chan<- *Leaf
	window readWindow
}

// readWindowSize is how much readWindow reads at a time. Units are visited
// in file order, so one read serves the tails of many small units instead
// of one system call each.
const readWindowSize = 256 << 10

// readWindow caches one window of the source for small reads in file order.
type readWindow struct {
	buf []byte
	off int64
}

// read returns r[off:off+size], which stays valid until the next read.
func (w *readWindow) read(r io.ReaderAt, off, size int64) ([]byte, error) {
	if off >= w.off && off+size <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+size], nil
	}
	if cap(w.buf) < readWindowSize {
		w.buf = make([]byte, readWindowSize)
	}
	w.buf = w.buf[:max(readWindowSize, size)]
	n, err := r.ReadAt(w.buf, off)
	if int64(n) < size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		w.buf = w.buf[:0]
		return nil, err
	}
	w.buf, w.off = w.buf[:n], off
	return w.buf[:size], nil
}

func (b *builder) read(off, size int64) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := b.r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", size, off, err)
	}
	return buf, nil
}

func (b *builder) node(bin *wasmbin.Binary) (*Node, error) {
	n := &Node{Kind: bin.Kind, Preamble: bin.Preamble, Size: bin.Size, Offset: bin.Offset, Loaded: true}
	n.Sections = make([]Section, 0, len(bin.Sections))
	for _, s := range bin.Sections {
		sec, err := b.section(bin.Kind, s)
		if err != nil {
			return nil, err
		}
		n.Sections = append(n.Sections, sec)
	}
	return n, nil
}

func (b *builder) section(kind wasmbin.Kind, s wasmbin.Section) (Section, error) {
	header, err := b.read(s.Offset, int64(s.HeaderSize))
	if err != nil {
		return Section{}, err
	}
	sec := Section{ID: s.ID, Header: header, Size: s.Size, Offset: s.Offset}
	content := s.ContentOffset()

	switch {
	case s.Child != nil:
		sec.Form = FormNested
		sec.Child, err = b.node(s.Child)
		return sec, err

	case s.ID == wasmbin.SectionCustom:
		sec.Form = FormCustom
		sec.Name = s.Name
		if sec.NamePrefix, err = b.read(content, int64(s.NameSize)); err != nil {
			return sec, err
		}
		sec.Pieces, err = b.bytePieces(content+int64(s.NameSize), s.Size-int64(s.NameSize), true)
		return sec, err

	case kind == wasmbin.KindModule && s.ID == wasmbin.SectionModuleCode:
		if done, err := b.unitSection(&sec, FormCode, wasmbin.FunctionBodies, s); done {
			return sec, err
		}

	case kind == wasmbin.KindModule && s.ID == wasmbin.SectionModuleData:
		if done, err := b.unitSection(&sec, FormData, wasmbin.DataSegments, s); done {
			return sec, err
		}
	}

	// Everything else, including code and data sections the reader could not
	// decode, is opaque.
	sec.Form = FormOpaque
	sec.Pieces, err = b.bytePieces(content, s.Size, false)
	return sec, err
}

// unitSection cuts a code or data section into runs of the units that
// decode returns. It reports done as false, with no error, when the reader
// cannot decode the section, which then becomes opaque. A failed read is
// an error, because it must not silently change how a section is cut.
func (b *builder) unitSection(sec *Section, form Form, decode func(io.ReaderAt, wasmbin.Section) (*wasmbin.Units, error), s wasmbin.Section) (done bool, err error) {
	units, err := decode(b.r, s)
	if err != nil {
		return !isFormatError(err), err
	}
	sec.Form = form
	sec.Pieces, err = b.unitPieces(s.ContentOffset(), units)
	return true, err
}

// piece returns the piece for r[off:off+size]: inline when it is small,
// otherwise a leaf whose digest is computed later by hashLeaves.
func (b *builder) piece(off, size int64, custom bool) (Piece, error) {
	if size <= InlineMax {
		inline, err := b.read(off, size)
		return Piece{Inline: inline}, err
	}
	leaf := &Leaf{Offset: off, Size: size, Custom: custom}
	select {
	case b.leaves <- leaf:
	case <-b.ctx.Done():
		return Piece{}, b.ctx.Err()
	}
	return Piece{Leaf: leaf}, nil
}

// bytePieces cuts r[off:off+size] by byte-level chunking.
func (b *builder) bytePieces(off, size int64, custom bool) ([]Piece, error) {
	var pieces []Piece
	if size == 0 {
		return pieces, nil
	}
	err := byteChunks(b.r, off, size, ChunkMin, ChunkTarget, ChunkMax, func(off, size int64) error {
		p, err := b.piece(off, size, custom)
		pieces = append(pieces, p)
		return err
	})
	return pieces, err
}

// unitPieces cuts a code or data section: the vector count stays inline, and
// the units are grouped into runs whose ends are chosen by endsRun between
// RunMin and RunMax bytes. A unit larger than RunMax is cut on its own by
// byte-level chunking.
func (b *builder) unitPieces(content int64, units *wasmbin.Units) ([]Piece, error) {
	count, err := b.read(content, int64(units.CountSize))
	if err != nil {
		return nil, err
	}
	pieces := []Piece{{Inline: count}}

	var runStart, runSize int64
	flush := func() error {
		if runSize == 0 {
			return nil
		}
		p, err := b.piece(runStart, runSize, false)
		pieces = append(pieces, p)
		runSize = 0
		return err
	}

	for _, u := range units.Units {
		if u.Size > RunMax {
			if err := flush(); err != nil {
				return nil, err
			}
			more, err := b.bytePieces(u.Offset, u.Size, false)
			if err != nil {
				return nil, err
			}
			pieces = append(pieces, more...)
			continue
		}
		if runSize+u.Size > RunMax {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if runSize == 0 {
			runStart = u.Offset
		}
		runSize += u.Size

		if runSize < RunMin {
			continue
		}
		tailSize := min(u.Size, tailHashSize)
		tail, err := b.window.read(b.r, u.Offset+u.Size-tailSize, tailSize)
		if err != nil {
			return nil, fmt.Errorf("read unit at offset %d: %w", u.Offset, err)
		}
		if endsRun(tail, u.Size) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return pieces, nil
}

// hashLeaves computes the digest of every leaf it receives, reading the
// source again. Leaves are at most maxLeafSize bytes, so each worker holds
// one small buffer.
func hashLeaves(ctx context.Context, r io.ReaderAt, leaves <-chan *Leaf) error {
	buf := make([]byte, maxLeafSize)
	for leaf := range leaves {
		if leaf.Size > int64(len(buf)) {
			return fmt.Errorf("leaf of %d bytes at offset %d exceeds %d", leaf.Size, leaf.Offset, len(buf))
		}
		data := buf[:leaf.Size]
		if _, err := r.ReadAt(data, leaf.Offset); err != nil {
			return fmt.Errorf("read leaf at offset %d: %w", leaf.Offset, err)
		}
		leaf.Digest = sha256.Sum256(data)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// isFormatError reports whether err is the reader's report of content it
// cannot decode, as opposed to a failed read, which must not silently
// change how a section is cut.
func isFormatError(err error) bool {
	var fe *wasmbin.FormatError
	return errors.As(err, &fe)
}
