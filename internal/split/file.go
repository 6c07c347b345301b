package split

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

// File is a binary on disk with its tree and whole-file digest.
type File struct {
	*os.File
	Path       string
	Size       int64
	Root       *Node
	FileDigest Digest
}

// OpenFile opens path and builds its tree, computing the whole-file
// SHA-256 at the same time. Errors name the path.
func OpenFile(ctx context.Context, path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	file := &File{File: f, Path: path, Size: st.Size()}

	sum := make(chan error, 1)
	go func() {
		hash := sha256.New()
		_, err := io.Copy(hash, io.NewSectionReader(f, 0, file.Size))
		hash.Sum(file.FileDigest[:0])
		sum <- err
	}()
	root, buildErr := Build(ctx, f, file.Size)
	sumErr := <-sum
	if buildErr != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, buildErr)
	}
	if sumErr != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, sumErr)
	}
	file.Root = root
	return file, nil
}

// DigestFile returns the root digest of the binary at path. It skips the
// whole-file SHA-256 that OpenFile also computes, so it reads the file's
// bytes once for chunking and once for leaf digests, both from the page
// cache after the first pass.
func DigestFile(ctx context.Context, path string) (Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Digest{}, err
	}
	if !st.Mode().IsRegular() {
		return Digest{}, fmt.Errorf("%s: not a regular file", path)
	}
	root, err := Build(ctx, f, st.Size())
	if err != nil {
		return Digest{}, fmt.Errorf("%s: %w", path, err)
	}
	return root.Digest, nil
}
