package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// windowSize is the number of bytes fetched by one ReadAt. It is large enough
// that walking tens of thousands of small function bodies or data segment
// headers costs one read per window, and small enough that skipping over a
// large body or segment never reads it.
const windowSize = 32 << 10

// window caches one contiguous span of the input. It never reads at or past
// limit, the end of the range that the caller asked to decode.
type window struct {
	r     io.ReaderAt
	limit int64
	buf   []byte
	start int64 // absolute offset of buf[0]
}

func newWindow(r io.ReaderAt, limit int64) *window {
	return &window{r: r, limit: limit, buf: make([]byte, 0, windowSize)}
}

// fill makes the window start at off. It returns a *FormatError when the
// input ends at off, and the ReaderAt's error for any other failed read.
func (w *window) fill(off int64) error {
	n := int64(windowSize)
	if rest := w.limit - off; rest < n {
		n = rest
	}
	w.buf = w.buf[:n]
	got, err := w.r.ReadAt(w.buf, off)
	w.buf = w.buf[:got]
	w.start = off
	if got > 0 {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return &FormatError{Offset: off, Msg: "truncated input: the reader ends before the declared end offset", Value: w.limit}
	}
	return fmt.Errorf("wasmbin: read at offset %d: %w", off, err)
}

// cursor reads forward from pos and treats end as the end of the enclosing
// structure (a binary, a section or a custom section name).
type cursor struct {
	w   *window
	pos int64
	end int64
}

func (c *cursor) remaining() int64 { return c.end - c.pos }

// truncated returns the error for a read of item at pos that would cross end.
func (c *cursor) truncated(item string) error {
	return &FormatError{Offset: c.pos, Msg: "truncated " + item + ": unexpected end of the enclosing structure", Value: nil}
}

// readByte reads one byte of item, which names the field in errors.
func (c *cursor) readByte(item string) (byte, error) {
	if c.pos >= c.end {
		return 0, c.truncated(item)
	}
	w := c.w
	i := c.pos - w.start
	if i < 0 || i >= int64(len(w.buf)) {
		if err := w.fill(c.pos); err != nil {
			return 0, err
		}
		i = 0
	}
	c.pos++
	return w.buf[i], nil
}

// skip advances past n bytes without reading them.
func (c *cursor) skip(n int64, item string) error {
	if n < 0 || n > c.remaining() {
		return c.truncated(item)
	}
	c.pos += n
	return nil
}

// readBytes reads n bytes. The result grows as bytes arrive, so a large n
// that the input does not back costs no more memory than the input itself.
func (c *cursor) readBytes(n int64, item string) ([]byte, error) {
	if n < 0 || n > c.remaining() {
		return nil, c.truncated(item)
	}
	var out []byte
	for n > 0 {
		w := c.w
		i := c.pos - w.start
		if i < 0 || i >= int64(len(w.buf)) {
			if err := w.fill(c.pos); err != nil {
				return nil, err
			}
			i = 0
		}
		chunk := w.buf[i:]
		if int64(len(chunk)) > n {
			chunk = chunk[:n]
		}
		out = append(out, chunk...)
		c.pos += int64(len(chunk))
		n -= int64(len(chunk))
	}
	return out, nil
}

// readU32 decodes an unsigned LEB128 u32 and returns it with its encoded
// width. Padded encodings of up to 5 bytes are valid. A 5th byte with the
// continuation bit or any of bits 4 to 6 set is rejected, because the value
// would then need more than 32 bits.
func (c *cursor) readU32(item string) (uint32, int, error) {
	start := c.pos
	var raw [5]byte
	var v uint32
	for i := 0; i < 5; i++ {
		b, err := c.readByte(item)
		if err != nil {
			return 0, 0, err
		}
		raw[i] = b
		if i == 4 && b&0xf0 != 0 {
			return 0, 0, &FormatError{Offset: start, Msg: "invalid u32 LEB128 " + item + ": value exceeds 32 bits or encoding exceeds 5 bytes", Value: bytes.Clone(raw[:])}
		}
		v |= uint32(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	// The loop returns on the 5th byte in every case.
	panic("unreachable")
}

// skipSigned validates a signed LEB128 of at most bits bits (32 or 64) and
// skips it. The value itself is not needed by any caller.
func (c *cursor) skipSigned(bits int, item string) error {
	start := c.pos
	maxWidth := (bits + 6) / 7
	var raw [10]byte
	for i := 0; i < maxWidth; i++ {
		b, err := c.readByte(item)
		if err != nil {
			return err
		}
		raw[i] = b
		if i < maxWidth-1 {
			if b&0x80 == 0 {
				return nil
			}
			continue
		}
		// The last byte carries the top used bits of the value. Its
		// continuation bit must be clear, and the bits above the value must
		// repeat the sign bit.
		used := bits - 7*(maxWidth-1)
		signAndUnused := b >> (used - 1) // continuation, unused bits and the sign bit
		if signAndUnused != 0 && signAndUnused != 0x7f>>(used-1) {
			msg := fmt.Sprintf("invalid s%d LEB128 %s: value exceeds %d bits or encoding exceeds %d bytes", bits, item, bits, maxWidth)
			return &FormatError{Offset: start, Msg: msg, Value: bytes.Clone(raw[:maxWidth])}
		}
		return nil
	}
	panic("unreachable")
}
