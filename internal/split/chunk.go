package split

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/bits"
)

// gear is the table of the gear rolling hash. Entry i is the first eight
// bytes, big-endian, of SHA-256 over "wasmcas gear v1" followed by the byte
// i, so any implementation can rebuild it without copying a table.
var gear = func() (table [256]uint64) {
	for i := range table {
		sum := sha256.Sum256(append([]byte("wasmcas gear v1"), byte(i)))
		table[i] = binary.BigEndian.Uint64(sum[:8])
	}
	return table
}()

// log2 returns the base-2 logarithm of a power of two.
func log2(n int64) uint { return uint(bits.TrailingZeros64(uint64(n))) }

// chunkReadSize is how much byteChunks reads at a time. Only this buffer is
// held, so cutting a 1 GiB section needs no more memory than a small one.
const chunkReadSize = 256 << 10

// byteChunks cuts r[off:off+size] into content-defined chunks and calls emit
// with the absolute offset and size of each one, in order. A cut falls after
// the byte at which the top log2(target) bits of the gear hash are all zero,
// at least minSize and at most maxSize bytes after the previous cut. The hash is
// reset at every cut, so a chunk's end depends only on its own bytes.
func byteChunks(r io.ReaderAt, off, size, minSize, target, maxSize int64, emit func(off, size int64) error) error {
	if size <= maxSize {
		return emit(off, size)
	}
	shift := 64 - log2(target)
	buf := make([]byte, chunkReadSize)
	start := off
	end := off + size
	var hash uint64
	var length int64
	// The hash at a position depends only on the 64 bytes before it, because
	// each step shifts older contributions left and 64 steps shift them out.
	// No cut can fall before minSize, so the first minSize-64 bytes of every
	// chunk are skipped without hashing. The cuts stay the same as if they
	// were hashed.
	warmup := max(minSize-64, 0)
	for pos := off; pos < end; {
		n := int64(len(buf))
		if end-pos < n {
			n = end - pos
		}
		if _, err := r.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		for i := int64(0); i < n; {
			if length < warmup {
				step := min(warmup-length, n-i)
				length += step
				i += step
				continue
			}
			hash = hash<<1 + gear[buf[i]]
			length++
			i++
			if (length >= minSize && hash>>shift == 0) || length >= maxSize {
				if err := emit(start, length); err != nil {
					return err
				}
				start += length
				length = 0
				hash = 0
			}
		}
		pos += n
	}
	if length > 0 {
		return emit(start, length)
	}
	return nil
}

// tailHashSize is how many bytes at the end of a unit decide whether the unit
// ends a run.
const tailHashSize = 64

// endsRun reports whether a unit of the given size whose last bytes are tail
// ends a run. The gear hash of the tail is compared with a threshold
// proportional to the unit's size. A unit therefore ends a run with
// probability size/RunTarget (capped at one), the same per byte as
// byte-level chunking, while only tailHashSize bytes of each unit are read.
func endsRun(tail []byte, size int64) bool {
	if size >= RunTarget {
		return true
	}
	var hash uint64
	for _, b := range tail {
		hash = hash<<1 + gear[b]
	}
	threshold := uint64(size) << (64 - log2(RunTarget))
	return hash < threshold
}
