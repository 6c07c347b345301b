package cache

import (
	"errors"
	"os"
	"testing"

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
