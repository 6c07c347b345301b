package wasmbin

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
)

// Kind is the layer of a binary: a core module or a component.
type Kind uint8

const (
	KindModule    Kind = 1
	KindComponent Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindModule:
		return "module"
	case KindComponent:
		return "component"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// PreambleSize is the length of the magic number, version and layer fields.
const PreambleSize = 8

// MaxDepth is the maximum nesting of binaries, counting the outermost one as
// 1. Parse rejects a binary nested deeper with a *FormatError, which bounds
// its recursion.
const MaxDepth = 32

// Section ids that callers look for. Ids 10 and 11 mean code and data only in
// a core module, and ids 1 and 4 mean nested binaries only in a component.
const (
	SectionCustom              = 0
	SectionModuleCode          = 10
	SectionModuleData          = 11
	SectionComponentCoreModule = 1
	SectionComponent           = 4
)

// Preamble fields. The layer field distinguishes a module from a component, and the
// version field is checked only for modules because component binaries are
// still versioned per draft of the component model.
const (
	moduleVersion  = 1
	layerModule    = 0
	layerComponent = 1
)

var magic = [4]byte{0x00, 'a', 's', 'm'}

// FormatError reports input that does not follow the binary format.
type FormatError struct {
	Offset int64  // absolute offset in the ReaderAt where the problem is
	Msg    string // description of the problem and of what was expected
	Value  any    // offending value, or nil
}

// Error formats the error on one line. Byte slices print as hex and strings
// are quoted, so that control characters in the input stay visible.
func (e *FormatError) Error() string {
	s := fmt.Sprintf("offset %#x (%d): %s", e.Offset, e.Offset, e.Msg)
	switch v := e.Value.(type) {
	case nil:
		return s
	case []byte:
		return fmt.Sprintf("%s: % x", s, v)
	case byte:
		return fmt.Sprintf("%s: %#02x", s, v)
	case string:
		return fmt.Sprintf("%s: %q", s, v)
	default:
		return fmt.Sprintf("%s: %v", s, v)
	}
}

// Binary is one core module or component and the framing of its sections.
type Binary struct {
	Kind     Kind
	Offset   int64 // absolute offset of the preamble
	Size     int64 // bytes including the preamble
	Preamble [8]byte
	Sections []Section
}

// Section is the framing of one section. Its contents are not decoded, except
// for the name of a custom section and the binary nested in a component.
type Section struct {
	ID         byte
	Offset     int64   // absolute offset of the id byte
	HeaderSize int     // 1 + width of the size LEB128 as encoded (2 to 6)
	Size       int64   // content size (decoded u32)
	Name       string  // custom sections only: the decoded name
	NameSize   int     // custom sections only: bytes of the name's LEB128 length plus the name
	Child      *Binary // nested core module (component section 1) or component (component section 4); nil otherwise
}

// ContentOffset returns the absolute offset of the first content byte.
func (s Section) ContentOffset() int64 { return s.Offset + int64(s.HeaderSize) }

// End returns the absolute offset just past the section.
func (s Section) End() int64 { return s.ContentOffset() + s.Size }

// Parse reads the binary in r[off : off+size]: the preamble, every section's
// framing, custom section names, and nested modules and components down to
// MaxDepth. The sections must end exactly at off+size. Unknown section ids are
// accepted as opaque. The contents of code and data sections are not decoded.
// Parse accepts a core module (version 1, layer 0) and a component (layer 1,
// any version). Malformed input, including input that ends before off+size,
// yields a *FormatError; other read failures are returned as they are.
func Parse(r io.ReaderAt, off, size int64) (*Binary, error) {
	if off < 0 || size < 0 || off > maxInt64-size {
		return nil, &FormatError{Offset: off, Msg: "invalid range: negative offset or size, or end exceeds the int64 range", Value: size}
	}
	w := newWindow(r, off+size)

	// A cheap read of the last byte catches a short reader up front. Without
	// it, a skipped final section would hide the truncation.
	if size > 0 {
		last := cursor{w: w, pos: off + size - 1, end: off + size}
		if _, err := last.readByte("binary"); err != nil {
			return nil, err
		}
	}
	return parseBinary(w, off, size, 1, 0)
}

const maxInt64 = 1<<63 - 1

// parseBinary parses the binary at r[off : off+size] at nesting depth depth.
// If want is not zero, the binary must be of that kind.
func parseBinary(w *window, off, size int64, depth int, want Kind) (*Binary, error) {
	if depth > MaxDepth {
		return nil, &FormatError{Offset: off, Msg: fmt.Sprintf("nesting depth exceeds the maximum of %d", MaxDepth), Value: depth}
	}
	b := &Binary{Offset: off, Size: size}
	c := cursor{w: w, pos: off, end: off + size}
	if err := parsePreamble(&c, b); err != nil {
		return nil, err
	}
	if want != 0 && b.Kind != want {
		return nil, &FormatError{Offset: off, Msg: fmt.Sprintf("invalid nested binary: expected a %s, found a %s", want, b.Kind), Value: nil}
	}

	for c.pos < c.end {
		s, err := parseSection(&c, b.Kind, depth)
		if err != nil {
			return nil, err
		}
		b.Sections = append(b.Sections, s)
	}
	return b, nil
}

// parsePreamble reads the 8-byte preamble and sets b.Kind and b.Preamble.
func parsePreamble(c *cursor, b *Binary) error {
	// Compare the magic number on the bytes present before reporting a short
	// binary, so that a short file of another format reads as the wrong format.
	n := int64(PreambleSize)
	if c.remaining() < n {
		n = c.remaining()
	}
	raw, err := c.readBytes(n, "preamble")
	if err != nil {
		return err
	}
	m := min(len(raw), len(magic))
	if string(raw[:m]) != string(magic[:m]) {
		return &FormatError{Offset: b.Offset, Msg: `invalid magic number: expected 00 61 73 6d ("\0asm")`, Value: raw[:m]}
	}
	if len(raw) < PreambleSize {
		return &FormatError{Offset: b.Offset, Msg: fmt.Sprintf("truncated preamble: expected 8 bytes, got %d", len(raw))}
	}
	copy(b.Preamble[:], raw)

	version := binary.LittleEndian.Uint16(raw[4:6])
	layer := binary.LittleEndian.Uint16(raw[6:8])
	switch layer {
	case layerModule:
		if version != moduleVersion {
			return &FormatError{Offset: b.Offset + 4, Msg: "unsupported core module version: expected 1", Value: version}
		}
		b.Kind = KindModule
	case layerComponent:
		b.Kind = KindComponent
	default:
		return &FormatError{Offset: b.Offset + 6, Msg: "invalid layer: expected 0 (core module) or 1 (component)", Value: layer}
	}
	return nil
}

// parseSection reads the section at c.pos and leaves c just past it.
func parseSection(c *cursor, kind Kind, depth int) (Section, error) {
	s := Section{Offset: c.pos}
	id, err := c.readByte("section id")
	if err != nil {
		return s, err
	}
	s.ID = id
	sizeOffset := c.pos
	size, width, err := c.readU32("section size")
	if err != nil {
		return s, err
	}
	if int64(size) > c.remaining() {
		return s, &FormatError{Offset: sizeOffset, Msg: fmt.Sprintf("section size exceeds the enclosing binary, which has %d bytes left", c.remaining()), Value: size}
	}
	s.HeaderSize = 1 + width
	s.Size = int64(size)

	switch {
	case id == SectionCustom:
		if err := parseCustomName(c, &s); err != nil {
			return s, err
		}
	case kind == KindComponent && id == SectionComponentCoreModule:
		s.Child, err = parseBinary(c.w, s.ContentOffset(), s.Size, depth+1, KindModule)
	case kind == KindComponent && id == SectionComponent:
		s.Child, err = parseBinary(c.w, s.ContentOffset(), s.Size, depth+1, KindComponent)
	}
	if err != nil {
		return s, err
	}
	c.pos = s.End()
	return s, nil
}

// parseCustomName reads the name at the start of a custom section's content.
// The name must fit in the section and be valid UTF-8.
func parseCustomName(c *cursor, s *Section) error {
	content := cursor{w: c.w, pos: s.ContentOffset(), end: s.End()}
	length, width, err := content.readU32("custom section name length")
	if err != nil {
		return err
	}
	nameOffset := content.pos
	if int64(length) > content.remaining() {
		return &FormatError{Offset: s.ContentOffset(), Msg: "custom section name length exceeds the section size", Value: length}
	}
	name, err := content.readBytes(int64(length), "custom section name")
	if err != nil {
		return err
	}
	if !utf8.Valid(name) {
		return &FormatError{Offset: nameOffset, Msg: "invalid custom section name: not UTF-8", Value: name}
	}
	s.Name = string(name)
	s.NameSize = width + int(length)
	return nil
}
