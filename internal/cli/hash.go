package cli

import (
	"crypto/sha256"
	"hash"
	"io"

	"github.com/wasmcas/wasmcas/internal/split"
)

// hashingWriter computes the SHA-256 of what passes through it.
type hashingWriter struct {
	w    io.Writer
	hash hash.Hash
}

func newHashingWriter(w io.Writer) *hashingWriter {
	return &hashingWriter{w: w, hash: sha256.New()}
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.hash.Write(p[:n])
	return n, err
}

func (h *hashingWriter) digest() split.Digest {
	var d split.Digest
	h.hash.Sum(d[:0])
	return d
}
