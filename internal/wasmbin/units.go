package wasmbin

import (
	"fmt"
	"io"
)

// Unit is one whole data segment or function body: its absolute offset and
// size, including its own header (segment kind, memory index, offset
// expression and data length) or its size LEB128.
type Unit struct {
	Offset int64
	Size   int64
}

// Units is the decoded vector of a code or data section.
type Units struct {
	CountSize int    // width in bytes of the vector count LEB128 at the start of the section content
	Count     uint32 // number of units as declared by the section
	Units     []Unit // exactly Count entries, contiguous, ending exactly at the section end
}

// maxInitialUnits caps the capacity reserved from a declared count, so that
// a count that the section bytes do not back costs little memory.
const maxInitialUnits = 4096

// Data segment kinds, the leading u32 of each segment.
const (
	segmentActive       = 0 // offset expression, bytes; memory 0
	segmentPassive      = 1 // bytes
	segmentActiveMemory = 2 // memory index, offset expression, bytes
)

// Instruction opcodes allowed in a data segment offset expression: the
// constant instructions of the core specification and the i32 and i64 add,
// sub and mul of the extended-const proposal.
const (
	opEnd       = 0x0b
	opGlobalGet = 0x23
	opI32Const  = 0x41
	opI64Const  = 0x42
	opI32Add    = 0x6a
	opI32Sub    = 0x6b
	opI32Mul    = 0x6c
	opI64Add    = 0x7c
	opI64Sub    = 0x7d
	opI64Mul    = 0x7e
)

// DataSegments decodes a data section (module section 11) into whole
// segments. It accepts all three segment kinds, a memory index
// (multi-memory), and offset expressions made of i32.const, i64.const
// (memory64), global.get and the extended-const i32 and i64 add, sub and
// mul. Input it cannot decode yields a *FormatError.
func DataSegments(r io.ReaderAt, s Section) (*Units, error) {
	return decodeUnits(r, s, SectionModuleData, "data segment", readDataSegment)
}

// FunctionBodies decodes a code section (module section 10) into whole
// function bodies, each its size LEB128 and body bytes. It does not decode
// the locals or instructions of a body.
func FunctionBodies(r io.ReaderAt, s Section) (*Units, error) {
	return decodeUnits(r, s, SectionModuleCode, "function body", readFunctionBody)
}

// decodeUnits reads the vector count of section s, then count units with
// readUnit, and checks that they end exactly at the section end.
func decodeUnits(r io.ReaderAt, s Section, id byte, item string, readUnit func(*cursor) error) (*Units, error) {
	if s.ID != id {
		return nil, &FormatError{Offset: s.Offset, Msg: fmt.Sprintf("invalid section id: expected %d for a %s vector", id, item), Value: s.ID}
	}
	if s.Offset < 0 || s.Size < 0 || s.HeaderSize < 0 || s.ContentOffset() > maxInt64-s.Size {
		return nil, &FormatError{Offset: s.Offset, Msg: "invalid section: negative offset or size, or end exceeds the int64 range", Value: s.Size}
	}
	c := cursor{w: newWindow(r, s.End()), pos: s.ContentOffset(), end: s.End()}
	count, width, err := c.readU32(item + " count")
	if err != nil {
		return nil, err
	}
	// Every unit takes at least one byte, so a count above the remaining
	// bytes cannot be right.
	if int64(count) > c.remaining() {
		return nil, &FormatError{Offset: s.ContentOffset(), Msg: item + " count exceeds the remaining section bytes", Value: count}
	}

	u := &Units{CountSize: width, Count: count}
	u.Units = make([]Unit, 0, min(count, maxInitialUnits))
	for range count {
		start := c.pos
		if err := readUnit(&c); err != nil {
			return nil, err
		}
		u.Units = append(u.Units, Unit{Offset: start, Size: c.pos - start})
	}
	if c.pos != c.end {
		return nil, &FormatError{Offset: c.pos, Msg: fmt.Sprintf("invalid section: %d bytes after the last %s", c.remaining(), item), Value: nil}
	}
	return u, nil
}

// readFunctionBody skips one function body and its size LEB128.
func readFunctionBody(c *cursor) error {
	sizeOffset := c.pos
	size, _, err := c.readU32("function body size")
	if err != nil {
		return err
	}
	if int64(size) > c.remaining() {
		return &FormatError{Offset: sizeOffset, Msg: "function body size exceeds the section", Value: size}
	}
	return c.skip(int64(size), "function body")
}

// readDataSegment skips one data segment, header and bytes.
func readDataSegment(c *cursor) error {
	start := c.pos
	kind, _, err := c.readU32("data segment kind")
	if err != nil {
		return err
	}
	switch kind {
	case segmentActive:
		err = skipOffsetExpr(c)
	case segmentPassive:
	case segmentActiveMemory:
		if _, _, err = c.readU32("data segment memory index"); err == nil {
			err = skipOffsetExpr(c)
		}
	default:
		return &FormatError{Offset: start, Msg: "invalid data segment kind: expected 0, 1 or 2", Value: kind}
	}
	if err != nil {
		return err
	}

	lengthOffset := c.pos
	length, _, err := c.readU32("data segment length")
	if err != nil {
		return err
	}
	if int64(length) > c.remaining() {
		return &FormatError{Offset: lengthOffset, Msg: "data segment length exceeds the section", Value: length}
	}
	return c.skip(int64(length), "data segment bytes")
}

// skipOffsetExpr skips a constant expression up to and including its end
// opcode. It tracks the operand stack height so that an expression must
// leave exactly one value, which rejects many malformed expressions early. It does not
// check operand types.
func skipOffsetExpr(c *cursor) error {
	height := 0
	for {
		opOffset := c.pos
		op, err := c.readByte("offset expression")
		if err != nil {
			return err
		}
		switch op {
		case opI32Const:
			err = c.skipSigned(32, "i32.const immediate")
			height++
		case opI64Const:
			err = c.skipSigned(64, "i64.const immediate")
			height++
		case opGlobalGet:
			_, _, err = c.readU32("global.get index")
			height++
		case opI32Add, opI32Sub, opI32Mul, opI64Add, opI64Sub, opI64Mul:
			if height < 2 {
				return &FormatError{Offset: opOffset, Msg: "invalid offset expression: binary operator needs two operands", Value: op}
			}
			height--
		case opEnd:
			if height != 1 {
				return &FormatError{Offset: opOffset, Msg: "invalid offset expression: expected exactly one value at end", Value: height}
			}
			return nil
		default:
			return &FormatError{Offset: opOffset, Msg: "unsupported instruction in offset expression", Value: op}
		}
		if err != nil {
			return err
		}
	}
}
