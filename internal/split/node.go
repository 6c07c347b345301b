package split

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/wasmcas/wasmcas/internal/wasmbin"
)

// nodeMagic starts every node encoding. The leading zero byte keeps a node
// from being mistaken for text or for a WebAssembly binary ("\0asm").
var nodeMagic = []byte("\x00wcn")

const (
	pieceInline byte = 0
	pieceLeaf   byte = 1
)

// MaxNodeSize bounds the encoding of one node that a reader accepts. A node
// holds about 35 bytes per leaf, so this admits binaries with millions of
// leaves while keeping a hostile layout from making a reader allocate more.
const MaxNodeSize = 64 << 20

// encodeTree computes the encoding and digest of n and of every node below
// it, children first, because a parent's encoding contains their digests.
func encodeTree(n *Node) {
	for i := range n.Sections {
		if child := n.Sections[i].Child; child != nil {
			encodeTree(child)
		}
	}
	n.Encoded = encodeNode(n)
	n.Digest = Sum(n.Encoded)
}

func encodeNode(n *Node) []byte {
	var buf []byte
	buf = append(buf, nodeMagic...)
	buf = append(buf, FormatVersion, byte(n.Kind))
	buf = append(buf, n.Preamble[:]...)
	buf = binary.AppendUvarint(buf, uint64(n.Size))
	buf = binary.AppendUvarint(buf, uint64(len(n.Sections)))
	for _, s := range n.Sections {
		buf = append(buf, byte(s.Form))
		buf = appendBytes(buf, s.Header)
		switch s.Form {
		case FormNested:
			buf = binary.AppendUvarint(buf, uint64(s.Child.Size))
			buf = append(buf, s.Child.Digest[:]...)
			continue
		case FormCustom:
			buf = appendBytes(buf, s.NamePrefix)
		}
		buf = binary.AppendUvarint(buf, uint64(len(s.Pieces)))
		for _, p := range s.Pieces {
			if p.Leaf != nil {
				buf = append(buf, pieceLeaf)
				buf = binary.AppendUvarint(buf, uint64(p.Leaf.Size))
				buf = append(buf, p.Leaf.Digest[:]...)
			} else {
				buf = append(buf, pieceInline)
				buf = appendBytes(buf, p.Inline)
			}
		}
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// NodeError reports an invalid node encoding.
type NodeError struct {
	Digest Digest // the node's digest, zero if unknown
	Offset int    // offset within the encoding
	Msg    string
}

func (e *NodeError) Error() string {
	if e.Digest.IsZero() {
		return fmt.Sprintf("invalid node at offset %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("invalid node %s at offset %d: %s", e.Digest, e.Offset, e.Msg)
}

type nodeDecoder struct {
	buf []byte
	off int
	err *NodeError
}

func (d *nodeDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &NodeError{Offset: d.off, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *nodeDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.buf) {
		d.fail("unexpected end of node")
		return 0
	}
	b := d.buf[d.off]
	d.off++
	return b
}

func (d *nodeDecoder) uvarint(limit uint64, what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail("invalid varint for %s", what)
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("%s is not a minimal varint", what)
		return 0
	}
	if v > limit {
		d.fail("%s %d exceeds the limit %d", what, v, limit)
		return 0
	}
	d.off += n
	return v
}

// bytes reads a length-prefixed byte string. The length is checked against
// the remaining input before anything is allocated.
func (d *nodeDecoder) bytes(what string) []byte {
	n := d.uvarint(uint64(len(d.buf)-d.off), what+" length")
	if d.err != nil {
		return nil
	}
	if uint64(len(d.buf)-d.off) < n {
		d.fail("%s of %d bytes exceeds the node", what, n)
		return nil
	}
	b := d.buf[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *nodeDecoder) digest() Digest {
	var dg Digest
	if d.err != nil {
		return dg
	}
	if len(d.buf)-d.off < len(dg) {
		d.fail("unexpected end of node in a digest")
		return dg
	}
	copy(dg[:], d.buf[d.off:])
	d.off += len(dg)
	return dg
}

// maxBinarySize bounds the size a node may claim for its binary. A nested
// binary's size is a u32 in its section header. The top level has no such
// limit, so this is a sanity bound of 1 TiB.
const maxBinarySize = 1 << 40

// DecodeNode decodes and validates a node encoding: every field is checked
// against the rules of the format, section headers must decode to the size
// their pieces add up to, and the preamble must match the kind. The
// returned node's children are not loaded.
func DecodeNode(buf []byte) (*Node, error) {
	if len(buf) > MaxNodeSize {
		return nil, &NodeError{Msg: fmt.Sprintf("node of %d bytes exceeds the limit of %d", len(buf), MaxNodeSize)}
	}
	d := &nodeDecoder{buf: buf}
	n, err := d.node()
	if err != nil {
		return nil, err
	}
	n.Encoded = buf
	n.Digest = Sum(buf)
	return n, nil
}

func (d *nodeDecoder) node() (*Node, error) {
	if !bytes.HasPrefix(d.buf, nodeMagic) {
		return nil, &NodeError{Msg: "missing node magic \\0wcn"}
	}
	d.off = len(nodeMagic)
	if v := d.byte(); d.err == nil && v != FormatVersion {
		d.fail("unsupported format version %d (this build reads version %d)", v, FormatVersion)
	}
	n := &Node{Kind: wasmbin.Kind(d.byte()), Offset: -1, Loaded: true}
	if d.err == nil && n.Kind != wasmbin.KindModule && n.Kind != wasmbin.KindComponent {
		d.fail("invalid node kind %d", n.Kind)
	}
	if d.err == nil {
		if len(d.buf)-d.off < wasmbin.PreambleSize {
			d.fail("unexpected end of node in the preamble")
		} else {
			copy(n.Preamble[:], d.buf[d.off:])
			if err := checkPreamble(n.Kind, n.Preamble); err != "" {
				d.fail("%s", err)
			}
			d.off += wasmbin.PreambleSize
		}
	}
	n.Size = int64(d.uvarint(maxBinarySize, "binary size"))
	count := d.uvarint(uint64(len(d.buf)-d.off), "section count")

	total := int64(wasmbin.PreambleSize)
	for i := uint64(0); i < count && d.err == nil; i++ {
		s := d.section(n.Kind)
		total += int64(len(s.Header)) + s.Size
		n.Sections = append(n.Sections, s)
	}
	if d.err == nil && d.off != len(d.buf) {
		d.fail("%d unexpected bytes after the last section", len(d.buf)-d.off)
	}
	if d.err == nil && total != n.Size {
		d.fail("sections add up to %d bytes but the node states %d", total, n.Size)
	}
	if d.err != nil {
		return nil, d.err
	}
	return n, nil
}

func checkPreamble(kind wasmbin.Kind, p [wasmbin.PreambleSize]byte) string {
	if !bytes.Equal(p[:4], []byte("\x00asm")) {
		return "invalid preamble magic"
	}
	layer := binary.LittleEndian.Uint16(p[6:])
	version := binary.LittleEndian.Uint16(p[4:])
	switch {
	case kind == wasmbin.KindModule && (layer != 0 || version != 1):
		return fmt.Sprintf("module node has preamble version %d layer %d", version, layer)
	case kind == wasmbin.KindComponent && layer != 1:
		return fmt.Sprintf("component node has preamble layer %d", layer)
	}
	return ""
}

func (d *nodeDecoder) section(kind wasmbin.Kind) Section {
	start := d.off
	s := Section{Form: Form(d.byte()), Offset: -1}
	s.Header = d.bytes("section header")
	if d.err != nil {
		return s
	}
	id, size, err := decodeHeader(s.Header)
	if err != nil {
		d.off = start
		d.fail("%v", err)
		return s
	}
	s.ID, s.Size = id, size

	switch s.Form {
	case FormNested:
		child := &Node{Offset: -1}
		switch {
		case kind == wasmbin.KindComponent && id == wasmbin.SectionComponentCoreModule:
			child.Kind = wasmbin.KindModule
		case kind == wasmbin.KindComponent && id == wasmbin.SectionComponent:
			child.Kind = wasmbin.KindComponent
		default:
			d.fail("nested form on section id %d of a %s", id, kind)
		}
		child.Size = int64(d.uvarint(maxBinarySize, "nested binary size"))
		child.Digest = d.digest()
		if d.err == nil && child.Size != size {
			d.fail("nested binary of %d bytes in a section of %d bytes", child.Size, size)
		}
		s.Child = child
		return s
	case FormCustom:
		if id != wasmbin.SectionCustom {
			d.fail("custom form on section id %d", id)
			return s
		}
		s.NamePrefix = d.bytes("custom section name")
		if d.err != nil {
			return s
		}
		name, err := decodeName(s.NamePrefix)
		if err != nil {
			d.fail("%v", err)
			return s
		}
		s.Name = name
	case FormCode, FormData:
		want := byte(wasmbin.SectionModuleCode)
		if s.Form == FormData {
			want = wasmbin.SectionModuleData
		}
		if kind != wasmbin.KindModule || id != want {
			d.fail("%s form on section id %d of a %s", s.Form, id, kind)
			return s
		}
	case FormOpaque:
		// The splitter never writes a custom or nested section as opaque.
		// Code and data sections may be opaque when they do not decode.
		if id == wasmbin.SectionCustom || (kind == wasmbin.KindComponent && (id == wasmbin.SectionComponentCoreModule || id == wasmbin.SectionComponent)) {
			d.fail("opaque form on section id %d of a %s", id, kind)
			return s
		}
	default:
		d.fail("invalid section form %d", s.Form)
		return s
	}

	// Each piece takes at least two bytes, which bounds the count by the
	// remaining input before the slice grows.
	count := d.uvarint(uint64(len(d.buf)-d.off)/2, "piece count")
	total := int64(len(s.NamePrefix))
	for i := uint64(0); i < count && d.err == nil; i++ {
		var p Piece
		switch tag := d.byte(); tag {
		case pieceInline:
			p.Inline = d.bytes("inline piece")
			if d.err == nil && (len(p.Inline) == 0 || len(p.Inline) > max(InlineMax, 5)) {
				d.fail("inline piece of %d bytes: inline pieces hold 1 to %d bytes", len(p.Inline), InlineMax)
			}
		case pieceLeaf:
			size := int64(d.uvarint(maxLeafSize, "leaf size"))
			p.Leaf = &Leaf{Size: size, Offset: -1, Digest: d.digest(), Custom: s.Form == FormCustom}
			if d.err == nil && size <= InlineMax {
				d.fail("leaf of %d bytes must be inline", size)
			}
		default:
			d.fail("invalid piece tag %d", tag)
		}
		total += p.Size()
		s.Pieces = append(s.Pieces, p)
	}
	if d.err == nil && total != size {
		d.fail("section id %d: pieces add up to %d bytes but the header states %d", id, total, size)
	}
	return s
}

// maxLeafSize is the largest leaf the format produces.
const maxLeafSize = max(RunMax, ChunkMax)

// MaxLeafSize is the largest leaf the format produces, for readers that
// size a buffer for one leaf.
const MaxLeafSize = maxLeafSize

// decodeHeader decodes a section header: the id byte, then the content size
// as a LEB128 u32 of one to five bytes that fills the rest of the header.
func decodeHeader(h []byte) (id byte, size int64, err error) {
	if len(h) < 2 || len(h) > 6 {
		return 0, 0, fmt.Errorf("section header of %d bytes, expected 2 to 6", len(h))
	}
	var v uint64
	for i, b := range h[1:] {
		v |= uint64(b&0x7f) << (7 * i)
		last := i == len(h)-2
		if (b&0x80 == 0) != last {
			return 0, 0, errors.New("section header size is not one LEB128 value")
		}
	}
	if v > 1<<32-1 {
		return 0, 0, fmt.Errorf("section size %d exceeds a u32", v)
	}
	return h[0], int64(v), nil
}

// decodeName decodes a custom section's name prefix: a LEB128 u32 length
// followed by exactly that many bytes of UTF-8.
func decodeName(prefix []byte) (string, error) {
	var n uint64
	i := 0
	for ; i < len(prefix) && i < 5; i++ {
		n |= uint64(prefix[i]&0x7f) << (7 * i)
		if prefix[i]&0x80 == 0 {
			break
		}
	}
	if i >= len(prefix) || i == 5 {
		return "", errors.New("custom section name length is not a LEB128 u32")
	}
	name := prefix[i+1:]
	if uint64(len(name)) != n {
		return "", fmt.Errorf("custom section name of %d bytes in a prefix of %d", n, len(name))
	}
	if !utf8.Valid(name) {
		return "", errors.New("custom section name is not valid UTF-8")
	}
	return string(name), nil
}
