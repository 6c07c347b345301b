package cache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmcas/wasmcas/internal/split"
)

func TestPutGetVerified(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("leaf bytes")
	d := split.Sum(data)
	if err := c.Put(d, data); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatalf("got %q", got)
	}
}

func TestPutRejectsMismatch(t *testing.T) {
	c, _ := Open(t.TempDir())
	d := split.Sum([]byte("expected"))
	err := c.Put(d, []byte("other"))
	var de *split.DigestError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DigestError", err)
	}
	if c.Has(d) {
		t.Fatal("mismatched content was stored")
	}
}

func TestGetRemovesDamagedEntry(t *testing.T) {
	c, _ := Open(t.TempDir())
	data := []byte("leaf bytes")
	d := split.Sum(data)
	if err := c.Put(d, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path(d), []byte("leaf bytez"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(d); !errors.Is(err, split.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	if c.Has(d) {
		t.Fatal("damaged entry kept")
	}
}

func TestOpenRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sha256", "ab"), 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "sha256", "ab", ".tmp-1")
	fresh := filepath.Join(dir, "sha256", "ab", ".tmp-2")
	for _, path := range []string{stale, fresh} {
		if err := os.WriteFile(path, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleAfter)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary removed: %v", err)
	}
}
