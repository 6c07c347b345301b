package split

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// packIndexMagic starts every pack index encoding.
var packIndexMagic = []byte("\x00wcp")

// PackEntry is one leaf in a pack. Entries are stored in pack order, so a
// leaf's offset is the sum of the sizes before it.
type PackEntry struct {
	Digest Digest
	Size   int64
	Offset int64
}

// PackIndex lists the leaves of one pack.
type PackIndex struct {
	Pack    Digest
	Custom  bool
	Entries []PackEntry
}

// Size returns the number of bytes of the pack the index describes.
func (p *PackIndex) Size() int64 {
	if len(p.Entries) == 0 {
		return 0
	}
	last := p.Entries[len(p.Entries)-1]
	return last.Offset + last.Size
}

// Encode returns the canonical encoding of the pack index.
func (p *PackIndex) Encode() []byte {
	buf := append([]byte{}, packIndexMagic...)
	buf = append(buf, FormatVersion)
	class := byte(0)
	if p.Custom {
		class = 1
	}
	buf = append(buf, class)
	buf = append(buf, p.Pack[:]...)
	buf = binary.AppendUvarint(buf, uint64(len(p.Entries)))
	for _, e := range p.Entries {
		buf = binary.AppendUvarint(buf, uint64(e.Size))
		buf = append(buf, e.Digest[:]...)
	}
	return buf
}

// DecodePackIndex decodes and validates a pack index encoding.
func DecodePackIndex(buf []byte) (*PackIndex, error) {
	d := &nodeDecoder{buf: buf}
	if !bytes.HasPrefix(buf, packIndexMagic) {
		return nil, fmt.Errorf("invalid pack index: missing magic \\0wcp")
	}
	d.off = len(packIndexMagic)
	if v := d.byte(); d.err == nil && v != FormatVersion {
		d.fail("unsupported format version %d (this build reads version %d)", v, FormatVersion)
	}
	p := &PackIndex{}
	switch class := d.byte(); class {
	case 0:
	case 1:
		p.Custom = true
	default:
		d.fail("invalid pack class %d", class)
	}
	p.Pack = d.digest()

	// An entry takes at least 33 bytes, which bounds the count before the
	// slice grows.
	count := d.uvarint(uint64(len(buf)-d.off)/33, "entry count")
	var offset int64
	for i := uint64(0); i < count && d.err == nil; i++ {
		size := int64(d.uvarint(maxLeafSize, "leaf size"))
		e := PackEntry{Size: size, Offset: offset, Digest: d.digest()}
		if d.err == nil && size <= InlineMax {
			d.fail("leaf of %d bytes in a pack: such leaves are inline", size)
		}
		offset += size
		p.Entries = append(p.Entries, e)
	}
	if d.err == nil && d.off != len(buf) {
		d.fail("%d unexpected bytes after the last entry", len(buf)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("invalid pack index at offset %d: %s", d.err.Offset, d.err.Msg)
	}
	return p, nil
}
