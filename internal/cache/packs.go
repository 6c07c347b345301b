package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wasmcas/wasmcas/internal/split"
)

// Leaves are stored many to a file, because a component has thousands of
// leaves and creating and opening one file per leaf costs more than moving
// its bytes. A cache pack is the concatenation of verified leaves followed
// by a trailer:
//
//	for each leaf: digest (32 bytes), size (8 bytes, big-endian)
//	leaf count (8 bytes, big-endian)
//	cachePackMagic (8 bytes)
//
// Its name is the hex SHA-256 of its trailer plus ".pack", and it appears
// only through a rename once complete, so a reader never sees half a pack.

// cachePackMagic ends every cache pack.
var cachePackMagic = []byte("wcascp01")

const trailerEntrySize = sha256.Size + 8

// packTailSize is the leaf count and magic at the end of a cache pack.
const packTailSize = 16

// maxCachePackEntries bounds the leaf count a trailer may claim, so a
// damaged file cannot make Open allocate an absurd index.
const maxCachePackEntries = 1 << 24

// Entry is a leaf to store.
type Entry struct {
	Digest split.Digest
	Data   []byte
}

// location is the position of a leaf in a cache pack.
type location struct {
	pack   string
	offset int64
	size   int64
}

func (c *Cache) packDir() string { return filepath.Join(c.dir, "packs") }

// loadPacks reads the trailer of every cache pack into the index. A pack
// whose trailer is invalid is skipped: its leaves are fetched again.
func (c *Cache) loadPacks() error {
	entries, err := os.ReadDir(c.packDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pack") {
			continue
		}
		c.readTrailer(e.Name())
	}
	return nil
}

func (c *Cache) readTrailer(name string) {
	file, err := os.Open(filepath.Join(c.packDir(), name))
	if err != nil {
		return
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil || st.Size() < packTailSize {
		return
	}

	// The last 16 bytes are the leaf count and the magic.
	var tail [packTailSize]byte
	if _, err := file.ReadAt(tail[:], st.Size()-packTailSize); err != nil || !bytes.Equal(tail[8:], cachePackMagic) {
		return
	}
	count := binary.BigEndian.Uint64(tail[:8])
	if count > maxCachePackEntries || int64(count)*trailerEntrySize > st.Size()-packTailSize {
		return
	}
	trailer := make([]byte, int64(count)*trailerEntrySize)
	trailerStart := st.Size() - packTailSize - int64(len(trailer))
	if _, err := file.ReadAt(trailer, trailerStart); err != nil {
		return
	}

	// The entries must tile the content before the trailer exactly.
	var offset int64
	locations := make(map[split.Digest]location, count)
	for i := range int(count) {
		entry := trailer[i*trailerEntrySize:]
		var d split.Digest
		copy(d[:], entry[:sha256.Size])
		size := int64(binary.BigEndian.Uint64(entry[sha256.Size:trailerEntrySize]))
		if size < 0 || offset+size > trailerStart {
			return
		}
		locations[d] = location{pack: name, offset: offset, size: size}
		offset += size
	}
	if offset != trailerStart {
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for d, loc := range locations {
		if _, ok := c.index[d]; !ok {
			c.index[d] = loc
		}
	}
}

// PutMany verifies each entry against its digest and stores those the
// cache lacks in one new cache pack. It stores nothing when any entry does
// not match.
func (c *Cache) PutMany(entries []Entry) error {
	w, err := c.NewPackWriter()
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := w.Add(e.Digest, e.Data); err != nil {
			w.Abort()
			return err
		}
	}
	_, err = w.Commit()
	return err
}

// PackWriter streams verified leaves into one new cache pack, so a fetch
// holds no more than one leaf in memory per download. Nothing is visible
// in the cache until Commit.
type PackWriter struct {
	c       *Cache
	tmp     *os.File
	out     *bufio.Writer
	trailer []byte
	added   []split.Digest
	seen    map[split.Digest]bool
	size    int64
}

// NewPackWriter starts a cache pack in a temporary file.
func (c *Cache) NewPackWriter() (*PackWriter, error) {
	tmp, err := os.CreateTemp(c.packDir(), ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	return &PackWriter{c: c, tmp: tmp, out: bufio.NewWriterSize(tmp, 256<<10), seen: map[split.Digest]bool{}}, nil
}

// Add verifies data against d and appends it, unless this pack already
// has it or the cache has it (then cached is true). data may be reused by
// the caller after Add returns.
func (w *PackWriter) Add(d split.Digest, data []byte) (cached bool, err error) {
	if got := split.Sum(data); got != d {
		return false, &split.DigestError{Kind: "leaf", Want: d, Got: got, Size: int64(len(data))}
	}
	if w.seen[d] {
		return false, nil
	}
	if w.c.HasLeaf(d) {
		return true, nil
	}
	if _, err := w.out.Write(data); err != nil {
		return false, fmt.Errorf("cache %s: %w", w.c.dir, err)
	}
	w.seen[d] = true
	w.added = append(w.added, d)
	w.trailer = append(w.trailer, d[:]...)
	w.trailer = binary.BigEndian.AppendUint64(w.trailer, uint64(len(data)))
	w.size += int64(len(data))
	return false, nil
}

// Size returns the leaf bytes added so far.
func (w *PackWriter) Size() int64 { return w.size }

// Commit writes the trailer, renames the pack into place and indexes it.
// It returns the digests it added, which the cache now has.
func (w *PackWriter) Commit() ([]split.Digest, error) {
	defer os.Remove(w.tmp.Name())
	if len(w.added) == 0 {
		w.tmp.Close()
		return nil, nil
	}
	trailer := binary.BigEndian.AppendUint64(w.trailer, uint64(len(w.added)))
	trailer = append(trailer, cachePackMagic...)
	if _, err := w.out.Write(trailer); err != nil {
		w.tmp.Close()
		return nil, fmt.Errorf("cache %s: %w", w.c.dir, err)
	}
	if err := w.out.Flush(); err != nil {
		w.tmp.Close()
		return nil, fmt.Errorf("cache %s: %w", w.c.dir, err)
	}
	if err := w.tmp.Close(); err != nil {
		return nil, fmt.Errorf("cache %s: %w", w.c.dir, err)
	}
	// The trailer lists the digest and size of every leaf, so its SHA-256
	// names the content without hashing the leaves a second time.
	nameSum := sha256.Sum256(trailer)
	name := hex.EncodeToString(nameSum[:]) + ".pack"
	if err := os.Rename(w.tmp.Name(), filepath.Join(w.c.packDir(), name)); err != nil {
		return nil, fmt.Errorf("cache %s: %w", w.c.dir, err)
	}
	w.c.readTrailer(name)
	return w.added, nil
}

// Abort discards the pack.
func (w *PackWriter) Abort() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// getPacked reads a leaf from its cache pack and checks it again.
func (c *Cache) getPacked(d split.Digest, loc location) ([]byte, error) {
	data, err := c.readPacked(loc)
	if err != nil {
		return nil, err
	}
	if split.Sum(data) != d {
		c.dropPack(loc.pack)
		return nil, fmt.Errorf("cache %s: leaf %s: damaged cache pack %s removed: %w", c.dir, d, loc.pack, split.ErrNotFound)
	}
	return data, nil
}

// maxOpenPacks bounds the cache packs kept open, with their read windows,
// because a large fetch writes hundreds of them and a process may open only
// about a thousand files.
const maxOpenPacks = 16

// readPacked reads a leaf's bytes through its pack's window. Reads are
// serialized, which suits the one splice that reads at a time.
func (c *Cache) readPacked(loc location) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pack, ok := c.files[loc.pack]
	if !ok {
		file, err := os.Open(filepath.Join(c.packDir(), loc.pack))
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", c.dir, err)
		}
		if len(c.open) >= maxOpenPacks {
			oldest := c.open[0]
			c.open = c.open[1:]
			c.files[oldest].file.Close()
			delete(c.files, oldest)
		}
		pack = &packFile{file: file}
		c.files[loc.pack] = pack
		c.open = append(c.open, loc.pack)
	}
	data, err := pack.read(loc.offset, loc.size)
	if err != nil {
		return nil, fmt.Errorf("cache %s: read %s: %w", c.dir, loc.pack, err)
	}
	return data, nil
}

