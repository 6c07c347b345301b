package cache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmcas/wasmcas/internal/split"
)

func entries(texts ...string) []Entry {
	var out []Entry
	for _, text := range texts {
		out = append(out, Entry{Digest: split.Sum([]byte(text)), Data: []byte(text)})
	}
	return out
}

func TestPutManyPersistsAcrossOpen(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	batch := entries("first leaf", "second leaf", "third leaf")
	if err := c.PutMany(batch); err != nil {
		t.Fatal(err)
	}
	c.Close()

	reopened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	for _, e := range batch {
		got, err := reopened.Get(e.Digest)
		if err != nil {
			t.Fatalf("get %s: %v", e.Digest, err)
		}
		if string(got) != string(e.Data) {
			t.Errorf("get %s = %q, want %q", e.Digest, got, e.Data)
		}
	}
	if n, err := reopened.Verify(); n != len(batch) || err != nil {
		t.Errorf("verify: %d leaves, %v", n, err)
	}
}

func TestPutManyRejectsMismatchWhole(t *testing.T) {
	c, _ := Open(t.TempDir())
	defer c.Close()
	batch := entries("good leaf", "other leaf")
	batch[1].Data = []byte("tampered")
	err := c.PutMany(batch)
	var de *split.DigestError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DigestError", err)
	}
	if c.Has(batch[0].Digest) {
		t.Error("a batch with a mismatched leaf stored its other leaves")
	}
}

func TestDamagedPackIsDropped(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir)
	batch := entries("leaf one", "leaf two")
	if err := c.PutMany(batch); err != nil {
		t.Fatal(err)
	}
	c.Close()
	packs, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d cache packs, want 1", len(packs))
	}
	data, _ := os.ReadFile(packs[0])
	data[0] ^= 0xff
	if err := os.WriteFile(packs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}

	c, _ = Open(dir)
	defer c.Close()
	if _, err := c.Get(batch[0].Digest); !errors.Is(err, split.ErrNotFound) {
		t.Fatalf("get of a damaged leaf: err = %v, want not found", err)
	}
	if c.Has(batch[1].Digest) {
		t.Error("leaves of a damaged pack are still listed")
	}
	if _, err := os.Stat(packs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Error("damaged pack kept on disk")
	}
}

func TestTruncatedPackIsIgnored(t *testing.T) {
	dir := t.TempDir()
	c, _ := Open(dir)
	batch := entries("leaf one", "leaf two")
	if err := c.PutMany(batch); err != nil {
		t.Fatal(err)
	}
	c.Close()
	packs, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	data, _ := os.ReadFile(packs[0])
	if err := os.WriteFile(packs[0], data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ = Open(dir)
	defer c.Close()
	if c.Has(batch[0].Digest) {
		t.Error("a pack without a valid trailer was indexed")
	}
}
