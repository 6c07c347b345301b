package split

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"oras.land/oras-go/v2/content/oci"
)

// benchCorpusFile opens the corpus file at rel, a path under the folder
// named by WASMCAS_CORPUS, and skips the benchmark when the variable is
// unset.
func benchCorpusFile(b *testing.B, rel string) (*os.File, int64) {
	b.Helper()
	dir := os.Getenv("WASMCAS_CORPUS")
	if dir == "" {
		b.Skip("WASMCAS_CORPUS is not set; set it to the corpus folder to run this benchmark")
	}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return f, st.Size()
}

// benchFiles are the corpus files the benchmarks run on: the largest
// component of the corpus (componentize-js, 12 MB) and a Go component with
// a large code section (3 MB).
var benchFiles = []struct{ name, rel string }{
	{"js-hello", "pairs/js-hello-v2.wasm"},
	{"go-hello", "pairs/go-hello-v2.wasm"},
}

// BenchmarkBuild measures the digest path: parsing, cutting and hashing
// every leaf and node, as `wasmcas digest FILE` does.
func BenchmarkBuild(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			f, size := benchCorpusFile(b, bf.rel)
			ctx := context.Background()
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(ctx, f, size); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSplit measures planning and writing a new artifact into an empty
// OCI image layout, as `wasmcas split` does after the tree is built. Each
// iteration writes to a new directory, so every blob is written.
func BenchmarkSplit(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			f, size := benchCorpusFile(b, bf.rel)
			ctx := context.Background()
			root, err := Build(ctx, f, size)
			if err != nil {
				b.Fatal(err)
			}
			fileDigest := sumReaderAt(b, f, size)
			parent := b.TempDir()
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				dir := filepath.Join(parent, "layout-"+strconv.Itoa(i))
				i++
				store, err := oci.NewWithContext(ctx, dir)
				if err != nil {
					b.Fatal(err)
				}
				plan, err := NewPlan(root, f, fileDigest, NewExisting(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := plan.Push(ctx, store, f, "latest", PushOptions{Concurrency: 4}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSplice measures reading an artifact back from an OCI image
// layout: opening the manifest, loading the tree, and splicing every leaf
// from its pack with its digest checked.
func BenchmarkSplice(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			f, size := benchCorpusFile(b, bf.rel)
			ctx := context.Background()
			root, err := Build(ctx, f, size)
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			store, err := oci.NewWithContext(ctx, dir)
			if err != nil {
				b.Fatal(err)
			}
			plan, err := NewPlan(root, f, sumReaderAt(b, f, size), NewExisting(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := plan.Push(ctx, store, f, "latest", PushOptions{Concurrency: 4}); err != nil {
				b.Fatal(err)
			}
			var out bytes.Buffer
			out.Grow(int(size))
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				desc, err := store.Resolve(ctx, "latest")
				if err != nil {
					b.Fatal(err)
				}
				st, err := OpenArtifact(ctx, store, desc)
				if err != nil {
					b.Fatal(err)
				}
				src := &TargetSource{Fetcher: store, Stored: st}
				tree, err := LoadTree(ctx, src, st.Root)
				if err != nil {
					b.Fatal(err)
				}
				n, err := Splice(ctx, &out, src, tree)
				src.Close()
				if err != nil {
					b.Fatal(err)
				}
				if n != size {
					b.Fatalf("spliced %d bytes, expected %d", n, size)
				}
			}
		})
	}
}

func sumReaderAt(b *testing.B, r io.ReaderAt, size int64) Digest {
	b.Helper()
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		b.Fatal(err)
	}
	return Sum(data)
}