// packReadSize is how much of a cache pack one read brings in. A splice
// reads leaves in the order a fetch stored them, so one read serves many.
const packReadSize = 256 << 10

// packFile is an open cache pack with a window of its bytes. The cache's
// mutex guards it.
type packFile struct {
	file   *os.File
	window []byte
	start  int64
}

// read returns a copy of size bytes at off.
func (p *packFile) read(off, size int64) ([]byte, error) {
	if off < p.start || off+size > p.start+int64(len(p.window)) {
		if cap(p.window) < packReadSize {
			p.window = make([]byte, packReadSize)
		}
		p.window = p.window[:max(packReadSize, size)]
		n, err := p.file.ReadAt(p.window, off)
		if int64(n) < size {
			p.window = p.window[:0]
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		p.window, p.start = p.window[:n], off
	}
	data := make([]byte, size)
	copy(data, p.window[off-p.start:])
	return data, nil
}

// dropPack removes a damaged cache pack and its leaves from the index.
func (c *Cache) dropPack(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d, loc := range c.index {
		if loc.pack == name {
			delete(c.index, d)
		}
	}
	if pack, ok := c.files[name]; ok {
		pack.file.Close()
		delete(c.files, name)
		c.open = slices.DeleteFunc(c.open, func(open string) bool { return open == name })
	}
	os.Remove(filepath.Join(c.packDir(), name))
}

// Close closes the cache packs opened for reading.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for name, pack := range c.files {
		errs = append(errs, pack.file.Close())
		delete(c.files, name)
	}
	c.open = nil
	return errors.Join(errs...)
}

// Verify reads every leaf in the cache packs and checks it against its
// digest, removing damaged packs. It returns the number of leaves checked.
func (c *Cache) Verify() (int, error) {
	c.mu.Lock()
	index := make(map[split.Digest]location, len(c.index))
	for d, loc := range c.index {
		index[d] = loc
	}
	c.mu.Unlock()
	var errs []error
	for d, loc := range index {
		if _, err := c.getPacked(d, loc); err != nil {
			errs = append(errs, err)
		}
	}
	return len(index), errors.Join(errs...)
}
