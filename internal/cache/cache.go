// Package cache owns the local content-addressed cache of fetched nodes,
// leaves, pack indexes and configs. Content enters the cache only after it
// verified against its digest, and every file is written through a
// temporary file and a rename, so a kill at any moment leaves either the
// whole verified file or nothing. Nodes, pack indexes and configs are one
// file each, named by digest; leaves are stored many to a cache pack. The
// cache is keyed by digest alone, so it is shared across repositories and
// registries.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wasmcas/wasmcas/internal/split"
)

// Cache is a directory of verified content named by digest. It is safe
// for use by several goroutines, and several processes may share the
// directory.
type Cache struct {
	dir   string
	mu    sync.Mutex
	index map[split.Digest]location
	files map[string]*packFile
	// open lists the keys of files, least recently opened first.
	open []string
}

// Open creates the cache directory if needed.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("cache directory is empty")
	}
	for _, sub := range []string{"sha256", "packs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create cache %s: %w", dir, err)
		}
	}
	removeStaleTemporaries(dir)
	c := &Cache{dir: dir, index: map[split.Digest]location{}, files: map[string]*packFile{}}
	if err := c.loadPacks(); err != nil {
		return nil, fmt.Errorf("read cache %s: %w", dir, err)
	}
	return c, nil
}

// staleAfter is the age at which Open removes a temporary file. It is long
// enough that no running fetch is still writing the file.
const staleAfter = time.Hour

// removeStaleTemporaries deletes temporary files that a killed process
// left behind. They are never served, because only a rename makes an entry
// visible, but they would otherwise pile up.
func removeStaleTemporaries(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "sha256", "*", ".tmp-*"))
	packTemporaries, _ := filepath.Glob(filepath.Join(dir, "packs", ".tmp-*"))
	matches = append(matches, packTemporaries...)
	for _, path := range matches {
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) > staleAfter {
			os.Remove(path)
		}
	}
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(d split.Digest) string {
	h := hex.EncodeToString(d[:])
	return filepath.Join(c.dir, "sha256", h[:2], h)
}

// HasLeaf reports whether a cache pack contains the leaf d. Unlike Has, it
// makes no system call.
func (c *Cache) HasLeaf(d split.Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.index[d]
	return ok
}

// Has reports whether the cache contains d.
func (c *Cache) Has(d split.Digest) bool {
	c.mu.Lock()
	_, ok := c.index[d]
	c.mu.Unlock()
	if ok {
		return true
	}
	_, err := os.Stat(c.path(d))
	return err == nil
}

// Get returns the content of d after checking it against d again, so a
// file damaged on disk is never served: it is removed and reported as
// missing.
func (c *Cache) Get(d split.Digest) ([]byte, error) {
	c.mu.Lock()
	loc, ok := c.index[d]
	c.mu.Unlock()
	if ok {
		return c.getPacked(d, loc)
	}
	data, err := os.ReadFile(c.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cache %s: %w", d, split.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(data) != d {
		os.Remove(c.path(d))
		return nil, fmt.Errorf("cache %s: damaged entry removed: %w", d, split.ErrNotFound)
	}
	return data, nil
}

// Put stores data under d if it matches d, and fails otherwise.
func (c *Cache) Put(d split.Digest, data []byte) error {
	if got := split.Sum(data); got != d {
		return &split.DigestError{Kind: "blob", Want: d, Got: got, Size: int64(len(data))}
	}
	if c.Has(d) {
		return nil
	}
	path := c.path(d)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
